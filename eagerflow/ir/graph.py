"""The graph: Value, Const, Node, Graph.

SSA: every Value is defined once, by a Graph parameter or a Node output; a Const carries its data.
The IR knows no particular op: `Node.op` is a key into the op registry (eagerflow.ops).
Regions (fused kernels, control flow) are nested Graphs whose parameters are block arguments and
whose results are what the region yields. Regions are closed: they see only their parameters.
"""
from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np

from .types import TensorType, type_of

_ids = itertools.count()


class Value:
    """An SSA value: a graph parameter or one output of a node."""

    __slots__ = ("type", "name", "id")

    def __init__(self, type: TensorType, name: str | None = None):
        self.type = type
        self.name = name
        self.id = next(_ids)

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    def __repr__(self):
        return f"Value({self.name or self.id}: {self.type})"


class Const(Value):
    """A constant operand. Weak scalars hold a Python scalar; the rest a NumPy array (0-d or not)."""

    __slots__ = ("data", "_key")

    def __init__(self, data, type: TensorType | None = None):
        t = type if type is not None else type_of(data)
        super().__init__(t)
        if t.weak:
            data = {"b": bool, "i": int, "u": int, "f": float}[t.dtype.kind](data)
        else:
            data = np.array(data, dtype=t.dtype)  # own copy: later user mutation must not leak in
            data.flags.writeable = False
        self.data = data
        self._key = None

    @property
    def is_scalar(self) -> bool:
        return self.type.ndim == 0

    @property
    def digest(self) -> str:
        """Content hash of an array constant, as the text format prints it."""
        a = np.ascontiguousarray(self.data)
        h = hashlib.sha256(str(self.type).encode() + a.tobytes()).hexdigest()
        return h[:16]

    def key(self):
        """Hashable identity by content, for CSE and constant tables."""
        if self._key is None:
            if self.type.weak:
                v = self.data
                self._key = (str(self.type), "nan" if isinstance(v, float) and math.isnan(v) else v,
                             math.copysign(1, v) if isinstance(v, float) else 0)
            elif self.is_scalar:
                self._key = (str(self.type), self.data.tobytes())
            else:
                self._key = (str(self.type), self.digest)
        return self._key

    def __repr__(self):
        return f"Const({self.data!r}: {self.type})"


def freeze_attr(v):
    """Attributes are frozen, hashable Python literals (tuples, not lists)."""
    if isinstance(v, (list, tuple)):
        return tuple(freeze_attr(x) for x in v)
    if isinstance(v, np.dtype):
        return str(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


class Node:
    """One operation: `outputs = op(inputs) {attrs}`, with optional nested regions."""

    __slots__ = ("op", "inputs", "attrs", "outputs", "loc", "regions")

    def __init__(self, op: str, inputs, attrs: dict, out_types, loc=None, regions=()):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = {k: freeze_attr(attrs[k]) for k in sorted(attrs)}
        self.outputs = tuple(Value(t) for t in out_types)
        self.loc = loc
        self.regions = tuple(regions)

    @property
    def output(self) -> Value:
        assert len(self.outputs) == 1, f"{self.op} has {len(self.outputs)} outputs"
        return self.outputs[0]

    def __repr__(self):
        return f"Node({self.op}, {self.attrs})"


class Graph:
    """Parameters, an ordered list of nodes, results. `constants` is not needed: Consts carry data."""

    __slots__ = ("name", "params", "nodes", "results", "in_tree", "out_tree", "meta")

    def __init__(self, name="f", params=(), nodes=(), results=(), in_tree=None, out_tree=None,
                 meta=None):
        self.name = name
        self.params = list(params)
        self.nodes = list(nodes)
        self.results = list(results)
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.meta = dict(meta or {})

    def copy_shell(self, nodes, results=None, params=None) -> "Graph":
        """A graph like this one with other nodes (and results/params): passes build graphs so."""
        return Graph(self.name, self.params if params is None else params, nodes,
                     self.results if results is None else results, self.in_tree, self.out_tree,
                     self.meta)

    def walk(self):
        """Every node, regions included, outer before inner."""
        for n in self.nodes:
            yield n
            for r in n.regions:
                yield from r.walk()

    def constants(self) -> dict[str, np.ndarray]:
        """Array constants by digest: the data kept beside the printed graph."""
        out = {}
        for n in self.walk():
            for v in n.inputs:
                if isinstance(v, Const) and not v.is_scalar:
                    out[v.digest] = v.data
        for v in self.results:
            if isinstance(v, Const) and not v.is_scalar:
                out[v.digest] = v.data
        return out

    def __str__(self):
        from .printer import print_graph
        return print_graph(self)

    def __repr__(self):
        return f"<Graph {self.name}: {len(self.params)} params, {len(self.nodes)} nodes>"
