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


# `check(%ok, %x) {what='range_step'}`: %x, after raising the error `what` names (CHECKS) when
# %ok is false: run-time conditions on which Python or NumPy raise (a traced range step of 0).
# The attribute is a name, not the message, so a saved graph carries no text into generated code.
# Impure, so no pass removes, folds or fuses it; its code raises, so never in threads.
CHECKS = {"range_step": (ValueError, "range() arg 3 must not be zero")}


def _check_impl(ok, x, *, what):
    if not bool(ok):
        error, message = CHECKS[what]
        raise error(message)
    return x


def _emit_check(em, n):
    (ok, x), out = n.inputs, n.outputs[0]
    error, message = CHECKS[n.attrs["what"]]
    em.line(f"if not np.bool_({em.ref(ok)}):")
    em.line(f"    raise {error.__name__}({message!r})")
    em.line(f"{em.define(out)} = {em.ref(x)}")


register(OpDef(
    "check", Kind.STATE,
    impl=_check_impl,
    infer=lambda ok, x, *, what: x,
    attrs=("what",), nin=2, pure=False,
    emit={"numba": _emit_check}, extra={"raises": lambda n: True},
    doc="x, after raising the error `what` names when ok is false: a run-time check (a "
        "traced range step of 0)"))
