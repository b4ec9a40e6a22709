"""The reference interpreter: runs a graph with each op's NumPy implementation (`OpDef.impl`).

It is the oracle the passes are tested against and the `backend="interpreter"` executor.
"""
from __future__ import annotations

import numpy as np

from ..ir.graph import Const, Graph
from ..ops.registry import Kind, REGISTRY


def interpret(graph: Graph, args) -> list:
    env = {p.id: a for p, a in zip(graph.params, args)}

    def read(v):
        return v.data if isinstance(v, Const) else env[v.id]

    for node in graph.nodes:
        op = REGISTRY[node.op]
        ins = [read(v) for v in node.inputs]
        if node.regions:
            outs = op.impl(*ins, regions=node.regions, **node.attrs)
        else:
            outs = op.impl(*ins, **node.attrs)
        if op.nout == 1 and len(node.outputs) == 1:
            outs = (outs,)
        for v, o in zip(node.outputs, outs):
            env[v.id] = _as_type(o, v.type)
    return [read(v) for v in graph.results]


def _as_type(x, t):
    """Keep values in the graph's declared dtype (the interpreter must not drift from the IR)."""
    a = np.asarray(x)
    if a.dtype != t.dtype:
        with np.errstate(all="ignore"):
            a = a.astype(t.dtype)
    return a
