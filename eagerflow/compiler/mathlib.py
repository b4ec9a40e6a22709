"""Vectorizable transcendental functions for eagerflow's Numba backend (issue 5).

Numba's LLVM here has no vector math library (no SVML), so ``math.exp`` inside a loop is a scalar
libm call and blocks vectorization.  The functions here are written with no calls, no data-dependent
branches (every special case is a select), and exponent manipulation through LLVM bitcasts, so that
when generated loop code calls them -- ``out[i] = ef_exp_f64(x[i])`` -- LLVM inlines them and the loop
vectorizer turns the whole body into packed SIMD code.

Rules every function here follows (see docs/mathlib.md for the method per function):

* compiled with ``fastmath=False`` and ``error_model="numpy"``: the error-free transformations
  (two-sum, fma-based two-product, magic-number rounding) need strict IEEE semantics; these flags
  travel with the function even when the caller is compiled with ``fastmath=True``, because the
  helpers are ordinary (not ``inline="always"``) njit functions that LLVM inlines after Numba has
  lowered them with their own flags;
* ``llvm.fma`` is used explicitly (via an intrinsic) where an exact product or a single rounding is
  needed; on the host CPU it is a ``vfmadd`` instruction;
* special values (NaN, +-inf, +-0, subnormals, overflow and underflow boundaries) are handled by
  selects at the end, ordered so that NaN propagates;
* sin/cos/tan use a branch-free Payne-Hanek reduction (table of 2/pi bits, four gathers) for
  |x| >= pi/4, exact to about 2**-106 relative even for the worst-case doubles, so huge arguments
  stay on the vector path too (a conditional scalar ``math.sin`` fallback was tried: LLVM
  speculates the call for every lane, which is slower than the vector reduction).

float32 variants call the float64 functions and round once (measured max 0.5 float32 ulp); they
run at float64 vector width.  MATH_FUNCS_FAST (for fastmath=True kernels) currently maps to the
same accurate functions.

Nothing is compiled at import time: the njit dispatchers compile lazily on first use (and are
normally compiled as part of the generated kernel that calls them).
"""
import hashlib
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# this file's content as imported (codegen.helpers_digest: part of every compile cache key)
with open(__file__, "rb") as _f:
    SOURCE_DIGEST = hashlib.sha256(_f.read()).hexdigest()
del _f

_OPTS = dict(error_model="numpy", fastmath=False, cache=False)


# --------------------------------------------------------------------------------------------
# LLVM-level helpers
# --------------------------------------------------------------------------------------------

@intrinsic
def _f64_bits(typingctx, x):
    """Reinterpret a float64 as an int64 (no conversion)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return sig, codegen


@intrinsic
def _bits_f64(typingctx, x):
    """Reinterpret an int64 as a float64."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return sig, codegen


@intrinsic
def _f32_bits(typingctx, x):
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return sig, codegen


@intrinsic
def _bits_f32(typingctx, x):
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return sig, codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c with one rounding (llvm.fma.f64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return sig, codegen


def _unary_llvm(name):
    def impl(typingctx, x):
        sig = types.float64(types.float64)

        def codegen(context, builder, signature, args):
            fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()])
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            return builder.call(fn, args)
        return sig, codegen
    return intrinsic(impl)


_rint = _unary_llvm("llvm.rint.f64")      # round to nearest even (vroundpd / vrndscalepd)
_floor = _unary_llvm("llvm.floor.f64")
_fabs = _unary_llvm("llvm.fabs.f64")
_sqrt = _unary_llvm("llvm.sqrt.f64")


