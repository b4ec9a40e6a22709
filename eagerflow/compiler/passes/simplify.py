"""Algebraic simplification: only identities that are exact under IEEE 754 and NumPy semantics.

Invariant: every rewrite gives, for every input (NaN, ±inf, ±0.0, subnormals, integer extremes),
the bit-identical value of the identical type (dtype, shape and weak bit: the driver in
compiler/rewrite.py refuses a rule whose replacement type differs, so `int_x * 1.0`, which
promotes to float, or `x * ones((3, 4))` with x of shape (4,), never rewrite). Nothing that changes
a NaN, an inf, a signed zero or an integer overflow: x*0, x-x, x/x, x+0.0 are NOT rewritten.

Rules (constant operands must have every element equal to the value shown):

    mul(x, 1), mul(1, x) -> x   IEEE: x*1 is x for every x (-0.0, inf, NaN included); ints and
                                bool (logical and with True) likewise.
    div(x, 1) -> x              IEEE: x/1 is x for every x. (Integer x promotes: type guard.)
    sub(x, 0) -> x              ints: exact. floats only for +0.0: x - (+0.0) is x for every x,
                                -0.0 - 0.0 == -0.0 included. (x - (-0.0) is x + 0.0: not exact.)
    add(x, -0.0), add(-0.0, x)  floats: -0.0 is the additive identity: +0.0 + -0.0 == +0.0,
      -> x                      -0.0 + -0.0 == -0.0. (x + 0.0 is NOT x: -0.0 + 0.0 == +0.0.)
    add(x, 0), add(0, x) -> x   integer dtypes (and bool: logical or with False) only.
    neg(neg(x)) -> x            floats flip the sign bit twice; integers wrap: -(-MIN) == MIN.
    pos(x) -> x                 np.positive is a copy for numeric dtypes.
    logical_not(logical_not(x)) -> x    for bool x only (type guard).
    where(c, x, x) -> x         both branches are the same value (type guard: c's broadcast).
    astype(x, x.dtype) -> x     a same-dtype cast is a copy; only for strong x (a weak x would
                                become strong: type guard).
    transpose(transpose(x, p), q) -> transpose(x, p∘q); identity permutation -> x
    reshape(reshape(x, s), t) -> reshape(x, t); reshape(x, x.shape) -> x   (C order throughout)
    broadcast_to(broadcast_to(x, s), t) -> broadcast_to(x, t); broadcast_to(x, x.shape) -> x
    f(.., c, ..) with c a one-element array constant (strong), for every elementwise op f:
      -> f(.., c[()] as a 0-d strong constant, ..)   when the result type is unchanged (the
                                other operands give the result its shape). Same values: c
                                broadcasts either way; same dtype: NEP 50 treats 0-d arrays as
                                strong as any array. (A mean's gradient carries 1/n as f64[1];
                                as a scalar it needs no array argument in compiled code.)

    %0 = mul(%x, 1.0) : f64[3]        ->     %0 = neg(%x) : f64[3]
    %1 = neg(%0) : f64[3]                    return %0
    return %1

Values are bit-identical; only NaN payloads of signalling NaNs may be quieted by the removed
arithmetic, which NumPy never produces.
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Const
from ...ir.types import TensorType
from ..rewrite import RuleTable, rebuild

SIMPLIFY = RuleTable("simplify")


def _const_all(v, pred) -> bool:
    """v is a non-empty constant and pred holds for every element."""
    if not isinstance(v, Const):
        return False
    a = np.asarray(v.data)
    return a.size > 0 and bool(np.all(pred(a)))


def _is_one(v):
    return _const_all(v, lambda a: a == 1)


def _is_pos_zero(v):
    return _const_all(v, lambda a: (a == 0) & ~np.signbit(a) if a.dtype.kind == "f" else a == 0)


def _is_neg_zero(v):
    return _const_all(v, lambda a: (a == 0) & np.signbit(a))


def _is_int_zero(v):
    return v.type.dtype.kind in "biu" and _const_all(v, lambda a: a == 0)


def _same_type(x, node):
    return x if x.type == node.output.type else None


@SIMPLIFY.rule("mul")
def mul_one(node, ctx):                 # x*1 -> x, 1*x -> x
    a, b = node.inputs
    if _is_one(b):
        return _same_type(a, node)
    if _is_one(a):
        return _same_type(b, node)
    return None


@SIMPLIFY.rule("div")
def div_one(node, ctx):                 # x/1 -> x
    a, b = node.inputs
    return _same_type(a, node) if _is_one(b) else None


@SIMPLIFY.rule("sub")
def sub_zero(node, ctx):                # x - (+0.0) -> x; x - 0 -> x for ints
    a, b = node.inputs
    if node.output.type.dtype.kind == "f":
        return _same_type(a, node) if _is_pos_zero(b) else None
    return _same_type(a, node) if _is_int_zero(b) else None


@SIMPLIFY.rule("add")
def add_zero(node, ctx):                # x + (-0.0) -> x; x + 0 -> x for ints and bool
    a, b = node.inputs
    if node.output.type.dtype.kind == "f":
        ident = _is_neg_zero
    else:
        ident = _is_int_zero
    if ident(b):
        return _same_type(a, node)
    if ident(a):
        return _same_type(b, node)
    return None


def _involution(op):
    def rule(node, ctx):                # f(f(x)) -> x
        p = ctx.producer(node.inputs[0])
        if p is not None and p.op == op and len(p.inputs) == 1:
            return _same_type(p.inputs[0], node)
        return None
    rule.__name__ = f"{op}_{op}"
    return rule


SIMPLIFY.rule("neg")(_involution("neg"))
SIMPLIFY.rule("logical_not")(_involution("logical_not"))


@SIMPLIFY.rule("pos")
def pos_identity(node, ctx):            # +x -> x
    return _same_type(node.inputs[0], node)


@SIMPLIFY.rule("where")
def where_same(node, ctx):              # where(c, x, x) -> x
    _, x, y = node.inputs
    same = x is y or (isinstance(x, Const) and isinstance(y, Const) and x.key() == y.key())
    return _same_type(x, node) if same else None


@SIMPLIFY.rule("astype")
def astype_same(node, ctx):             # x.astype(x.dtype) -> x (strong x only: type guard)
    return _same_type(node.inputs[0], node)


@SIMPLIFY.rule("transpose")
def transpose_transpose(node, ctx):     # transpose(transpose(x, p), q) -> transpose(x, p∘q)
    (x,) = node.inputs
    axes = node.attrs["axes"]
    if tuple(axes) == tuple(range(len(axes))):
        return _same_type(x, node)
    p = ctx.producer(x)
    if p is not None and p.op == "transpose":
        inner = p.attrs["axes"]
        return rebuild(node, "transpose", p.inputs, {"axes": tuple(inner[a] for a in axes)})
    return None


@SIMPLIFY.rule("reshape")
def reshape_reshape(node, ctx):         # reshape(reshape(x)) -> reshape(x); same shape -> x
    (x,) = node.inputs
    if x.type.shape == node.output.type.shape:
        return _same_type(x, node)
    p = ctx.producer(x)
    if p is not None and p.op == "reshape":
        return rebuild(node, "reshape", p.inputs, node.attrs)
    return None


@SIMPLIFY.rule("broadcast_to")
def broadcast_broadcast(node, ctx):     # broadcast_to(broadcast_to(x)) -> broadcast_to(x)
    (x,) = node.inputs
    if x.type.shape == node.output.type.shape:
        return _same_type(x, node)
    p = ctx.producer(x)
    if p is not None and p.op == "broadcast_to":
        return rebuild(node, "broadcast_to", p.inputs, node.attrs)
    return None


def one_element_const(node, ctx):       # f(x, const f64[1]) -> f(x, const f64[])
    ins = list(node.inputs)
    for i, v in enumerate(ins):
        if isinstance(v, Const) and v.type.ndim and v.type.size == 1 and not v.type.weak:
            ins[i] = Const(np.asarray(v.data).reshape(()), TensorType(v.type.dtype, ()))
    if all(a is b for a, b in zip(ins, node.inputs)):
        return None
    return rebuild(node, node.op, ins, node.attrs)


def _register_elementwise():
    from ...ops.registry import REGISTRY, Kind
    SIMPLIFY.rule(*[n for n, op in REGISTRY.items() if op.kind is Kind.ELEMENTWISE])(
        one_element_const)


_register_elementwise()


def simplify(graph):
    return SIMPLIFY(graph)
