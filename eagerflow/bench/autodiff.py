"""Training workloads: eager NumPy with hand-written gradients vs eagerflow (ef.grad compiled by
ef.function, forward and backward in one graph).

    python -m eagerflow.bench.autodiff [--quick]
"""
from __future__ import annotations

import sys
import time

import numpy as np

from .harness import fmt_time, table, timeit

LR = 0.1


# -- 1. linear regression, 1000 samples, 1000 SGD steps ----------------------------------------------

def lin_step_numpy(w, b, x, y):
    r = w * x + b - y
    gw = 2.0 * np.mean(r * x)
    gb = 2.0 * np.mean(r)
    return w - LR * gw, b - LR * gb


def lin_loss(w, b, x, y):
    return np.mean((w * x + b - y) ** 2)


def lin_step_ef(w, b, x, y):
    import eagerflow as ef
    gw, gb = ef.grad(lin_loss, argnums=(0, 1))(w, b, x, y)
    return w - LR * gw, b - LR * gb


def lin_loop_numpy(w, b, x, y, steps):
    for _ in range(steps):
        w, b = lin_step_numpy(w, b, x, y)
    return w, b


def lin_loop_ef_python(step, w, b, x, y, steps):
    for _ in range(steps):
        w, b = step(w, b, x, y)
    return w, b


def lin_loop_ef(w, b, x, y, steps):
    import eagerflow as ef
    return ef.fori_loop(0, steps, lambda i, wb: lin_step_ef(wb[0], wb[1], x, y), (w, b))


# -- 2. logistic regression, 10^5 x 20, one full-batch gradient step ----------------------------------

def logreg_step_numpy(w, b, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    d = (p - y) / X.shape[0]
    return w - LR * (X.T @ d), b - LR * np.sum(d)


def logreg_loss(w, b, X, y):
    z = X @ w + b
    # log(1 + exp(z)) - y z, written stably
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logreg_step_ef(w, b, X, y):
    import eagerflow as ef
    gw, gb = ef.grad(logreg_loss, argnums=(0, 1))(w, b, X, y)
    return w - LR * gw, b - LR * gb


# -- 3. a two-layer MLP, one epoch of minibatch SGD ----------------------------------------------------

def mlp_forward(p, X):
    h = np.maximum(X @ p[0] + p[1], 0.0)
    z = h @ p[2] + p[3]
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))   # log-softmax


def mlp_loss(p, X, Y):
    return -np.mean(np.sum(mlp_forward(p, X) * Y, axis=1))


def mlp_step_numpy(p, X, Y):
    w1, b1, w2, b2 = p
    a = X @ w1 + b1
    h = np.maximum(a, 0.0)
    z = h @ w2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    s = e / np.sum(e, axis=1, keepdims=True)
    dz = (s - Y) / X.shape[0]
    dh = (dz @ w2.T) * (a > 0)
    g = (X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0))
    return tuple(q - LR * gq for q, gq in zip(p, g))


def mlp_step_ef(w1, b1, w2, b2, X, Y):
    import eagerflow as ef
    p = (w1, b1, w2, b2)
    g = ef.grad(mlp_loss)(p, X, Y)
    return tuple(q - LR * gq for q, gq in zip(p, g))


def mlp_epoch(step, p, X, Y, batch):
    for i in range(0, X.shape[0], batch):
        p = step(p, X[i:i + batch], Y[i:i + batch])
    return p


# -- the table ---------------------------------------------------------------------------------------

def _ratio(a, b):
    return f"{a / b:.2f}x"


def run(quick: bool = False) -> list[dict]:
    import eagerflow as ef
    rng = np.random.default_rng(0)
    rows = []
    steps = 200 if quick else 1000
    x = rng.uniform(-1, 1, 1000)
    y = 3 * x + 2 + 0.1 * rng.normal(size=1000)

    step = ef.function(lin_step_ef)
    loop = ef.function(lin_loop_ef)
    t_np = timeit(lambda: lin_loop_numpy(0.0, 0.0, x, y, steps), repeats=3)
    t_step = timeit(lambda: lin_loop_ef_python(step, 0.0, 0.0, x, y, steps), repeats=3)
    t_loop = timeit(lambda: loop(0.0, 0.0, x, y, steps), repeats=3)
    w_np, b_np = lin_loop_numpy(0.0, 0.0, x, y, steps)
    w_ef, b_ef = loop(0.0, 0.0, x, y, steps)
    assert np.allclose([w_np, b_np], [w_ef, b_ef]), ((w_np, b_np), (w_ef, b_ef))
    name = f"linear regression, {steps} SGD steps on 1000 samples"
    rows.append({"workload": name + ": step called from Python", "NumPy": fmt_time(t_np),
                 "eagerflow": fmt_time(t_step), "eagerflow vs NumPy": _ratio(t_np, t_step)})
    rows.append({"workload": name + ": whole loop compiled (ef.fori_loop)", "NumPy": fmt_time(t_np),
                 "eagerflow": fmt_time(t_loop), "eagerflow vs NumPy": _ratio(t_np, t_loop)})

    n = 10**4 if quick else 10**5
    X = rng.normal(size=(n, 20))
    yl = (X @ rng.normal(size=20) + 0.3 * rng.normal(size=n) > 0).astype(np.float64)
    w0 = np.zeros(20)
    lstep = ef.function(logreg_step_ef)
    np.testing.assert_allclose(lstep(w0, 0.0, X, yl)[0], logreg_step_numpy(w0, 0.0, X, yl)[0],
                               rtol=1e-9, atol=1e-12)
    t_np = timeit(logreg_step_numpy, w0, 0.0, X, yl)
    t_ef = timeit(lstep, w0, 0.0, X, yl)
    rows.append({"workload": f"logistic regression, one gradient step on {n:.0e} x 20",
                 "NumPy": fmt_time(t_np), "eagerflow": fmt_time(t_ef),
                 "eagerflow vs NumPy": _ratio(t_np, t_ef)})

    n, d, hdim, k, batch = (2048 if quick else 16384), 32, 64, 4, 128
    Xm = rng.normal(size=(n, d))
    Ym = np.eye(k)[rng.integers(0, k, n)]
    p0 = (rng.normal(size=(d, hdim)) * 0.2, np.zeros(hdim), rng.normal(size=(hdim, k)) * 0.2,
          np.zeros(k))
    mstep = ef.function(mlp_step_ef)
    ef_step = lambda p, X, Y: mstep(*p, X, Y)   # noqa: E731
    for a, b in zip(mlp_epoch(ef_step, p0, Xm, Ym, batch), mlp_epoch(mlp_step_numpy, p0, Xm, Ym, batch)):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    t_np = timeit(lambda: mlp_epoch(mlp_step_numpy, p0, Xm, Ym, batch), repeats=3)
    t_ef = timeit(lambda: mlp_epoch(ef_step, p0, Xm, Ym, batch), repeats=3)
    rows.append({"workload": f"MLP {d}-{hdim}-{k}, one epoch of {n} samples, batch {batch}",
                 "NumPy": fmt_time(t_np), "eagerflow": fmt_time(t_ef),
                 "eagerflow vs NumPy": _ratio(t_np, t_ef)})
    return rows


def main(argv=None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    rows = run(quick)
    print(table(rows, ["workload", "NumPy", "eagerflow", "eagerflow vs NumPy"]))
    print(f"\n(NumPy: eager with hand-written gradients; eagerflow: ef.grad inside ef.function, "
          f"Numba backend; {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
