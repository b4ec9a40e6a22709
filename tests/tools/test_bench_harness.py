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


def test_batch_size_is_not_set_by_slow_first_calls():
    """A function's first calls can run far slower than later ones (a new output's page faults,
    its fast path being built): the batch size comes from calls after them."""
    import time
    from eagerflow.bench.harness import _calls_per_batch
    calls = [0]

    def f():
        calls[0] += 1
        if calls[0] <= 2:
            time.sleep(0.06)

    assert _calls_per_batch(f, (), 0.05) > 1
