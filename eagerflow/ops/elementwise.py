"""Elementwise ops: NumPy ufuncs, one table row each.

Type rule: shapes broadcast; the dtype is what the ufunc itself gives for the operand dtypes
(Python scalars stand in for weak operands, so NEP 50 holds). A call through NumPy
(`np.add(s, 1)`) on weak operands gives a strong result, as NumPy returns a NumPy scalar;
operators (`s + 1`) keep the result weak, as Python would.
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import UnsupportedError
from ..ir.types import TensorType, check_dtype
from .registry import Kind, OpDef, broadcast_shapes, register, stand_in

INT = ("int32", "int64")
FLOAT = ("float32", "float64")
ALL = ("bool",) + INT + FLOAT
NUM = INT + FLOAT


@functools.lru_cache(maxsize=4096)
def _ufunc_dtypes(ufunc, sig):
    args = [{"b": False, "i": 0, "u": 0, "f": 0.0}[np.dtype(d).kind] if weak else np.zeros((), d)
            for d, weak in sig]
    try:
        with np.errstate(all="ignore"):
            out = ufunc(*args)
    except TypeError as e:
        raise UnsupportedError(f"np.{ufunc.__name__} does not support "
                               f"{', '.join(str(np.dtype(d)) for d, _ in sig)}: {e}") from None
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(np.asarray(o).dtype for o in outs)


def ufunc_infer(ufunc):
    def infer(*types: TensorType) -> TensorType:
        shape = broadcast_shapes(*[t.shape for t in types])
        (dt,) = _ufunc_dtypes(ufunc, tuple((t.dtype.str, t.weak) for t in types))
        weak = all(t.weak for t in types) and dt.kind != "b"
        return TensorType(check_dtype(dt), shape, weak)
    return infer


def ufunc_impl(ufunc):
    def impl(*arrays):
        with np.errstate(all="ignore"):
            return ufunc(*arrays)
    impl.__name__ = ufunc.__name__
    return impl


def elementwise(name, ufunc, template=None, *, dtypes=ALL, commutative=False, vjp=None, doc=""):
    return register(OpDef(
        name, Kind.ELEMENTWISE, impl=ufunc_impl(ufunc), infer=ufunc_infer(ufunc), numpy=(ufunc,),
        emit={"numba": template} if template else {}, vjp=vjp, nin=ufunc.nin,
        commutative=commutative, dtypes=dtypes, doc=doc or f"np.{ufunc.__name__}"))


# Arithmetic. Templates are Numba scalar expressions over {0}, {1}; see compiler/codegen.
add_p = elementwise("add", np.add, commutative=True)
sub_p = elementwise("sub", np.subtract, dtypes=NUM)
mul_p = elementwise("mul", np.multiply, commutative=True)
div_p = elementwise("div", np.true_divide)
floordiv_p = elementwise("floordiv", np.floor_divide, dtypes=NUM)
mod_p = elementwise("mod", np.remainder, dtypes=NUM)
pow_p = elementwise("pow", np.power, dtypes=NUM)
neg_p = elementwise("neg", np.negative, dtypes=NUM)
pos_p = elementwise("pos", np.positive, dtypes=NUM)
abs_p = elementwise("abs", np.absolute)
sign_p = elementwise("sign", np.sign, dtypes=NUM)
sqrt_p = elementwise("sqrt", np.sqrt)
square_p = elementwise("square", np.square)
reciprocal_p = elementwise("reciprocal", np.reciprocal, dtypes=FLOAT)
maximum_p = elementwise("maximum", np.maximum, commutative=True)
minimum_p = elementwise("minimum", np.minimum, commutative=True)
fmax_p = elementwise("fmax", np.fmax, commutative=True)
fmin_p = elementwise("fmin", np.fmin, commutative=True)
copysign_p = elementwise("copysign", np.copysign, dtypes=FLOAT)
hypot_p = elementwise("hypot", np.hypot, dtypes=FLOAT, commutative=True)
logaddexp_p = elementwise("logaddexp", np.logaddexp, dtypes=FLOAT, commutative=True)

# Transcendental.
exp_p = elementwise("exp", np.exp, dtypes=FLOAT)
exp2_p = elementwise("exp2", np.exp2, dtypes=FLOAT)
expm1_p = elementwise("expm1", np.expm1, dtypes=FLOAT)
log_p = elementwise("log", np.log, dtypes=FLOAT)
log2_p = elementwise("log2", np.log2, dtypes=FLOAT)
log10_p = elementwise("log10", np.log10, dtypes=FLOAT)
log1p_p = elementwise("log1p", np.log1p, dtypes=FLOAT)
sin_p = elementwise("sin", np.sin, dtypes=FLOAT)
cos_p = elementwise("cos", np.cos, dtypes=FLOAT)
tan_p = elementwise("tan", np.tan, dtypes=FLOAT)
arcsin_p = elementwise("arcsin", np.arcsin, dtypes=FLOAT)
arccos_p = elementwise("arccos", np.arccos, dtypes=FLOAT)
arctan_p = elementwise("arctan", np.arctan, dtypes=FLOAT)
arctan2_p = elementwise("arctan2", np.arctan2, dtypes=FLOAT)
sinh_p = elementwise("sinh", np.sinh, dtypes=FLOAT)
cosh_p = elementwise("cosh", np.cosh, dtypes=FLOAT)
tanh_p = elementwise("tanh", np.tanh, dtypes=FLOAT)
arcsinh_p = elementwise("arcsinh", np.arcsinh, dtypes=FLOAT)
arccosh_p = elementwise("arccosh", np.arccosh, dtypes=FLOAT)
arctanh_p = elementwise("arctanh", np.arctanh, dtypes=FLOAT)

# Rounding.
floor_p = elementwise("floor", np.floor, dtypes=FLOAT)
ceil_p = elementwise("ceil", np.ceil, dtypes=FLOAT)
trunc_p = elementwise("trunc", np.trunc, dtypes=FLOAT)
rint_p = elementwise("rint", np.rint, dtypes=FLOAT)

# Comparisons and logic.
eq_p = elementwise("eq", np.equal, commutative=True)
ne_p = elementwise("ne", np.not_equal, commutative=True)
lt_p = elementwise("lt", np.less)
le_p = elementwise("le", np.less_equal)
gt_p = elementwise("gt", np.greater)
ge_p = elementwise("ge", np.greater_equal)
logical_and_p = elementwise("logical_and", np.logical_and, commutative=True)
logical_or_p = elementwise("logical_or", np.logical_or, commutative=True)
logical_xor_p = elementwise("logical_xor", np.logical_xor, commutative=True)
logical_not_p = elementwise("logical_not", np.logical_not)
isnan_p = elementwise("isnan", np.isnan)
isinf_p = elementwise("isinf", np.isinf)
isfinite_p = elementwise("isfinite", np.isfinite)

# Bits (integers and bool).
BITS = ("bool",) + INT
bitwise_and_p = elementwise("bitwise_and", np.bitwise_and, dtypes=BITS, commutative=True)
bitwise_or_p = elementwise("bitwise_or", np.bitwise_or, dtypes=BITS, commutative=True)
bitwise_xor_p = elementwise("bitwise_xor", np.bitwise_xor, dtypes=BITS, commutative=True)
invert_p = elementwise("invert", np.invert, dtypes=BITS)
left_shift_p = elementwise("left_shift", np.left_shift, dtypes=INT)
right_shift_p = elementwise("right_shift", np.right_shift, dtypes=INT)


# Ternary and cast ops that are elementwise but not ufuncs.

def _where_infer(c: TensorType, x: TensorType, y: TensorType) -> TensorType:
    shape = broadcast_shapes(c.shape, x.shape, y.shape)
    dt = np.result_type(stand_in(x) if x.weak else x.dtype, stand_in(y) if y.weak else y.dtype)
    return TensorType(check_dtype(dt), shape)


def _where_impl(c, x, y):
    return np.where(c, x, y)


def _where_trace(condition, x=None, y=None):
    from ..tracer.context import apply
    if x is None or y is None:
        raise UnsupportedError("np.where(cond) with one argument (np.nonzero) has a "
                               "data-dependent shape and cannot be traced; use np.where(c, x, y)")
    return apply("where", condition, x, y)


where_p = register(OpDef(
    "where", Kind.ELEMENTWISE, impl=_where_impl, infer=_where_infer, nin=3, numpy=(np.where,),
    trace=_where_trace, extra={"zero_d": "array"},
    doc="np.where(cond, x, y): the three-argument form"))


def _clip_infer(x: TensorType, lo: TensorType, hi: TensorType) -> TensorType:
    t = ufunc_infer(np.minimum)(ufunc_infer(np.maximum)(x, lo), hi)
    return t.strong() if not x.weak else t


def _clip_impl(x, lo, hi):
    with np.errstate(all="ignore"):
        return np.clip(x, lo, hi)


def _clip_trace(a, a_min=None, a_max=None, out=None, *, min=None, max=None, **kw):
    from ..tracer.context import apply
    from ..tracer.tracer import write_out
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if lo is None and hi is None:
        raise UnsupportedError("np.clip needs a lower or an upper bound")
    if lo is None:
        r = apply("minimum", a, hi)
    elif hi is None:
        r = apply("maximum", a, lo)
    else:
        r = apply("clip", a, lo, hi)
    return write_out(out, r)


clip_p = register(OpDef(
    "clip", Kind.ELEMENTWISE, impl=_clip_impl, infer=_clip_infer, nin=3, dtypes=NUM,
    numpy=(np.clip,), trace=_clip_trace,
    doc="np.clip(x, lo, hi); a None bound traces to maximum/minimum"))


def _astype_infer(x: TensorType, *, dtype) -> TensorType:
    return TensorType(check_dtype(dtype), x.shape)


def _astype_impl(x, *, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(dtype)


astype_p = register(OpDef(
    "astype", Kind.ELEMENTWISE, impl=_astype_impl, infer=_astype_infer, nin=1, attrs=("dtype",),
    extra={"zero_d": "inherit"},
    doc="x.astype(dtype): C-style casts as NumPy does them (float->int of NaN is undefined)"))
