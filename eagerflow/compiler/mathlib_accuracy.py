"""Accuracy measurement for eagerflow.compiler.mathlib against mpmath (50 significant digits).

``python -m eagerflow.compiler.mathlib_accuracy`` prints the table of maximum ulp errors that
docs/mathlib.md quotes.  The test suite (tests/compiler/test_mathlib.py) reuses these helpers.

The functions are always evaluated through a small njit loop over an array, i.e. the vectorized
code path, not through a scalar call.
"""
from __future__ import annotations

import math
import sys

import mpmath as mp
import numpy as np
from numba import njit

from eagerflow.compiler import mathlib as ml

UNARY = ml._UNARY
BINARY = ml._BINARY

_FINFO = {"float64": (53, -1022, np.finfo(np.float64).max), "float32": (24, -126, float(np.finfo(np.float32).max))}


def _ref_unary(name, x):
    """mpmath reference (mpf) or None where the result is NaN."""
    x = mp.mpf(x)
    if name == "exp":
        return mp.exp(x)
    if name == "exp2":
        return mp.power(2, x)
    if name == "expm1":
        return mp.expm1(x)
    if name in ("log", "log2", "log10"):
        if x < 0:
            return None
        if x == 0:
            return -mp.inf
        v = mp.log(x)
        return v if name == "log" else v / mp.log(2 if name == "log2" else 10)
    if name == "log1p":
        if x < -1:
            return None
        if x == -1:
            return -mp.inf
        return mp.log1p(x)
    if name == "sin":
        return mp.sin(x)
    if name == "cos":
        return mp.cos(x)
    if name == "tan":
        return mp.tan(x)
    if name == "sinh":
        return mp.sinh(x)
    if name == "cosh":
        return mp.cosh(x)
    if name == "tanh":
        return mp.tanh(x)
    if name == "arctan":
        return mp.atan(x)
    if name in ("arcsin", "arccos"):
        if abs(x) > 1:
            return None
        return mp.asin(x) if name == "arcsin" else mp.acos(x)
    if name == "sigmoid":
        return 1 / (1 + mp.exp(-x))
    raise KeyError(name)


def _ref_binary(name, x, y):
    x = mp.mpf(x)
    y = mp.mpf(y)
    if name == "arctan2":
        return mp.atan2(x, y)
    if name == "power":
        if x == 0:
            return mp.inf if y < 0 else mp.mpf(0)
        if x < 0:
            if y != int(y):
                return None
            v = mp.power(-x, y)
            return -v if int(y) % 2 else v
        return mp.power(x, y)
    raise KeyError(name)


def _c99_pow(x, y):
    """C99 pow (what np.power's scalar path and math.pow implement).  NumPy's AVX-512 SIMD loop
    differs in two corners: pow(-inf, y) for y > 0 not an odd integer gives NaN there (C99: +inf)
    and pow(-0.0, y) for y > 0 not an odd integer gives -0.0 there (C99: +0.0)."""
    try:
        return math.pow(x, y)
    except ValueError:
        if x == 0:   # pole: y < 0
            odd = float(y).is_integer() and int(y) % 2 == 1
            return math.copysign(math.inf, x) if odd else math.inf
        return math.nan
    except OverflowError:
        odd = float(y).is_integer() and int(y) % 2 == 1
        return -math.inf if (x < 0 and odd) else math.inf


def _np_special(name, args):
    """Exact result for non-finite inputs, from NumPy (C99 semantics) -- mpmath has no NaN rules."""
    if name == "sigmoid":
        x = args[0]
        v = x if math.isnan(x) else (1.0 if x > 0 else 0.0)
    elif name == "power":
        v = _c99_pow(*args)
    else:
        with np.errstate(all="ignore"):
            v = float(getattr(np, name)(*[np.float64(a) for a in args]))
    return None if math.isnan(v) else mp.mpf(v)


def reference(name, *args):
    """High-precision reference (mpf), or None where the exact result is NaN."""
    if not all(math.isfinite(a) for a in args):
        return _np_special(name, args)
    if name == "arctan2" and (args[0] == 0 or args[1] == 0):
        return _np_special(name, args)          # signed zeros: exact, C99 rules
    if name == "power" and (args[0] == 0 or args[1] == 0 or args[0] == 1):
        return _np_special(name, args)
    with mp.workdps(50):
        if len(args) == 1:
            return _ref_unary(name, float(args[0]))
        return _ref_binary(name, float(args[0]), float(args[1]))


def ulp_error(got, ref, dtype="float64"):
    """|got - ref| in units of the last place of ref in `dtype` (subnormal spacing below the
    normal range).  inf results: 0 if ref rounds to that inf, else inf.  NaN expected (ref None):
    0 if got is NaN, else inf."""
    p, emin, fmax = _FINFO[dtype]
    got = float(got)
    if ref is None:
        return 0.0 if math.isnan(got) else math.inf
    if math.isnan(got):
        return math.inf
    with mp.workdps(50):
        if mp.isinf(ref):
            return 0.0 if got == float(ref) else math.inf
        if math.isinf(got):
            # correct iff ref rounds to inf: |ref| >= fmax + half ulp(fmax)
            lim = mp.mpf(fmax) + mp.ldexp(1, int(mp.floor(mp.log(fmax, 2))) - p)
            return 0.0 if (abs(ref) >= lim and (ref > 0) == (got > 0)) else math.inf
        if ref == 0:
            return 0.0 if got == 0 else math.inf
        e = max(int(mp.floor(mp.log(abs(ref), 2))), emin)
        # guard: log2 may be off by one at exact powers of two
        if abs(ref) >= mp.ldexp(1, e + 1):
            e += 1
        ulp = mp.ldexp(1, e - p + 1)
        return float(abs(mp.mpf(got) - ref) / ulp)


