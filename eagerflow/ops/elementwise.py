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


# What one element of a transcendental function costs, in elements of plain arithmetic (a
# polynomial and a range reduction: np.exp ~1 ns per element, np.add ~0.15 ns in cache, here).
# The Numba backend weighs a kernel's size by it to choose threads (docs/numba_backend.md).
MATH_COST = 8


def elementwise(name, ufunc, template=None, *, dtypes=ALL, commutative=False, vjp=None, doc="",
                cost=0):
    return register(OpDef(
        name, Kind.ELEMENTWISE, impl=ufunc_impl(ufunc), infer=ufunc_infer(ufunc), numpy=(ufunc,),
        emit={"numba": template} if template else {}, vjp=vjp, nin=ufunc.nin,
        commutative=commutative, dtypes=dtypes, doc=doc or f"np.{ufunc.__name__}",
        extra={"cost": cost} if cost else {}))


# Gradient rules (autodiff/vjp.py drives them): each builds graph nodes with NumPy calls on
# Tracers, vjp(g, *inputs, out) -> one cotangent (or None) per input. The driver sums each
# cotangent over broadcast axes and casts it to its input's dtype, so rules ignore broadcasting.
_LN2, _LN10 = 0.6931471805599453, 2.302585092994046


def _pow_vjp(g, x, y, out):
    """d/dx = y x^(y-1) (0 where y == 0, so x**0 has gradient 0 at x == 0, as in JAX);
    d/dy = out log(x) where x > 0, else 0 (a subgradient: x^y is not real-differentiable in y
    for x <= 0). A constant exponent (x ** 2) builds no node for d/dy."""
    from ..ir.graph import Const
    if isinstance(y.value, Const) and y.ndim == 0:   # x ** c: d/dx = c x^(c-1), built statically
        c = y.value.data if y.weak else y.value.data.item()
        dx = np.zeros_like(x) if c == 0 else c * x if c == 2 else c * x ** (c - 1)
        return g * dx, None
    gx = g * np.where(y == 0, 0.0, y * x ** (y - 1))
    if isinstance(y.value, Const):
        return gx, None
    pos = x > 0
    return gx, g * np.where(pos, out * np.log(np.where(pos, x, 1.0)), 0.0)


def _minmax_vjp(g, x, y, out):
    """maximum/minimum/fmax/fmin: the gradient goes to the operand equal to the result; at ties
    it is split evenly (0.5 each), as JAX and PyTorch do. Where the result is NaN (maximum of a
    NaN) neither operand equals it and both get 0."""
    ex, ey = x == out, y == out
    half = g * 0.5
    return np.where(ex, np.where(ey, half, g), 0.0), np.where(ey, np.where(ex, half, g), 0.0)


# Arithmetic. Templates are Numba scalar expressions over {0}, {1}; see compiler/codegen.
add_p = elementwise("add", np.add, {"b": "({0} | {1})", "": "({0} + {1})"}, commutative=True,
    vjp=lambda g, x, y, out: (g, g))
sub_p = elementwise("sub", np.subtract, "({0} - {1})", dtypes=NUM,
    vjp=lambda g, x, y, out: (g, -g))
mul_p = elementwise("mul", np.multiply, {"b": "({0} & {1})", "": "({0} * {1})"}, commutative=True,
    vjp=lambda g, x, y, out: (g * y, g * x))
div_p = elementwise("div", np.true_divide, "({0} / {1})",
    vjp=lambda g, x, y, out: (g / y, -(g * out) / y))
# Dividing by a loop-invariant float64: a reciprocal, a product and an fma correction give the
# correctly rounded quotient (Markstein) at a fraction of a divide's cost; lanes out of the
# range where that holds are flagged by the guard and recomputed with `/` (fix-up loop).
div_p.extra["numba_invariant"] = (1, {"float64": ("ef_div_by_f64({0}, {1})",
                                                  "ef_div_by_bad_f64({0}, {1})")})
floordiv_p = elementwise("floordiv", np.floor_divide, {"f": "ef_floordiv_f({0}, {1})", "": "ef_floordiv_i({0}, {1})"}, dtypes=NUM)
mod_p = elementwise("mod", np.remainder, {"f": "ef_mod_f({0}, {1})", "": "ef_mod_i({0}, {1})"}, dtypes=NUM,
    vjp=lambda g, x, y, out: (g, -g * np.floor_divide(x, y)))
pow_p = elementwise("pow", np.power, {"f": "({0} ** {1})", "": "ef_pow_i({0}, {1})"}, dtypes=NUM, cost=MATH_COST,
    vjp=_pow_vjp)


def _pow_raises(node) -> bool:
    """Integers to a negative power raise ValueError; a constant exponent >= 0 cannot."""
    from ..ir.graph import Const
    y = node.inputs[1]
    if node.outputs[0].type.dtype.kind not in "iu":
        return False
    return not (isinstance(y, Const) and bool(np.all(np.asarray(y.data) >= 0)))


