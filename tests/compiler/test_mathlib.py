"""Accuracy, special values and vectorization of eagerflow.compiler.mathlib (issue 5).

Reference: mpmath at 50 digits (eagerflow.compiler.mathlib_accuracy); every function is evaluated
through an njit loop over an array, i.e. the vectorized code path.
"""
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from eagerflow.compiler import mathlib as ml
from eagerflow.compiler import mathlib_accuracy as acc

pytestmark = pytest.mark.numba

MAX_ULP = 4.0
ALL = [(n, dt) for n in acc.UNARY + acc.BINARY for dt in ("float64", "float32")]


@pytest.mark.parametrize("name,dtype", ALL)
def test_max_ulp_sampled(name, dtype):
    """Random over the full range, random over the useful range, dense boundary sweeps."""
    worst, arg = acc.max_ulp(name, dtype, n_random=250, return_worst=True)
    assert worst <= MAX_ULP, (name, dtype, worst, arg)


@pytest.mark.parametrize("name,dtype", sorted(__import__(
    "eagerflow.compiler.mathlib", fromlist=["MATH_GUARDED"]).MATH_GUARDED))
def test_max_ulp_guarded_fast_paths(name, dtype):
    """The fast variants generated loops use (Cody-Waite sin/cos/tan, clamp-free exp), with the
    full function where the guard flags a lane, against the high-precision reference."""
    worst, arg = acc.max_ulp(name, dtype, n_random=250, return_worst=True, guarded=True)
    assert worst <= MAX_ULP, (name, dtype, worst, arg)


def _check(name, dtype, cols):
    got = acc.evaluate(name, dtype, *[np.array(c, dtype=np.float64).astype(dtype) for c in cols])
    rows = list(zip(*[np.array(c, dtype=np.float64).astype(dtype).tolist() for c in cols]))
    for args, g in zip(rows, got.tolist()):
        e = acc.ulp_error(g, acc.reference(name, *args), dtype)
        assert e <= MAX_ULP, (name, dtype, args, g, e)


_f64 = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)
_f32 = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=32)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(acc.UNARY), xs=st.lists(_f64, min_size=1, max_size=12))
def test_hypothesis_unary_f64(name, xs):
    _check(name, "float64", [xs])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(acc.UNARY), xs=st.lists(_f32, min_size=1, max_size=12))
def test_hypothesis_unary_f32(name, xs):
    _check(name, "float32", [xs])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(acc.BINARY), pairs=st.lists(st.tuples(_f64, _f64), min_size=1, max_size=12))
def test_hypothesis_binary_f64(name, pairs):
    _check(name, "float64", [[p[0] for p in pairs], [p[1] for p in pairs]])


def _same(a, b):
    """Bitwise-equal up to NaN payload (so signed zeros must match)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


_NP = {"sigmoid": None}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", acc.UNARY)
def test_special_values_exact(name, dtype):
    """+-0, +-inf, NaN, +-1, extremes: exactly NumPy's (C99) result, signed zeros included."""
    sp = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0]
    got = acc.evaluate(name, dtype, np.array(sp, dtype=dtype))
    for x, g in zip(sp, got.tolist()):
        if name == "sigmoid":
            exp = {0.0: 0.5, 1.0: 1 / (1 + math.exp(-1)), -1.0: 1 / (1 + math.exp(1))}.get(x)
            exp = x if math.isnan(x) else (1.0 if x == math.inf else (0.0 if x == -math.inf else exp))
            exp = float(np.dtype(dtype).type(exp))
        else:
            with np.errstate(all="ignore"):
                exp = float(getattr(np, name)(np.dtype(dtype).type(x)))
        if x in (1.0, -1.0) and name not in ("log", "log2", "log10", "log1p", "arcsin", "arccos"):
            assert acc.ulp_error(g, acc.reference(name, x), dtype) <= MAX_ULP
        else:
            assert _same(g, exp), (name, dtype, x, g, exp)


def test_power_special_cases():
    """C99 pow rules (np.power's scalar semantics): pow(x, 0) = 1 even for NaN, pow(1, y) = 1,
    negative base with non-integer exponent = NaN, signed zeros and infinities."""
    sp = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, math.inf, -math.inf, math.nan,
          2.5, -2.5, 1e308, 5e-324]
    xs = [a for a in sp for b in sp]
    ys = [b for a in sp for b in sp]
    for dtype in ("float64", "float32"):
        got = acc.evaluate("power", dtype, np.array(xs, dtype=dtype), np.array(ys, dtype=dtype))
        for x, y, g in zip(xs, ys, got.tolist()):
            xd, yd = float(np.dtype(dtype).type(x)), float(np.dtype(dtype).type(y))
            exp = acc._c99_pow(xd, yd)
            if math.isfinite(exp) and exp != 0 and not (xd in (0.0, 1.0) or yd == 0.0):
                assert acc.ulp_error(g, acc.reference("power", xd, yd), dtype) <= MAX_ULP
            else:
                exp = float(np.dtype(dtype).type(exp))
                assert _same(g, exp), (dtype, x, y, g, exp)


