"""Allocations hoisted out of compiled loops (control.py): arrays shared by all iterations must
never be one a later iteration still reads. NumPy is the oracle."""
import numpy as np

import eagerflow as ef


def sgd_loop(w, b, x, y, steps):
    def step(i, wb):
        w, b = wb
        r = w * x + b - y
        return w - 0.1 * np.mean(r * x), b - 0.1 * np.mean(r)
    return ef.fori_loop(0, steps, step, (w, b))


def sgd_numpy(w, b, x, y, steps):
    for _ in range(steps):
        r = w * x + b - y
        w, b = w - 0.1 * np.mean(r * x), b - 0.1 * np.mean(r)
    return w, b


def test_sgd_loop_matches_numpy_and_allocates_before_the_loop():
    x = np.linspace(-1, 1, 300)
    y = 3 * x + 2
    f = ef.function(sgd_loop)
    np.testing.assert_allclose(f(0.0, 0.0, x, y, 50), sgd_numpy(0.0, 0.0, x, y, 50), rtol=1e-12)
    np.testing.assert_allclose(f(0.0, 0.0, x, y, 0), (0.0, 0.0))
    src = f.lower(0.0, 0.0, x, y, 50).source
    loop = src[src.index("while True:"):]
    assert "np.empty" not in loop


def test_carried_arrays_and_yielded_intermediates_are_not_shared():
    def f(v, x, n):
        def body(i, c):
            v, acc = c
            t = np.exp(v * 0.5) + x          # an intermediate that becomes carried state
            s = np.sum(t * x)                 # and one a reduction uses up
            return t / (1.0 + np.abs(t).max()), acc + s
        return ef.fori_loop(0, n, body, (v, 0.0))

    def ref(v, x, n):
        acc = 0.0
        for _ in range(n):
            t = np.exp(v * 0.5) + x
            acc = acc + np.sum(t * x)
            v = t / (1.0 + np.abs(t).max())
        return v, acc
    v, x = np.linspace(0, 1, 40), np.linspace(1, 2, 40)
    g = ef.function(f)
    for n in (0, 1, 7):
        got, want = g(v, x, n), ref(v, x, n)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-13)


def test_nested_loops_with_reductions():
    def f(x, n):
        def outer(i, acc):
            def inner(j, a):
                return a + np.sum(x * (i + j))
            return ef.fori_loop(0, 3, inner, acc) + np.mean(x * x)
        return ef.fori_loop(0, n, outer, 0.0)

    def ref(x, n):
        acc = 0.0
        for i in range(n):
            for j in range(3):
                acc = acc + np.sum(x * (i + j))
            acc = acc + np.mean(x * x)
        return acc
    x = np.linspace(-1, 2, 500)
    np.testing.assert_allclose(ef.function(f)(x, 4), ref(x, 4), rtol=1e-12)
