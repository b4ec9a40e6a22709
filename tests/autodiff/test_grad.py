"""ef.grad / ef.value_and_grad: pytrees, argnums, has_aux, higher order, composition with
ef.function (interpreter; one Numba-compiled step), control flow."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.autodiff.vjp import grad_graph
from eagerflow.compiler.pipeline import optimize
from eagerflow.ir.verify import verify
from eagerflow.runtime.interpret import interpret


def mlp_loss(params, x, y):
    h = np.tanh(x @ params["w1"] + params["b1"])
    out = h @ params["w2"] + params["b2"]
    return np.mean((out - y) ** 2)


def _params(rng):
    return {"w1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
            "w2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}


def _numeric(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def test_pytree_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    p, x, y = _params(rng), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    g = ef.grad(mlp_loss)(p, x, y)
    assert set(g) == set(p)
    for k in p:
        def f(v, k=k):
            return mlp_loss({**p, k: v}, x, y)
        np.testing.assert_allclose(g[k], _numeric(f, p[k]), rtol=1e-6, atol=1e-8)


def test_argnums_tuple_and_value():
    f = lambda a, b: np.sum(a * np.sin(b))   # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([0.3, 0.4])
    (v, (ga, gb)) = ef.value_and_grad(f, argnums=(0, 1))(a, b)
    assert np.isclose(v, f(a, b))
    np.testing.assert_allclose(ga, np.sin(b))
    np.testing.assert_allclose(gb, a * np.cos(b))
    np.testing.assert_allclose(ef.grad(f, argnums=-1)(a, b), a * np.cos(b))


def test_has_aux():
    f = lambda x: ((x ** 2).sum(), {"mean": x.mean()})   # noqa: E731
    g, aux = ef.grad(f, has_aux=True)(np.array([1.0, 3.0]))
    np.testing.assert_allclose(g, [2.0, 6.0])
    assert aux["mean"] == 2.0
    (v, aux), g = ef.value_and_grad(f, has_aux=True)(np.array([1.0, 3.0]))
    assert v == 10.0


def test_python_float_and_float32_arguments():
    assert ef.grad(lambda x: x * x * 3.0)(2.0) == 12.0
    g = ef.grad(lambda x: (x * x).sum())(np.ones(3, np.float32))
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, 2.0)


def test_errors():
    with pytest.raises(TypeError, match="float scalar"):
        ef.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        ef.grad(lambda x: (x * 2.0).sum())(np.arange(3))
    with pytest.raises(ValueError, match="argnums"):
        ef.grad(lambda x: x.sum(), argnums=3)(np.ones(3))


def test_unconnected_argument_gets_zeros():
    g = ef.grad(lambda a, b: (a * 2.0).sum(), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


@pytest.mark.parametrize("f,d2", [
    (lambda x: np.sin(x).sum(), lambda x: -np.sin(x)),
    (lambda x: (x ** 3).sum(), lambda x: 6 * x),
    (lambda x: np.exp(2 * x).sum(), lambda x: 4 * np.exp(2 * x)),
    (lambda x: (np.tanh(x) * x).sum(), lambda x: 2 / np.cosh(x) ** 2 - 2 * x * np.tanh(x) / np.cosh(x) ** 2),
    (lambda x: np.log1p(x * x).sum(), lambda x: (2 - 2 * x * x) / (1 + x * x) ** 2),
])
def test_grad_of_grad_elementwise(f, d2):
    x = np.array([0.3, -0.7, 1.1])
    g2 = ef.grad(lambda x: ef.grad(f)(x).sum())(x)   # diagonal Hessian: elementwise f
    np.testing.assert_allclose(g2, d2(x), rtol=1e-10)


def test_grad_of_grad_matmul():
    rng = np.random.default_rng(1)
    a, w = rng.normal(size=(4, 3)), rng.normal(size=3)
    f = lambda w: ((a @ w) ** 2).sum()                    # noqa: E731  H = 2 a^T a
    hv = ef.grad(lambda w: ef.grad(f)(w) @ np.array([1.0, 0.0, 0.0]))(w)   # H e0
    np.testing.assert_allclose(hv, 2 * (a.T @ a)[:, 0], rtol=1e-10)
    third = ef.grad(lambda w: ef.grad(lambda w: ef.grad(lambda w: (w ** 4).sum())(w).sum())(w).sum())
    np.testing.assert_allclose(third(np.array([1.0, 2.0])), [24.0, 48.0])


def test_composes_with_function_one_graph():
    rng = np.random.default_rng(2)
    x, y, w = rng.normal(size=(8, 3)), rng.normal(size=8), rng.normal(size=3)

    @ef.function(backend="interpreter")
    def step(w, x, y):
        loss, g = ef.value_and_grad(lambda w: np.mean((x @ w - y) ** 2))(w)
        return loss, w - 0.1 * g

    loss, w2 = step(w, x, y)
    g = 2 * x.T @ (x @ w - y) / 8
    np.testing.assert_allclose(w2, w - 0.1 * g)
    low = step.lower(w, x, y)
    ops = [n.op for n in low.traced.nodes]
    assert ops.count("matmul") >= 2          # forward and backward in the same graph
    assert len(low.optimized.nodes) < len(low.traced.nodes)


def test_fori_loop_training_with_grad_in_body():
    x = np.linspace(0, 1, 20)
    y = 3 * x + 2

    def step(i, wb):
        gw, gb = ef.grad(lambda w, b: np.mean((w * x + b - y) ** 2), argnums=(0, 1))(*wb)
        return wb[0] - 0.5 * gw, wb[1] - 0.5 * gb

    train = ef.function(lambda w, b, n: ef.fori_loop(0, n, step, (w, b)), backend="interpreter")
    w, b = train(0.0, 0.0, 2000)
    assert abs(w - 3) < 1e-3 and abs(b - 2) < 1e-3
    assert [n.op for n in train.lower(0.0, 0.0, 5).traced.nodes].count("while") == 1


def test_gradient_through_cond():
    def f(x, flag):
        return ef.cond(flag, lambda x: np.sin(x).sum(), lambda x: (x ** 3).sum(), x)
    x = np.array([0.2, 0.5])
    g = ef.function(ef.grad(f), backend="interpreter")
    np.testing.assert_allclose(g(x, True), np.cos(x))
    np.testing.assert_allclose(g(x, False), 3 * x ** 2)


def test_grad_graph_verifies_and_optimizes():
    low = ef.function(mlp_loss, backend="interpreter").lower(
        _params(np.random.default_rng(3)), np.ones((2, 3)), np.ones((2, 2)))
    g = grad_graph(low.traced, wrt=[0, 1, 2, 3])
    verify(g)
    opt, records = optimize(g)
    verify(opt)
    args = [np.full(p.type.shape, 0.5) for p in g.params]
    for a, b in zip(interpret(g, args), interpret(opt, args)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@given(x=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4),
                    elements=st.floats(-2, 2)))
def test_run_functions_eagerly_uses_the_tape(x):
    f = lambda x: (np.sin(x) * x).sum()   # noqa: E731
    want = ef.grad(f)(x)
    ef.config.run_functions_eagerly(True)
    try:
        got = ef.grad(f)(x)
    finally:
        ef.config.run_functions_eagerly(False)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_numba_compiled_training_step(tmp_path, monkeypatch):
    """One Numba compile: forward and backward fused into one compiled step."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 3)), rng.normal(size=64)
    w0 = np.zeros(3)

    @ef.function
    def step(w, x, y):
        g = ef.grad(lambda w: np.mean((x @ w - y) ** 2))(w)
        return w - 0.1 * g

    interp = ef.function(step.fn, backend="interpreter")
    np.testing.assert_allclose(step(w0, x, y), interp(w0, x, y), rtol=1e-12)


