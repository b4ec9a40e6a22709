"""Indexing: getitem (basic: ints, slices, None), gather (integer-array indices), setitem.

An index is stored as a static pattern: a tuple whose items are a non-negative int, a normalized
slice `(start, stop, step)`, None (a new axis), or "idx" for the next integer-array operand.
Ellipsis is expanded at trace time. Boolean masks are readable only through np.where; writing
`x[mask] = v` traces to where(mask, v, x).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import TensorType
from .registry import Kind, OpDef, register, stand_in

ALL = ("bool", "int32", "int64", "float32", "float64")


def build_index(pattern, arrays):
    it = iter(arrays)
    out = []
    for p in pattern:
        if p == "idx":
            out.append(next(it))
        elif isinstance(p, tuple):
            out.append(slice(*p))
        else:
            out.append(p)
    return tuple(out)


def _stand_in_index(pattern, types):
    return build_index(pattern, [np.zeros(t.shape, np.intp) for t in types])


def _getitem_infer(x: TensorType, *idx: TensorType, index) -> TensorType:
    for t in idx:
        if t.dtype.kind not in "iu":
            raise UnsupportedError(f"array indices must be integers, got {t.dtype}")
    shape = stand_in(x.strong())[_stand_in_index(index, idx)].shape
    return TensorType(x.dtype, shape)


def _getitem_impl(x, *idx, index):
    return np.array(np.asarray(x)[build_index(index, idx)])


def _setitem_infer(x: TensorType, v: TensorType, *idx: TensorType, index) -> TensorType:
    target = stand_in(x.strong())[_stand_in_index(index, idx)]
    try:
        np.broadcast_shapes(v.shape, np.shape(target))
    except ValueError:
        raise ShapeError(f"could not broadcast input array from shape {v.shape} into shape "
                         f"{np.shape(target)}") from None
    return x.strong()


def _setitem_impl(x, v, *idx, index):
    out = np.array(x, copy=True)
    with np.errstate(all="ignore"):
        out[build_index(index, idx)] = v
    return out


def _scatter_add_impl(x, v, *idx, index):
    out = np.array(x, copy=True)
    with np.errstate(all="ignore"):
        np.add.at(out, build_index(index, idx), v)
    return out


# Gradient rules. getitem's cotangent is scattered back into zeros: by setitem for basic indices
# (they select each element at most once), by scatter_add for gathers (an index may repeat, and
# every use adds). setitem: the overwritten part of x gets no gradient; v gets g at the written
# positions (summed over broadcasting by the driver; with repeated indices the last write wins in
# the value, but each repeat gets g: documented in docs/autodiff.md).

def _getitem_vjp(g, x, *idx_out, index):
    from ..tracer.context import apply
    idx = idx_out[:-1]
    zeros = np.zeros_like(x)
    if idx:
        return (apply("scatter_add", zeros, g, *idx, index=index),) + (None,) * len(idx)
    return (apply("setitem", zeros, g, index=index),)


def _setitem_vjp(g, x, v, *idx_out, index):
    from ..tracer.context import apply
    idx = idx_out[:-1]
    return (apply("setitem", g, 0, *idx, index=index),
            apply("getitem", g, *idx, index=index)) + (None,) * len(idx)


def _scatter_add_vjp(g, x, v, *idx_out, index):
    from ..tracer.context import apply
    idx = idx_out[:-1]
    return (g, apply("getitem", g, *idx, index=index)) + (None,) * len(idx)


register(OpDef("getitem", Kind.INDEX, impl=_getitem_impl, infer=_getitem_infer, attrs=("index",),
               dtypes=ALL, extra={"zero_d": "scalar"}, vjp=_getitem_vjp,
               doc="x[index] with ints, slices, None (and 'idx' integer arrays: gather)"))
register(OpDef("setitem", Kind.INDEX, impl=_setitem_impl, infer=_setitem_infer, attrs=("index",),
               dtypes=ALL, vjp=_setitem_vjp,
               doc="functional x[index] = v: a new array (values cast as NumPy casts)"))
register(OpDef("scatter_add", Kind.INDEX, impl=_scatter_add_impl, infer=_setitem_infer,
               attrs=("index",), dtypes=ALL, vjp=_scatter_add_vjp,
               doc="functional np.add.at(x, index, v): a new array; repeated indices add up "
                   "(the gradient of a gather)"))


def normalize_index(key, shape):
    """User index -> (pattern, index operands, mask or None). Raises for unsupported forms."""
    from ..tracer.tracer import Tracer
    if not isinstance(key, tuple):
        key = (key,)
    masks = [k for k in key if _is_bool_array(k)]
    if masks:
        if len(key) != 1:
            raise UnsupportedError("a boolean mask must be the only index")
        return None, [], key[0]
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > len(shape):
        raise ShapeError(f"too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {n_real} were indexed")
    if sum(k is Ellipsis for k in key) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    pattern, arrays, dim = [], [], 0
    for k in key:
        if k is Ellipsis:
            for _ in range(len(shape) - n_real):
                pattern.append((0, shape[dim], 1))
                dim += 1
        elif k is None:
            pattern.append(None)
        elif isinstance(k, slice):
            _static_slice(k)
            start, stop, step = (_static(v) for v in k.indices(shape[dim]))
            # slice.indices gives stop=-1 for "down to index 0": as a slice bound that would mean
            # the last element, so it is stored as None.
            pattern.append((start, None if stop < 0 else stop, step))
            dim += 1
        elif isinstance(k, (Tracer, np.ndarray, list)):
            arr = k if isinstance(k, Tracer) else np.asarray(k)
            if arr.dtype.kind not in "iu":
                raise UnsupportedError(f"array indices must be integers, got {arr.dtype}")
            pattern.append("idx")
            arrays.append(arr)
            dim += 1
        elif isinstance(k, (int, np.integer)):
            i = int(k)
            if not -shape[dim] <= i < shape[dim]:
                raise ShapeError(f"index {i} is out of bounds for axis {dim} with size {shape[dim]}")
            pattern.append(i % shape[dim])
            dim += 1
        else:
            raise UnsupportedError(f"unsupported index {k!r}")
    return tuple(pattern), arrays, None


def _static(v):
    return int(v)


def _static_slice(s):
    from ..tracer.tracer import Tracer
    for v in (s.start, s.stop, s.step):
        if isinstance(v, Tracer):
            v._concrete("the slice bound", "A traced bound gives a slice whose size is known "
                        "only at run time: pass the argument through static_argnames=(...), or "
                        "keep the shape with np.where(np.arange(len(x)) < n, x, 0)")
    return True


def _is_bool_array(k):
    from ..tracer.tracer import Tracer
    if isinstance(k, (Tracer, np.ndarray)):
        return k.dtype == np.bool_
    if isinstance(k, list) and k and all(isinstance(v, (bool, np.bool_)) for v in k):
        return True
    return False
