"""Numba emitters for fused, shape, creation and indexing ops, installed into their registry
entries' `emit["numba"]` slot when the backend loads. Each raises _Fallback for the forms it does
not handle; the op then runs its NumPy implementation through objmode."""
from __future__ import annotations

from ...ops.registry import REGISTRY
from .emit import Emitter, cast, dtype_code
from .kernels import _Fallback, emit_elementwise, emit_matmul, emit_reduce, shape_tuple


def _fused_elementwise(em: Emitter, n):
    emit_elementwise(em, n, n.regions[0], n.attrs["shape"])


def _fused_reduce(em: Emitter, n):
    a = n.attrs
    emit_reduce(em, n, n.regions[0], a["shape"], a["axis"], a["keepdims"], a["reduce"])


def _sizes(em, shape):
    return shape_tuple([em.size(s) for s in shape])


def _reshape(em: Emitter, n):
    (x,), out = n.inputs, n.outputs[0]
    o = em.define(out)
    if x.type.ndim == 0 and out.type.ndim == 0:
        em.line(f"{o} = {em.ref(x)}")
    elif x.type.ndim == 0:
        em.line(f"{o} = np.full({_sizes(em, out.type.shape)}, {em.ref(x)})")
        em.fresh.add(out.id)
    elif out.type.ndim == 0:
        em.line(f"{o} = np.ascontiguousarray({em.ref(x)}).reshape(-1)[0]")
    else:
        em.line(f"{o} = np.ascontiguousarray({em.ref(x)}).reshape({_sizes(em, out.type.shape)})")


def _transpose(em: Emitter, n):
    (x,), out = n.inputs, n.outputs[0]
    o = em.define(out)
    axes = n.attrs["axes"]
    if list(axes) == sorted(axes):
        em.line(f"{o} = {em.ref(x)}")
    else:
        em.line(f"{o} = np.transpose({em.ref(x)}, {shape_tuple([str(a) for a in axes])})")


def _broadcast_to(em: Emitter, n):
    (x,), out = n.inputs, n.outputs[0]
    o = em.define(out)
    if out.type.ndim == 0:
        em.line(f"{o} = {em.ref(x)}")
    elif x.type.ndim == 0:
        em.line(f"{o} = np.full({_sizes(em, out.type.shape)}, {em.ref(x)})")
        em.fresh.add(out.id)
    else:
        em.line(f"{o} = np.broadcast_to({em.ref(x)}, {_sizes(em, out.type.shape)})")


def _concatenate(em: Emitter, n):
    out = n.outputs[0]
    dt = out.type.dtype
    parts = [em.ref(v) if v.type.dtype == dt else f"{em.ref(v)}.astype({dtype_code(dt)})"
             for v in n.inputs]
    if any(v.type.ndim == 0 for v in n.inputs):
        raise _Fallback()
    em.line(f"{em.define(out)} = np.concatenate(({', '.join(parts)},), axis={n.attrs['axis']})")
    em.fresh.add(out.id)


def _fill(em: Emitter, n):
    out = n.outputs[0]
    a = n.attrs
    val = em._extra("c", ("fill", repr(a["value"]), a["dtype"]), a["value"])
    dt = dtype_code(out.type.dtype)
    if out.type.ndim == 0:
        em.line(f"{em.define(out)} = {dt}({val})")
    else:
        em.line(f"{em.define(out)} = np.full({_sizes(em, out.type.shape)}, {dt}({val}), {dt})")
        em.fresh.add(out.id)


def _basic_index(em, pattern, shape):
    parts = []
    for p in pattern:
        if p is None or p == "idx":
            raise _Fallback()
        if isinstance(p, tuple):
            start, stop, step = p
            stop_s = "" if stop is None or stop < 0 else em.size(stop)
            parts.append(f"{em.size(start)}:{stop_s}:{em.size(step)}")
        else:
            parts.append(em.size(p))
    return ", ".join(parts)


def _getitem(em: Emitter, n):
    x, out = n.inputs[0], n.outputs[0]
    if len(n.inputs) > 1 or x.type.ndim == 0:
        raise _Fallback()
    idx = _basic_index(em, n.attrs["index"], x.type.shape)
    em.line(f"{em.define(out)} = {em.ref(x)}[{idx}]")


def _setitem(em: Emitter, n):
    x, v = n.inputs[:2]
    out = n.outputs[0]
    if len(n.inputs) > 2 or x.type.ndim == 0 or v.type.ndim != 0:
        raise _Fallback()
    idx = _basic_index(em, n.attrs["index"], x.type.shape)
    o = em.define(out)
    em.line(f"{o} = {em.ref(x)}.copy()")
    em.line(f"{o}[{idx}] = {cast(em.ref(v), v.type.dtype, x.type.dtype)}")
    em.fresh.add(out.id)


EMITTERS = {
    "fused.elementwise": _fused_elementwise,
    "fused.reduce": _fused_reduce,
    "fused.matmul": lambda em, n: emit_matmul(em, n, n.regions[0]),
    "matmul": lambda em, n: emit_matmul(em, n, None),
    "reshape": _reshape, "transpose": _transpose, "broadcast_to": _broadcast_to,
    "concatenate": _concatenate, "fill": _fill, "getitem": _getitem, "setitem": _setitem,
}


def install():
    from .control import extend_emitters; extend_emitters(EMITTERS)  # noqa: E702  cond/while/print
    for name, fn in EMITTERS.items():
        REGISTRY[name].emit["numba"] = fn