# --------------------------------------------------------------------------------------------
# vectorized evaluation
# --------------------------------------------------------------------------------------------

_LOOPS = {}


def _loop1(fn):
    @njit(error_model="numpy")
    def run(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
    return run


def _loop2(fn):
    @njit(error_model="numpy")
    def run(x, y, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i], y[i])
    return run


def evaluate(name, dtype, *arrays, guarded=False):
    """Evaluate ef_<name>_<dtype> elementwise through a vectorizable njit loop; with guarded, as
    generated loops do: the fast variant, and the full function where its guard is set."""
    fname = ml.MATH_FUNCS[(name, dtype)]
    if fname not in _LOOPS:
        fn = getattr(ml, fname)
        _LOOPS[fname] = _loop1(fn) if name in UNARY else _loop2(fn)
    arrays = [np.ascontiguousarray(a, dtype=dtype) for a in arrays]
    out = np.empty_like(arrays[0])
    _LOOPS[fname](*arrays, out)
    if guarded:
        fast, guard = ml.MATH_GUARDED[(name, dtype)]
        for f in (fast, guard):
            if f not in _LOOPS:
                _LOOPS[f] = _loop1(getattr(ml, f))
        quick, flag = np.empty_like(out), np.empty(out.shape, bool)
        _LOOPS[fast](arrays[0], quick)
        _LOOPS[guard](arrays[0], flag)
        out = np.where(flag, out, quick)
    return out


# --------------------------------------------------------------------------------------------
# input sets
# --------------------------------------------------------------------------------------------

def _wide(rng, n, dtype):
    """Random finite values spread over the whole exponent range, both signs."""
    if dtype == "float64":
        bits = rng.integers(0, 0x7FF0000000000000, n, dtype=np.int64)
        v = bits.view(np.float64)
    else:
        bits = rng.integers(0, 0x7F800000, n, dtype=np.int32)
        v = bits.view(np.float32).astype(np.float64)
    return v * np.where(rng.random(n) < 0.5, -1.0, 1.0)


def _dense(center, width, n, dtype):
    c = np.float64(center)
    v = c + np.linspace(-width, width, n)
    return v.astype(dtype).astype(np.float64)


def _neighbours(vals, k, dtype):
    """vals and their k nearest representable neighbours each side in `dtype`."""
    out = []
    dt = np.dtype(dtype)
    for v in vals:
        v = dt.type(v)
        lo = hi = v
        out.append(float(v))
        for _ in range(k):
            lo = np.nextafter(lo, dt.type(-np.inf))
            hi = np.nextafter(hi, dt.type(np.inf))
            out += [float(lo), float(hi)]
    return out


def special_values(dtype):
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    tiny = float(fi.smallest_subnormal)
    return [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, tiny, -tiny,
            float(fi.tiny), -float(fi.tiny), float(fi.max), -float(fi.max), float(fi.eps)]


