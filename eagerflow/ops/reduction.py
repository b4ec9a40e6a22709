"""Reductions: sum, prod, max, min, any, all, argmax, argmin; mean/var/std lower to them.

Attributes: `axis` is None (every axis) or a sorted tuple of non-negative ints; `keepdims`.
`extra` records each reduction's identity and combine, which the code generator reads.
"""
from __future__ import annotations

import numpy as np

from ..errors import AxisError, ShapeError, UnsupportedError
from ..ir.types import TensorType, check_dtype
from .registry import Kind, OpDef, normalize_axis, register

NUM = ("int32", "int64", "float32", "float64")
ALL = ("bool",) + NUM


def reduced_shape(shape, axis, keepdims):
    axes = range(len(shape)) if axis is None else axis
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _reduction_infer(ufunc_reduce, needs_identity):
    def infer(x: TensorType, *, axis, keepdims) -> TensorType:
        axes = range(x.ndim) if axis is None else axis
        if needs_identity and any(x.shape[a] == 0 for a in axes) and x.size == 0:
            raise ShapeError("zero-size array to a reduction that has no identity; "
                             "use np.where or an initial value")
        dt = np.asarray(ufunc_reduce(np.zeros((1,), x.dtype))).dtype
        return TensorType(check_dtype(dt), reduced_shape(x.shape, axis, keepdims))
    return infer


def _impl(fn):
    def impl(x, *, axis, keepdims):
        with np.errstate(all="ignore"):
            return fn(x, axis=axis, keepdims=keepdims)
    return impl


def reduce_axes(axis, ndim, allow_tuple=True, legacy_0d=True):
    """normalize_axis for reductions. A 0-d array: NumPy's ufunc reductions (sum, max, any,
    argmax, ...) accept the int axis 0 or -1 and reduce over nothing (legacy_0d); mean/var/std,
    a tuple naming an axis, or any other axis raise, as NumPy's AxisError does."""
    if ndim or axis is None:
        return normalize_axis(axis, ndim, allow_tuple=allow_tuple)
    if isinstance(axis, (tuple, list)) and allow_tuple and not axis:
        return ()
    if legacy_0d and not isinstance(axis, (tuple, list)) and axis in (0, -1):
        return () if allow_tuple else None
    raise AxisError(f"axis {axis!r} is out of bounds for an array of dimension 0")


