"""Control flow: `cond` and `while` (ops with regions) and `print` (an effect).

- `cond(pred, *operands)`: two regions, `then` and `else`; each takes one block argument per
  operand (same types) and yields the results; both must yield the same types. `pred` is a 0-d
  bool. Only the chosen region runs.
- `while(*carried, *invariant) {carried=k}`: two regions, the condition and the body; both take
  one block argument per input (the k carried values first, then the loop-invariant operands).
  The condition yields one 0-d bool; the body yields the k new carried values, whose types are
  fixed: they equal the types of the first k inputs. The results are the final carried values.
- `print(*values) {parts, sep, end}`: prints at run time, in program order. `parts` is a tuple of
  literal strings and `None` placeholders, one per value. It has no outputs and is impure (kind
  STATE), so passes neither drop nor merge nor reorder it past other effects.

Regions are closed graphs: a value from outside is passed in as an operand (the tracer does this
for you). The reference implementations run the regions with the interpreter.
"""
from __future__ import annotations

import sys

import numpy as np

from ..errors import ShapeError, VerificationError
from ..ir.types import TensorType
from .registry import Kind, OpDef, register

_BOOL = TensorType(np.dtype(bool), ())


def _run(region, args):
    from ..runtime.interpret import interpret
    return interpret(region, list(args))


def _types(vals):
    return tuple(v.type for v in vals)


# -- cond -------------------------------------------------------------------------------------------

def _cond_infer(pred, *types, regions):
    if pred.shape != () or pred.dtype != np.bool_:
        raise ShapeError(f"cond: the predicate must be a 0-d bool, got {pred}")
    then_r, else_r = regions
    a, b = _types(then_r.results), _types(else_r.results)
    if a != b:
        raise ShapeError("cond: the branches yield different types: "
                         f"({', '.join(map(str, a))}) vs ({', '.join(map(str, b))})")
    return a


def _cond_impl(pred, *operands, regions):
    return tuple(_run(regions[0] if bool(pred) else regions[1], operands))


def _cond_check(node):
    if len(node.regions) != 2:
        raise VerificationError("cond needs two regions (then, else)", loc=node.loc)
    ops = node.inputs[1:]
    for r in node.regions:
        if _types(r.params) != _types(ops):
            raise VerificationError("cond: block arguments do not match the operands",
                                    loc=node.loc)


# -- while ------------------------------------------------------------------------------------------

def _while_infer(*types, regions, carried):
    cond_r, body_r = regions
    if len(cond_r.results) != 1 or cond_r.results[0].type != _BOOL:
        raise ShapeError("while: the condition region must yield one 0-d bool")
    got = _types(body_r.results)
    if got != tuple(types[:carried]):
        raise ShapeError("while: the body yields types (" + ", ".join(map(str, got)) +
                         ") but the loop carries (" + ", ".join(map(str, types[:carried])) + ")")
    return tuple(types[:carried])


def _while_impl(*inputs, regions, carried):
    cond_r, body_r = regions
    vals = list(inputs[:carried])
    inv = list(inputs[carried:])
    while bool(_run(cond_r, vals + inv)[0]):
        vals = list(_run(body_r, vals + inv))
    return tuple(vals)


def _while_check(node):
    if len(node.regions) != 2:
        raise VerificationError("while needs two regions (condition, body)", loc=node.loc)
    k = node.attrs.get("carried", -1)
    if not 0 <= k <= len(node.inputs):
        raise VerificationError(f"while: carried={k} out of range", loc=node.loc)
    for r in node.regions:
        if _types(r.params) != _types(node.inputs):
            raise VerificationError("while: block arguments do not match the inputs",
                                    loc=node.loc)


# -- print ------------------------------------------------------------------------------------------

def _print_infer(*types, parts, sep, end):
    if sum(p is None for p in parts) != len(types):
        raise ShapeError(f"print: {len(types)} values for {sum(p is None for p in parts)} "
                         "placeholders")
    return ()


def format_value(x) -> str:
    return str(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x)


def _print_impl(*values, parts, sep, end):
    it = iter(values)
    out = [p if p is not None else format_value(next(it)) for p in parts]
    sys.stdout.write(sep.join(out) + end)
    sys.stdout.flush()
    return ()


def _cond_vjp(g, pred, *operands_out, regions):
    """A cond on the same predicate over the branches' backward regions (autodiff/control.py)."""
    from ..autodiff.control import cond_vjp
    return cond_vjp(g, pred, *operands_out, regions=regions)


register(OpDef("cond", Kind.CONTROL, impl=_cond_impl, infer=_cond_infer, nout=-1,
               extra={"check": _cond_check}, vjp=_cond_vjp,
               doc="if/else: runs the `then` or `else` region on the operands (ef.cond, "
                   "autograph `if`)"))
def _while_vjp(g, *inputs_out, regions, carried):
    """A tape loop and a reverse loop, for loops with a static trip-count bound
    (autodiff/loops.py)."""
    from ..autodiff.loops import while_vjp
    return while_vjp(g, *inputs_out, regions=regions, carried=carried)


register(OpDef("while", Kind.CONTROL, impl=_while_impl, infer=_while_infer, attrs=("carried",),
               nout=-1, extra={"check": _while_check}, vjp=_while_vjp,
               doc="loop: runs the body region while the condition region yields True "
                   "(ef.while_loop, ef.fori_loop, autograph `while`/`for`)"))
register(OpDef("print", Kind.STATE, impl=_print_impl, infer=_print_infer, pure=False, nout=0,
               attrs=("parts", "sep", "end"),
               doc="ef.print: prints its values at run time, in program order"))
