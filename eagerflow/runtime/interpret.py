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
    return [_result(read(v), v.type) for v in graph.results]


def _as_type(x, t):
    """Keep values in the graph's declared dtype (the interpreter must not drift from the IR).

    A weak (NEP 50) 0-d value is kept as a Python scalar, so that the ops it feeds promote it
    weakly, as eager NumPy does (a 0-d array would be strong: f32 * array(0.1) computes in f64).
    """
    a = np.asarray(x)
    if a.dtype != t.dtype:
        with np.errstate(all="ignore"):
            a = a.astype(t.dtype)
    if t.weak and a.ndim == 0:
        return a.item()
    return a


def _result(x, t):
    return np.asarray(x, dtype=t.dtype) if t.weak and not isinstance(x, np.ndarray) else x
