"""SGD and Adam with hand-written gradients: eager and compiled (interpreter) give the same
Variables; slots are created on first use, also when that first use is inside a trace."""
import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import StateError

RNG = np.random.default_rng(7)
X = RNG.standard_normal((32, 5))
Y = X @ RNG.standard_normal((5, 2)) + 0.1


class Linear(ef.Module):
    def __init__(self, dtype=np.float64):
        self.w = ef.Variable(np.full((5, 2), 0.1, dtype))
        self.b = ef.Variable(np.zeros(2, dtype))


def grads(m, x, y):
    err = x @ m.w + m.b - y
    return [x.T @ err / len(x), err.mean(axis=0)]


OPTS = [(ef.optimizers.SGD, dict(lr=0.05)), (ef.optimizers.SGD, dict(lr=0.05, momentum=0.9)),
        (ef.optimizers.Adam, dict(lr=0.01)),
        (ef.optimizers.Adam, dict(lr=0.02, beta1=0.5, beta2=0.9, eps=1e-6))]


@pytest.mark.parametrize("Opt,kw", OPTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eager_equals_compiled(Opt, kw, dtype):
    x, y = X.astype(dtype), Y.astype(dtype)
    me, mc = Linear(dtype), Linear(dtype)
    oe, oc = Opt(**kw), Opt(**kw)

    @ef.function(backend="interpreter")
    def step(x, y):   # the optimizer's first apply (slot creation) happens inside this trace
        oc.apply(grads(mc, x, y), mc.trainable_variables)

    for _ in range(6):
        oe.apply(grads(me, x, y), me.trainable_variables)
        step(x, y)
    assert step.cache_info().misses == 1
    for a, b in zip(me.variables + oe.variables, mc.variables + oc.variables):
        assert a.dtype == b.dtype == (np.int64 if a.name == "iterations" else dtype)
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert int(oc.iterations.numpy()) == 6


def test_training_decreases_loss():
    m, opt = Linear(), ef.optimizers.Adam(0.05)

    @ef.function(backend="interpreter")
    def step(x, y):
        g = grads(m, x, y)
        opt.apply(g, [m.w, m.b])
        err = x @ m.w + m.b - y
        return (err * err).mean()

    losses = [float(step(X, Y)) for _ in range(200)]
    assert losses[-1] < 0.01 * losses[0]


def test_reference_values():
    """One step by hand: SGD with momentum and Adam's bias correction."""
    v = ef.Variable(np.array([1.0, 2.0]))
    opt = ef.optimizers.SGD(0.1, momentum=0.5)
    g = np.array([1.0, -1.0])
    opt.apply([g], [v])
    opt.apply([g], [v])   # buf = 0.5 * g + g = 1.5 g
    np.testing.assert_allclose(v.numpy(), [1.0 - 0.1 - 0.15, 2.0 + 0.1 + 0.15])
    a = ef.Variable(np.array([1.0]))
    adam = ef.optimizers.Adam(0.1)
    adam.apply([np.array([3.0])], [a])   # first Adam step moves by lr * sign(g) (almost)
    np.testing.assert_allclose(a.numpy(), [0.9], rtol=1e-7)


def test_slots_and_state():
    m, opt = Linear(), ef.optimizers.Adam()
    opt.build(m.trainable_variables)
    names = [n for n, _ in opt.named_variables()]
    assert names == ["iterations", "w/m", "w/v", "b/m", "b/v"]
    assert all(not v.trainable for v in opt.variables)
    assert "Adam(lr=0.001" in repr(opt)


def test_lr_variable_changes_without_retrace():
    lr = ef.Variable(0.1)
    v = ef.Variable(np.zeros(2))
    opt = ef.optimizers.SGD(lr)

    @ef.function(backend="interpreter")
    def step(g):
        opt.apply([g], [v])

    step(np.ones(2))
    lr.assign(1.0)
    step(np.ones(2))
    np.testing.assert_allclose(v.numpy(), [-1.1, -1.1])
    assert step.cache_info().misses == 1


def test_errors():
    v = ef.Variable(np.zeros(2))
    opt = ef.optimizers.SGD(0.1)
    with pytest.raises(StateError, match="1 gradients for 2 variables"):
        opt.apply([np.ones(2)], [v, v])
    with pytest.raises(StateError, match="gradient of shape"):
        opt.apply([np.ones(3)], [v])
    with pytest.raises(StateError, match="ef.Variables"):
        opt.apply([np.ones(2)], [np.zeros(2)])
    opt.apply([None], [v])   # a None gradient skips its Variable
    assert v.numpy().tolist() == [0.0, 0.0]
