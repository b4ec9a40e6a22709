"""Reverse mode as a graph transformation.

`backward(nodes, seeds, wrt)` walks forward nodes in reverse and, for each node that lies on a
path from `wrt` to a seeded value, calls its registry entry's gradient rule (`OpDef.vjp`). Rules
are written with NumPy calls on Tracers, so they add ordinary nodes to the current trace: a
gradient graph is an ordinary graph that the verifier, the optimizer and every backend accept.

The driver owns three things so that rules stay one line:

- activity: a value is differentiated only if it is floating point and depends on a `wrt` value
  through differentiable ops (integer and bool values, constants, and the outputs of ops in
  NON_DIFFERENTIABLE carry no gradient);
- broadcasting: a rule may return a cotangent of the broadcast shape; the driver sums it over the
  broadcast axes back to the input's shape (`unbroadcast`) and casts it to the input's dtype;
- accumulation: a value used several times gets the sum of its cotangents.

    func @f(%x: f64[3]) -> f64[] {          grad_graph(f, wrt=[0]):
      %0 = sin(%x) : f64[3]                   %0 = sin(%x)        %1 = sum(%0)
      %1 = sum(%0) {axis=None} : f64[]        %2 = fill() {value=1.0}      # the seed
      return %1                               %3 = reshape(%2) ; %4 = broadcast_to(%3)
    }                                         %5 = cos(%x) ; %6 = mul(%4, %5)
                                              return %1, %6
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir.graph import Const, Graph, Value
from ..ops.registry import REGISTRY, Kind
from ..tracer.context import TraceContext, apply
from ..tracer.tracer import Tracer

# Ops whose outputs carry no gradient: their results are piecewise constant in their inputs
# (comparisons, rounding, sign, floor division), integer or boolean (bit ops, logic, argmax,
# any/all, isnan & co.), or they have no array inputs (fill). Gradients stop at them (zero), as
# JAX's and PyTorch's do for the same functions. An op that is neither here nor carries a `vjp`
# rule fails tests/autodiff/test_rules.py::test_every_op_has_a_gradient_rule.
NON_DIFFERENTIABLE = frozenset({
    "eq", "ne", "lt", "le", "gt", "ge",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "isnan", "isinf", "isfinite",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
    "floor", "ceil", "trunc", "rint", "sign", "floordiv",
    "argmax", "argmin", "any", "all",
    "fill",
    "print", "assign_variable",   # effects: no outputs / an identity whose output is only a result
    "check",   # guards an integer (a range step): nothing to differentiate
})

# Kinds that never reach the driver: composite entries lower to other ops while tracing, fused
# ops are made by the optimizer (autodiff runs on the traced graph, before optimization).
NOT_IN_TRACED_GRAPHS = (Kind.COMPOSITE, Kind.FUSED)


def is_float(v: Value) -> bool:
    return v.type.dtype.kind == "f"


def unbroadcast(ct: Tracer, shape: tuple) -> Tracer:
    """Sum `ct` over the axes along which a value of `shape` was broadcast to ct's shape."""
    shape = tuple(shape)
    if ct.shape == shape:
        return ct
    lead = ct.ndim - len(shape)
    if lead < 0 or any(s not in (1, c) for s, c in zip(shape, ct.shape[lead:])):
        return apply("broadcast_to", ct, shape=shape)   # a rule gave a smaller (broadcastable) ct
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and ct.shape[lead + i] != 1)
    if axes:
        ct = apply("sum", ct, axis=axes, keepdims=False)
    if ct.shape != shape:
        ct = apply("reshape", ct, shape=shape)
    return ct


def _broadcastable(ct: Tracer, shape) -> bool:
    lead = len(shape) - ct.ndim
    return lead >= 0 and all(c in (1, s) for c, s in zip(ct.shape, shape[lead:]))


def _fit(ct, v: Value, out_shape=None) -> Tracer:
    """A rule's cotangent for input `v`, with v's (strong) dtype and v's shape — or a shape that
    broadcasts to it: such a cotangent stays small (a sum's scalar g is not materialized as an
    array) until a rule that is not elementwise, or the caller, needs the full shape. For an
    elementwise node (`out_shape` given) a small cotangent stands for its broadcast to the output's
    shape, so for an input that was broadcast it is expanded before being summed back."""
    if not isinstance(ct, Tracer):
        ct = Tracer(Const(np.asarray(ct, dtype=v.type.dtype)))
    if out_shape is not None and v.type.shape != out_shape and ct.shape != out_shape:
        ct = apply("broadcast_to", ct, shape=out_shape)
    if not _broadcastable(ct, v.type.shape):
        ct = unbroadcast(ct, v.type.shape)
    if ct.dtype != v.type.dtype or ct.weak:
        ct = apply("astype", ct, dtype=str(v.type.dtype))
    return ct


