"""Variables through the Numba backend (a few compiles: the rest of tests/state runs on the
interpreter). Run with EAGERFLOW_CACHE_DIR set to reuse compiled code between runs."""
import threading

import numpy as np
import pytest

import eagerflow as ef

pytest.importorskip("numba")


class Linear(ef.Module):
    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.w = ef.Variable(rng.standard_normal((n_in, n_out)) * 0.1)
        self.b = ef.Variable(np.zeros(n_out))


def grads(m, x, y):
    err = x @ m.w + m.b - y
    return [x.T @ err / len(x), err.mean(axis=0)]


@pytest.mark.parametrize("make_opt", [lambda: ef.optimizers.SGD(0.1, momentum=0.9),
                                      lambda: ef.optimizers.Adam(0.01)], ids=["sgd", "adam"])
def test_compiled_step_equals_eager(make_opt):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((64, 4)), rng.standard_normal((64, 2))
    me, mc = Linear(4, 2), Linear(4, 2)
    oe, oc = make_opt(), make_opt()

    @ef.function
    def step(x, y):
        oc.apply(grads(mc, x, y), mc.trainable_variables)

    for _ in range(5):
        oe.apply(grads(me, x, y), me.trainable_variables)
        step(x, y)
    for a, b in zip(me.variables + oe.variables, mc.variables + oc.variables):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-12, atol=1e-15)
    assert "assign_variable" in step.lower(x, y).source


def test_failing_compiled_call_and_threads():
    data = ef.Variable(np.arange(5.0), name="data")

    class Counter(ef.Module):
        def __init__(self):
            self.total = ef.Variable(np.zeros(2))
            self.calls = ef.Variable(np.int64(0))

        @ef.function
        def add(self, idx):
            self.calls.assign_add(1)
            self.total.assign_add(data[idx].sum())

    c = Counter()
    c.add(np.array([1, 2]))
    with pytest.raises(IndexError):
        c.add(np.array([1, 50]))
    assert c.total.numpy().tolist() == [3.0, 3.0] and int(c.calls.numpy()) == 1

    counters = [Counter() for _ in range(4)]
    barrier = threading.Barrier(4)

    def work(k, m):
        barrier.wait()
        for _ in range(200):
            m.add(np.array([k]))

    ts = [threading.Thread(target=work, args=(k, m)) for k, m in enumerate(counters)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for k, m in enumerate(counters):
        assert m.total.numpy().tolist() == [200.0 * k] * 2 and int(m.calls.numpy()) == 200
