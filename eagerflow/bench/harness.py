"""Timing helpers: medians of several batches, a pause before each batch so thread pools that
keep spinning after a call (OpenBLAS, OpenMP) do not steal the core from the next system, then
one untimed call (after an idle pause the first call runs up to 10x slower here, whatever the
system: the CPU has to wake up), then the timed batch."""
from __future__ import annotations

import statistics
import time


def _calls_per_batch(fn, args, min_time):
    """Calls per timed batch: enough for the batch to take min_time, measured after three
    warm-up calls (the first calls of a function can run 10x slower than later ones: building
    its fast path, faulting in its output's pages; a batch sized by one such call is a single
    call after an idle pause)."""
    for _ in range(3):
        fn(*args)
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        if time.perf_counter() - t0 >= min_time or n >= 1 << 20:
            return n
        n *= 4


def _batch(fn, args, n, pause):
    """Seconds per call of one timed batch of n calls, after a pause and one untimed call."""
    time.sleep(pause)
    fn(*args)   # untimed: the first call after an idle pause runs slow on this VM
    t0 = time.perf_counter()
    for _ in range(n):
        fn(*args)
    return (time.perf_counter() - t0) / n


def timeit(fn, *args, repeats=7, min_time=0.05, pause=0.15):
    """Median seconds per call of fn(*args)."""
    n = _calls_per_batch(fn, args, min_time)
    return statistics.median(_batch(fn, args, n, pause) for _ in range(repeats))


def timeit_side_by_side(calls, rounds=3, repeats=3, min_time=0.05, pause=0.15):
    """Median seconds per call of each (fn, args) in `calls`, measured in interleaved rounds
    (each round times every system in turn), so that a slow spell of this shared machine falls
    on all of them rather than on whichever one it was measuring: one contiguous block per system
    had given the same threaded kernel 1.9 ms in one run and 4.1 ms in the next."""
    calls = list(calls)
    ns = [_calls_per_batch(fn, args, min_time) for fn, args in calls]
    samples = [[] for _ in calls]
    for _ in range(rounds):
        for (fn, args), n, out in zip(calls, ns, samples):
            out.extend(_batch(fn, args, n, pause) for _ in range(repeats))
    return [statistics.median(s) for s in samples]


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def table(rows, columns) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |")
    return "\n".join(out)
