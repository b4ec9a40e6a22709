"""matmul (the `@` operator, np.matmul, and np.dot for arrays up to 2-d)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import TensorType, check_dtype
from .registry import Kind, OpDef, broadcast_shapes, register, stand_in


def _matmul_infer(a: TensorType, b: TensorType) -> TensorType:
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError("matmul: input operand does not have enough dimensions (use * for scalars)")
    sa = (1,) + a.shape if a.ndim == 1 else a.shape
    sb = b.shape + (1,) if b.ndim == 1 else b.shape
    if sa[-1] != sb[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"({sa[-1]} != {sb[-2]})")
    batch = broadcast_shapes(sa[:-2], sb[:-2])
    shape = batch + (sa[-2],) * (a.ndim > 1) + (sb[-1],) * (b.ndim > 1)
    dt = np.result_type(stand_in(a) if a.weak else a.dtype, stand_in(b) if b.weak else b.dtype)
    if dt.kind == "b":
        dt = np.dtype(np.bool_)
    return TensorType(check_dtype(dt), shape)


def _matmul_impl(a, b):
    with np.errstate(all="ignore"):
        return np.matmul(a, b)


def _dot_trace(a, b, out=None):
    from ..tracer.tracer import as_tracer, write_out
    x, y = as_tracer(a), as_tracer(b)
    if x.ndim == 0 or y.ndim == 0:
        return write_out(out, x * y)
    if x.ndim > 2 or y.ndim > 2:
        raise UnsupportedError("np.dot of arrays with more than 2 dimensions is not supported; "
                               "use np.matmul (@) or np.tensordot-free reshapes")
    return write_out(out, x.apply("matmul", y))


matmul_p = register(OpDef(
    "matmul", Kind.STRUCTURED, impl=_matmul_impl, infer=_matmul_infer, numpy=(np.matmul,), nin=2,
    dtypes=("int32", "int64", "float32", "float64"), doc="np.matmul / the @ operator"))

register(OpDef("dot", Kind.COMPOSITE, impl=np.dot, numpy=(np.dot,), trace=_dot_trace, nin=2,
               dtypes=("int64", "float32", "float64"), doc="np.dot: lowered to matmul or mul"))
