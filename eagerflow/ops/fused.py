"""Fused ops, made by the fuse pass. Each carries one region: a scalar body over block arguments,
one per input (in the input's dtype, shape ()).

- `fused.elementwise {shape}`: the body runs at every index of `shape` (inputs broadcast to it);
  each yielded value is one output array of `shape`.
- `fused.reduce {shape, axis, keepdims, reduce}`: the body's first yielded value is reduced over
  `axis` of `shape` with the reduction op named by `reduce` (its registry entry); further yielded
  values are stored as full arrays of `shape` (softmax's exp: computed once, stored once).
- `fused.matmul`: inputs (a, b, *extras); the body gets the matmul result element first, then the
  extras (broadcast to the output), and yields the final element: a bias/activation epilogue.

The reference implementation runs the body on whole arrays (elementwise ops broadcast).
"""
from __future__ import annotations

import numpy as np

from ..errors import VerificationError
from ..ir.types import TensorType
from .reduction import reduced_shape
from .registry import REGISTRY, Kind, OpDef, register


def _run_region(region, arrays):
    from ..runtime.interpret import interpret
    return interpret(region, arrays)


def _region_types(regions):
    return [v.type for v in regions[0].results]


def _elementwise_infer(*types, regions, shape):
    return tuple(TensorType(t.dtype, tuple(shape)) for t in _region_types(regions))


def _elementwise_impl(*arrays, regions, shape):
    outs = _run_region(regions[0], arrays)
    return tuple(np.array(np.broadcast_to(o, shape)) for o in outs)


def _reduce_infer(*types, regions, shape, axis, keepdims, reduce):
    rtypes = _region_types(regions)
    op = REGISTRY[reduce]
    first = op.infer(TensorType(rtypes[0].dtype, tuple(shape)), axis=axis, keepdims=keepdims)
    return (first,) + tuple(TensorType(t.dtype, tuple(shape)) for t in rtypes[1:])


def _reduce_impl(*arrays, regions, shape, axis, keepdims, reduce):
    outs = [np.broadcast_to(o, shape) for o in _run_region(regions[0], arrays)]
    red = REGISTRY[reduce].impl(outs[0], axis=axis, keepdims=keepdims)
    return (red,) + tuple(np.array(o) for o in outs[1:])


def _matmul_infer(a, b, *extras, regions):
    t = REGISTRY["matmul"].infer(a, b)
    return (TensorType(_region_types(regions)[0].dtype, t.shape),)


def _matmul_impl(a, b, *extras, regions):
    m = REGISTRY["matmul"].impl(a, b)
    (out,) = _run_region(regions[0], [m, *extras])
    return (np.array(np.broadcast_to(out, m.shape)),)


def check_region(node):
    """Verifier hook: one block argument per input, scalar, in the input's dtype."""
    (region,) = node.regions
    ins = node.inputs if node.op != "fused.matmul" else (None,) + node.inputs[2:]
    if len(region.params) != len(ins):
        raise VerificationError(f"{node.op}: {len(region.params)} block arguments for "
                                f"{len(ins)} inputs", loc=node.loc)
    for p, v in zip(region.params, ins):
        if p.type.shape != () or (v is not None and p.type.dtype != v.type.dtype):
            raise VerificationError(f"{node.op}: block argument {p.type} does not match input "
                                    f"{v.type if v is not None else ''}", loc=node.loc)


for _name, _impl, _infer, _attrs in (
        ("fused.elementwise", _elementwise_impl, _elementwise_infer, ("shape",)),
        ("fused.reduce", _reduce_impl, _reduce_infer, ("shape", "axis", "keepdims", "reduce")),
        ("fused.matmul", _matmul_impl, _matmul_infer, ())):
    register(OpDef(_name, Kind.FUSED, impl=_impl, infer=_infer, attrs=_attrs, nout=-1,
                   extra={"check": check_region}, doc=_name))
