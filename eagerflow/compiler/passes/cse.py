"""Common-subexpression elimination.

Invariant: afterwards no two pure nodes of one graph (or region) have the same op, the same inputs
(values by identity, constants by content: type, bits, weak bit), the same attributes and the same
regions; the later one is replaced by the earlier one's outputs. Commutative ops (the registry's
`commutative`) match with their inputs in either order. Constants compare by content, so
`-0.0` and `0.0`, `1` and `1.0`, weak and strong are all different keys. Regions are simplified
first, then compared by their printed text.

    %0 = mul(%x, %y) : f64[3]                 ->     %0 = mul(%x, %y) : f64[3]
    %1 = mul(%y, %x) : f64[3]                        %1 = add(%0, %0) : f64[3]
    %2 = add(%0, %1) : f64[3]
"""
from __future__ import annotations

from ...ir.graph import Const, Graph
from ...ir.printer import print_graph
from ...ops.registry import REGISTRY
from ._util import Subst, describe, map_regions, ref, value_names, with_inputs
from .dce import node_has_effect


def _freeze(v):
    """An attribute value as a key that tells -0.0 from 0.0 and True from 1."""
    if isinstance(v, tuple):
        return ("t",) + tuple(_freeze(x) for x in v)
    if isinstance(v, float):
        return ("f", repr(v))
    return (type(v).__name__, v)


def _in_key(v):
    return ("c", v.key()) if isinstance(v, Const) else ("v", v.id)


def eliminate_common_subexpressions(graph: Graph) -> tuple[Graph, list[str]]:
    names = None
    subst = Subst()
    seen: dict = {}
    nodes, changes = [], []
    for node in graph.nodes:
        regions, ch = map_regions(node, eliminate_common_subexpressions)
        changes += ch
        node = with_inputs(node, [subst(v) for v in node.inputs], regions)
        if node_has_effect(node):
            nodes.append(node)
            continue
        ins = [_in_key(v) for v in node.inputs]
        op = REGISTRY[node.op]
        if op.commutative:
            ins.sort(key=repr)
        key = (node.op, tuple(ins), tuple((k, _freeze(v)) for k, v in node.attrs.items()),
               tuple(print_graph(r, locations=False) for r in node.regions),
               tuple(v.type for v in node.outputs))
        prev = seen.get(key)
        if prev is None:
            seen[key] = node
            nodes.append(node)
            continue
        names = names or value_names(graph)
        for old, new in zip(node.outputs, prev.outputs):
            subst[old] = new
        changes.append(f"cse: {describe(node, names)} -> "
                       f"{', '.join(ref(v, names) for v in prev.outputs)}")
    if not changes:
        return graph, []
    return graph.copy_shell(nodes, [subst(v) for v in graph.results]), changes