# whether a node's generated code can raise: such kernels never get threads
# (codegen.kernels.may_raise)
pow_p.extra["raises"] = _pow_raises
neg_p = elementwise("neg", np.negative, "(-{0})", dtypes=NUM,
    vjp=lambda g, x, out: (-g,))
pos_p = elementwise("pos", np.positive, "(+{0})", dtypes=NUM,
    vjp=lambda g, x, out: (g,))
abs_p = elementwise("abs", np.absolute, {"b": "{0}", "": "abs({0})"},
    vjp=lambda g, x, out: (g * np.sign(x),))
sign_p = elementwise("sign", np.sign, {"f": "ef_sign_f({0})", "": "((({0}) > 0) - (({0}) < 0))"}, dtypes=NUM)
sqrt_p = elementwise("sqrt", np.sqrt, "np.sqrt({0})", dtypes=NUM,   # sqrt(bool) is float16
    vjp=lambda g, x, out: (g / (2.0 * out),))
square_p = elementwise("square", np.square, {"b": "({0} & {0})", "": "({0} * {0})"},
    vjp=lambda g, x, out: (g * (2.0 * x),))
# integers: C's 1 / x truncates (0 for |x| >= 2); 1 / 0 is undefined in NumPy (0 or the type's
# minimum, by width) and 0 here
reciprocal_p = elementwise("reciprocal", np.reciprocal, {"f": "({t}(1) / {0})", "": "({t}(1) if {0} == 1 else ({t}(-1) if {0} == -1 else {t}(0)))"}, dtypes=FLOAT,
    vjp=lambda g, x, out: (-g * (out * out),))
maximum_p = elementwise("maximum", np.maximum, "ef_max({0}, {1})", commutative=True,
    vjp=_minmax_vjp)
minimum_p = elementwise("minimum", np.minimum, "ef_min({0}, {1})", commutative=True,
    vjp=_minmax_vjp)
fmax_p = elementwise("fmax", np.fmax, "ef_fmax({0}, {1})", commutative=True,
    vjp=_minmax_vjp)
fmin_p = elementwise("fmin", np.fmin, "ef_fmin({0}, {1})", commutative=True,
    vjp=_minmax_vjp)
copysign_p = elementwise("copysign", np.copysign, "np.copysign({0}, {1})", dtypes=FLOAT,
    vjp=lambda g, x, y, out: (np.where((x >= 0) == (out >= 0), g, -g), None))
hypot_p = elementwise("hypot", np.hypot, "np.hypot({0}, {1})", dtypes=FLOAT, commutative=True,
    vjp=lambda g, x, y, out: (g * x / out, g * y / out))
logaddexp_p = elementwise("logaddexp", np.logaddexp, "ef_logaddexp({0}, {1})", dtypes=FLOAT, cost=MATH_COST, commutative=True,

# Transcendental.
    vjp=lambda g, x, y, out: (g * np.exp(x - out), g * np.exp(y - out)))