def _sin(x):
    return np.sin(x)


def _sin_ab(a, b):
    return np.sin(a * b)


def test_grad_composes_directly():
    """grad(grad(f)) is the second derivative (not the first: the outer transform once took the
    inner one's fn and argnums), at any depth, with argnums, and through ef.function."""
    x = 3.0
    assert np.isclose(ef.grad(ef.grad(_sin))(x), -np.sin(x), rtol=1e-12)
    assert np.isclose(ef.grad(ef.grad(ef.grad(_sin)))(x), -np.cos(x), rtol=1e-12)
    v, g = ef.value_and_grad(ef.grad(_sin))(x)
    assert np.isclose(v, np.cos(x)) and np.isclose(g, -np.sin(x))
    mixed = ef.grad(ef.grad(_sin_ab, argnums=1), argnums=0)(2.0, 3.0)
    assert np.isclose(mixed, np.cos(6.0) - 6.0 * np.sin(6.0), rtol=1e-12)
    assert np.isclose(ef.grad(ef.function(ef.grad(_sin)))(x), -np.sin(x), rtol=1e-12)
    assert np.isclose(ef.function(ef.grad(ef.grad(_sin)))(x), -np.sin(x), rtol=1e-12)
    assert ef.grad(ef.grad(_sin)).__name__ == "_sin"
