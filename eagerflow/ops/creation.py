"""Creation: `fill` makes an array from attributes alone. np.zeros_like & co. and creation calls
with `like=` (NEP 35) trace to it; np.zeros(n) without `like=` does not dispatch and is a constant."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir.types import TensorType, check_dtype
from .registry import Kind, OpDef, register


def _fill_infer(*, value, shape, dtype) -> TensorType:
    return TensorType(check_dtype(dtype), tuple(shape))


def _fill_impl(*, value, shape, dtype):
    return np.full(shape, value, dtype=dtype)


register(OpDef("fill", Kind.CREATION, impl=_fill_impl, infer=_fill_infer, nin=0,
               attrs=("value", "shape", "dtype"), doc="np.full(shape, value, dtype)"))


def _shape_arg(shape):
    from .shape import _static_shape
    return _static_shape(shape)


def fill_like(proto, value, dtype=None, shape=None):
    """A `fill` node shaped like `proto`, or a broadcast of a traced fill value."""
    from ..tracer.tracer import Tracer, current_apply
    dt = check_dtype(dtype if dtype is not None else proto.dtype)
    shp = proto.shape if shape is None else _shape_arg(shape)
    if isinstance(value, Tracer):
        return value.astype(dt).apply("broadcast_to", shape=shp)
    with np.errstate(all="ignore"):
        v = np.array(value).astype(dt).item()
    return current_apply("fill", value=v, shape=shp, dtype=str(dt))


def _like(value):
    def trace(a, dtype=None, order="K", subok=True, shape=None, **kw):
        from ..tracer.tracer import as_tracer
        return fill_like(as_tracer(a), value, dtype, shape)
    return trace


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **kw):
    from ..tracer.tracer import as_tracer
    return fill_like(as_tracer(a), fill_value, dtype, shape)


def _creation_like(value_of):
    """np.zeros(shape, dtype, like=tracer) and friends (NEP 35)."""
    def trace(shape, *args, dtype=None, like=None, **kw):
        from ..tracer.tracer import as_tracer
        value, dtype = value_of(args, dtype)
        return fill_like(as_tracer(like), value, dtype if dtype is not None else np.float64, shape)
    return trace


def _full_args(args, dtype):
    value = args[0] if args else 0
    if len(args) > 1:
        dtype = args[1]
    if dtype is None:
        dtype = np.asarray(value).dtype if not hasattr(value, "dtype") else value.dtype
    return value, dtype


for _name, _fn, _tr in (
        ("zeros_like", np.zeros_like, _like(0)), ("ones_like", np.ones_like, _like(1)),
        ("empty_like", np.empty_like, _like(0)), ("full_like", np.full_like, _full_like),
        ("zeros", np.zeros, _creation_like(lambda a, d: (0, a[0] if a else d))),
        ("ones", np.ones, _creation_like(lambda a, d: (1, a[0] if a else d))),
        ("empty", np.empty, _creation_like(lambda a, d: (0, a[0] if a else d))),
        ("full", np.full, _creation_like(_full_args))):
    register(OpDef(_name, Kind.COMPOSITE, impl=_fn, numpy=(_fn,), trace=_tr, nin=1,
                   extra={"like": not _name.endswith("_like")},
                   doc=f"np.{_name}: traces to fill (empty_like fills with zeros)"))
