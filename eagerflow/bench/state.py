"""Benchmark: a training step that reads and updates Variables, compiled vs eager NumPy.

The step fits a linear model y ~ X @ w + b by least squares with a hand-written gradient and SGD
with momentum: one compiled `ef.function` that reads w, b and the momentum buffers (Variables),
and writes all four back, against the same step in eager NumPy on plain arrays updated in place.
Time per call, on 1000 and 10^5 samples (16 features).

    python -m eagerflow.bench.state [--quick]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from .harness import fmt_time, table, timeit

FEATURES = 16
LR, MOMENTUM = 0.05, 0.9


def numpy_step(x, y, p):
    """The eager NumPy reference: p = [w, b, mw, mb] arrays, updated in place."""
    w, b, mw, mb = p
    err = x @ w + b - y
    gw = err @ x / len(x)
    gb = err.mean()
    mw *= MOMENTUM
    mw += gw
    w -= LR * mw
    mb *= MOMENTUM
    mb += gb
    b -= LR * mb
    return (err * err).mean()


def make_compiled(w0, b0, backend="numba"):
    """-> (step, model, optimizer): step(x, y) returns the loss and updates the Variables."""
    import eagerflow as ef

    class Linear(ef.Module):
        def __init__(self):
            self.w = ef.Variable(w0)
            self.b = ef.Variable(b0)

    model = Linear()
    opt = ef.optimizers.SGD(LR, momentum=MOMENTUM)
    opt.build(model.trainable_variables)

    @ef.function(backend=backend)
    def step(x, y):
        err = x @ model.w + model.b - y
        grads = [err @ x / len(x), err.mean()]
        opt.apply(grads, [model.w, model.b])
        return (err * err).mean()

    return step, model, opt


def _problem(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, FEATURES))
    y = x @ rng.standard_normal(FEATURES) + 0.5 + 0.01 * rng.standard_normal(n)
    return x, y


def run(quick=False) -> list[dict]:
    rows = []
    for n in (1000, 10**5):
        x, y = _problem(n)
        w0, b0 = np.zeros(FEATURES), np.zeros(())
        p = [w0.copy(), b0.copy(), np.zeros(FEATURES), np.zeros(())]
        step, model, opt = make_compiled(w0, b0)
        for _ in range(3):   # same trajectory: a check that the two steps agree
            ln = numpy_step(x, y, p)
            le = step(x, y)
        np.testing.assert_allclose(le, ln, rtol=1e-9)
        np.testing.assert_allclose(model.w.numpy(), p[0], rtol=1e-9, atol=1e-12)
        kw = dict(repeats=3, min_time=0.02, pause=0.05) if quick else {}
        t_np = timeit(numpy_step, x, y, p, **kw)
        t_ef = timeit(step, x, y, **kw)
        rows.append({"workload": f"linear-model SGD+momentum step on Variables, {n:,} x "
                                 f"{FEATURES} f64",
                     "NumPy": fmt_time(t_np), "eagerflow": fmt_time(t_ef),
                     "eagerflow vs NumPy": f"{t_np / t_ef:.2f}x"})
    return rows


def main(argv=None) -> int:
    a = argparse.ArgumentParser(prog="python -m eagerflow.bench.state")
    a.add_argument("--quick", action="store_true", help="fewer timing repeats")
    args = a.parse_args(argv)
    print(table(run(args.quick), ["workload", "NumPy", "eagerflow", "eagerflow vs NumPy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
