"""Benchmark: eagerflow.compiler.mathlib in a Numba loop vs NumPy's own (SIMD) ufuncs.

    python -m eagerflow.bench.mathbench            # prints a Markdown table

Rows: np.exp, np.sin, np.tanh alone on 1e7 float64 vs an njit loop calling ef_*_f64, and the chain
``a*b + c*sin(d) - exp(-a)`` eager NumPy vs one fused njit loop.  Both sides write into a
preallocated output (``out=``): a fresh 80 MB array costs ~20k page faults per call, which Numba's
allocator pays and NumPy's hugepage-advised allocator mostly does not, and that is not what this
benchmark is about.  Eager NumPy still allocates its temporaries in the chain.  Times are medians of `repeats`, after a warm-up call, with a
~0.15 s pause before each timed call (the machine is shared).
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit

from eagerflow.compiler.mathlib import ef_exp_f64, ef_sin_f64, ef_tanh_f64


@njit(error_model="numpy")
def _exp_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = ef_exp_f64(x[i])


@njit(error_model="numpy")
def _sin_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = ef_sin_f64(x[i])


@njit(error_model="numpy")
def _tanh_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = ef_tanh_f64(x[i])


@njit(error_model="numpy")
def _chain_loop(a, b, c, d, out):
    for i in range(a.shape[0]):
        out[i] = a[i] * b[i] + c[i] * ef_sin_f64(d[i]) - ef_exp_f64(-a[i])


def _time(fn, repeats, pause=0.15):
    fn()
    ts = []
    for _ in range(repeats):
        time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def run(n=10**7, repeats=5, seed=0):
    rng = np.random.default_rng(seed)
    a, b, c, d = (rng.uniform(-10.0, 10.0, n) for _ in range(4))
    out = np.empty(n)
    rows = []
    for name, npf, loop in (("exp", np.exp, _exp_loop), ("sin", np.sin, _sin_loop),
                            ("tanh", np.tanh, _tanh_loop)):
        x = d if name != "exp" else a
        tn = _time(lambda: npf(x, out=out), repeats)
        te = _time(lambda: loop(x, out), repeats)
        rows.append({"name": f"np.{name} (1e{int(np.log10(n))} float64)", "numpy_s": tn,
                     "ef_s": te, "ratio": tn / te})
    tn = _time(lambda: np.subtract(a * b + c * np.sin(d), np.exp(-a), out=out), repeats)
    te = _time(lambda: _chain_loop(a, b, c, d, out), repeats)
    rows.append({"name": "a*b + c*sin(d) - exp(-a)", "numpy_s": tn, "ef_s": te, "ratio": tn / te})
    return rows


def markdown(rows):
    lines = ["| benchmark | NumPy (s) | eagerflow mathlib (s) | ratio |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['numpy_s']:.4f} | {r['ef_s']:.4f} | {r['ratio']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
