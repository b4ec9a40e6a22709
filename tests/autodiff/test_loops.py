"""Gradients through `while` loops: fori_loop with Python-int bounds and while_loop(max_iters=N)
(a tape loop and a reverse loop, eagerflow/autodiff/loops.py; docs/autodiff.md 'Control flow')."""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import UnsupportedError
from eagerflow.runtime.interpret import interpret

X = np.array([0.3, -0.2, 0.5, 1.1])
W = np.array([0.9, 1.1, 0.7, -0.4])


def fd_grad(f, args, i, eps=1e-6):
    out = np.zeros_like(args[i])
    for k in np.ndindex(args[i].shape):
        a, b = [x.copy() for x in args], [x.copy() for x in args]
        a[i][k] += eps
        b[i][k] -= eps
        out[k] = (float(f(*a)) - float(f(*b))) / (2 * eps)
    return out


def loop(x, w):
    return ef.fori_loop(0, 5, lambda i, x: x * w + np.sin(x), x).sum()


def unrolled(x, w):
    for _ in range(5):
        x = x * w + np.sin(x)
    return x.sum()


def check_graph(gfun, *args):
    """The gradient graph is an ordinary graph: verified (conftest), same values optimized."""
    low = ef.function(gfun, backend="interpreter").lower(*args)
    before = interpret(low.traced, list(args))
    after = interpret(low.optimized, list(args))
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_fori_loop_grad_matches_unrolled_and_finite_differences():
    g = ef.grad(loop, argnums=(0, 1))(X, W)
    gu = ef.grad(unrolled, argnums=(0, 1))(X, W)
    for a, b, i in zip(g, gu, (0, 1)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, fd_grad(unrolled, [X, W], i), rtol=1e-6, atol=1e-8)
    check_graph(ef.grad(loop, argnums=(0, 1)), X, W)


def test_grad_wrt_loop_invariant_only():
    g = ef.grad(loop, argnums=1)(X, W)
    np.testing.assert_allclose(g, fd_grad(unrolled, [X, W], 1), rtol=1e-6, atol=1e-8)


def test_body_uses_counter_and_nested_loops_and_cond():
    def f(x, w):
        def body(i, x):
            inner = ef.fori_loop(0, 3, lambda j, y: y * w + 0.1 * j, x)
            x = ef.cond(np.sum(inner) > 0, lambda a: np.tanh(a) * i, lambda a: a * a, inner)
            return x + 0.01 * i
        return (ef.fori_loop(1, 4, body, x) ** 2).sum()

    def fu(x, w):
        for i in range(1, 4):
            y = x
            for j in range(3):
                y = y * w + 0.1 * j
            x = (np.tanh(y) * i if np.sum(y) > 0 else y * y) + 0.01 * i
        return (x ** 2).sum()

    np.testing.assert_allclose(ef.function(f)(X, W), fu(X, W), rtol=1e-12)
    g = ef.grad(f, argnums=(0, 1))(X, W)
    for a, i in zip(g, (0, 1)):
        np.testing.assert_allclose(a, fd_grad(fu, [X, W], i), rtol=1e-5, atol=1e-7)
    check_graph(ef.grad(f, argnums=(0, 1)), X, W)


@pytest.mark.parametrize("lo,hi", [(0, 0), (3, 3), (5, 2)])
def test_zero_trip_loop(lo, hi):
    def f(x, w):
        return (ef.fori_loop(lo, hi, lambda i, x: x * w + np.sin(x), x) * w).sum()
    gx, gw = ef.grad(f, argnums=(0, 1))(X, W)
    np.testing.assert_allclose(gx, W)
    np.testing.assert_allclose(gw, X)


def test_while_loop_max_iters():
    def f(x, w):
        y = ef.while_loop(lambda s: np.sum(s * s) > 0.05, lambda s: s * w + 0.1 * np.sin(s), x,
                          max_iters=40)
        return (y ** 2).sum()

    def fu(x, w):
        s = x
        for _ in range(40):
            if not np.sum(s * s) > 0.05:
                break
            s = s * w + 0.1 * np.sin(s)
        return (s ** 2).sum()

    w = np.full(4, 0.6)
    np.testing.assert_allclose(f(X, w), fu(X, w), rtol=1e-12)
    g = ef.grad(f, argnums=(0, 1))(X, w)
    for a, i in zip(g, (0, 1)):
        np.testing.assert_allclose(a, fd_grad(fu, [X, w], i), rtol=1e-5, atol=1e-8)
    check_graph(ef.grad(f, argnums=(0, 1)), X, w)


def test_while_loop_stops_at_max_iters():
    def f(x):
        return ef.while_loop(lambda s: np.sum(s) > -1e9, lambda s: s * 1.5, x, max_iters=3).sum()
    np.testing.assert_allclose(f(X), (X * 1.5 ** 3).sum())
    np.testing.assert_allclose(ef.grad(f)(X), np.full(4, 1.5 ** 3))
    assert ef.while_loop(lambda s: s < 100, lambda s: s + 1, 0, max_iters=5) == 5


def test_runtime_trip_count_without_max_iters_names_the_fix():
    def f(x):
        return ef.while_loop(lambda s: np.sum(s * s) > 0.05, lambda s: s * 0.5, x).sum()
    with pytest.raises(UnsupportedError, match="max_iters"):
        ef.grad(f)(X)


def test_loop_grad_numba_compiled(tmp_path, monkeypatch):
    """One Numba compile: the forward loop, the tape loop and the reverse loop in one step."""
    monkeypatch.setenv("EAGERFLOW_CACHE_DIR", "/tmp/ef_loopgrad")

    @ef.function(backend="numba")
    def step(x, w):
        gx, gw = ef.grad(loop, argnums=(0, 1))(x, w)
        return w - 0.1 * gw, gx

    got = step(X, W)
    want = ef.grad(unrolled, argnums=(0, 1))(X, W)
    np.testing.assert_allclose(got[0], W - 0.1 * want[1], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[0], rtol=1e-12)
