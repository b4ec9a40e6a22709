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


def _matmul_vjp(g, a, b, out):
    """ga = g @ b^T, gb = a^T @ g on the operands promoted to 2-d (a 1-d a is a row, a 1-d b a
    column, as matmul treats them); the driver sums batch axes that were broadcast. With a vector
    operand the products are written without transposes (g @ a rather than a^T @ g, an outer
    product as a broadcast multiply), so that BLAS reads the matrix in its own layout."""
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    if a.ndim == 2 and b.ndim == 1:                       # (n,k) @ (k,) -> (n,)
        return np.expand_dims(g, 1) * b, g @ a
    if a.ndim == 1 and b.ndim == 2:                       # (k,) @ (k,m) -> (m,)
        return b @ g, np.expand_dims(a, 1) * g
    a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
    b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = np.expand_dims(g2, g2.ndim - (b.ndim > 1))
    if b.ndim == 1:
        g2 = np.expand_dims(g2, g2.ndim)
    ga = g2 @ np.swapaxes(b2, -1, -2)
    gb = np.swapaxes(a2, -1, -2) @ g2
    if a.ndim == 1:
        ga = np.squeeze(ga, -2)
    if b.ndim == 1:
        gb = np.squeeze(gb, -1)
    return ga, gb


matmul_p = register(OpDef(
    "matmul", Kind.STRUCTURED, impl=_matmul_impl, infer=_matmul_infer, numpy=(np.matmul,), nin=2,
    vjp=_matmul_vjp,
    dtypes=("int32", "int64", "float32", "float64"), doc="np.matmul / the @ operator"))

register(OpDef("dot", Kind.COMPOSITE, impl=np.dot, numpy=(np.dot,), trace=_dot_trace, nin=2,
               dtypes=("int64", "float32", "float64"), doc="np.dot: lowered to matmul or mul"))
