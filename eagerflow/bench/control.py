"""Benchmark: data-dependent control flow, compiled by autograph, against eager Python and a
hand-written Numba loop.

- FizzBuzz counting up to n (10^6): a loop with if/elif on `i % 15`, `i % 3`, `i % 5`, counting
  fizz/buzz/fizzbuzz; n is traced, so the loop is one `while` node with nested `cond`s.
- Newton's method for the cube root of each of 10^5 values, iterated per element until the step
  is below 1e-12 relative: a `for` over the elements with a data-dependent inner `while`
  (3-40 iterations per element).

Eager Python is the same function run as written (Python ints for FizzBuzz, NumPy scalars for
Newton, as the function reads its array elements). The hand-written Numba rows are the loops one
would write for @numba.njit.

    python -m eagerflow.bench.control [--quick]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .harness import fmt_time, table, timeit

TOL = 1e-12


def fizzbuzz(n):
    """The user's function: counts of fizz, buzz and fizzbuzz among 1..n."""
    fizz = 0
    buzz = 0
    fizzbuzz = 0
    for i in range(1, n + 1):
        if i % 15 == 0:
            fizzbuzz += 1
        elif i % 3 == 0:
            fizz += 1
        elif i % 5 == 0:
            buzz += 1
    return fizz, buzz, fizzbuzz


def newton_cbrt(c, tol):
    """The user's function: the cube root of each element by Newton's method."""
    out = np.empty_like(c)
    for i in range(c.shape[0]):
        v = c[i]
        x = v if v > 1.0 else 1.0
        dx = x
        while np.abs(dx) > tol * x:
            dx = (x * x * x - v) / (3.0 * x * x)
            x = x - dx
        out[i] = x
    return out


def _numba_versions():
    from numba import njit

    @njit(cache=False)
    def fizzbuzz_nb(n):
        fizz = buzz = fb = 0
        for i in range(1, n + 1):
            if i % 15 == 0:
                fb += 1
            elif i % 3 == 0:
                fizz += 1
            elif i % 5 == 0:
                buzz += 1
        return fizz, buzz, fb

    @njit(cache=False, error_model="numpy")
    def newton_nb(c, tol):
        out = np.empty_like(c)
        for i in range(c.shape[0]):
            v = c[i]
            x = v if v > 1.0 else 1.0
            dx = x
            while abs(dx) > tol * x:
                dx = (x * x * x - v) / (3.0 * x * x)
                x = x - dx
            out[i] = x
        return out

    return fizzbuzz_nb, newton_nb


def _once(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def run(quick=False) -> list[dict]:
    import eagerflow as ef
    fizz_nb, newton_nb = _numba_versions()
    fizz_ef = ef.function(fizzbuzz)
    newton_ef = ef.function(newton_cbrt)
    kw = dict(repeats=3, min_time=0.02, pause=0.05) if quick else {}
    rows = []

    n = 10**6
    want = fizzbuzz(n)
    assert tuple(int(v) for v in fizz_ef(n)) == want == fizz_nb(n)
    t_py = _once(fizzbuzz, n) if quick else min(_once(fizzbuzz, n) for _ in range(3))
    t_ef = timeit(fizz_ef, n, **kw)
    t_nb = timeit(fizz_nb, n, **kw)
    rows.append(_row(f"FizzBuzz counts up to {n:.0e} (traced n: one while, nested conds)",
                     t_py, t_ef, t_nb))

    m = 10**5
    c = np.random.default_rng(0).uniform(1e-3, 1e3, m)
    r_ef = newton_ef(c, TOL)
    r_nb = newton_nb(c, TOL)
    np.testing.assert_allclose(r_ef, np.cbrt(c), rtol=1e-12)
    assert np.array_equal(r_ef, r_nb)
    k = m // 10 if quick else m
    t_py = _once(newton_cbrt, c[:k], TOL) * (m / k)
    assert np.array_equal(newton_cbrt(c[:100], TOL), r_ef[:100])
    t_ef = timeit(newton_ef, c, TOL, **kw)
    t_nb = timeit(newton_nb, c, TOL, **kw)
    rows.append(_row(f"Newton cube root per element until converged, {m:.0e} f64"
                     + (" (eager timed on 1/10, scaled)" if k < m else ""), t_py, t_ef, t_nb))
    return rows


def _row(name, t_py, t_ef, t_nb):
    return {"workload": name, "eager Python": fmt_time(t_py), "eagerflow": fmt_time(t_ef),
            "Numba (hand-written)": fmt_time(t_nb),
            "eagerflow vs eager": f"{t_py / t_ef:.0f}x",
            "eagerflow / Numba time": f"{t_ef / t_nb:.2f}"}


COLUMNS = ["workload", "eager Python", "eagerflow", "Numba (hand-written)", "eagerflow vs eager",
           "eagerflow / Numba time"]


def main(argv=None) -> int:
    a = argparse.ArgumentParser(prog="python -m eagerflow.bench.control")
    a.add_argument("--quick", action="store_true", help="fewer repeats; eager Newton on 1/10")
    args = a.parse_args(argv)
    print(table(run(args.quick), COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
