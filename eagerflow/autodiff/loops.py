"""Gradient rule for `while` (the `while` entry in ops/control.py calls `while_vjp`).

Built: the *preallocated tape* fallback of docs/autodiff.md ("Control flow"). A loop is
differentiable when its trip count has a bound known at trace time: its condition is, or is a
conjunction (`logical_and`) containing, `i < N` where `i` is a carried counter that starts at a
constant and that the body steps by a positive constant, and `N` is a constant. That covers
`ef.fori_loop(lower, upper, ...)` with Python-int bounds and `ef.while_loop(..., max_iters=N)`
(which adds such a counter to the condition). The rule emits, into the gradient graph:

1. a *tape loop*: the forward loop again (same condition, same body, inlined), carrying one tape
   array of shape (N, *shape) per carried value it needs and a trip counter t; iteration t writes
   the carried values it starts from into tape[t] (setitem at a traced index). It yields the tapes
   and the number T of iterations that ran (T <= N);
2. a *reverse loop*: t = T-1 ... 0, reading the carried values from tape[t], inlining the body
   on them and running the reverse-mode driver (vjp.py) on that one iteration: the cotangents of
   the carried values are carried, the cotangents of the loop-invariant operands are accumulated.

Both are ordinary `while` nodes, so the gradient graph is an ordinary graph. A loop without such a
bound raises UnsupportedError naming the fix (max_iters=...). A carried counter that is a weak
(Python) int is not taped: its value at iteration t is `start + step * t`.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..ir.graph import Const, Graph
from ..ir.types import TensorType
from ..tracer.context import TraceContext, apply
from ..tracer.tracer import Tracer
from .control import emit, inline
from .vjp import backward

_NO_BOUND = (
    "gradients through a while loop need a bound on its trip count known at trace time: use "
    "ef.fori_loop with Python-int bounds, or ef.while_loop(cond, body, init, max_iters=N) (a loop "
    "whose trip count is known only at run time and has no max_iters is not differentiable yet; "
    "see docs/autodiff.md, 'Control flow'). A loop whose body takes a gradient is fine")


def _producer(region: Graph, v):
    for n in region.nodes:
        if any(o is v for o in n.outputs):
            return n
    return None


def _int_const(v):
    if isinstance(v, Const) and v.type.shape == () and v.type.dtype.kind in "iu":
        return int(np.asarray(v.data))
    return None


def _counters(inputs, regions, k):
    """{carried index: (start, step)} for carried values that start at an int constant and that
    the body steps by a positive int constant. `inputs`: the node's input Values."""
    body = regions[1]
    out = {}
    for j in range(k):
        start = _int_const(inputs[j])
        if start is None:
            continue
        n = _producer(body, body.results[j])
        if n is None or n.op != "add":
            continue
        a, b = n.inputs
        step = None
        if a is body.params[j]:
            step = _int_const(b)
        elif b is body.params[j]:
            step = _int_const(a)
        if step is not None and step > 0:
            out[j] = (start, step)
    return out


