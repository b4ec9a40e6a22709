"""Random programs (eagerflow.testing.programs: every elementwise op, reductions, shape ops,
matmul, broadcasting) optimized and compiled by the Numba backend, serial and threaded, against
the interpreter on the unoptimized graph. Sides up to 40 reach the vector block lanes, row groups
and sibling fusion. Derandomized: the same programs on every run."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from eagerflow.compiler.codegen import generate
from eagerflow.compiler.pipeline import optimize
from eagerflow.ir import print_graph
from eagerflow.runtime import config
from eagerflow.runtime.interpret import interpret
from eagerflow.testing import programs

pytestmark = pytest.mark.numba


def _close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if want.dtype.kind in "biu":
        return np.array_equal(got, want)
    # transcendentals differ from NumPy's by an ulp or so and sums run in another order;
    # cancellation can grow that, hence the loose tolerance: this test is after wrong answers
    fin = np.isfinite(want)
    return (np.array_equal(fin, np.isfinite(got)) and
            np.array_equal(np.isnan(want), np.isnan(got)) and
            np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)]) and
            np.allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5))


@pytest.mark.parametrize("parallel", [False, True])
@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(prog=programs(finite=True, max_side=40))
def test_numba_backend_matches_interpreter(parallel, prog, monkeypatch):
    graph, args = prog
    monkeypatch.setattr(config, "parallel_threshold", 0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want = interpret(graph, args)
        optimized, _ = optimize(graph)
        got = generate(optimized, parallel=parallel).compile()(*args)
    for g, w in zip(got, want):
        assert _close(g, w), print_graph(optimized)
