"""The local-rewrite driver: rule tables indexed by root op name (STYLE 2.4).

A rule is a function `rule(node, ctx) -> Value | Node | None`, registered for one or more op names
with `@table.rule("mul", ...)`. It sees the node with its inputs already rewritten; `ctx.producer(v)`
gives the node that defines `v` in the graph being built (None for parameters and constants).
Returning a Value replaces the node's single output by that value; returning a Node replaces the
node by a new one. Either way the driver checks that the result type is identical to the old one
(dtype, shape and weak bit): a rule can never retype a graph. The driver sweeps the graph in order,
retrying rules on a node until none fires, and recurses into regions.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from ..ir.graph import Const, Graph, Node, Value
from .passes._util import Subst, describe, map_regions, ref, value_names, with_inputs


class RuleTable:
    def __init__(self, name: str):
        self.name = name
        self.rules: dict[str, list[Callable]] = defaultdict(list)

    def rule(self, *ops: str):
        def deco(fn):
            for op in ops:
                self.rules[op].append(fn)
            return fn
        return deco

    def __call__(self, graph: Graph) -> tuple[Graph, list[str]]:
        return apply_rules(self, graph)


class Context:
    def __init__(self):
        self.producers: dict[int, Node] = {}

    def producer(self, v: Value) -> Node | None:
        return None if isinstance(v, Const) else self.producers.get(v.id)


def rebuild(node: Node, op: str, inputs, attrs: dict) -> Node | None:
    """A node `op(inputs) {attrs}` that takes over `node`'s outputs; None if its type differs."""
    from ..ops.registry import REGISTRY
    new = Node(op, inputs, attrs, [v.type for v in node.outputs], node.loc)
    try:
        types = REGISTRY[op].infer_types([v.type for v in new.inputs], new.attrs)
    except Exception:  # noqa: BLE001 - a rule that does not type-check does not fire
        return None
    if types != tuple(v.type for v in node.outputs):
        return None
    new.outputs = node.outputs
    return new


def apply_rules(table: RuleTable, graph: Graph) -> tuple[Graph, list[str]]:
    names = None
    subst = Subst()
    ctx = Context()
    nodes, changes = [], []
    for node in graph.nodes:
        regions, ch = map_regions(node, table)
        changes += ch
        node = with_inputs(node, [subst(v) for v in node.inputs], regions)
        for _ in range(100):
            replaced = None
            for rule in table.rules.get(node.op, ()):
                r = rule(node, ctx)
                if r is not None:
                    replaced = (rule, r)
                    break
            if replaced is None:
                break
            rule, r = replaced
            names = names or value_names(graph)
            if isinstance(r, Node):
                got = tuple(v.type for v in r.outputs)
                want = tuple(v.type for v in node.outputs)
                assert got == want, f"rule {rule.__name__} retypes {want} -> {got}"
                changes.append(f"{table.name}: {describe(node, names)} -> {r.op} "
                               f"({rule.__name__})")
                for old, new in zip(node.outputs, r.outputs):
                    if old is not new:
                        subst[old] = new
                node = r
                continue
            subst[node.output] = r          # Subst asserts the type is identical
            changes.append(f"{table.name}: {describe(node, names)} -> {ref(r, names)} "
                           f"({rule.__name__})")
            node = None
            break
        if node is not None:
            nodes.append(node)
            for v in node.outputs:
                ctx.producers[v.id] = node
    if not changes:
        return graph, []
    return graph.copy_shell(nodes, [subst(v) for v in graph.results]), changes