def _add(a: Tracer | None, b: Tracer) -> Tracer:
    return b if a is None else apply("add", a, b)


def _zeros(v: Value) -> Tracer:
    return apply("fill", value=0.0, shape=v.type.shape, dtype=str(v.type.dtype))


def active_values(nodes, wrt) -> set[int]:
    """Ids of the values that depend differentiably on `wrt`."""
    active = {v.id for v in wrt if is_float(v)}
    for node in nodes:
        if node.op in NON_DIFFERENTIABLE or not any(v.id in active for v in node.inputs):
            continue
        active.update(o.id for o in node.outputs if is_float(o))
    return active


def backward(nodes, seeds: dict[int, Tracer], wrt) -> list[Tracer | None]:
    """Cotangents of `wrt` (None where no gradient reaches), given cotangents `seeds` (value id ->
    Tracer) of some values that `nodes` compute. Builds nodes in the current trace context."""
    active = active_values(nodes, wrt)
    cts: dict[int, Tracer] = {k: v for k, v in seeds.items() if k in active}
    for node in reversed(nodes):
        outs = [cts.pop(o.id, None) for o in node.outputs]
        if all(c is None for c in outs) or not any(v.id in active for v in node.inputs):
            continue
        ew = REGISTRY[node.op].kind is Kind.ELEMENTWISE
        for v, ct in zip(node.inputs, _call_rule(node, outs)):
            if ct is not None and v.id in active:
                ct = _fit(ct, v, node.outputs[0].type.shape if ew else None)
                cts[v.id] = _add(cts.get(v.id), ct)
    return [_full(cts.get(v.id), v) for v in wrt]


def _full(ct: Tracer | None, v: Value) -> Tracer | None:
    if ct is None or ct.shape == v.type.shape:
        return ct
    return apply("broadcast_to", ct, shape=v.type.shape)


def _call_rule(node, outs):
    op = REGISTRY[node.op]
    if op.vjp is None and node.op == "while":
        raise UnsupportedError(
            "gradients through a while loop (ef.while_loop, ef.fori_loop, autograph loops on "
            "traced values) are not implemented yet; see docs/autodiff.md, 'Control flow'. A loop "
            "whose body takes a gradient is fine", loc=node.loc)
    if op.vjp is None:
        raise UnsupportedError(
            f"op {node.op!r} has no gradient rule (OpDef.vjp) and is not in NON_DIFFERENTIABLE; "
            "add a rule to its registry entry", loc=node.loc)
    if op.kind is not Kind.ELEMENTWISE:   # elementwise rules broadcast a small g themselves
        outs = [_full(c, o) for c, o in zip(outs, node.outputs)]
    ins = [Tracer(v) for v in node.inputs]
    out_tr = [Tracer(o) for o in node.outputs]
    if len(node.outputs) == 1:
        g, out = (outs[0] if outs[0] is not None else _zeros(node.outputs[0])), out_tr[0]
    else:
        g = tuple(c if c is not None else _zeros(o) for c, o in zip(outs, node.outputs))
        out = tuple(out_tr)
    kw = dict(node.attrs)
    if node.regions:
        kw["regions"] = node.regions
    cts = op.vjp(g, *ins, out, **kw)
    if len(cts) != len(node.inputs):
        raise AssertionError(f"vjp of {node.op} returned {len(cts)} cotangents for "
                             f"{len(node.inputs)} inputs")
    return cts


def grad_graph(graph: Graph, wrt=(0,), result=0) -> Graph:
    """The graph computing `graph`'s results followed by the gradient of result `result` (a float
    scalar) with respect to the parameters at positions `wrt` (zeros where none reaches)."""
    out = graph.results[result]
    if out.type.shape != () or not is_float(out):
        raise TypeError(f"grad_graph needs a float scalar result, got {out.type}")
    ctx = TraceContext(graph.name + "_grad")
    ctx.params = list(graph.params)
    ctx.nodes = list(graph.nodes)
    params = [graph.params[i] for i in wrt]
    with ctx:
        seed = apply("fill", value=1.0, shape=(), dtype=str(out.type.dtype))
        grads = backward(list(graph.nodes), {out.id: seed}, params)
        grads = [g.value if g is not None else _zeros(p).value for g, p in zip(grads, params)]
    g = Graph(ctx.name, ctx.params, ctx.nodes, list(graph.results) + grads)
    g.meta["n_outputs"] = len(g.results)
    return g
