"""Variables in traced functions: captured through closures, globals, Modules and arguments; read
anew on every call; assignments written back after the call, all or nothing (interpreter)."""
import threading

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import StateError

INTERP = dict(backend="interpreter")
G = ef.Variable(np.zeros(3), name="g")


def test_closure_reads_see_current_values_without_retrace():
    w = ef.Variable(np.ones(3), name="w")

    @ef.function(**INTERP)
    def f(x):
        return x * w

    x = np.arange(3.0)
    np.testing.assert_array_equal(f(x), x)
    w.assign([2.0, 2.0, 2.0])
    np.testing.assert_array_equal(f(x), 2 * x)
    w.assign_add(1.0)
    np.testing.assert_array_equal(f(x), 3 * x)
    assert f.cache_info().misses == 1


def test_global_variable_updates_across_calls():
    G.assign(0.0)

    @ef.function(**INTERP)
    def bump(x):
        G.assign_add(x)
        return G.sum()

    for k in range(1, 4):
        s = bump(np.ones(3))
        assert float(s) == 3.0 * k, "a read after an assign sees the new value"
    assert G.numpy().tolist() == [3.0] * 3
    assert bump.cache_info().misses == 1


def test_write_back_matches_eager():
    rng = np.random.default_rng(1)
    init = [rng.standard_normal((4, 3)), rng.standard_normal(3), np.float64(0.5)]

    def program(vs, x):
        w, b, s = vs
        y = np.tanh(x @ w + b)
        w.assign(w - 0.1 * (x[:, None] * y[None, :]))
        b.assign_sub(y * s)
        b[0] = 7.0
        s.assign(s * 2)
        w += 1.0
        return y, b.value * 1.0

    eager = [ef.Variable(a) for a in init]
    comp = [ef.Variable(a) for a in init]
    f = ef.function(lambda x: program(comp, x), **INTERP)
    for _ in range(3):
        x = rng.standard_normal(4)
        ye = program(eager, x)
        yc = f(x)
        for a, b in zip(ye, yc):
            np.testing.assert_allclose(b, a, rtol=1e-14)
        for a, b in zip(eager, comp):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-14)


def test_swap_reads_old_values():
    a, b = ef.Variable(np.ones(2)), ef.Variable(np.zeros(2))

    @ef.function(**INTERP)
    def swap():
        old = a.value
        a.assign(b)
        b.assign(old)

    swap()
    assert a.numpy().tolist() == [0.0, 0.0] and b.numpy().tolist() == [1.0, 1.0]
    swap()
    assert a.numpy().tolist() == [1.0, 1.0] and b.numpy().tolist() == [0.0, 0.0]


def test_ir_shows_state():
    w = ef.Variable(np.ones(3), name="w")

    @ef.function(**INTERP)
    def f(x):
        w.assign_add(x)
        return w.sum()

    low = f.lower(np.ones(3))
    text = str(low.optimized)
    assert "%w: f64[3]" in text
    assert "assign_variable(" in text and "{variable='w'}" in text
    assert low.optimized.meta["variable_updates"] == 1
    from eagerflow.ir.parser import parse_graph
    from eagerflow.ir.printer import print_graph
    g = low.traced
    assert print_graph(parse_graph(print_graph(g), g.constants())) == print_graph(g)


def test_failing_call_leaves_variables_intact():
    w = ef.Variable(np.zeros(3), name="w")
    data = ef.Variable(np.arange(5.0), name="data")

    @ef.function(**INTERP)
    def step(idx):
        w.assign_add(1.0)
        return data[idx].sum()

    assert step(np.array([0, 1])) == 1.0
    assert w.numpy().tolist() == [1.0] * 3
    with pytest.raises(IndexError):
        step(np.array([0, 9]))
    assert w.numpy().tolist() == [1.0] * 3, "nothing written when the call raises"
    step(np.array([4]))
    assert w.numpy().tolist() == [2.0] * 3


def test_assignment_errors_while_tracing():
    w = ef.Variable(np.zeros(3, np.float32), name="w")

    @ef.function(**INTERP)
    def bad_shape(x):
        w.assign(x)

    @ef.function(**INTERP)
    def bad_dtype(x):
        w.assign_add(x)

    with pytest.raises(StateError, match="shape"):
        bad_shape(np.zeros(4, np.float32))
    with pytest.raises(StateError, match="unsafe cast"):
        bad_dtype(np.zeros(3))
    assert w.numpy().tolist() == [0.0] * 3


