"""Test configuration: hypothesis profiles and the verifier after every pass.

Profiles: "dev" (default; modest examples), "ci" (chosen when $CI is set: derandomized, no deadline)
and "long" (EAGERFLOW_HYPOTHESIS=long: many examples, for runs outside CI).
"""
import os

import pytest
from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=25, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, database=None, **_common)
settings.register_profile("long", max_examples=500, **_common)

if os.environ.get("EAGERFLOW_HYPOTHESIS"):
    settings.load_profile(os.environ["EAGERFLOW_HYPOTHESIS"])
elif os.environ.get("CI"):
    settings.load_profile("ci")
else:
    settings.load_profile("dev")


@pytest.fixture(autouse=True, scope="session")
def _verify_after_each_pass():
    """Run the IR verifier after every compiler pass, for the whole test session."""
    from eagerflow.compiler import pipeline
    old = pipeline.verify_each
    pipeline.verify_each = True
    yield
    pipeline.verify_each = old
