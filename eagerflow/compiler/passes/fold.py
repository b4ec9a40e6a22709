"""Constant folding through the registry's reference implementations (`OpDef.impl`).

Invariant: afterwards no pure, region-free node whose inputs are all constants computes a result
of at most FOLD_LIMIT elements: such results are `Const`s, computed exactly as the interpreter
computes them (same impl, same cast to the node's declared dtype), with the node's exact type,
weak bit included (a weak result stays a bare Python scalar). Larger results are never baked into
the graph: a result that is one value repeated (a uniform array) becomes a `fill` node, and
anything else keeps its node. `fill` nodes are constants too: a small one becomes a `Const`, and a
large one still folds into the elementwise ops and single-input shape ops it feeds, which compute
on its one value (elementwise ops are elementwise, so one element tells all of them).

A node whose impl raises (a weak int that overflows the dtype it meets, for instance) is left
alone, so the error still happens at call time, as in eager NumPy.

    %0 = add(1.0:f64, 2.0:f64) : f64[]              ->    %0 = mul(%x, 3.0:f64) : f64[4]
    %1 = mul(%x, %0) : f64[4]                             return %0
    return %1
    %0 = fill() {dtype='float64', shape=(100,), value=1.0}   ->   %0 = fill() {..., value=3.0}
    %1 = add(%0, 2.0) : f64[100]                                  return %0
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Const, Graph, Node
from ...ir.printer import format_literal
from ...ir.types import DTYPE_SHORT
from ...ops.registry import REGISTRY, Kind
from ._util import Subst, describe, map_regions, value_names, with_inputs

FOLD_LIMIT = 64          # results with more elements are not baked into the graph
_FOLDABLE = (Kind.ELEMENTWISE, Kind.REDUCTION, Kind.SHAPE, Kind.INDEX, Kind.STRUCTURED,
             Kind.CREATION)


def _cast(x, t):
    a = np.asarray(x)
    if a.dtype != t.dtype:
        with np.errstate(all="ignore"):
            a = a.astype(t.dtype)
    return a


def _uniform(a: np.ndarray):
    """The one value of a non-empty array whose elements are bit-identical, else None."""
    a = np.ascontiguousarray(a)
    if a.size == 0:
        return None
    flat = a.reshape(-1)
    bits = flat.view(np.dtype(f"u{a.dtype.itemsize}"))
    return np.array(flat[0]) if bool(np.all(bits == bits[0])) else None


def _scalar_of(v, fills):
    """A stand-in for the one value of a uniform constant `v` (weak: the Python scalar)."""
    if isinstance(v, Const):
        if v.type.weak:
            return v.data
        return _uniform(v.data)
    return fills.get(v.id)


def _fill_node(value: np.ndarray, out, loc) -> Node:
    node = Node("fill", (), {"value": value.item(), "shape": out.type.shape,
                             "dtype": str(out.type.dtype)}, [out.type], loc)
    node.outputs = (out,)        # keep the Value, so its users need no rewrite
    return node


def fold_constants(graph: Graph) -> tuple[Graph, list[str]]:
    names = None
    subst = Subst()
    fills: dict[int, np.ndarray] = {}    # id of a large uniform value -> its one value (0-d)
    nodes, changes = [], []

    def note(node, what):
        nonlocal names
        names = names or value_names(graph)
        changes.append(f"fold: {describe(node, names)} -> {what}")

    pending, k = list(graph.nodes), 0
    while k < len(pending):
        node, k = pending[k], k + 1
        regions, ch = map_regions(node, fold_constants)
        changes += ch
        node = with_inputs(node, [subst(v) for v in node.inputs], regions)
        if node.op == "cond" and isinstance(node.inputs[0], Const):
            # a constant predicate: the chosen region's nodes take the cond's place
            region = node.regions[0 if bool(node.inputs[0].data) else 1]
            for p, v in zip(region.params, node.inputs[1:]):
                subst[p] = v
            for o, r in zip(node.outputs, region.results):
                subst[o] = r
            pending[k:k] = region.nodes
            note(node, "then region" if bool(node.inputs[0].data) else "else region")
            continue
        op = REGISTRY.get(node.op)
        if op is None or not op.pure or node.regions or op.impl is None or \
                op.kind not in _FOLDABLE or len(node.outputs) != 1:
            nodes.append(node)
            continue
        out = node.output
        small = out.type.size <= FOLD_LIMIT
        if all(isinstance(v, Const) for v in node.inputs) and small:
            try:
                with np.errstate(all="ignore"):
                    res = _cast(op.impl(*[v.data for v in node.inputs], **node.attrs), out.type)
            except Exception:     # noqa: BLE001 - the error belongs to run time
                nodes.append(node)
                continue
            if res.shape != out.type.shape:
                nodes.append(node)
                continue
            c = Const(res, out.type)
            subst[out] = c
            note(node, "const" if out.type.ndim else format_literal(
                c.data if out.type.weak else c.data.item()) + ("" if out.type.weak else
                                                               ":" + DTYPE_SHORT[out.type.dtype]))
            continue
        # Large results: only uniform ones fold, into a fill.
        value = None
        if op.kind is Kind.CREATION and not node.inputs:
            value = _uniform(_cast(op.impl(**{**node.attrs, "shape": ()}), out.type))
            if value is not None:
                fills[out.id] = value
            nodes.append(node)
            continue
        scalars = [_scalar_of(v, fills) for v in node.inputs]
        if node.inputs and all(s is not None for s in scalars) and out.type.size > 0:
            if op.kind is Kind.ELEMENTWISE:
                try:
                    with np.errstate(all="ignore"):
                        value = _cast(op.impl(*scalars, **node.attrs), out.type)
                except Exception:  # noqa: BLE001
                    value = None
            elif op.kind is Kind.SHAPE and len(node.inputs) == 1:
                value = _cast(scalars[0], out.type)
        if value is None or value.ndim != 0:
            nodes.append(node)
            continue
        fills[out.id] = value
        new = _fill_node(value, out, node.loc)
        nodes.append(new)
        note(node, f"fill {format_literal(value.item())}")
    if not changes:
        return graph, []
    return graph.copy_shell(nodes, [subst(v) for v in graph.results]), changes
