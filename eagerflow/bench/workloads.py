"""The benchmark workloads: each returns (name, numpy_fn, args, extra reference fns)."""
from __future__ import annotations

import numpy as np


def arith_chain(a, b, c, d):
    return a * b + c * d - a * 0.5


def trig_chain(a, b, c, d):
    return a * b + c * np.sin(d) - np.exp(-a)


def variance(x):
    return x.var(axis=1)


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x):
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=1, keepdims=True)
    return xc / np.sqrt(var + 1e-5)


def mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2


def tiny(x):
    return (x * 2 + 1).sum()


def numba_refs():
    """Hand-written Numba loops: the single-thread ceiling eagerflow aims at."""
    import numba

    @numba.njit(error_model="numpy")
    def arith(a, b, c, d):
        out = np.empty_like(a)
        for i in range(a.shape[0]):
            out[i] = a[i] * b[i] + c[i] * d[i] - a[i] * 0.5
        return out

    @numba.njit(error_model="numpy")
    def row_moments(x, i):
        """Mean and variance of row i, in NumPy's two passes."""
        m = x.shape[1]
        s = 0.0
        for j in range(m):
            s += x[i, j]
        mu = s / m
        ss = 0.0
        for j in range(m):
            d = x[i, j] - mu
            ss += d * d
        return mu, ss / m

    @numba.njit(error_model="numpy")
    def var_rows(x):
        out = np.empty(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = row_moments(x, i)[1]
        return out

    @numba.njit(error_model="numpy")
    def tiny_nb(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * 2 + 1
        return s

    @numba.njit(error_model="numpy", parallel=True)
    def var_par(x):
        out = np.empty(x.shape[0])
        for i in numba.prange(x.shape[0]):
            out[i] = row_moments(x, i)[1]
        return out

    @numba.njit(error_model="numpy", parallel=True)
    def softmax_par(x):
        n, m = x.shape
        out = np.empty_like(x)
        for i in numba.prange(n):
            mx = -np.inf
            for j in range(m):
                mx = max(mx, x[i, j])
            s = 0.0
            for j in range(m):
                e = np.exp(x[i, j] - mx)
                out[i, j] = e
                s += e
            for j in range(m):
                out[i, j] /= s
        return out

    @numba.njit(error_model="numpy", parallel=True)
    def layernorm_par(x):
        n, m = x.shape
        out = np.empty_like(x)
        for i in numba.prange(n):
            mu, var = row_moments(x, i)
            r = np.sqrt(var + 1e-5)
            for j in range(m):
                out[i, j] = (x[i, j] - mu) / r
        return out

    return {"arith": arith, "variance": var_rows, "tiny": tiny_nb,
            "variance prange": var_par, "softmax prange": softmax_par,
            "layernorm prange": layernorm_par}
