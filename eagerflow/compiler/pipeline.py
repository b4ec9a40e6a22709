"""The pass manager: a declared pipeline of `Graph -> Graph` passes.

Each pass returns the graph and a list of the rewrites it made ("changes"). The manager keeps a
PassRecord per pass for `fn.lower(...).passes`, and runs the verifier after each pass in debug
mode (EAGERFLOW_DEBUG=1) and in the tests.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..ir.graph import Graph


@dataclass
class PassRecord:
    name: str
    graph: Graph
    changes: list

    def __repr__(self):
        return f"PassRecord({self.name!r}, {len(self.changes)} changes)"


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable          # Graph -> (Graph, changes)
    doc: str


PIPELINE: list[Pass] = []   # filled by compiler.passes
verify_each = False          # tests switch this on


def optimize(graph: Graph, name: str = "f", pipeline=None) -> tuple[Graph, list[PassRecord]]:
    from ..runtime import config
    from . import passes  # noqa: F401  (registers the default pipeline)
    records = []
    check = verify_each or config.debug
    if check:
        from ..ir.verify import verify
        verify(graph)
    for p in (PIPELINE if pipeline is None else pipeline):
        graph, changes = p.run(graph)
        records.append(PassRecord(p.name, graph, list(changes)))
        if check:
            verify(graph, after=p.name)
    return graph, records
