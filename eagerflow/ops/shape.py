"""Shape ops: reshape, transpose, broadcast_to, concatenate; the rest of NumPy's shape functions
(expand_dims, squeeze, ravel, swapaxes, moveaxis, stack) lower to them."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, UnsupportedError
from ..ir.types import TensorType, check_dtype
from .registry import Kind, OpDef, broadcast_shapes, normalize_axis, register, stand_in

ALL = ("bool", "int32", "int64", "float32", "float64")


def _as(x):
    from ..tracer.tracer import as_tracer
    return as_tracer(x)


def _static_shape(shape, what="shape"):
    try:
        if isinstance(shape, (tuple, list)):
            return tuple(int(s.__index__()) for s in shape)
        return (int(shape.__index__()),)
    except AttributeError:
        raise UnsupportedError(f"{what} must be Python ints") from None


def resolve_reshape(old, new, size=None):
    size = int(np.prod(old)) if size is None else size
    new = list(new)
    if new.count(-1) > 1:
        raise ShapeError("can only specify one unknown dimension (-1) in reshape")
    if -1 in new:
        known = int(np.prod([d for d in new if d != -1]))
        if known == 0 or size % known:
            raise ShapeError(f"cannot reshape array of size {size} into shape {tuple(new)}")
        new[new.index(-1)] = size // known
    if int(np.prod(new)) != size or any(d < 0 for d in new):
        raise ShapeError(f"cannot reshape array of size {size} into shape {tuple(new)}")
    return tuple(new)


# reshape ------------------------------------------------------------------------------------------

def _reshape_trace(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise UnsupportedError("reshape supports order='C' only")
    x = _as(a)
    shape = _static_shape(shape if shape is not None else newshape)
    return x.apply("reshape", shape=resolve_reshape(x.shape, shape, x.size))


register(OpDef(
    "reshape", Kind.SHAPE, impl=lambda x, *, shape: np.reshape(x, shape),
    infer=lambda x, *, shape: TensorType(x.dtype, resolve_reshape(x.shape, shape, x.size),
                                         x.weak and not shape),   # weak only while 0-d
    numpy=(np.reshape,), trace=_reshape_trace, attrs=("shape",), nin=1, dtypes=ALL,
    extra={"zero_d": "inherit"}, vjp=lambda g, x, out, *, shape: (np.reshape(g, x.shape),),
    doc="np.reshape in C order; the shape attribute is fully resolved (no -1)"))


def _ravel_trace(a, order="C"):
    x = _as(a)
    return x.apply("reshape", shape=(x.size,)) if x.ndim != 1 else x


def _expand_dims_trace(a, axis):
    x = _as(a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = x.ndim + len(axes)
    axes = normalize_axis(axes, nd)
    shape, it = [], iter(x.shape)
    for i in range(nd):
        shape.append(1 if i in axes else next(it))
    return x.apply("reshape", shape=tuple(shape))


def _squeeze_trace(a, axis=None):
    x = _as(a)
    axes = normalize_axis(axis, x.ndim) if axis is not None else \
        tuple(i for i, s in enumerate(x.shape) if s == 1)
    if any(x.shape[i] != 1 for i in axes):
        raise ShapeError("cannot select an axis to squeeze out which has size not equal to one")
    return x.apply("reshape", shape=tuple(s for i, s in enumerate(x.shape) if i not in axes))


# transpose --------------------------------------------------------------------------------------

def _transpose_infer(x: TensorType, *, axes) -> TensorType:
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"axes {axes} don't match an array of dimension {x.ndim}")
    return x.with_shape(tuple(x.shape[a] for a in axes))


def _transpose_trace(a, axes=None):
    x = _as(a)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    else:
        axes = tuple(int(ax) % x.ndim if x.ndim else int(ax) for ax in axes)
    return x.apply("transpose", axes=axes)


register(OpDef(
    "transpose", Kind.SHAPE, impl=lambda x, *, axes: np.transpose(x, axes), infer=_transpose_infer,
    numpy=(np.transpose,), trace=_transpose_trace, attrs=("axes",), nin=1, dtypes=ALL,
    extra={"zero_d": "inherit"},
    vjp=lambda g, x, out, *, axes: (np.transpose(g, tuple(int(i) for i in np.argsort(axes))),),
    doc="np.transpose with an explicit permutation"))


def _swapaxes_trace(a, axis1, axis2):
    x = _as(a)
    (i,), (j,) = normalize_axis(axis1, x.ndim), normalize_axis(axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return x.apply("transpose", axes=tuple(perm))


def _moveaxis_trace(a, source, destination):
    x = _as(a)
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    src = [normalize_axis(s, x.ndim)[0] for s in src]
    dst = [normalize_axis(d, x.ndim)[0] for d in dst]
    if len(src) != len(dst):
        raise ShapeError("`source` and `destination` arguments must have the same number of elements")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return x.apply("transpose", axes=tuple(order))


# broadcast_to -------------------------------------------------------------------------------------

def _broadcast_to_infer(x: TensorType, *, shape) -> TensorType:
    if broadcast_shapes(x.shape, shape) != tuple(shape):
        raise ShapeError(f"cannot broadcast shape {x.shape} to {tuple(shape)}")
    return TensorType(x.dtype, tuple(shape), x.weak and not shape)


register(OpDef(
    "broadcast_to", Kind.SHAPE, impl=lambda x, *, shape: np.broadcast_to(x, shape).copy(),
    infer=_broadcast_to_infer, numpy=(np.broadcast_to,),
    trace=lambda a, shape, subok=False: _as(a).apply("broadcast_to", shape=_static_shape(shape)),
    attrs=("shape",), nin=1, dtypes=ALL, doc="np.broadcast_to (the result is a fresh array)",
    vjp=lambda g, x, out, *, shape: (g,)))   # the autodiff driver sums g over broadcast axes


# concatenate / stack -------------------------------------------------------------------------------

def _concat_infer(*xs: TensorType, axis) -> TensorType:
    first = xs[0]
    if any(x.ndim != first.ndim for x in xs) or first.ndim == 0:
        raise ShapeError("all the input arrays to concatenate must have the same number of "
                         "dimensions (at least 1)")
    for x in xs:
        if any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis):
            raise ShapeError(f"concatenate: shapes {[x.shape for x in xs]} differ off axis {axis}")
    dt = np.result_type(*[stand_in(x) if x.weak else x.dtype for x in xs])
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return TensorType(check_dtype(dt), tuple(shape))


def _concat_trace(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    from ..tracer.tracer import write_out
    xs = [_as(a) for a in arrays]
    if axis is None:
        xs, axis = [x.ravel() for x in xs], 0
    (ax,) = normalize_axis(axis, xs[0].ndim)
    r = xs[0].apply("concatenate", *xs[1:], axis=ax)
    return write_out(out, r.astype(dtype) if dtype is not None else r)


def _stack_trace(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    xs = [_as(a) for a in arrays]
    if len({x.shape for x in xs}) > 1:
        raise ShapeError("all input arrays to stack must have the same shape")
    (ax,) = normalize_axis(axis, xs[0].ndim + 1)
    return _concat_trace([_expand_dims_trace(x, ax) for x in xs], ax, out, dtype)


def _concat_vjp(g, *xs_out, axis):
    """Each input gets its slice of g along `axis`."""
    xs, cts, start = xs_out[:-1], [], 0
    for x in xs:
        key = (slice(None),) * axis + (slice(start, start + x.shape[axis]),)
        cts.append(g[key])
        start += x.shape[axis]
    return tuple(cts)


register(OpDef(
    "concatenate", Kind.SHAPE, impl=lambda *xs, axis: np.concatenate(xs, axis=axis),
    infer=_concat_infer, numpy=(np.concatenate,), trace=_concat_trace, attrs=("axis",),
    dtypes=ALL, extra={"fresh": True}, doc="np.concatenate along one axis (a fresh array)",
    vjp=_concat_vjp))

for _name, _fn, _tr in (("ravel", np.ravel, _ravel_trace), ("expand_dims", np.expand_dims,
                        _expand_dims_trace), ("squeeze", np.squeeze, _squeeze_trace),
                        ("swapaxes", np.swapaxes, _swapaxes_trace),
                        ("moveaxis", np.moveaxis, _moveaxis_trace), ("stack", np.stack, _stack_trace)):
    register(OpDef(_name, Kind.COMPOSITE, impl=_fn, numpy=(_fn,), trace=_tr, nin=1, dtypes=ALL,
                   doc=f"np.{_name}: lowered to reshape/transpose/concatenate"))