def sample_inputs(name, dtype, n_random=1500, seed=0):
    """Inputs for `name`: random over the full range, random over the interesting range, and dense
    sweeps around the boundaries."""
    rng = np.random.default_rng(seed)
    f32 = dtype == "float32"
    big = 88.72283935546875 if f32 else 709.782712893384
    sub = 103.97 if f32 else 745.13
    pts = list(_wide(rng, n_random, dtype))
    pts += list(rng.uniform(-30, 30, n_random // 2))
    pts += list(rng.standard_normal(n_random // 4) * 1e-3)
    pts += special_values(dtype)
    nb = 40
    if name in ("exp", "expm1", "sigmoid", "sinh", "cosh"):
        pts += _neighbours([big, -sub, -big, 710.4758600739439, -710.4758600739439, 0.0], nb, dtype)
        pts += list(rng.uniform(-sub - 1, big + 1, n_random))
        pts += list(_dense(-sub + 1, 2, 200, dtype)) + list(_dense(big, 0.5, 200, dtype))
    if name == "exp2":
        e_over, e_sub = (128.0, 149.0) if f32 else (1024.0, 1074.0)
        pts += _neighbours([e_over, -e_sub, -e_sub - 1, -1022.0 if not f32 else -126.0], nb, dtype)
        pts += list(rng.uniform(-e_sub - 2, e_over + 1, n_random))
    if name in ("log", "log2", "log10", "log1p"):
        pos = np.abs(_wide(rng, n_random, dtype))
        pts += list(pos) + list(rng.uniform(0, 4, n_random // 2))
        pts += _neighbours([1.0, 2.0, 0.5, math.sqrt(0.5), math.sqrt(2.0), 10.0, -1.0, 0.0], nb, dtype)
        pts += list(rng.uniform(-1, 1, n_random // 2) * 0.75)
    if name in ("sin", "cos", "tan"):
        ks = np.concatenate([np.arange(-40, 41), rng.integers(-10**6, 10**6, 200)]).astype(np.float64)
        pts += _neighbours(list(ks * (math.pi / 2)), 3, dtype)
        pts += list(rng.uniform(-1e6, 1e6, n_random // 2))
        pts += [1e22, 1e300, -1e300, 1e308, 2.0**1000, 3.4e38, 1e10, 2.0**52, 2.0**53 + 2.0**30]
        if not f32:
            # the double closest to a multiple of pi/2 (worst case for argument reduction)
            pts += _neighbours([6381956970095103.0 * 2.0**797, 5.319372648326541e+255,
                                8.248251512606754e-1 * 2.0**1023], 2, dtype)
    if name in ("tanh", "sinh", "cosh"):
        pts += list(rng.uniform(-25, 25, n_random))
        pts += _neighbours([1.0, -1.0, 22.0, 0.55, 0.3], nb, dtype)
    if name in ("arcsin", "arccos"):
        pts += list(rng.uniform(-1, 1, n_random * 2))
        pts += _neighbours([0.5, -0.5, 0.975, -0.975, 1.0, -1.0, 0.0], nb, dtype)
    if name == "arctan":
        pts += list(np.tan(rng.uniform(-1.57, 1.57, n_random)))
        pts += _neighbours([0.4375, 0.6875, 1.1875, 2.4375, 2.0**66], nb, dtype)
    if name == "sigmoid":
        pts += list(rng.uniform(-40, 40, n_random))
    with np.errstate(over="ignore"):
        x = np.array(pts, dtype=np.float64).astype(dtype)
    return x


def sample_inputs2(name, dtype, n_random=1500, seed=0):
    rng = np.random.default_rng(seed + 1)
    sp = special_values(dtype)
    xs, ys = [], []
    # all pairs of special values
    for a in sp:
        for b in sp:
            xs.append(a)
            ys.append(b)
    w1, w2 = _wide(rng, n_random, dtype), _wide(rng, n_random, dtype)
    xs += list(w1)
    ys += list(w2)
    if name == "arctan2":
        xs += list(rng.standard_normal(n_random))
        ys += list(rng.standard_normal(n_random))
    else:  # power: moderate bases and exponents, results spanning the range, integers, negatives
        b = np.exp(rng.uniform(-10, 10, n_random))
        e = rng.uniform(-700, 700, n_random) / np.abs(np.log(b))
        xs += list(b)
        ys += list(e)
        xs += list(rng.uniform(-10, 10, 500))
        ys += list(rng.integers(-30, 30, 500).astype(np.float64))
        xs += list(rng.uniform(0.5, 2, 500))
        ys += list(rng.uniform(-50, 50, 500))
        # near overflow / underflow of the result
        top = 88.0 if dtype == "float32" else 709.0
        xs += [2.0] * 200 + [10.0] * 200
        ys += list(np.linspace(top / math.log(2) - 2, top / math.log(2) + 2, 200))
        ys += list(np.linspace(-(top + 38) / math.log(10), -(top + 36) / math.log(10), 200))
        xs += list(1.0 + rng.standard_normal(300) * 1e-9)
        ys += list(rng.uniform(-1e11, 1e11, 300))
    with np.errstate(over="ignore"):
        x = np.array(xs, dtype=np.float64).astype(dtype)
        y = np.array(ys, dtype=np.float64).astype(dtype)
    return x, y


# --------------------------------------------------------------------------------------------

def max_ulp(name, dtype, n_random=1500, seed=0, return_worst=False, guarded=False):
    """Max ulp error of ef_<name>_<dtype> over sample_inputs; NaN/inf mismatches give inf.
    guarded: of the fast variant with its fix-up (MATH_GUARDED), as generated loops run it."""
    if name in BINARY:
        x, y = sample_inputs2(name, dtype, n_random, seed)
        got = evaluate(name, dtype, x, y)
        args = list(zip(x.tolist(), y.tolist()))
    else:
        x = sample_inputs(name, dtype, n_random, seed)
        got = evaluate(name, dtype, x, guarded=guarded)
        args = [(v,) for v in x.tolist()]
    worst, warg = 0.0, None
    for a, g in zip(args, got.tolist()):
        e = ulp_error(g, reference(name, *a), dtype)
        if e > worst:
            worst, warg = e, (a, g)
    return (worst, warg) if return_worst else worst


def table(n_random=1500):
    rows = []
    for name in UNARY + BINARY:
        rows.append((name, max_ulp(name, "float64", n_random), max_ulp(name, "float32", n_random)))
    return rows


def main(argv=None):
    n = int(argv[0]) if argv else 1500
    print("| function | float64 max ulp | float32 max ulp |")
    print("|---|---|---|")
    for name, e64, e32 in table(n):
        print(f"| {name} | {e64:.2f} | {e32:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
