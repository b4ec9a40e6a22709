"""Global switches: `ef.config.run_functions_eagerly(True)` or EAGERFLOW_EAGER=1 runs every
`ef.function` as the plain Python it was written as."""
from __future__ import annotations

import os

_eager: bool | None = None
debug = os.environ.get("EAGERFLOW_DEBUG", "") not in ("", "0")   # verify the IR after every pass


def run_functions_eagerly(flag: bool = True) -> None:
    """Run decorated functions as plain Python (for debugging); False restores compilation."""
    global _eager
    _eager = bool(flag)


_ENV = getattr(os.environ, "_data", None)   # the raw dict behind os.environ: a cheap lookup
_KEY = b"EAGERFLOW_EAGER"


def functions_run_eagerly() -> bool:
    if _eager is not None:
        return _eager
    if _ENV is not None and _KEY not in _ENV:   # the per-call fast path: variable unset
        return False
    return os.environ.get("EAGERFLOW_EAGER", "") not in ("", "0")


# Multi-core code (docs/numba_backend.md, "Threads"): ef.function(parallel=None) uses `parallel`.
# With parallel on, a kernel whose work reaches `parallel_threshold` gets prange: its largest
# operand's elements, each counted 1 + the registry cost of its ops (a transcendental op: 8).
# The threaded variant is compiled the first time a call needs it; smaller work runs serial.
parallel = "auto"   # True and "auto" behave alike: threads above the threshold
parallel_threshold = 200_000
