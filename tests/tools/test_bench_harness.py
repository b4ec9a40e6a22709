"""The benchmark harness's side-by-side timing: every system is timed in every round."""
from __future__ import annotations

from eagerflow.bench.harness import timeit_side_by_side


def test_side_by_side_times_each_system_in_every_round():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b(k):
        calls["b"] += k

    times = timeit_side_by_side([(a, ()), (b, (1,))], rounds=2, repeats=2, pause=0)
    assert len(times) == 2 and all(t > 0 for t in times)
    # warm-up and calibration, then 2 rounds x 2 repeats of one untimed call and a batch each
    assert calls["a"] > 4 and calls["b"] > 4