exp_p = elementwise("exp", np.exp, "np.exp({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * out,))
exp2_p = elementwise("exp2", np.exp2, "np.exp2({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * out * _LN2,))
expm1_p = elementwise("expm1", np.expm1, "np.expm1({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * (out + 1.0),))
log_p = elementwise("log", np.log, "np.log({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / x,))
log2_p = elementwise("log2", np.log2, "np.log2({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / (x * _LN2),))
log10_p = elementwise("log10", np.log10, "np.log10({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / (x * _LN10),))
log1p_p = elementwise("log1p", np.log1p, "np.log1p({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / (x + 1.0),))
sin_p = elementwise("sin", np.sin, "np.sin({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * np.cos(x),))
cos_p = elementwise("cos", np.cos, "np.cos({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (-g * np.sin(x),))
tan_p = elementwise("tan", np.tan, "np.tan({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * (out * out + 1.0),))
arcsin_p = elementwise("arcsin", np.arcsin, "np.arcsin({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / np.sqrt(1.0 - x * x),))
arccos_p = elementwise("arccos", np.arccos, "np.arccos({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (-g / np.sqrt(1.0 - x * x),))
arctan_p = elementwise("arctan", np.arctan, "np.arctan({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / (x * x + 1.0),))
arctan2_p = elementwise("arctan2", np.arctan2, "np.arctan2({0}, {1})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, y, x, out: (g * x / (x * x + y * y), -g * y / (x * x + y * y)))
sinh_p = elementwise("sinh", np.sinh, "np.sinh({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * np.cosh(x),))
cosh_p = elementwise("cosh", np.cosh, "np.cosh({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * np.sinh(x),))
tanh_p = elementwise("tanh", np.tanh, "np.tanh({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g * (1.0 - out * out),))
arcsinh_p = elementwise("arcsinh", np.arcsinh, "np.arcsinh({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / np.sqrt(x * x + 1.0),))
arccosh_p = elementwise("arccosh", np.arccosh, "np.arccosh({0})", dtypes=FLOAT, cost=MATH_COST,
    vjp=lambda g, x, out: (g / np.sqrt(x * x - 1.0),))
arctanh_p = elementwise("arctanh", np.arctanh, "np.arctanh({0})", dtypes=FLOAT, cost=MATH_COST,

# Rounding.
    vjp=lambda g, x, out: (g / (1.0 - x * x),))
floor_p = elementwise("floor", np.floor, "np.floor({0})", dtypes=FLOAT)
ceil_p = elementwise("ceil", np.ceil, "np.ceil({0})", dtypes=FLOAT)
trunc_p = elementwise("trunc", np.trunc, "np.trunc({0})", dtypes=FLOAT)
rint_p = elementwise("rint", np.rint, "np.rint({0})", dtypes=FLOAT)

# Comparisons and logic.
eq_p = elementwise("eq", np.equal, "({0} == {1})", commutative=True)
ne_p = elementwise("ne", np.not_equal, "({0} != {1})", commutative=True)
lt_p = elementwise("lt", np.less, "({0} < {1})")
le_p = elementwise("le", np.less_equal, "({0} <= {1})")
gt_p = elementwise("gt", np.greater, "({0} > {1})")
ge_p = elementwise("ge", np.greater_equal, "({0} >= {1})")
logical_and_p = elementwise("logical_and", np.logical_and, "(({0} != 0) & ({1} != 0))", commutative=True)
logical_or_p = elementwise("logical_or", np.logical_or, "(({0} != 0) | ({1} != 0))", commutative=True)
logical_xor_p = elementwise("logical_xor", np.logical_xor, "(({0} != 0) != ({1} != 0))", commutative=True)
logical_not_p = elementwise("logical_not", np.logical_not, "({0} == 0)")
isnan_p = elementwise("isnan", np.isnan, {"f": "({0} != {0})", "": "False"})
isinf_p = elementwise("isinf", np.isinf, {"f": "np.isinf({0})", "": "False"})
isfinite_p = elementwise("isfinite", np.isfinite, {"f": "np.isfinite({0})", "": "True"})

# Bits (integers and bool).
BITS = ("bool",) + INT
bitwise_and_p = elementwise("bitwise_and", np.bitwise_and, "({0} & {1})", dtypes=BITS, commutative=True)
bitwise_or_p = elementwise("bitwise_or", np.bitwise_or, "({0} | {1})", dtypes=BITS, commutative=True)
bitwise_xor_p = elementwise("bitwise_xor", np.bitwise_xor, "({0} ^ {1})", dtypes=BITS, commutative=True)
invert_p = elementwise("invert", np.invert, {"b": "(not {0})", "": "(~{0})"}, dtypes=BITS)
left_shift_p = elementwise("left_shift", np.left_shift, "ef_lshift({0}, {1}, {bits})", dtypes=INT)
right_shift_p = elementwise("right_shift", np.right_shift, "ef_rshift({0}, {1}, {bits})", dtypes=INT)


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
    trace=_where_trace, emit={"numba": "({1} if {0} else {2})"},
    vjp=lambda g, c, x, y, out: (None, np.where(c, g, 0.0), np.where(c, 0.0, g)),
    extra={"zero_d": "array", "loop": lambda c, x, y, out: ("bool", out, out)},
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


def _clip_vjp(g, x, lo, hi, out):
    """As PyTorch's clamp: x gets the gradient wherever lo <= x <= hi, bounds included; lo where
    x < lo, hi where max(x, lo) > hi (so with lo > hi everything goes to hi, as the value does)."""
    to_hi = np.maximum(x, lo) > hi
    to_lo = (x < lo) & ~to_hi
    return (np.where(to_hi | to_lo, 0.0, g), np.where(to_lo, g, 0.0), np.where(to_hi, g, 0.0))


clip_p = register(OpDef(
    "clip", Kind.ELEMENTWISE, impl=_clip_impl, infer=_clip_infer, nin=3, dtypes=NUM,
    numpy=(np.clip,), trace=_clip_trace, emit={"numba": "ef_min(ef_max({0}, {1}), {2})"},
    vjp=_clip_vjp,
    extra={"loop": lambda x, lo, hi, out: (out, out, out)},
    doc="np.clip(x, lo, hi); a None bound traces to maximum/minimum"))


def _astype_infer(x: TensorType, *, dtype) -> TensorType:
    return TensorType(check_dtype(dtype), x.shape)


def _astype_impl(x, *, dtype):
    with np.errstate(all="ignore"):
        return np.asarray(x).astype(dtype)


astype_p = register(OpDef(
    "astype", Kind.ELEMENTWISE, impl=_astype_impl, infer=_astype_infer, nin=1, attrs=("dtype",),
    emit={"numba": "{0}"}, extra={"zero_d": "inherit", "loop": lambda x, out: (out,)},
    vjp=lambda g, x, out, *, dtype: (g,),   # the driver casts g back to x's dtype
    doc="x.astype(dtype): C-style casts as NumPy does them (float->int of NaN is undefined)"))
