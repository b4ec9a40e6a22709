"""Dead-code elimination.

Invariant: afterwards every node of the graph (and of each region) either has an output that is
used (by a later node or as a result) or has an effect (its registry entry says `pure=False`).
Computations that only feed unused parameters' dead ends go too. Parameters themselves stay:
they are the function's signature (and a region's block arguments must match its node's inputs).

    func @f(%x: f64[3], %y: f64[3]) -> f64[3] {      func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
      %0 = sin(%y) : f64[3]                     ->      %0 = cos(%x) : f64[3]
      %1 = cos(%x) : f64[3]                             return %0
      return %1                                       }
    }
"""
from __future__ import annotations

from ...ir.graph import Const, Graph
from ...ops.registry import REGISTRY, Kind
from ._util import describe, map_regions, value_names, with_inputs


def has_effect(op_name: str) -> bool:
    op = REGISTRY.get(op_name)
    return op is None or not op.pure or op.kind is Kind.STATE


def node_has_effect(node) -> bool:
    """An effect of the node's op, or of any op inside its regions (a loop that prints)."""
    return has_effect(node.op) or any(has_effect(n.op) for r in node.regions for n in r.walk())


def eliminate_dead_code(graph: Graph) -> tuple[Graph, list[str]]:
    names = None
    live = {v.id for v in graph.results if not isinstance(v, Const)}
    kept, changes = [], []
    for node in reversed(graph.nodes):
        if not node_has_effect(node) and not any(v.id in live for v in node.outputs):
            names = names or value_names(graph)
            changes.append(f"dce: {describe(node, names)} (unused)")
            continue
        regions, ch = map_regions(node, eliminate_dead_code)
        if ch:
            changes += ch
            node = with_inputs(node, node.inputs, regions)
        kept.append(node)
        live.update(v.id for v in node.inputs if not isinstance(v, Const))
    if not changes:
        return graph, []
    changes.reverse()
    return graph.copy_shell(kept[::-1]), changes
