"""State ops: updates of Variables (eagerflow/runtime/variables.py, docs/state.md).

`assign_variable(%new) {variable='w'}` marks the final value of a Variable assigned in a traced
function. It is an identity on its input and its output is a graph result; the runtime writes that
result back into the Variable after the call. It is impure (Kind.STATE), so no pass removes,
folds, merges or fuses it.
"""
from __future__ import annotations

import numpy as np

from .registry import Kind, OpDef, register


def _assign_infer(x, *, variable):
    return x.strong()


def _emit_assign(em, n):
    (x,), out = n.inputs, n.outputs[0]
    em.line(f"{em.define(out)} = {em.ref(x)}")
    if x.id in em.fresh:   # a fresh array needs no copy when returned
        em.fresh.add(out.id)


register(OpDef(
    "assign_variable", Kind.STATE,
    impl=lambda x, *, variable: np.asarray(x),
    infer=_assign_infer,
    attrs=("variable",), nin=1, pure=False,
    emit={"numba": _emit_assign},
    doc="the final value of Variable `variable` in a traced function: an identity whose output "
        "is a graph result that the runtime writes back into the Variable after the call"))