def trip_bound(inputs, regions, k):
    """A static upper bound on the trip count of a `while` node (its input Values, regions and
    carried count), or None."""
    cond = regions[0]
    counters = _counters(inputs, regions, k)
    bounds = []

    def visit(v):
        n = _producer(cond, v)
        if n is None:
            return
        if n.op == "logical_and":
            for x in n.inputs:
                visit(x)
        elif n.op == "lt":
            a, b = n.inputs
            stop = _int_const(b)
            for j in range(k):
                if a is cond.params[j] and j in counters and stop is not None:
                    start, step = counters[j]
                    bounds.append(max(0, -(-(stop - start) // step)))

    visit(cond.results[0])
    return min(bounds) if bounds else None


def _strong(g: Tracer) -> Tracer:
    return g.astype(g.dtype) if g.weak else g


def while_vjp(g, *inputs_out, regions, carried):
    inputs = inputs_out[:-1]
    in_values = [x.value for x in inputs]
    k = carried
    init, inv = list(inputs[:k]), list(inputs[k:])
    gs = list(g) if isinstance(g, tuple) else [g]
    fl_c = [j for j in range(k) if inputs[j].dtype.kind == "f"]
    fl_inv = [j for j in range(len(inv)) if inv[j].dtype.kind == "f"]
    if not fl_c and not fl_inv:
        return (None,) * len(inputs)
    bound = trip_bound(in_values, regions, k)
    if bound is None:
        raise UnsupportedError(_NO_BOUND, loc=None)
    out = [None] * len(inputs)
    if bound == 0:   # zero-trip loop: the results are the initial values
        for j in fl_c:
            out[j] = gs[j]
        return tuple(out)
    cond_r, body_r = regions
    counters = _counters(in_values, regions, k)
    # the carried values the reverse loop reads from the tape (weak counters are recomputed)
    taped = [j for j in range(k) if not (init[j].weak and j in counters)]
    for j in range(k):
        if init[j].weak and j not in counters:
            raise UnsupportedError(
                f"gradients through a while loop: carried value {j} is a Python number "
                f"({init[j].type}) that is not a counter; give it a dtype (np.float64(...))")
    tapes0 = [apply("fill", value=0, shape=(bound, *init[j].shape), dtype=str(init[j].dtype))
              for j in taped]
    ctypes = [x.type for x in init]
    itypes = [x.type for x in inv]
    ttypes = [t.type for t in tapes0]
    i64w = TensorType(np.dtype(np.int64), (), weak=True)

    # 1. the tape loop: carried (t, *carried, *tapes), invariants (*inv)
    def tape_params(ctx):
        t = ctx.new_param(i64w, None)
        cs = [ctx.new_param(ty, None) for ty in ctypes]
        ts = [ctx.new_param(ty, None) for ty in ttypes]
        vs = [ctx.new_param(ty, None) for ty in itypes]
        return t, cs, ts, vs

    cc = TraceContext("region")
    t, cs, ts, vs = tape_params(cc)
    with cc:
        (pred,) = inline(cond_r, cs + vs)
    cond_g = Graph("region", cc.params, cc.nodes, [pred])
    bc = TraceContext("region")
    t, cs, ts, vs = tape_params(bc)
    with bc:
        new_ts = [apply("setitem", Tracer(tp), Tracer(cs[j]), Tracer(t), index=("idx",)).value
                  for tp, j in zip(ts, taped)]
        new_cs = inline(body_r, cs + vs)
        t1 = apply("add", Tracer(t), 1).value
    body_g = Graph("region", bc.params, bc.nodes, [t1, *new_cs, *new_ts])
    res = emit("while", [0, *init, *tapes0, *inv], {"carried": 1 + k + len(taped)},
               (cond_g, body_g))
    trips, tapes = res[0], list(res[1 + k:])

    # 2. the reverse loop: carried (t, *ct_carried, *ct_inv), invariants (*tapes, *inv)
    ct0 = [_strong(gs[j]) for j in fl_c]
    cti0 = [apply("fill", value=0.0, shape=inv[j].shape, dtype=str(inv[j].dtype)) for j in fl_inv]
    cttypes = [x.type for x in ct0]
    ctitypes = [x.type for x in cti0]

    def rev_params(ctx):
        t = ctx.new_param(i64w, None)
        a = [ctx.new_param(ty, None) for ty in cttypes]
        b = [ctx.new_param(ty, None) for ty in ctitypes]
        ts = [ctx.new_param(ty, None) for ty in ttypes]
        vs = [ctx.new_param(ty, None) for ty in itypes]
        return t, a, b, ts, vs

    cc = TraceContext("region")
    t, *_ = rev_params(cc)
    with cc:
        pred = apply("ge", Tracer(t), 0).value
    rcond = Graph("region", cc.params, cc.nodes, [pred])
    bc = TraceContext("region")
    t, cta, cti, ts, vs = rev_params(bc)
    with bc:
        cur = [None] * k
        for tp, j in zip(ts, taped):
            cur[j] = apply("getitem", Tracer(tp), Tracer(t), index=("idx",)).value
        for j in range(k):
            if cur[j] is None:
                start, step = counters[j]
                cur[j] = apply("add", apply("mul", Tracer(t), step), start).value
        start_n = len(bc.nodes)
        outs = inline(body_r, cur + vs)
        seeds = {}
        for j, gj in zip(fl_c, cta):
            o = outs[j]
            if not isinstance(o, Const):
                tr = Tracer(gj)
                seeds[o.id] = tr if o.id not in seeds else seeds[o.id] + tr
        wrt = [cur[j] for j in fl_c] + [vs[j] for j in fl_inv]
        grads = backward(bc.nodes[start_n:], seeds, wrt)
        new_ct = []
        for gr, w in zip(grads, wrt):
            new_ct.append(gr.value if gr is not None else apply(
                "fill", value=0.0, shape=w.type.shape, dtype=str(w.type.dtype)).value)
        new_cta = new_ct[:len(fl_c)]
        new_cti = [apply("add", Tracer(a), Tracer(b)).value
                   for a, b in zip(cti, new_ct[len(fl_c):])]
        t1 = apply("sub", Tracer(t), 1).value
    rbody = Graph("region", bc.params, bc.nodes, [t1, *new_cta, *new_cti])
    start_t = apply("sub", trips, 1)
    back = emit("while", [start_t, *ct0, *cti0, *tapes, *inv],
                {"carried": 1 + len(ct0) + len(cti0)}, (rcond, rbody))
    for j, c in zip(fl_c, back[1:1 + len(fl_c)]):
        out[j] = c
    for j, c in zip(fl_inv, back[1 + len(fl_c):]):
        out[k + j] = c
    return tuple(out)
