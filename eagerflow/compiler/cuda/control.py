"""Control flow on the cuda backend: `cond` and `while` run on the host (docs/gpu.md).

Both ops take a 0-d bool predicate, so there is no per-element choice to put inside a kernel
(per-element choice is `np.where`, an elementwise kernel). The host function therefore:

- `cond`: reads the predicate back (`ef_pred`: a one-element device-to-host copy, which waits
  for the kernels queued before it) and runs the chosen region as ordinary host code: the
  region's nodes go through the same emitters as the function's (kernels, row programs, host
  fallbacks, nested control flow).
- `while`: a host `while True:` loop; each iteration runs the condition region, reads its
  predicate back, then runs the body region. Carried values stay on the device: arrays as device
  arrays, 0-d values as one-element device arrays (a host scalar that starts a loop or leaves a
  branch is copied to the device once, so a carried value has one form throughout).

Device arrays are never written after the kernel that makes them, so a region may yield an
operand as it is and carried values need no copies; results of `cond`/`while` are not marked
fresh, so a function result that aliases an input is still copied at the end.
"""
from __future__ import annotations

from ...ir.graph import Graph, Node, Value
from .emit import CudaEmitter, _np, emit_nodes


def _device_ref(em: CudaEmitter, v: Value) -> str:
    """v as a device value: host scalars become one-element device arrays."""
    ref = em.ref(v)
    if em.rep_of(v) == "host":
        return f"ef_scalar_dev({ref}, {_np(v.type.dtype)})"
    return ref


def emit_region(em: CudaEmitter, region: Graph, names, reps) -> list[Value]:
    """Emit `region`'s nodes with its block arguments bound to host names of the given
    representations; returns its yielded values."""
    for p, n, r in zip(region.params, names, reps):
        em.names[p.id] = n
        em.rep[p.id] = r
    outer = em._results
    em._results = outer | {v.id for v in region.results}   # row programs store what is yielded
    try:
        emit_nodes(em, region)
    finally:
        em._results = outer
    return list(region.results)


def _assign(em: CudaEmitter, targets, values):
    if targets:
        em.line(f"{', '.join(targets)} = {', '.join(_device_ref(em, v) for v in values)}")


def _run_region(em: CudaEmitter, region: Graph, names, reps, targets):
    """One indented block: the region's code, then its yields assigned to `targets`."""
    em.indent += 1
    mark = len(em.lines)
    _assign(em, targets, emit_region(em, region, names, reps))
    if len(em.lines) == mark:
        em.line("pass")
    em.indent -= 1


def _define_outputs(em: CudaEmitter, node: Node, names):
    for n, v in zip(names, node.outputs):
        em.define(v, n)
        em.rep[v.id] = "dev" if v.type.ndim else "dev0"


def emit_cond(em: CudaEmitter, node: Node):
    pred, operands = node.inputs[0], node.inputs[1:]
    names = [em.ref(v) for v in operands]
    reps = [em.rep_of(v) for v in operands]
    outs = [em.tmp("r") for _ in node.outputs]
    em.line(f"if ef_pred({em.ref(pred)}):   # reads the predicate back (waits for the device)")
    _run_region(em, node.regions[0], names, reps, outs)
    em.line("else:")
    _run_region(em, node.regions[1], names, reps, outs)
    _define_outputs(em, node, outs)


def emit_while(em: CudaEmitter, node: Node):
    k = node.attrs["carried"]
    init, inv = node.inputs[:k], node.inputs[k:]
    cond_r, body_r = node.regions
    carried = [em.tmp("w") for _ in range(k)]
    _assign(em, carried, init)
    names = carried + [em.ref(v) for v in inv]
    reps = ["dev" if v.type.ndim else "dev0" for v in init] + [em.rep_of(v) for v in inv]
    em.line("while True:")
    em.indent += 1
    (c,) = emit_region(em, cond_r, names, reps)
    em.line(f"if not ef_pred({em.ref(c)}):   # reads the predicate back (waits for the device)")
    em.line("    break")
    em.indent -= 1
    _run_region(em, body_r, names, reps, carried)
    _define_outputs(em, node, carried)


__all__ = ["emit_cond", "emit_while", "emit_region"]