def _trace(opname, extra_kw=()):
    def trace(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        from ..tracer.tracer import as_tracer, write_out
        bad = {k: v for k, v in kw.items() if k not in extra_kw and v is not None
               and not (k == "where" and v is True)}
        if bad:
            raise UnsupportedError(f"np.{opname}: argument(s) {', '.join(bad)} not supported")
        x = as_tracer(a)
        if dtype is not None:
            x = x.astype(dtype)
        r = x.apply(opname, axis=reduce_axes(axis, x.ndim), keepdims=bool(keepdims))
        if dtype is not None and r.dtype != np.dtype(dtype):
            # the reduction widened small ints and bools (to int64): NumPy accumulates in
            # `dtype`, and the wrapped sum or product is the wide one cast back (modular
            # arithmetic; a bool sum is "any", a bool product "all")
            r = r.astype(dtype)
        return write_out(out, r)
    return trace


def reduction(name, fn, identity, combine, *, block=None, dtypes=ALL, numpy=(),
              needs_identity=False, vjp=None):
    """`combine` is the code generators' scalar step ({a}: accumulator, {x}: element);
    `block` names the vectorized block helper for float accumulation (compiler/rt.py)."""
    return register(OpDef(
        name, Kind.REDUCTION, impl=_impl(fn), infer=_reduction_infer(fn, needs_identity),
        numpy=numpy, trace=_trace(name), attrs=("axis", "keepdims"), nin=1, dtypes=dtypes,
        extra={"identity": identity, "combine": combine, "block": block}, vjp=vjp,
        doc=f"np.{fn.__name__}(x, axis, keepdims)"))


# Gradient rules: a reduced value (g or out) is reshaped to the keepdims shape and broadcast back
# over the reduced axes.

def _keep(t, x, axis, keepdims):
    """t (a reduction's result or cotangent) with the reduced axes kept as size-1 axes."""
    shape = reduced_shape(x.shape, axis, True)
    return t if keepdims or t.shape == shape else t.reshape(shape)


def _sum_vjp(g, x, out, *, axis, keepdims):
    # g with size-1 reduced axes: the autodiff driver broadcasts it only where a full-shape
    # cotangent is needed, so elementwise consumers read it as a scalar/row in their fused loop
    return (_keep(g, x, axis, keepdims),)


def _prod_vjp(g, x, out, *, axis, keepdims):
    """The product of the other elements, exact with zeros: no zero -> prod/x; one zero -> the
    product of the rest at the zero, 0 elsewhere; two or more zeros -> 0."""
    zero = x == 0
    rest = np.prod(np.where(zero, 1.0, x), axis=axis, keepdims=True).astype(x.dtype)
    nzero = np.sum(zero, axis=axis, keepdims=True)
    others = np.where(nzero == 0, rest / np.where(zero, 1.0, x),
                      np.where(zero & (nzero == 1), rest, 0.0))
    return (_keep(g, x, axis, keepdims) * others,)


def _minmax_vjp(g, x, out, *, axis, keepdims):
    """max/min: the gradient is split evenly among the elements equal to the result (ties), as
    JAX does and PyTorch's amax/amin do."""
    hit = x == _keep(out, x, axis, keepdims)
    count = np.sum(hit, axis=axis, keepdims=True).astype(x.dtype)
    return (np.where(hit, _keep(g, x, axis, keepdims) / count, 0.0),)


sum_p = reduction("sum", np.sum, 0, "({a} + {x})", block="ef_sum_block", numpy=(np.sum,),
                  vjp=_sum_vjp)
prod_p = reduction("prod", np.prod, 1, "({a} * {x})", block="ef_prod_block", numpy=(np.prod,),
                   vjp=_prod_vjp)
max_p = reduction("max", np.max, "-inf", "ef_max({a}, {x})", block="ef_max_block",
                  numpy=(np.max, np.amax), needs_identity=True, vjp=_minmax_vjp)
min_p = reduction("min", np.min, "+inf", "ef_min({a}, {x})", block="ef_min_block",
                  numpy=(np.min, np.amin), needs_identity=True, vjp=_minmax_vjp)
any_p = reduction("any", np.any, False, "({a} | ({x} != 0))", numpy=(np.any,))
all_p = reduction("all", np.all, True, "({a} & ({x} != 0))", numpy=(np.all,))


# argmax/argmin: a single axis (int) or None; NaN wins (the first NaN's index), as in NumPy.

def _arg_infer(x: TensorType, *, axis, keepdims) -> TensorType:
    if x.size == 0 if axis is None else x.shape[axis[0]] == 0:
        raise ShapeError("attempt to get argmax/argmin of an empty sequence")
    if axis is None:
        shape = (1,) * x.ndim if keepdims else ()
    else:
        shape = reduced_shape(x.shape, axis, keepdims)
    return TensorType(np.dtype(np.int64), shape)


def _arg_impl(fn):
    def impl(x, *, axis, keepdims):
        return np.asarray(fn(x, axis=None if axis is None else axis[0], keepdims=keepdims))
    return impl


def _arg_trace(name):
    def trace(a, axis=None, out=None, *, keepdims=False):
        from ..tracer.tracer import as_tracer, write_out
        x = as_tracer(a)
        r = x.apply(name, axis=reduce_axes(axis, x.ndim, allow_tuple=False),
                    keepdims=bool(keepdims))
        return write_out(out, r)
    return trace


for _name, _fn, _start, _better in (("argmax", np.argmax, "-inf", ">"),
                                    ("argmin", np.argmin, "+inf", "<")):
    register(OpDef(_name, Kind.REDUCTION, impl=_arg_impl(_fn), infer=_arg_infer, numpy=(_fn,),
                   trace=_arg_trace(_name), attrs=("axis", "keepdims"), nin=1, dtypes=NUM,
                   extra={"identity": None, "index": True, "identity_value": _start,
                          "better": _better},
                   doc=f"np.{_name}(x, axis, keepdims)"))


# mean, var, std: composite, lowered exactly as NumPy computes them (numpy/_core/_methods.py), so
# results agree to rounding: sum in the accumulation dtype, then a true division by the count.

def _count(x, axis) -> int:
    axes = range(x.ndim) if axis is None else axis
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def _acc(x, dtype):
    if dtype is not None:
        return x.astype(dtype)
    return x.astype(np.float64) if x.dtype.kind in "biu" else x


def _mean_trace(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
    from ..tracer.tracer import as_tracer, write_out
    x = as_tracer(a)
    ax = reduce_axes(axis, x.ndim, legacy_0d=False)
    s = _acc(x, dtype).apply("sum", axis=ax, keepdims=bool(keepdims))
    return write_out(out, s / _count(x, ax))


def _var_lowering(a, axis, dtype, ddof, keepdims):
    from ..tracer.tracer import as_tracer
    x = as_tracer(a)
    ax = reduce_axes(axis, x.ndim, legacy_0d=False)
    n = _count(x, ax)
    xa = _acc(x, dtype)
    mean = xa.apply("sum", axis=ax, keepdims=True) / n
    d = xa - mean
    ss = (d * d).apply("sum", axis=ax, keepdims=bool(keepdims))
    return ss / max(n - ddof, 0)


def _var_trace(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    from ..tracer.tracer import write_out
    return write_out(out, _var_lowering(a, axis, dtype, ddof, keepdims))


def _std_trace(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kw):
    from ..tracer.tracer import write_out
    return write_out(out, np.sqrt(_var_lowering(a, axis, dtype, ddof, keepdims)))


for _name, _fn, _tr in (("mean", np.mean, _mean_trace), ("var", np.var, _var_trace),
                        ("std", np.std, _std_trace)):
    register(OpDef(_name, Kind.COMPOSITE, impl=_fn, numpy=(_fn,), trace=_tr, nin=1, dtypes=NUM,
                   doc=f"np.{_name}: lowered to sum, elementwise ops and a division"))
