"""Helpers shared by the passes: value naming for change messages, node copies, substitution.

Passes never mutate their input graph (every PassRecord keeps the IR after its pass); they build
new Graphs. A node whose inputs change is copied with `with_inputs`, which keeps its output Values
(their types do not change: every rewrite replaces a value by one of the identical type).
"""
from __future__ import annotations

from ...ir.graph import Const, Graph, Node, Value
from ...ir.printer import _Namer, format_const, format_literal


def value_names(graph: Graph) -> dict[int, str]:
    """The names `print_graph` gives every value of `graph` (regions included): '%3', '%x'."""
    namer = _Namer()
    for i, p in enumerate(graph.params):
        namer.define_param(p, f"arg{i}")

    def nodes(g):
        for n in g.nodes:
            for v in n.outputs:
                namer.define(v)
            for r in n.regions:
                for i, p in enumerate(r.params):
                    namer.define_param(p, f"a{namer.counter}_{i}")
                nodes(r)
    nodes(graph)
    return {k: "%" + v for k, v in namer.names.items()}


def ref(v: Value, names: dict[int, str]) -> str:
    if isinstance(v, Const):
        return format_const(v)
    return names.get(v.id, f"%<{v.id}>")


def describe(node: Node, names: dict[int, str]) -> str:
    """One-line text of a node, as printed: '%3 = add(%x, 1.0)'."""
    outs = ", ".join(ref(v, names) for v in node.outputs)
    args = ", ".join(ref(v, names) for v in node.inputs)
    attrs = ""
    if node.attrs:
        attrs = " {" + ", ".join(f"{k}={format_literal(v)}" for k, v in node.attrs.items()) + "}"
    return f"{outs} = {node.op}({args}){attrs}"


def with_inputs(node: Node, inputs, regions=None) -> Node:
    """`node` with other inputs (and regions), keeping its output Values; `node` itself if equal."""
    inputs = tuple(inputs)
    regions = node.regions if regions is None else tuple(regions)
    if all(a is b for a, b in zip(inputs, node.inputs)) and len(inputs) == len(node.inputs) \
            and all(a is b for a, b in zip(regions, node.regions)):
        return node
    new = Node.__new__(Node)
    new.op, new.inputs, new.attrs = node.op, inputs, node.attrs
    new.outputs, new.loc, new.regions = node.outputs, node.loc, regions
    return new


class Subst:
    """A value substitution map (old Value id -> replacement Value), applied transitively."""

    def __init__(self):
        self.map: dict[int, Value] = {}

    def __setitem__(self, old: Value, new: Value):
        assert old.type == new.type, f"replacement changes the type: {old.type} -> {new.type}"
        self.map[old.id] = new

    def __call__(self, v: Value) -> Value:
        while not isinstance(v, Const) and v.id in self.map:
            v = self.map[v.id]
        return v

    def __bool__(self):
        return bool(self.map)


def map_regions(node: Node, fn) -> tuple[tuple, list]:
    """Apply a pass `fn: Graph -> (Graph, changes)` to each region of `node`."""
    regions, changes = [], []
    for r in node.regions:
        r2, ch = fn(r)
        regions.append(r2)
        changes += ch
    return tuple(regions), changes
