"""The verifier. Invariants checked:

1. SSA: every Value is defined once (a parameter or one node output) before it is used; regions
   are closed (they use only their own parameters, their own nodes' outputs and constants).
2. Every node's op is in the registry and its attributes are the ones the entry declares.
3. Every node's output types equal what the op's type rule gives for its input types.
4. Ops with regions pass their entry's own check (extra["check"]).
5. Every result is defined.
"""
from __future__ import annotations

from ..errors import EagerflowError, VerificationError
from .graph import Const, Graph


def verify(graph: Graph, after: str | None = None) -> Graph:
    where = f" (after pass {after})" if after else ""
    _verify(graph, where)
    return graph


def _verify(graph: Graph, where: str) -> None:
    from ..ops.registry import REGISTRY
    defined: set[int] = set()
    for p in graph.params:
        _define(p, defined, where)
    for node in graph.nodes:
        for v in node.inputs:
            if not isinstance(v, Const) and v.id not in defined:
                _fail(f"{node.op} uses {v!r} before it is defined", node, where)
        op = REGISTRY.get(node.op)
        if op is None:
            _fail(f"unknown op {node.op!r}", node, where)
        if set(node.attrs) != set(op.attrs):
            _fail(f"{node.op} has attributes {sorted(node.attrs)}, expected {sorted(op.attrs)}",
                  node, where)
        for r in node.regions:
            _verify(r, where)
        if "check" in op.extra:
            op.extra["check"](node)
        if op.infer is not None:
            try:
                expected = op.infer_types([v.type for v in node.inputs], node.attrs, node.regions)
            except EagerflowError as e:
                _fail(f"{node.op}: type rule rejects the inputs: {e.message}", node, where)
            except (TypeError, ValueError, KeyError, IndexError) as e:   # malformed node
                _fail(f"{node.op}: type rule fails on the node: {e!r}", node, where)
            got = tuple(v.type for v in node.outputs)
            if expected != got:
                _fail(f"{node.op} outputs {list(map(str, got))} but its type rule gives "
                      f"{list(map(str, expected))}", node, where)
        for v in node.outputs:
            _define(v, defined, where)
    for v in graph.results:
        if not isinstance(v, Const) and v.id not in defined:
            raise VerificationError(f"result {v!r} is not defined{where}", loc=None)


def _define(v, defined, where):
    if v.id in defined:
        raise VerificationError(f"{v!r} defined twice{where}", loc=None)
    defined.add(v.id)


def _fail(msg, node, where):
    raise VerificationError(msg + where, loc=node.loc)