@intrinsic
def _copysign(typingctx, x, y):
    sig = types.float64(types.float64, types.float64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType(), ir.DoubleType()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.copysign.f64")
        return builder.call(fn, args)
    return sig, codegen


@intrinsic
def _always_inline(typingctx):
    """Mark the LLVM function being generated ``alwaysinline``.  LLVM's inliner otherwise refuses
    the larger helpers (sin/cos/tan with their Payne-Hanek reduction, power), and a call left in a
    loop body blocks vectorization.  The attribute only affects LLVM inlining: the body keeps the
    fastmath/error-model flags it was compiled with."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        builder.function.attributes.add("alwaysinline")
        return context.get_dummy_value()
    return sig, codegen


@njit(**_OPTS)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


@njit(**_OPTS)
def _fast_two_sum(a, b):
    # requires |a| >= |b| (or a == 0)
    s = a + b
    return s, b - (s - a)


@njit(**_OPTS)
def _pow2i(k):
    """2.0**k for an int64 k in [-1022, 1023]."""
    return _bits_f64((k + 1023) << 52)


_SHIFT = 6755399441055744.0          # 1.5 * 2**52: x + _SHIFT rounds x to an integer (|x| < 2**51)
_INF = math.inf
_NAN = math.nan

# constants (hi parts have >= 32 trailing zero bits so that k*hi is exact for |k| < 2**20)
_LN2_H32 = 0.6931467056274414
_LN2_L32 = 4.7493250390316726e-07
_LN2_H = 0.6931471805599453
_LN2_L = 2.3190468138462996e-17
_IVLN2 = 1.4426950408889634
_IVLN2_H32 = 1.4426946640014648
_IVLN2_L32 = 3.768874985636099e-07
_IVLN10_H32 = 0.4342944622039795
_IVLN10_L32 = 1.9699272335463627e-08
_LOG10_2_H32 = 0.30102992057800293
_LOG10_2_L32 = 7.508597826552624e-08
_PIO2_H = 1.5707963267948966
_PIO2_L = 6.123233995736766e-17
_PI_H = 3.141592653589793
_PI_L = 1.2246467991473532e-16
_PIO4_H = 0.7853981633974483
_PIO4_L = 3.061616997868383e-17
_ATAN_05_H = 0.4636476090008061
_ATAN_05_L = 2.2698777452961687e-17
_ATAN_1_H = 0.7853981633974483
_ATAN_1_L = 3.061616997868383e-17
_ATAN_15_H = 0.982793723247329
_ATAN_15_L = 1.3903311031230998e-17

# 2/pi to 1280 bits, for the Payne-Hanek table (generated with mpmath, see mathlib_accuracy.py)
_TWO_OVER_PI_HEX = (
    "a2f9836e4e441529fc2757d1f534ddc0db6295993c439041fe5163abdebbc561b7246e3a424dd2e0"
    "06492eea09d1921cfe1deb1cb129a73ee88235f52ebb4484e99c7026b45f7e413991d639835339f4"
    "9c845f8bbdf9283b1ff897ffde05980fef2f118b5a0a6d1f6d367ecf27cb09b74f463f669e5fea2d"
    "7527bac7ebe5f17b3d0739f78a5292ea6bfb5fb11f8d5d0856033046fc7b6babf0cfbc209af4361d"
)


def _make_ph_table():
    """Rows j = -55..969: the fractional part F of (2/pi)*2**j split into four aligned 53-bit
    chunks F0 (bits 2**-1..2**-53), F1, F2, F3 (down to 2**-212).  For |x| = a with exponent e the
    reduction uses row j = e - 54 and a' = a * 2**-j in [2**54, 2**55): a'*(2/pi)*2**j = a*(2/pi)
    and a'*integer is a multiple of 4, so only a'*F matters modulo 4."""
    nbits = 1280
    g = int("".join(_TWO_OVER_PI_HEX), 16)
    mask = (1 << nbits) - 1
    rows = []
    m53 = (1 << 53) - 1
    for j in range(-55, 970):
        f = ((g << j) & mask) if j >= 0 else (g >> -j)
        for k in range(4):
            c = (f >> (nbits - 53 * (k + 1))) & m53
            rows.append(math.ldexp(float(c), -53 * (k + 1)))
    return np.array(rows, dtype=np.float64)


_PH_TAB = _make_ph_table()

@njit(**_OPTS)
def _poly_exp(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 2.0914686968086876e-09, 2.5105217004720745e-08), 2.75572736431103e-07), 2.7557255400206422e-06), 2.4801587325547743e-05), 0.00019841269874820627), 0.0013888888888883748), 0.008333333333326136), 0.04166666666666667), 0.1666666666666667), 0.5)


@njit(**_OPTS)
def _poly_exp2(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 1.3716972592177838e-12, 2.57335903859786e-11), 4.445530302729252e-10), 7.054894372547497e-09), 1.0178086021199822e-07), 1.3215486816031034e-06), 1.5252733804051115e-05), 0.00015403530393362725), 0.0013333558146428445), 0.009618129107628484), 0.05550410866482158), 0.24022650695910072), 0.6931471805599453)


@njit(**_OPTS)
def _poly_log(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 0.13088034850927555, 0.13268638369266825), 0.15386244737621665), 0.18181795547521137), 0.22222222392581045), 0.28571428570799784), 0.40000000000000885), 0.6666666666666666)


@njit(**_OPTS)
def _poly_sin(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, -7.586636882825159e-13, 1.6058530596645953e-10), -2.50521062259944e-08), 2.755731921932058e-06), -0.0001984126984126504), 0.008333333333333331), -0.16666666666666666)


@njit(**_OPTS)
def _poly_cos(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 4.745838412531023e-14, -1.1470460319209511e-11), 2.0876755787492604e-09), -2.755731922139249e-07), 2.4801587301584632e-05), -0.0013888888888888887), 0.041666666666666664)


@njit(**_OPTS)
def _poly_atan(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 0.014759380407779158, -0.033114228762660534), 0.044916556747777434), -0.05216532007308444), 0.05876924062763387), -0.06666239748865294), 0.07692285419714515), -0.09090908350382436), 0.111111110965279), -0.14285714285565465), 0.19999999999999404), -0.3333333333333333)


@njit(**_OPTS)
def _poly_asin(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 0.030725206227297092, -0.02403138187350459), 0.02256169555253203), 0.0003772661622478994), 0.008796038691242429), 0.008135626216062262), 0.00979277945213322), 0.011549083883413875), 0.013965010116088524), 0.017352757469424038), 0.02237215927992726), 0.03038194444135946), 0.04464285714288344), 0.07499999999999991), 0.16666666666666666)


@njit(**_OPTS)
def _poly_sinh(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 2.8445297426378895e-15, 7.646625253572627e-13), 1.6059048397722392e-10), 2.5052108364049466e-08), 2.7557319224040365e-06), 0.00019841269841269773), 0.008333333333333333), 0.16666666666666666)


@njit(**_OPTS)
def _poly_logt(z):
    return _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, _fma(z, 0.11724327060846747, 0.11706126464563398), 0.1333480879881234), 0.1538459488700718), 0.18181818336099848), 0.22222222221652765), 0.2857142857142937), 0.4)



# --------------------------------------------------------------------------------------------
# exp family
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def _exp_reduce(x):
    """For |x| <= ~1100: x = k*ln2 + r, |r| <= ln2/2.  Returns (k as float, k as int64, r)."""
    t = _fma(x, _IVLN2, _SHIFT)
    kf = t - _SHIFT
    ki = _f64_bits(t) - _f64_bits(_SHIFT)
    r = _fma(-kf, _LN2_H32, x)      # exact: kf*_LN2_H32 has <= 32 significant bits
    r = _fma(-kf, _LN2_L32, r)
    return kf, ki, r


@njit(**_OPTS)
def _exp_scale(p, ki):
    """p * 2**ki for ki in [-1100, 1100], in two exact steps so that 2**1024 and subnormal
    results are handled with a single final rounding."""
    k1 = ki >> 1
    return p * _pow2i(k1) * _pow2i(ki - k1)


@njit(**_OPTS)
def _expm1_small(r):
    """expm1(r) for |r| <= ~0.35, relative error < 1 ulp."""
    return _fma(r * r, _poly_exp(r), r)


@njit(**_OPTS)
def ef_exp_f64(x):
    _always_inline()
    xc = 710.0 if x > 710.0 else x
    xc = -746.0 if xc < -746.0 else xc
    kf, ki, r = _exp_reduce(xc)
    y = _exp_scale(1.0 + _expm1_small(r), ki)
    return x if x != x else y


EXP_FAST_LIMIT = 708.0   # |x| <= 708: 2**k is a normal number and exp(x) neither over- nor underflows


@njit(**_OPTS)
def ef_exp_fast_f64(x):
    """exp for |x| <= EXP_FAST_LIMIT (NaN propagates): no clamps, one scaling multiply. Equal to
    ef_exp_f64 there; larger |x| and inf are flagged by ef_exp_big_f64 (fix-up loop)."""
    _always_inline()
    kf, ki, r = _exp_reduce(x)
    return (1.0 + _expm1_small(r)) * _pow2i(ki)


@njit(**_OPTS)
def ef_exp_big_f64(x):
    return _fabs(x) > EXP_FAST_LIMIT


@njit(**_OPTS)
def ef_exp_big_f32(x):
    return _fabs(np.float64(x)) > EXP_FAST_LIMIT


@njit(**_OPTS)
def ef_exp2_f64(x):
    _always_inline()
    xc = 1025.0 if x > 1025.0 else x
    xc = -1080.0 if xc < -1080.0 else xc
    t = xc + _SHIFT
    kf = t - _SHIFT
    ki = _f64_bits(t) - _f64_bits(_SHIFT)
    r = xc - kf                      # exact, |r| <= 0.5
    y = _exp_scale(_fma(r, _poly_exp2(r), 1.0), ki)
    return x if x != x else y


@njit(**_OPTS)
def _expm1_core(x):
    """expm1 for x already clamped to [-40, 710] (NaN passes through as garbage)."""
    _always_inline()
    kf, ki, r = _exp_reduce(x)
    em = _expm1_small(r)
    kc = ki if ki < 53 else 52
    tk = _pow2i(kc)
    small = _fma(tk, em, tk - 1.0)   # 2**k*(em+1) - 1 with one rounding (tk-1 exact for k >= -53)
    big = _exp_scale(em + 1.0, ki) - 1.0
    return big if ki > 52 else small


@njit(**_OPTS)
def ef_expm1_f64(x):
    _always_inline()
    xc = 710.0 if x > 710.0 else x
    xc = -40.0 if xc < -40.0 else xc
    y = _expm1_core(xc)
    return x if (x != x) | (x == 0.0) else y


# --------------------------------------------------------------------------------------------
# log family
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def _log_reduce(x):
    """x > 0 finite: x = 2**k * m with m in [sqrt(1/2), sqrt(2)).  Returns (k as float, m)."""
    sub = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if sub else x          # 2**54 for subnormals
    ix = _f64_bits(xs)
    k = (ix - 0x3fe6a09e667f3bcd) >> 52
    m = _bits_f64(ix - (k << 52))
    kf = float(k) - (54.0 if sub else 0.0)
    return kf, m


@njit(**_OPTS)
def _clear_low32(v):
    return _bits_f64(_f64_bits(v) & -4294967296)


@njit(**_OPTS)
def _log_special(x, y):
    y = _NAN if x < 0.0 else y
    y = -_INF if x == 0.0 else y
    return x if (x != x) | (x == _INF) else y


@njit(**_OPTS)
def ef_log_f64(x):
    _always_inline()
    kf, m = _log_reduce(x)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = z * _poly_log(z)
    hfsq = 0.5 * f * f
    y = kf * _LN2_H32 - ((hfsq - (s * (hfsq + R) + kf * _LN2_L32)) - f)
    return _log_special(x, y)


@njit(**_OPTS)
def ef_log2_f64(x):
    _always_inline()
    kf, m = _log_reduce(x)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = z * _poly_log(z)
    hfsq = 0.5 * f * f
    hi = _clear_low32(f - hfsq)
    lo = (f - hi) - hfsq + s * (hfsq + R)
    val_hi = hi * _IVLN2_H32
    val_lo = (lo + hi) * _IVLN2_L32 + lo * _IVLN2_H32
    w = kf + val_hi
    val_lo += (kf - w) + val_hi
    y = val_lo + w
    return _log_special(x, y)


@njit(**_OPTS)
def ef_log10_f64(x):
    _always_inline()
    kf, m = _log_reduce(x)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = z * _poly_log(z)
    hfsq = 0.5 * f * f
    hi = _clear_low32(f - hfsq)
    lo = (f - hi) - hfsq + s * (hfsq + R)
    val_hi = hi * _IVLN10_H32
    y2 = kf * _LOG10_2_H32
    val_lo = kf * _LOG10_2_L32 + (lo + hi) * _IVLN10_L32 + lo * _IVLN10_H32
    w = y2 + val_hi
    val_lo += (y2 - w) + val_hi
    y = val_lo + w
    return _log_special(x, y)


@njit(**_OPTS)
def ef_log1p_f64(x):
    _always_inline()
    u = 1.0 + x
    kf, m = _log_reduce(u)
    # c = rounding error of u = 1 + x, relative to u (both differences below are exact)
    c = (x - (u - 1.0)) if x < 1.0 else (1.0 - (u - x))
    c = c / u
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = z * _poly_log(z)
    hfsq = 0.5 * f * f
    y = kf * _LN2_H32 - ((hfsq - (s * (hfsq + R) + (kf * _LN2_L32 + c))) - f)
    y = _NAN if x < -1.0 else y
    y = -_INF if x == -1.0 else y
    y = x if _fabs(x) < 5.551115123125783e-17 else y      # |x| < 2**-54, also +-0
    return x if (x != x) | (x == _INF) else y


# --------------------------------------------------------------------------------------------
# trigonometric functions
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def _payne_hanek(a):
    """a = |x| >= pi/4, finite.  Returns (hi, lo, q): a = (4n + q)*pi/2 + (hi + lo), |hi+lo| <~ pi/4,
    q in {0., 1., 2., 3.}.  Branch-free; exact to ~2**-106 relative even for the worst-case doubles."""
    _always_inline()
    b = _f64_bits(a)
    j = ((b >> 52) & 0x7ff) - 1023 - 54
    j = 969 if j > 969 else j
    j = -55 if j < -55 else j
    ap = a * _bits_f64((1023 - j) << 52)          # in [2**54, 2**55): a multiple of 4
    idx = (j + 55) * 4
    F0 = _PH_TAB[idx]
    F1 = _PH_TAB[idx + 1]
    F2 = _PH_TAB[idx + 2]
    F3 = _PH_TAB[idx + 3]
    p0h = ap * F0
    p0l = _fma(ap, F0, -p0h)
    p1h = ap * F1
    p1l = _fma(ap, F1, -p1h)
    p2h = ap * F2
    p2l = _fma(ap, F2, -p2h)
    p3h = ap * F3
    # remove integers (mod 4) step by step; every step below is exact up to the last two-sum
    n = _rint(p0h)
    f = p0h - n
    qf = n - 4.0 * _floor(n * 0.25)
    n = _rint(p0l)
    f += p0l - n                                  # both multiples of 2**-51, |.| <= 1: exact
    qf += n
    n = _rint(f)
    f -= n
    qf += n
    n = _rint(p1h)
    qf += n
    hi, lo = _two_sum(f, p1h - n)
    n = _rint(hi)
    hi -= n
    qf += n
    hi, lo = _fast_two_sum(hi, lo)
    hi, e = _two_sum(hi, p1l)
    lo = lo + e
    hi, lo = _fast_two_sum(hi, lo)
    hi, e = _two_sum(hi, p2h)
    lo = lo + (e + (p2l + p3h))
    hi, lo = _fast_two_sum(hi, lo)
    n = _rint(hi)
    hi -= n
    qf += n
    hi, lo = _fast_two_sum(hi, lo)
    qf = qf - 4.0 * _floor(qf * 0.25)
    rh = hi * _PIO2_H
    rl = _fma(hi, _PIO2_H, -rh) + (hi * _PIO2_L + lo * _PIO2_H)
    rh, rl = _fast_two_sum(rh, rl)
    return rh, rl, qf


@njit(**_OPTS)
def _trig_reduce(x):
    """x = q*pi/2 + (hi + lo) (mod 2*pi), q in {0., 1., 2., 3.}."""
    _always_inline()
    a = _fabs(x)
    rh, rl, qf = _payne_hanek(a)
    neg = x < 0.0
    rh = -rh if neg else rh
    rl = -rl if neg else rl
    qf = (4.0 - qf if qf != 0.0 else 0.0) if neg else qf
    small = a < _PIO4_H
    rh = x if small else rh
    rl = 0.0 if small else rl
    qf = 0.0 if small else qf
    return rh, rl, qf


@njit(**_OPTS)
def _ksin(hi, lo):
    z = hi * hi
    return hi + _fma(z * hi, _poly_sin(z), lo)


@njit(**_OPTS)
def _kcos(hi, lo):
    z = hi * hi
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * z * _poly_cos(z) - hi * lo))


@njit(**_OPTS)
def _sin_q(hi, lo, q):
    """sin of q*pi/2 + (hi + lo); also cos (q + 1) and, below, tan."""
    s = _ksin(hi, lo)
    c = _kcos(hi, lo)
    y = c if (q == 1.0) | (q == 3.0) else s
    return -y if q >= 2.0 else y


@njit(**_OPTS)
def _tan_q(hi, lo, q):
    s = _ksin(hi, lo)
    c = _kcos(hi, lo)
    odd = (q == 1.0) | (q == 3.0)
    num = -c if odd else s
    den = s if odd else c
    return num / den


@njit(**_OPTS)
def ef_sin_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce(x)
    y = _sin_q(hi, lo, q)
    y = x if x == 0.0 else y
    return y if _fabs(x) < _INF else x - x


@njit(**_OPTS)
def ef_cos_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce(x)
    y = _sin_q(hi, lo, q + 1.0 if q != 3.0 else 0.0)
    return y if _fabs(x) < _INF else x - x


@njit(**_OPTS)
def ef_tan_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce(x)
    y = _tan_q(hi, lo, q)
    y = x if x == 0.0 else y
    return y if _fabs(x) < _INF else x - x


# Fast path: Cody-Waite reduction with pi/2 in three parts, valid for |x| < TRIG_FAST_LIMIT.
# The code generator calls the *_fast functions in vectorized loops, ORs ef_trig_big_* of every
# argument into a flag, and recomputes only the flagged lanes with the full functions above in a
# fix-up loop that runs only when the flag is set (huge arguments are rare in practice).

TRIG_FAST_LIMIT = 16777216.0            # 2**24: n = rint(x*2/pi) < 2**24, n*_PIO2_3 error < 2**-125
_PIO2_1 = 1.5707963267948966
_PIO2_2 = 6.123233995736766e-17
_PIO2_3 = -1.4973849048591698e-33
_TWO_OVER_PI = 0.6366197723675814


@njit(**_OPTS)
def _trig_reduce_fast(x):
    """x = n*pi/2 + (hi + lo), |hi| <~ pi/4, for |x| < TRIG_FAST_LIMIT; q = n mod 4 as a float.
    r1 = x - n*P1 is exact (fma; |x| >= pi/4 makes its granularity >= 2**-53); n*P2 is split
    exactly, so hi + lo keeps ~2**-100 relative accuracy even next to a multiple of pi/2."""
    _always_inline()
    t = _fma(x, _TWO_OVER_PI, _SHIFT)
    n = t - _SHIFT
    r1 = _fma(-n, _PIO2_1, x)
    p2h = n * _PIO2_2
    p2l = _fma(n, _PIO2_2, -p2h)
    hi, e = _two_sum(r1, -p2h)
    lo = e - (p2l + n * _PIO2_3)
    hi, lo = _fast_two_sum(hi, lo)
    qf = n - 4.0 * _floor(n * 0.25)
    return hi, lo, qf


@njit(**_OPTS)
def ef_trig_big_f64(x):
    """True where the fast trigonometric path does not apply (|x| >= 2**24 or inf)."""
    return _fabs(x) >= TRIG_FAST_LIMIT


@njit(**_OPTS)
def ef_sin_fast_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce_fast(x)
    y = _sin_q(hi, lo, q)
    return x if x == 0.0 else y


@njit(**_OPTS)
def ef_cos_fast_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce_fast(x)
    return _sin_q(hi, lo, q + 1.0 if q != 3.0 else 0.0)


@njit(**_OPTS)
def ef_tan_fast_f64(x):
    _always_inline()
    hi, lo, q = _trig_reduce_fast(x)
    y = _tan_q(hi, lo, q)
    return x if x == 0.0 else y


@njit(**_OPTS)
def ef_trig_big_f32(x):
    return _fabs(np.float64(x)) >= TRIG_FAST_LIMIT


@njit(**_OPTS)
def ef_div_by_f64(x, y):
    """x / y, correctly rounded, for a y that is the same for the whole loop (1/y is hoisted out
    of it) and lanes where ef_div_by_bad_f64 is False: q = x*RN(1/y) is within an ulp, the
    remainder x - q*y is exact, and one fma correction rounds correctly (Markstein's theorem)."""
    _always_inline()
    r = 1.0 / y
    q = x * r
    e = _fma(-q, y, x)
    return q if e == 0.0 else _fma(e, r, q)


_DIV_LO = 2.0 ** -400     # |x| and |y| in [2**-400, 2**400]: q within 2**+-800 is far from
_DIV_HI = 2.0 ** 400      # overflow, and the remainder x - q*y (~2**-53 |x|) from underflow


@njit(**_OPTS)
def ef_div_by_bad_f64(x, y):
    """Lanes ef_div_by_f64 does not cover: NaN, inf, huge or tiny operands (x = 0 is covered).
    The test on y is loop-invariant and hoisted; per element it is two compares on |x|."""
    ay = _fabs(y)
    ax = _fabs(x)
    ok_y = (ay >= _DIV_LO) & (ay <= _DIV_HI)
    return not (ok_y & (((ax >= _DIV_LO) & (ax <= _DIV_HI)) | (x == 0.0)))


# --------------------------------------------------------------------------------------------
# hyperbolic functions
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def _exp_half(a):
    """exp(a)/2 for a >= 0 (NaN passes); overflows to inf only when exp(a)/2 does."""
    xc = 711.0 if a > 711.0 else a
    kf, ki, r = _exp_reduce(xc)
    return _exp_scale(1.0 + _expm1_small(r), ki - 1)


@njit(**_OPTS)
def ef_sinh_f64(x):
    _always_inline()
    a = _fabs(x)
    z = a * a
    small = _fma(a * z, _poly_sinh(z), a)
    h = _exp_half(a)
    big = h - 0.25 / h
    y = small if a < 1.0 else big
    y = _copysign(y, x)
    return x if x != x else y


@njit(**_OPTS)
def ef_cosh_f64(x):
    _always_inline()
    a = _fabs(x)
    h = _exp_half(a)
    y = h + 0.25 / h
    return a if a != a else y


@njit(**_OPTS)
def ef_tanh_f64(x):
    _always_inline()
    a = _fabs(x)
    ac = 22.0 if a > 22.0 else a
    # |x| < 1: -t/(t+2) with t = expm1(-2|x|);  1 <= |x| < 22: 1 - 2/(expm1(2|x|) + 2)
    lt1 = ac < 1.0
    t = _expm1_core(-2.0 * ac if lt1 else 2.0 * ac)
    y = (-t / (t + 2.0)) if lt1 else (1.0 - 2.0 / (t + 2.0))
    y = 1.0 if a >= 22.0 else y
    y = _copysign(y, x)
    return x if (x != x) | (x == 0.0) else y


# --------------------------------------------------------------------------------------------
# inverse trigonometric functions
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def _atan_pos(a):
    """atan(a) for a >= 0 (inf allowed, NaN passes).  fdlibm's 5-interval reduction, as selects."""
    _always_inline()
    c1 = a >= 0.4375
    c2 = a >= 0.6875
    c3 = a >= 1.1875
    c4 = a >= 2.4375
    num = a
    den = 1.0
    bh = 0.0
    bl = 0.0
    num = 2.0 * a - 1.0 if c1 else num
    den = 2.0 + a if c1 else den
    bh = _ATAN_05_H if c1 else bh
    bl = _ATAN_05_L if c1 else bl
    num = a - 1.0 if c2 else num
    den = a + 1.0 if c2 else den
    bh = _ATAN_1_H if c2 else bh
    bl = _ATAN_1_L if c2 else bl
    num = a - 1.5 if c3 else num
    den = 1.0 + 1.5 * a if c3 else den
    bh = _ATAN_15_H if c3 else bh
    bl = _ATAN_15_L if c3 else bl
    num = -1.0 if c4 else num
    den = a if c4 else den
    bh = _PIO2_H if c4 else bh
    bl = _PIO2_L if c4 else bl
    t = num / den
    z = t * t
    p = t * z * _poly_atan(z)          # atan(t) = t + p
    return bh - ((-p - bl) - t)


@njit(**_OPTS)
def ef_arctan_f64(x):
    _always_inline()
    return _copysign(_atan_pos(_fabs(x)), x)


@njit(**_OPTS)
def ef_arcsin_f64(x):
    _always_inline()
    a = _fabs(x)
    lt = a < 0.5
    t = (1.0 - a) * 0.5
    w = a * a if lt else t
    pw = w * _poly_asin(w)             # asin(v) = v + v*pw  with v*v = w
    small = _fma(a, pw, a)
    s = _sqrt(t)
    rA = _PIO2_H - (2.0 * (s + s * pw) - _PIO2_L)
    df = _clear_low32(s)
    c = (t - df * df) / (s + df)
    p2 = 2.0 * s * pw - (_PIO2_L - 2.0 * c)
    q2 = _PIO4_H - 2.0 * df
    rB = _PIO4_H - (p2 - q2)
    y = rA if a >= 0.975 else rB
    y = small if lt else y
    y = _copysign(y, x)
    y = _NAN if a > 1.0 else y
    return x if (x != x) | (x == 0.0) else y


@njit(**_OPTS)
def ef_arccos_f64(x):
    _always_inline()
    a = _fabs(x)
    lt = a < 0.5
    t = (1.0 - a) * 0.5
    w = x * x if lt else t
    pw = w * _poly_asin(w)
    small = _PIO2_H - (x - (_PIO2_L - x * pw))
    s = _sqrt(t)
    neg = _PI_H - 2.0 * (s + (pw * s - _PIO2_L))
    df = _clear_low32(s)
    c = (t - df * df) / (s + df)
    c = 0.0 if t == 0.0 else c                  # x == 1: avoid 0/0
    pos = 2.0 * (df + (pw * s + c))
    y = neg if x < 0.0 else pos
    y = small if lt else y
    y = _NAN if a > 1.0 else y
    return x if x != x else y


@njit(**_OPTS)
def ef_arctan2_f64(y, x):
    _always_inline()
    ay = _fabs(y)
    ax = _fabs(x)
    t = ay / ax
    z = _atan_pos(t)
    zl = _PIO2_L if t == _INF else 0.0           # z == pi/2 rounded: keep its low part
    both_inf = (ay == _INF) & (ax == _INF)
    z = _PIO4_H if both_inf else z
    zl = _PIO4_L if both_inf else zl
    z = 0.0 if ay == 0.0 else z
    zl = 0.0 if ay == 0.0 else zl
    r = ((_PI_H - z) + (_PI_L - zl)) if _f64_bits(x) < 0 else z
    r = _copysign(r, y)
    return x + y if (x != x) | (y != y) else r


# --------------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------------

_TWO_THIRDS_H = 0.6666666666666666
_TWO_THIRDS_L = 3.700743415417188e-17


@njit(**_OPTS)
def _log_dd(ax):
    """log(ax) as a double-double (hi, lo), relative error ~2**-64; ax > 0 finite."""
    _always_inline()
    kf, m = _log_reduce(ax)
    f = m - 1.0
    dh, dl = _two_sum(m, 1.0)
    sh = f / dh
    sl = (_fma(-sh, dh, f) - sh * dl) / dh       # s = f/(m+1) = sh + sl
    zh = sh * sh
    ze = _fma(sh, sh, -zh)
    c3 = zh * sh
    e3 = _fma(zh, sh, -c3)
    s3l = e3 + ze * sh + 3.0 * zh * sl           # s**3 = c3 + s3l
    t3h = _TWO_THIRDS_H * c3
    t3l = _fma(_TWO_THIRDS_H, c3, -t3h) + (_TWO_THIRDS_H * s3l + _TWO_THIRDS_L * c3)
    t5 = sh * zh * zh * _poly_logt(zh)
    hi, lo = _fast_two_sum(2.0 * sh, t3h)
    lo = lo + (2.0 * sl + t3l + t5)              # log(m) = 2s + 2/3 s**3 + s**5 T(s**2)
    kh = kf * _LN2_H32
    kl = kf * _LN2_L32
    Lh, Le = _two_sum(kh, hi)
    Ll = Le + (lo + kl)
    return _fast_two_sum(Lh, Ll)


@njit(**_OPTS)
def ef_power_f64(x, y):
    _always_inline()
    ax = _fabs(x)
    Lh, Ll = _log_dd(ax)
    ph = y * Lh
    pl = _fma(y, Lh, -ph) + y * Ll
    clamp = (ph > 710.0) | (ph < -746.0)
    phc = 710.0 if ph > 710.0 else ph
    phc = -746.0 if phc < -746.0 else phc
    plc = 0.0 if clamp else pl
    kf, ki, r = _exp_reduce(phc)
    r = r + plc
    res = _exp_scale(1.0 + _expm1_small(r), ki)
    # special cases, C99 / np.power semantics
    ay = _fabs(y)
    y_int = _rint(y) == y
    hy = 0.5 * y
    y_odd = y_int & (_rint(hy) != hy)
    res = (0.0 if y > 0.0 else _INF) if ax == 0.0 else res
    res = (_INF if y > 0.0 else 0.0) if ax == _INF else res
    res = ((_INF if (ax > 1.0) == (y > 0.0) else 0.0) if ax != 1.0 else 1.0) if ay == _INF else res
    res = -res if (_f64_bits(x) < 0) & y_odd else res
    res = _NAN if (x < 0.0) & (ax < _INF) & (ay < _INF) & (_rint(y) != y) else res
    res = x + y if (x != x) | (y != y) else res
    return 1.0 if (y == 0.0) | (x == 1.0) else res


# --------------------------------------------------------------------------------------------
# sigmoid
# --------------------------------------------------------------------------------------------

@njit(**_OPTS)
def ef_sigmoid_f64(x):
    _always_inline()
    e = ef_exp_f64(-_fabs(x))            # in (0, 1]: no overflow
    d = 1.0 + e
    return 1.0 / d if x >= 0.0 else e / d


# --------------------------------------------------------------------------------------------
# float32: computed in float64 and rounded once (<= ~0.5 ulp + double rounding)
# --------------------------------------------------------------------------------------------

def _f32_unary(f64fn):
    def f32fn(x):
        return np.float32(f64fn(np.float64(x)))
    return _named_f32(f32fn, f64fn)


def _f32_binary(f64fn):
    def f32fn(x, y):
        return np.float32(f64fn(np.float64(x), np.float64(y)))
    return _named_f32(f32fn, f64fn)


def _named_f32(f32fn, f64fn):
    """Each wrapper gets its own name before Numba compiles it. Numba names a compiled function
    by module, qualified name and a per-process counter, and cached generated code calls its
    copies of these functions by that name: under one shared name (`_f32_unary.<locals>.f32fn`)
    the cached code of a kernel bound to whichever wrapper this process had compiled under the
    same counter, and np.tan of float32 returned np.tanh's values."""
    name = f64fn.py_func.__name__.replace("_f64", "_f32")
    f32fn.__name__ = f32fn.__qualname__ = name
    return njit(**_OPTS)(f32fn)


_UNARY = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "sinh",
          "cosh", "tanh", "arctan", "arcsin", "arccos", "sigmoid")
_BINARY = ("arctan2", "power")

ef_exp_f32 = _f32_unary(ef_exp_f64)
ef_exp2_f32 = _f32_unary(ef_exp2_f64)
ef_expm1_f32 = _f32_unary(ef_expm1_f64)
ef_log_f32 = _f32_unary(ef_log_f64)
ef_log2_f32 = _f32_unary(ef_log2_f64)
ef_log10_f32 = _f32_unary(ef_log10_f64)
ef_log1p_f32 = _f32_unary(ef_log1p_f64)
ef_sin_f32 = _f32_unary(ef_sin_f64)
ef_cos_f32 = _f32_unary(ef_cos_f64)
ef_tan_f32 = _f32_unary(ef_tan_f64)
ef_sin_fast_f32 = _f32_unary(ef_sin_fast_f64)
ef_exp_fast_f32 = _f32_unary(ef_exp_fast_f64)
ef_cos_fast_f32 = _f32_unary(ef_cos_fast_f64)
ef_tan_fast_f32 = _f32_unary(ef_tan_fast_f64)
ef_sinh_f32 = _f32_unary(ef_sinh_f64)
ef_cosh_f32 = _f32_unary(ef_cosh_f64)
ef_tanh_f32 = _f32_unary(ef_tanh_f64)
ef_arctan_f32 = _f32_unary(ef_arctan_f64)
ef_arcsin_f32 = _f32_unary(ef_arcsin_f64)
ef_arccos_f32 = _f32_unary(ef_arccos_f64)
ef_sigmoid_f32 = _f32_unary(ef_sigmoid_f64)
ef_arctan2_f32 = _f32_binary(ef_arctan2_f64)
ef_power_f32 = _f32_binary(ef_power_f64)

#: (numpy ufunc name, dtype name) -> name of the ef_* function in this module.
MATH_FUNCS = {}
for _n in _UNARY + _BINARY:
    for _dt, _suf in (("float64", "f64"), ("float32", "f32")):
        MATH_FUNCS[(_n, _dt)] = f"ef_{_n}_{_suf}"
del _n, _dt, _suf

#: Variants the code generator may use under ``fastmath=True``.  There are no separate cheaper
#: implementations yet: every entry maps to the accurate function (which already runs at or above
#: NumPy's SIMD speed); the dict exists so the generator has one place to look.
MATH_FUNCS_FAST = dict(MATH_FUNCS)

#: Guarded fast variants: (ufunc name, dtype) -> (fast function, guard).  Where guard(x) is
#: False the fast function equals the full one to within its error bound; the generator
#: recomputes lanes where it is True with MATH_FUNCS' function (fix-up loop).
MATH_GUARDED = {}
for _n in ("sin", "cos", "tan"):
    for _dt, _suf in (("float64", "f64"), ("float32", "f32")):
        MATH_GUARDED[(_n, _dt)] = (f"ef_{_n}_fast_{_suf}", f"ef_trig_big_{_suf}")
for _dt, _suf in (("float64", "f64"), ("float32", "f32")):
    MATH_GUARDED[("exp", _dt)] = (f"ef_exp_fast_{_suf}", f"ef_exp_big_{_suf}")
del _n, _dt, _suf

__all__ = sorted(set(MATH_FUNCS.values()) | {n for f in MATH_GUARDED.values() for n in f} |
                 {"ef_div_by_f64", "ef_div_by_bad_f64"}) + \
    ["MATH_FUNCS", "MATH_FUNCS_FAST", "MATH_GUARDED"]
