"""Gradient rules for control flow (the `cond` entry in ops/control.py calls `cond_vjp`).

A region's backward is itself a region: `backward_region(region)` inlines the forward region on
fresh block arguments, seeds its results with cotangent block arguments and runs the same
reverse-mode driver (vjp.py) inside it. The gradient of `cond(p, *xs)` is then one more `cond`
on the same predicate whose branches are the two backward regions: only the branch that ran
forward is differentiated, as in JAX.
"""
from __future__ import annotations

from ..errors import user_location
from ..ir.graph import Const, Graph, Node
from ..ir.types import TensorType
from ..ops.registry import get
from ..tracer.context import TraceContext, apply, current, to_value
from ..tracer.tracer import Tracer
from .vjp import backward


def inline(region: Graph, args) -> list:
    """Append `region`'s nodes to the current trace on `args` (Values); -> its results."""
    env = {p.id: a for p, a in zip(region.params, args)}

    def read(v):
        return v if isinstance(v, Const) else env[v.id]

    ctx = current()
    for n in region.nodes:
        new = Node(n.op, [read(v) for v in n.inputs], n.attrs, [o.type for o in n.outputs],
                   n.loc, n.regions)
        ctx.nodes.append(new)
        env.update({o.id: no for o, no in zip(n.outputs, new.outputs)})
    return [read(v) for v in region.results]


def backward_region(region: Graph, ct_types, wrt: list[int]) -> Graph:
    """A region taking (region's params..., one cotangent per region result) and yielding the
    cotangents of the params at positions `wrt` (zeros where none reaches), strongly typed."""
    ctx = TraceContext("region")
    params = [ctx.new_param(p.type, None) for p in region.params]
    cts_in = [ctx.new_param(t, None) for t in ct_types]
    with ctx:
        outs = inline(region, params)
        seeds = {}
        for o, g in zip(outs, cts_in):
            if not isinstance(o, Const) and o.type.dtype.kind == "f":
                t = Tracer(g)
                seeds[o.id] = t if o.id not in seeds else seeds[o.id] + t
        grads = backward(list(ctx.nodes), seeds, [params[i] for i in wrt])
        res = []
        for i, gr in zip(wrt, grads):
            t = region.params[i].type
            res.append(gr.value if gr is not None else
                       apply("fill", value=0.0, shape=t.shape, dtype=str(t.dtype)).value)
    return Graph("region", ctx.params, ctx.nodes, res)


def emit(op: str, inputs, attrs, regions) -> tuple:
    """Append a node with regions to the current trace; -> its outputs as Tracers."""
    ctx = current()
    values = [to_value(x, ctx) for x in inputs]
    out_types = get(op).infer_types([v.type for v in values], attrs, regions)
    node = Node(op, values, attrs, out_types, loc=user_location(), regions=regions)
    ctx.nodes.append(node)
    return tuple(Tracer(o) for o in node.outputs)


def cond_vjp(g, pred, *operands_out, regions):
    operands = operands_out[:-1]
    gs = g if isinstance(g, tuple) else (g,)
    wrt = [i for i, x in enumerate(operands) if x.dtype.kind == "f"]
    if not wrt:
        return (None,) * (1 + len(operands))
    gs = [x if not x.weak else x.astype(x.dtype) for x in gs]
    types = [TensorType(x.dtype, x.shape) for x in gs]
    branches = tuple(backward_region(r, types, wrt) for r in regions)
    cts = emit("cond", [pred, *operands, *gs], {}, branches)
    out = [None] * len(operands)
    for i, c in zip(wrt, cts):
        out[i] = c
    return (None, *out)
