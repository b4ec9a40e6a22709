"""The default pass pipeline: fold, simplify, cse, dce, fuse, dce (docs/optimizer.md).

Each pass is a module with a function `Graph -> (Graph, changes)`; its docstring states the
invariant it establishes and shows an example. A pass returns its input graph object unchanged
(and no changes) when it has nothing to do; it never mutates its input.
"""
from __future__ import annotations

from ..pipeline import PIPELINE, Pass
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold import fold_constants
from .fuse import fuse
from .simplify import simplify

DEFAULT_PIPELINE = (
    Pass("fold", fold_constants, "evaluate small all-constant nodes with op.impl; large uniform "
                                 "results become fill"),
    Pass("simplify", simplify, "IEEE-exact algebraic identities (simplify.SIMPLIFY rules)"),
    Pass("cse", eliminate_common_subexpressions, "merge nodes with equal (op, inputs, attrs)"),
    Pass("dce", eliminate_dead_code, "drop unused pure nodes"),
    Pass("fuse", fuse, "elementwise groups, producer->reduce and matmul epilogues into fused "
                       "regions"),
    Pass("dce", eliminate_dead_code, "clean up after fusion"),
)

if not PIPELINE:
    PIPELINE.extend(DEFAULT_PIPELINE)

__all__ = ["DEFAULT_PIPELINE", "eliminate_common_subexpressions", "eliminate_dead_code",
           "fold_constants", "fuse", "simplify"]