def test_arctan2_signed_zeros_and_infinities():
    sp = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan]
    ys = [a for a in sp for b in sp]
    xs = [b for a in sp for b in sp]
    got = acc.evaluate("arctan2", "float64", np.array(ys), np.array(xs))
    exp = np.arctan2(np.array(ys), np.array(xs))
    for y, x, g, e in zip(ys, xs, got.tolist(), exp.tolist()):
        assert _same(g, e), (y, x, g, e)


@pytest.mark.parametrize("name", ["exp", "sinh", "cosh", "expm1"])
def test_overflow_boundary_dense(name):
    x = np.array(acc._neighbours([709.782712893384, 710.4758600739439], 300, "float64"))
    _check(name, "float64", [x.tolist()])


def test_trig_huge_and_worst_case_arguments():
    """Payne-Hanek path: huge arguments, the double closest to a multiple of pi/2, and values just
    around multiples of pi/2."""
    xs = [1e300, -1e300, 1e308, 2.0 ** 1023, 6381956970095103.0 * 2.0 ** 797, 1e22, 2.0 ** 60,
          np.nextafter(math.pi / 2, 0), math.pi / 2, math.pi, 1e6 * math.pi]
    xs = acc._neighbours(xs, 2, "float64")
    for name in ("sin", "cos", "tan"):
        _check(name, "float64", [xs])


def test_subnormal_results():
    x = np.linspace(-745.1, -708.5, 301)
    _check("exp", "float64", [x.tolist()])
    _check("exp2", "float64", [np.linspace(-1074.5, -1020, 301).tolist()])
    _check("exp", "float32", [np.linspace(-103.9, -87, 301).tolist()])


def test_numpy_agrees_with_reference():
    """Sanity check of the reference: NumPy's own float64 results are within a few ulp of it."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-20, 20, 200)
    for name in ("exp", "sin", "tanh", "arctan"):
        ref = getattr(np, name)(x)
        for a, r in zip(x.tolist(), ref.tolist()):
            assert acc.ulp_error(r, acc.reference(name, a)) <= 4


def test_tables():
    assert ml.MATH_FUNCS[("exp", "float64")] == "ef_exp_f64"
    assert ml.MATH_FUNCS[("arctan2", "float32")] == "ef_arctan2_f32"
    assert set(ml.MATH_FUNCS) == set(ml.MATH_FUNCS_FAST)
    for key, fname in list(ml.MATH_FUNCS.items()) + list(ml.MATH_FUNCS_FAST.items()):
        assert fname in ml.__all__ and hasattr(ml, fname), key
    assert len(ml.MATH_FUNCS) == 2 * 19


def test_import_compiles_nothing():
    code = ("import eagerflow.compiler.mathlib as m\n"
            "assert all(not getattr(m, n).signatures for n in m.__all__ if n.startswith('ef_'))\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def _packed_ops(asm):
    return re.findall(r"\bv\w+pd\s+[^\n]*%[yz]mm", asm)


@pytest.mark.parametrize("fname", ["ef_exp_f64", "ef_sin_f64", "ef_log_f64", "ef_tanh_f64", "ef_power_f64"])
def test_loop_vectorizes(fname):
    """The loop calling the helper is inlined and vectorized: packed double ops on ymm/zmm
    registers (the host CPU has AVX2/AVX-512) and no call left in the loop."""
    fn = getattr(ml, fname)
    name = fname[3:-4]
    args = 2 if name in acc.BINARY else 1
    x = np.linspace(0.5, 2.0, 64)
    acc.evaluate(name, "float64", *([x] * args))
    loop = acc._LOOPS[fname]
    asm = loop.inspect_asm(loop.signatures[0])
    ops = _packed_ops(asm)
    assert len(ops) > 20, ops
    # the kernel function itself (first function in the listing) calls nothing but NRT refcounting
    body = asm.split(".Lfunc_end0")[0]
    calls = re.findall(r"call\w*\s+\*?%?(\S+)", body)
    movabs = re.findall(r"movabsq\s+\$(\w+), %(\w+)", body)
    targets = {reg: sym for sym, reg in movabs}
    called = {targets.get(c, c) for c in calls}
    assert all(("NRT" in c) for c in called), called


def test_compiled_functions_have_unique_names():
    """Numba names compiled code by module, qualified name and a per-process counter, and cached
    generated code calls its copies of mathlib functions by that name: two functions sharing a
    qualified name (wrappers made by one factory) let a kernel loaded from the cache call the
    wrong one (np.tan of float32 returned np.tanh's values)."""
    from numba.core.registry import CPUDispatcher
    from eagerflow.compiler import rt
    for mod in (ml, rt):
        disps = {n: getattr(mod, n) for n in dir(mod) if isinstance(getattr(mod, n), CPUDispatcher)}
        names = [d.py_func.__qualname__ for d in disps.values()]
        assert len(names) == len(set(names))
        for n, d in disps.items():
            assert d.py_func.__qualname__ == n, (mod.__name__, n)
