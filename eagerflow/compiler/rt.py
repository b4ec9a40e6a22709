"""Scalar helpers that generated code calls: NumPy's exact semantics where a plain Numba
expression differs (integer division by zero, floor division and remainder signs, shifts past
the width, NaN-propagating max/min), plus the blocked reduction kernels.

Generated modules do `from eagerflow.compiler.rt import *`. Every helper is a small njit function
that LLVM inlines; none calls into Python.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .mathlib import ef_exp_f64, ef_log1p_f64

__all__ = ["ef_floordiv_f", "ef_floordiv_i", "ef_mod_f", "ef_mod_i", "ef_pow_i", "ef_lshift",
           "ef_rshift", "ef_logaddexp", "ef_sign_f", "ef_sum_block", "ef_prod_block",
           "ef_max_block", "ef_min_block", "ef_max", "ef_min", "ef_fmax", "ef_fmin", "ef_impl",
           "ef_check_index", "ef_divmod_f", "ef_stack_block", "np", "math",
           "BLOCK", "CHUNK", "COLS", "ROWS", "MATROWS"]

BLOCK = 256   # elements per block in blocked float reductions (docs/numba_backend.md)
CHUNK = 16384   # elements per partial of a 1-d full reduction (fixed: thread-count independent)
COLS = 256     # columns per parallel task of a reduction over leading axes
ROWS = 16      # rows per parallel task of a row group (its buffers are allocated per task)
MATROWS = 1024   # rows per partial of a threaded vector @ narrow matrix (fixed: thread-count independent)

# this file's content as imported (codegen.helpers_digest: part of every compile cache key)
with open(__file__, "rb") as _f:
    SOURCE_DIGEST = hashlib.sha256(_f.read()).hexdigest()
del _f

_opts = dict(error_model="numpy", inline="always")


@njit(**_opts)
def ef_divmod_f(a, b):
    # npy_divmod (numpy/_core/src/npymath/npy_math_internal.h.src), step by step
    mod = np.fmod(a, b)
    if b == 0:
        return a / b, mod
    div = (a - mod) / b
    if mod != 0 or mod != mod:
        if (b < 0) != (mod < 0):
            mod += b
            div -= 1.0
    else:
        mod = math.copysign(0.0, b)
    if div != 0 or div != div:
        floordiv = np.floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = math.copysign(0.0, a / b)
    return floordiv, mod


@njit(**_opts)
def ef_floordiv_f(a, b):
    if b == 0:
        return a / b
    return ef_divmod_f(a, b)[0]


@njit(**_opts)
def ef_mod_f(a, b):
    if b == 0:
        return np.fmod(a, b)
    return ef_divmod_f(a, b)[1]


@njit(**_opts)
def ef_floordiv_i(a, b):
    if b == 0:
        return a - a
    if b == -1:
        return -a   # wraps for the minimum value, as NumPy does
    q = a // b
    return q


@njit(**_opts)
def ef_mod_i(a, b):
    if b == 0:
        return a - a
    if b == -1:
        return a - a
    return a % b


@njit(**_opts)
def ef_pow_i(a, b):
    if b < 0:
        raise ValueError("Integers to negative integer powers are not allowed.")
    r = a - a + 1
    base = a
    e = b
    while e > 0:
        if e & 1:
            r = r * base
        base = base * base
        e >>= 1
    return r


@njit(**_opts)
def ef_lshift(a, b, bits):
    if b < 0 or b >= bits:
        return a - a
    return a << b


@njit(**_opts)
def ef_rshift(a, b, bits):
    if b < 0 or b >= bits:
        # ~0 is -1 in a's own type: `a - a - 1` mixed in an int64 literal, and for uint64 that
        # made the result float64 (values above 2**53 lost their low bits)
        return ~(a - a) if a < 0 else a - a
    return a >> b


@njit(**_opts)
def ef_logaddexp(x, y):
    # NumPy's npy_logaddexp: max + log1p(exp(-|x - y|)), written without branches and with
    # mathlib's functions so that loops calling it vectorize (libm calls and branches did not:
    # the logistic-regression gradient ran at NumPy's speed)
    t = x - y
    m = x if t > 0 else y
    r = m + ef_log1p_f64(ef_exp_f64(-abs(t)))
    r = x + 0.6931471805599453 if x == y else r     # equal values, infinities included
    return r if (t == t) | (x == y) else t          # NaN in, NaN out


@njit(**_opts)
def ef_sign_f(a):
    if a > 0:
        return 1.0
    if a < 0:
        return -1.0
    return 0.0 if a == a else a


@njit(**_opts)
def ef_max(a, b):   # np.maximum: NaN-propagating; on ties the second operand
    return a if (a > b or a != a) else b


@njit(**_opts)
def ef_min(a, b):
    return a if (a < b or a != a) else b


@njit(**_opts)
def ef_fmax(a, b):   # np.fmax: NaN-ignoring; on ties the first operand
    return b if (b > a or a != a) else a


@njit(**_opts)
def ef_fmin(a, b):
    return b if (b < a or a != a) else a


# Blocked reductions: independent lanes over a block held in L1, combined as a fixed tree, so
# the order is the same on every run. Sums use 16 lanes. For float arrays the lanes are one LLVM
# vector (`_lane_sums16`): LLVM's SLP vectorizer left the 16 scalar accumulators scalar, one add per
# element (0.133 ns per element measured here); as a vector the adds run 4-8 wide. Each lane
# still adds its elements in index order, so the result is the same bit for bit.

def _lanes_ok(buf):
    return (isinstance(buf, types.Array) and buf.ndim == 1 and buf.layout == "C"
            and buf.dtype in (types.float32, types.float64))


@intrinsic
def _lane_sums16(typingctx, buf, n16):
    """(lane 0, ..., lane 15): lane k = buf[k] + buf[k + 16] + ... over buf[:n16], from 0.0,
    n16 a multiple of 16."""
    if not _lanes_ok(buf) or not isinstance(n16, types.Integer):
        return None
    dt = buf.dtype

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        lt = context.get_value_type(dt)
        vt = ir.VectorType(lt, 16)
        i64 = ir.IntType(64)
        n = context.cast(builder, args[1], signature.args[1], types.int64)
        acc = cgutils.alloca_once_value(builder, ir.Constant(vt, [0.0] * 16))
        with cgutils.for_range_slice(builder, ir.Constant(i64, 0), n, ir.Constant(i64, 16)) as (j, _):
            vp = builder.bitcast(builder.gep(ary.data, [j]), vt.as_pointer())
            builder.store(builder.fadd(builder.load(acc), builder.load(vp, align=dt.bitwidth // 8)),
                          acc)
        v = builder.load(acc)
        i32 = ir.IntType(32)
        lanes = [builder.extract_element(v, ir.Constant(i32, k)) for k in range(16)]
        return context.make_tuple(builder, signature.return_type, lanes)
    return types.UniTuple(dt, 16)(buf, n16), codegen


def _block_lanes_sum(buf, n16, zero):
    """The 16 sum lanes of buf[:n16], for jitted code (the overload below picks vector or scalar)."""


@overload(_block_lanes_sum, inline="always")
def _lane_sums_impl(buf, n16, zero):
    if _lanes_ok(buf) and zero == buf.dtype:
        return lambda buf, n16, zero: _lane_sums16(buf, n16)

    def scalar(buf, n16, zero):   # other layouts: the same lanes, as scalars
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = zero
        u0 = u1 = u2 = u3 = u4 = u5 = u6 = u7 = zero
        for j in range(0, n16, 16):
            s0 += buf[j]
            s1 += buf[j + 1]
            s2 += buf[j + 2]
            s3 += buf[j + 3]
            s4 += buf[j + 4]
            s5 += buf[j + 5]
            s6 += buf[j + 6]
            s7 += buf[j + 7]
            u0 += buf[j + 8]
            u1 += buf[j + 9]
            u2 += buf[j + 10]
            u3 += buf[j + 11]
            u4 += buf[j + 12]
            u5 += buf[j + 13]
            u6 += buf[j + 14]
            u7 += buf[j + 15]
        return (s0, s1, s2, s3, s4, s5, s6, s7, u0, u1, u2, u3, u4, u5, u6, u7)
    return scalar


@njit(error_model="numpy")
def ef_sum_block(buf, m, zero):
    n16 = m - m % 16
    s0, s1, s2, s3, s4, s5, s6, s7, u0, u1, u2, u3, u4, u5, u6, u7 = \
        _block_lanes_sum(buf, n16, zero)
    t = zero
    for j in range(n16, m):
        t += buf[j]
    s0, s1, s2, s3 = s0 + u0, s1 + u1, s2 + u2, s3 + u3
    s4, s5, s6, s7 = s4 + u4, s5 + u5, s6 + u6, s7 + u7
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + t


@njit(error_model="numpy")
def ef_prod_block(buf, m, one):
    s0 = s1 = s2 = s3 = one
    n4 = m - m % 4
    for j in range(0, n4, 4):
        s0 *= buf[j]
        s1 *= buf[j + 1]
        s2 *= buf[j + 2]
        s3 *= buf[j + 3]
    t = one
    for j in range(n4, m):
        t *= buf[j]
    return ((s0 * s1) * (s2 * s3)) * t


def _lane_picker(pred: str):
    """An intrinsic `f(buf, n8, init)`: 8 lanes, lane k the pick over buf[k], buf[k + 8], ... of
    buf[:n8] (`pred` ">" keeps the larger, "<" the smaller), and whether a NaN was seen. LLVM
    vectors, as `_lane_sums16`. Without NaN the pick does not depend on the order, except which
    of 0.0 and -0.0 wins a tie."""
    @intrinsic
    def pick(typingctx, buf, n8, init):
        if not _lanes_ok(buf) or not isinstance(n8, types.Integer) or init != buf.dtype:
            return None
        dt = buf.dtype

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            vt = ir.VectorType(context.get_value_type(dt), 8)
            bt = ir.VectorType(ir.IntType(1), 8)
            i32, i64 = ir.IntType(32), ir.IntType(64)
            start = ir.Constant(vt, ir.Undefined)
            for k in range(8):
                start = builder.insert_element(start, args[2], ir.Constant(i32, k))
            # four accumulators over 32 elements at a time, so that four compare chains overlap
            # (one chain waits on its own latency); then 8 at a time into the first
            accs = [cgutils.alloca_once_value(builder, start) for _ in range(4)]
            nan = cgutils.alloca_once_value(builder, ir.Constant(bt, [0] * 8))
            n = context.cast(builder, args[1], signature.args[1], types.int64)
            n32 = builder.sub(n, builder.srem(n, ir.Constant(i64, 32)))

            def step(acc, j):
                vp = builder.bitcast(builder.gep(ary.data, [j]), vt.as_pointer())
                x = builder.load(vp, align=dt.bitwidth // 8)
                cur = builder.load(acc)
                builder.store(builder.select(builder.fcmp_ordered(pred, x, cur), x, cur), acc)
                builder.store(builder.or_(builder.load(nan), builder.fcmp_unordered("uno", x, x)), nan)

            with cgutils.for_range_slice(builder, ir.Constant(i64, 0), n32, ir.Constant(i64, 32)) as (j, _):
                for k, acc in enumerate(accs):
                    step(acc, builder.add(j, ir.Constant(i64, 8 * k)))
            with cgutils.for_range_slice(builder, n32, n, ir.Constant(i64, 8)) as (j, _):
                step(accs[0], j)
            vals = [builder.load(a) for a in accs]

            def pick2(a, b):
                return builder.select(builder.fcmp_ordered(pred, b, a), b, a)
            v = pick2(pick2(vals[0], vals[1]), pick2(vals[2], vals[3]))
            bad = builder.load(nan)
            lanes = [builder.extract_element(v, ir.Constant(i32, k)) for k in range(8)]
            seen = builder.extract_element(bad, ir.Constant(i32, 0))
            for k in range(1, 8):
                seen = builder.or_(seen, builder.extract_element(bad, ir.Constant(i32, k)))
            return context.make_tuple(builder, signature.return_type, lanes + [seen])
        return types.Tuple([dt] * 8 + [types.boolean])(buf, n8, init), codegen
    return pick


_lane_max8, _lane_min8 = _lane_picker(">"), _lane_picker("<")


def _block_lanes_max(buf, n8, init):
    """The 8 max lanes of buf[:n8] and whether a NaN was seen, for jitted code (_pick_overload)."""


def _block_lanes_min(buf, n8, init):
    """As _block_lanes_max, keeping the smaller."""


@njit(inline="always")
def _gt(x, s):
    return x > s


@njit(inline="always")
def _lt(x, s):
    return x < s


def _pick_overload(stub, vector, better):
    """`stub(buf, n8, init)` in jitted code: `vector` for float C blocks, else the same lanes as
    scalars (`better(x, s)`: whether x replaces the lane's s)."""
    @overload(stub, inline="always")
    def impl(buf, n8, init):
        if _lanes_ok(buf) and init == buf.dtype:
            return lambda buf, n8, init: vector(buf, n8, init)

        def scalar(buf, n8, init):
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = init
            bad = False
            for j in range(0, n8, 8):
                x0, x1, x2, x3 = buf[j], buf[j + 1], buf[j + 2], buf[j + 3]
                x4, x5, x6, x7 = buf[j + 4], buf[j + 5], buf[j + 6], buf[j + 7]
                s0 = x0 if better(x0, s0) else s0
                s1 = x1 if better(x1, s1) else s1
                s2 = x2 if better(x2, s2) else s2
                s3 = x3 if better(x3, s3) else s3
                s4 = x4 if better(x4, s4) else s4
                s5 = x5 if better(x5, s5) else s5
                s6 = x6 if better(x6, s6) else s6
                s7 = x7 if better(x7, s7) else s7
                bad |= (x0 != x0) | (x1 != x1) | (x2 != x2) | (x3 != x3) | \
                    (x4 != x4) | (x5 != x5) | (x6 != x6) | (x7 != x7)
            return s0, s1, s2, s3, s4, s5, s6, s7, bad
        return scalar
    return impl


_pick_overload(_block_lanes_max, _lane_max8, _gt)
_pick_overload(_block_lanes_min, _lane_min8, _lt)


@njit(error_model="numpy")
def ef_max_block(buf, m, lowest):
    # 8 lanes of plain compares; NaN tracked apart and returned if seen.
    n8 = m - m % 8
    s0, s1, s2, s3, s4, s5, s6, s7, bad = _block_lanes_max(buf, n8, lowest)
    for j in range(n8, m):
        x = buf[j]
        s0 = x if x > s0 else s0
        bad |= x != x
    if bad:
        return lowest - lowest + np.nan
    a = s0 if s0 > s1 else s1
    b = s2 if s2 > s3 else s3
    c = s4 if s4 > s5 else s5
    d = s6 if s6 > s7 else s7
    a = a if a > b else b
    c = c if c > d else d
    return a if a > c else c


@njit(error_model="numpy")
def ef_min_block(buf, m, highest):
    n8 = m - m % 8
    s0, s1, s2, s3, s4, s5, s6, s7, bad = _block_lanes_min(buf, n8, highest)
    for j in range(n8, m):
        x = buf[j]
        s0 = x if x < s0 else s0
        bad |= x != x
    if bad:
        return highest - highest + np.nan
    a = s0 if s0 < s1 else s1
    b = s2 if s2 < s3 else s3
    c = s4 if s4 < s5 else s5
    d = s6 if s6 < s7 else s7
    a = a if a < b else b
    c = c if c < d else d
    return a if a < c else c


@njit(error_model="numpy")
def ef_check_index(i, n):
    if i < -n or i >= n:
        raise IndexError("index out of bounds in a gather")
    return i + n if i < 0 else i


def ef_impl(name):
    """The NumPy reference implementation of an op, for code that runs it through objmode."""
    from ..ops.registry import REGISTRY
    return REGISTRY[name].impl


@intrinsic
def ef_stack_block(typingctx, dtype):
    """A BLOCK-element scratch array in the calling function's stack frame: no allocation (two
    heap buffers were ~100 ns of a 1000-element gradient step measured here). The alloca sits in
    the caller's entry block, so a call inside a loop reuses it, and each thread running a prange
    body has its own. It must not outlive the call: generated code uses it for block buffers only."""
    if not isinstance(dtype, (types.NumberClass, types.DType)):
        return None
    dt = dtype.dtype
    arrty = types.Array(dt, 1, "C")

    def codegen(context, builder, signature, args):
        from numba.np.arrayobj import populate_array
        lt = context.get_value_type(dt)
        ptr = cgutils.alloca_once(builder, lt, size=BLOCK)
        intp = context.get_value_type(types.intp)
        size = ir.Constant(intp, context.get_abi_sizeof(lt))
        ary = context.make_array(arrty)(context, builder)
        populate_array(ary, data=ptr, shape=[ir.Constant(intp, BLOCK)], strides=[size],
                       itemsize=size, meminfo=None)
        return ary._getvalue()
    return arrty(dtype), codegen


@njit(parallel=True, cache=True, nogil=True)
def ef_touch_pages(b, step):
    """One store per `step` bytes of b, spread over the threads: the executor's page faulting
    for a fresh output of threaded code (faults inside the vectorized loop are slower)."""
    for p in prange((b.shape[0] + step - 1) // step):
        b[p * step] = 0