class Dense(ef.Module):
    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.w = ef.Variable(rng.standard_normal((n_in, n_out)))
        self.b = ef.Variable(np.zeros(n_out))

    @ef.function(backend="interpreter")
    def __call__(self, x):
        return x @ self.w + self.b

    @ef.function(backend="interpreter")
    def sgd(self, x, y, lr):
        err = x @ self.w + self.b - y
        self.w.assign_sub(lr * x.T @ err / len(x))
        self.b.assign_sub(lr * err.mean(axis=0))
        return (err * err).mean()


def test_module_methods_capture_attributes():
    m = Dense(3, 2)
    x = np.ones((4, 3))
    np.testing.assert_allclose(m(x), x @ m.w.numpy() + m.b.numpy())
    y = np.zeros((4, 2))
    losses = [float(m.sgd(x, y, 0.1)) for _ in range(20)]
    assert losses[-1] < losses[0]
    assert Dense.sgd.cache_info().misses >= 1
    low = Dense.sgd.lower(m, x, y, 0.1)
    assert "%w: f64[3,2]" in str(low.traced) and "%b: f64[2]" in str(low.traced)


def test_module_attribute_rebinding_is_seen():
    m = Dense(2, 2)
    x = np.ones((1, 2))
    m(x)
    m.w = ef.Variable(np.zeros((2, 2)))
    np.testing.assert_array_equal(m(x), np.zeros((1, 2)))
    m.w = ef.Variable(np.zeros((3, 2)))   # another shape: a new trace
    with pytest.raises(ef.errors.ShapeError):
        m(x)


def test_two_modules_two_traces_independent_state():
    a, b = Dense(2, 2, seed=1), Dense(2, 2, seed=2)
    wa, wb = a.w.numpy(), b.w.numpy()
    a.sgd(np.ones((1, 2)), np.zeros((1, 2)), 0.5)
    np.testing.assert_array_equal(b.w.numpy(), wb)
    assert not np.array_equal(a.w.numpy(), wa)


def test_variable_as_argument():
    @ef.function(**INTERP)
    def add_to(v, x):
        v.assign_add(x)
        return v * 2

    p, q = ef.Variable(np.zeros(2)), ef.Variable(np.ones(2))
    np.testing.assert_array_equal(add_to(p, np.ones(2)), [2.0, 2.0])
    np.testing.assert_array_equal(add_to(q, np.ones(2)), [4.0, 4.0])
    add_to(p, np.ones(2))
    assert p.numpy().tolist() == [2.0, 2.0] and q.numpy().tolist() == [2.0, 2.0]
    # Variables are static arguments by identity: a new Variable is a new trace, same code
    assert add_to.cache_info().misses == 2


def test_global_rebinding_to_another_variable():
    global G2
    G2 = ef.Variable(np.ones(2))

    @ef.function(**INTERP)
    def f():
        G2.assign_add(1.0)

    f()
    old = G2
    G2 = ef.Variable(np.zeros(2))   # same type: found again through the global, no retrace
    f()
    assert old.numpy().tolist() == [2.0, 2.0] and G2.numpy().tolist() == [1.0, 1.0]
    assert f.cache_info().misses == 1
    G2 = ef.Variable(np.zeros(3))   # another shape: traced anew
    f()
    assert G2.numpy().tolist() == [1.0] * 3 and f.cache_info().misses == 2


def test_threads_on_different_variables():
    mods = [Dense(3, 2, seed=s) for s in range(4)]
    expected = []
    x, y = np.ones((5, 3)), np.zeros((5, 2))
    for s in range(4):
        ref = Dense(3, 2, seed=s)
        for _ in range(30):
            err = x @ ref.w.numpy() + ref.b.numpy() - y
            ref.w.assign_sub(0.01 * x.T @ err / 5)
            ref.b.assign_sub(0.01 * err.mean(axis=0))
        expected.append(ref.w.numpy())
    barrier = threading.Barrier(4)
    errors = []

    def work(m):
        try:
            barrier.wait()
            for _ in range(30):
                m.sgd(x, y, 0.01)
        except Exception as e:   # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work, args=(m,)) for m in mods]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    for m, e in zip(mods, expected):
        np.testing.assert_allclose(m.w.numpy(), e, rtol=1e-12)


def test_eager_mode_runs_as_python():
    w = ef.Variable(np.zeros(2))

    @ef.function(**INTERP)
    def f(x):
        w.assign_add(x)
        return w.sum()

    ef.config.run_functions_eagerly(True)
    try:
        assert f(np.ones(2)) == 2.0
    finally:
        ef.config.run_functions_eagerly(False)
    assert f(np.ones(2)) == 4.0
