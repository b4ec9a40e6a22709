"""Numba emitters for control flow: `cond` as a real `if`/`else`, `while` as a real
`while True:` loop whose carried values are local variables, `print` as Numba's print.

Regions are emitted inline: each region's block arguments are bound to the names of the values
passed in, its nodes are emitted with the ordinary emitters, and its yielded values are assigned
to the result names (0-d values with an explicit cast, so Numba's types stay fixed).

Arrays and in-place updates. A region is a functional graph: `setitem` makes a new array. Inside
a loop body that would copy the buffer on every iteration, so blocks track *ownership*: a
carried array is copied once when the loop starts and is owned by the loop; a `setitem` whose
input is owned, not used after it and never viewed (no reshape/slice of it was taken earlier)
writes in place. A yielded array the block does not own is copied, so a carried array never
aliases anything else. `cond` branches own an operand only when the enclosing block owns it and
does not use it after the `cond`.

Indexing with traced scalars (`x[i]` in a loop) is emitted as direct indexing with NumPy's
negative-index rule and a bounds check (IndexError), not through the gather fallback.
"""
from __future__ import annotations

import re

from ...ir.graph import Const, Graph, Node, Value
from ...ops.registry import REGISTRY, Kind
from .emit import Emitter, cast, dtype_code


class _Block:
    """Ownership facts for one region being emitted."""

    def __init__(self, graph: Graph, owned=()):
        self.graph = graph
        self.owned: set[int] = set(owned)
        self.last_use: dict[int, int] = {}
        n = len(graph.nodes)
        for i, node in enumerate(graph.nodes):
            for v in node.inputs:
                self.last_use[v.id] = i
        for v in graph.results:
            self.last_use[v.id] = n + 1
        self.viewed: set[int] = set()
        self.pos = 0

    def dead_after(self, v: Value, pos: int) -> bool:
        return self.last_use.get(v.id, -1) <= pos

    def can_consume(self, v: Value, pos: int) -> bool:
        return (not isinstance(v, Const) and v.type.ndim > 0 and v.id in self.owned and
                self.dead_after(v, pos) and v.id not in self.viewed)


def _bind(em: Emitter, region: Graph, names):
    for p, n in zip(region.params, names):
        em.names[p.id] = n


def _yield_expr(em: Emitter, v: Value, block: _Block | None, taken: set) -> str:
    """A yielded value as it is stored into a result variable: 0-d cast to its dtype, arrays
    copied unless the block owns them (and each owned array is handed out once)."""
    ref = em.ref(v)
    if v.type.ndim == 0:
        return f"{dtype_code(v.type.dtype)}({ref})"
    owned = block is not None and not isinstance(v, Const) and v.id in block.owned and \
        v.id not in taken
    taken.add(v.id)
    return ref if owned else f"np.ascontiguousarray({ref}).copy()"


def emit_block(em: Emitter, region: Graph, names, owned=()) -> tuple[_Block, list[str]]:
    """Emit the nodes of `region` with its block arguments bound to `names`; returns the block
    and the expressions of the yielded values (arrays copied where not owned)."""
    from .kernels import emit_node, plan_absorb
    _bind(em, region, names)
    _literal_divisors(em, region)
    block = _Block(region, [p.id for p, o in zip(region.params, owned) if o])
    prev = getattr(em, "_cf_block", None)
    em._cf_block = block
    try:
        emitted = {id(n) for n in plan_absorb(em, region.nodes, region.results)}
        for i, node in enumerate(region.nodes):
            block.pos = i
            if id(node) not in emitted:   # computed inside its producer's loop (kernels.py)
                for v in node.outputs:
                    if v.id in em.fresh:
                        block.owned.add(v.id)
                continue
            em.comment_node(node)
            if node.op == "setitem" and _inplace_setitem(em, node, block, i):
                continue
            emit_node(em, node)
            for v in node.outputs:
                if v.id in em.fresh:
                    block.owned.add(v.id)
            _note_views(node, block, em)
    finally:
        em._cf_block = prev
    taken: set = set()
    return block, [_yield_expr(em, v, block, taken) for v in region.results]


def _literal_divisors(em: Emitter, region: Graph):
    """Small Python-int divisors of `%` and `//` in a loop (`i % 15`) and a Python-int 0 compared
    with are emitted as literals: LLVM then replaces the division by a multiply and folds
    `i % 15 == 0` into a multiply-compare, as in hand-written Numba. Other constants stay run-time
    arguments (sizes must, so that code is shared across sizes)."""
    for n in region.nodes:
        if n.op in ("mod", "floordiv") and len(n.inputs) == 2:
            d = n.inputs[1]
            if isinstance(d, Const) and d.type.weak and d.type.dtype.kind in "iu" and \
                    0 < abs(int(d.data)) <= 1 << 16:
                em._extra_keys[("c",) + d.key()] = f"({int(d.data)})"
        elif n.op in _COMPARE:   # `i % 15 == 0`: LLVM folds a remainder compared with 0
            for d in n.inputs:
                if isinstance(d, Const) and d.type.weak and d.type.dtype.kind in "iu" and \
                        int(d.data) == 0:
                    em._extra_keys[("c",) + d.key()] = "(0)"


_COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")


def _note_views(node: Node, block: _Block, em: Emitter):
    """Inputs of a node whose array outputs may be views of them can no longer be written."""
    if node.op in ("cond", "while", "print"):
        return
    if all(o.type.ndim == 0 or o.id in em.fresh for o in node.outputs):
        return
    for v in node.inputs:
        if not isinstance(v, Const) and v.type.ndim > 0:
            block.viewed.add(v.id)


# -- cond ---------------------------------------------------------------------------------------

def emit_cond(em: Emitter, node: Node):
    pred, operands = node.inputs[0], node.inputs[1:]
    block = getattr(em, "_cf_block", None)
    pos = block.pos if block is not None else -1
    names = [em.ref(v) for v in operands]
    owned = [block is not None and block.can_consume(v, pos) and
             sum(1 for w in operands if w is v) == 1 for v in operands]
    outs = [em.tmp("r") for _ in node.outputs]
    em.line(f"if {em.ref(pred)}:")
    for k, region in enumerate(node.regions):
        if k == 1:
            em.line("else:")
        em.indent += 1
        mark = len(em.lines)
        _, exprs = emit_block(em, region, names, owned)
        for o, e in zip(outs, exprs):
            em.line(f"{o} = {e}")
        if len(em.lines) == mark:
            em.line("pass")
        em.indent -= 1
    for o, v in zip(outs, node.outputs):
        em.define(v, o)
        if v.type.ndim:
            em.fresh.add(v.id)


# -- while --------------------------------------------------------------------------------------

def emit_while(em: Emitter, node: Node):
    k = node.attrs["carried"]
    init, inv = node.inputs[:k], node.inputs[k:]
    cond_r, body_r = node.regions
    carried = [em.tmp("w") for _ in range(k)]
    for n, v in zip(carried, init):
        if v.type.ndim == 0:
            em.line(f"{n} = {dtype_code(v.type.dtype)}({em.ref(v)})")
        else:
            em.line(f"{n} = np.ascontiguousarray({em.ref(v)}).copy()")
    names = carried + [em.ref(v) for v in inv]
    em.line("while True:")
    start = len(em.lines)
    em.indent += 1
    _, (c,) = emit_block(em, cond_r, names, [False] * len(names))
    em.line(f"if not {c}:")
    em.line("    break")
    owned = [True] * k + [False] * len(inv)
    _, exprs = emit_block(em, body_r, names, owned)
    tmps = [em.tmp("n") for _ in range(k)]
    for t, e in zip(tmps, exprs):
        em.line(f"{t} = {e}")
    for n, t in zip(carried, tmps):
        em.line(f"{n} = {t}")
    em.indent -= 1
    _hoist_allocations(em, start, node.regions)
    for n, v in zip(carried, node.outputs):
        em.define(v, n)
        if v.type.ndim:
            em.fresh.add(v.id)


# Allocations in a loop body whose sizes do not change from one iteration to the next move before
# the loop (measured: a 1000-element SGD step in fori_loop ran ~1.3x faster). Only arrays whose
# contents are used up within the iteration may be shared by all iterations: reductions' partial
# sums and block buffers, and body values that are neither yielded nor read by anything that could
# keep a reference to them (only kernels that write fresh arrays or scalars read them).
_ALLOC = re.compile(r"(\w+) = np\.empty\(.*\)$")
_SIZE = re.compile(r"(\w+) = (?:\w+\.shape\[\d+\]|\(\w+ \+ CHUNK - 1\) // CHUNK)$")
_INTERNAL = re.compile(r"(part|buf)\d+$")   # emit_reduce's partials and block buffers


def _hoist_allocations(em: Emitter, start: int, regions):
    lines = em.lines[start:]
    pad = "    " * (em.indent + 1)
    defined = set()
    for l in lines:
        m = re.match(r"\s*(?:for\s+)?(\w+)\s*(?:=|[-+*/|&]=|\s+in\s)", l)
        if m:
            defined.add(m.group(1))
    safe = getattr(em, "_loop_safe", set()) | _reusable(em, regions)
    keep, moved = [], []
    for l in lines:
        body = l[len(pad):] if l.startswith(pad) and not l[len(pad)].isspace() else None
        m = body and (_ALLOC.match(body) or _SIZE.match(body))
        if m and (m.re is _SIZE or _INTERNAL.match(m.group(1)) or m.group(1) in safe):
            rhs = body.split("=", 1)[1]
            used = set(re.findall(r"(?<![.\w])[A-Za-z_]\w*", rhs))
            if not used & defined:
                defined.discard(m.group(1))
                moved.append("    " * em.indent + body)
                continue
        keep.append(l)
    em.lines[start - 1:] = moved + [em.lines[start - 1]] + keep
    em._loop_safe = safe | {_ALLOC.match(l.strip()).group(1) for l in moved
                            if _ALLOC.match(l.strip())}


def _reusable(em: Emitter, regions) -> set:
    """Names of arrays computed at the top of `regions` that no value outliving the iteration
    can alias."""
    out = set()
    for region in regions:
        yielded = {v.id for v in region.results}
        readers: dict[int, list] = {}
        for n in region.walk():
            for v in n.inputs:
                readers.setdefault(v.id, []).append(n)
        for n in region.nodes:
            for v in n.outputs:
                if v.type.ndim and v.id not in yielded and v.id in em.names and \
                        all(_copies_out(r) for r in readers.get(v.id, ())):
                    out.add(em.names[v.id])
    return out


def _copies_out(node: Node) -> bool:
    """The node's results never alias its inputs: a reduction or an elementwise kernel."""
    op = REGISTRY[node.op]
    if node.op in ("fused.reduce", "fused.elementwise"):
        return True
    return op.kind in (Kind.REDUCTION, Kind.ELEMENTWISE) and not callable(op.emit.get("numba"))


# -- print --------------------------------------------------------------------------------------

def emit_print(em: Emitter, node: Node):
    a = node.attrs
    if a["sep"] != " " or a["end"] != "\n":
        from .kernels import emit_objmode
        emit_objmode(em, node)
        return
    it = iter(node.inputs)
    args = [repr(p) if p is not None else em.ref(next(it)) for p in a["parts"]]
    em.line(f"print({', '.join(args)})")


# -- indexing with traced scalars ---------------------------------------------------------------

def _dynamic_index(em: Emitter, x: Value, pattern, idx_values):
    """Index text for a pattern of ints, slices and 0-d traced integers; None if unsupported."""
    if any(v.type.ndim != 0 or v.type.dtype.kind not in "iu" for v in idx_values) or \
            any(p is None for p in pattern) or x.type.ndim == 0:
        return None
    it = iter(idx_values)
    parts, dim = [], 0
    xs = em.ref(x)
    for p in pattern:
        if p == "idx":
            v = next(it)
            j = em.tmp("j")
            em.line(f"{j} = np.int64({em.ref(v)})")
            em.line(f"if {j} < 0:")
            em.line(f"    {j} += {xs}.shape[{dim}]")
            em.line(f"if {j} < 0 or {j} >= {xs}.shape[{dim}]:")
            em.line(f"    raise IndexError('index out of bounds')")
            parts.append(j)
        elif isinstance(p, tuple):
            start, stop, step = p
            stop_s = "" if stop is None or stop < 0 else em.size(stop)
            parts.append(f"{em.size(start)}:{stop_s}:{em.size(step)}")
        else:
            parts.append(em.size(p))
        dim += 1
    return ", ".join(parts)


def _wrap_getitem(orig):
    def getitem(em: Emitter, node: Node):
        x, idx = node.inputs[0], node.inputs[1:]
        if not idx:
            return orig(em, node)
        mark = len(em.lines)
        s = _dynamic_index(em, x, node.attrs["index"], idx)
        if s is None:
            del em.lines[mark:]
            return orig(em, node)
        em.line(f"{em.define(node.outputs[0])} = {em.ref(x)}[{s}]")
    return getitem


def _setitem_ok(node: Node) -> bool:
    x, v = node.inputs[:2]
    return x.type.ndim > 0 and v.type.ndim == 0


def _emit_setitem(em: Emitter, node: Node, inplace: bool) -> bool:
    x, v, idx = node.inputs[0], node.inputs[1], node.inputs[2:]
    if not _setitem_ok(node):
        return False
    mark = len(em.lines)
    if idx:
        s = _dynamic_index(em, x, node.attrs["index"], idx)
    else:
        from .structured import _basic_index
        from .kernels import _Fallback
        try:
            s = _basic_index(em, node.attrs["index"], x.type.shape)
        except _Fallback:
            s = None
    if s is None:
        del em.lines[mark:]
        return False
    out = node.outputs[0]
    o = em.define(out)
    em.line(f"{o} = {em.ref(x)}" if inplace else f"{o} = {em.ref(x)}.copy()")
    em.line(f"{o}[{s}] = {cast(em.ref(v), v.type.dtype, x.type.dtype)}")
    em.fresh.add(out.id)
    return True


def _wrap_setitem(orig):
    def setitem(em: Emitter, node: Node):
        if len(node.inputs) > 2 and _emit_setitem(em, node, inplace=False):
            return
        return orig(em, node)
    return setitem


def _inplace_setitem(em: Emitter, node: Node, block: _Block, pos: int) -> bool:
    x = node.inputs[0]
    if not block.can_consume(x, pos) or not _setitem_ok(node):
        return False
    if not _emit_setitem(em, node, inplace=True):
        return False
    block.owned.add(node.outputs[0].id)
    return True


def extend_emitters(emitters: dict):
    """Add the control-flow emitters to the Numba emitter table (structured.EMITTERS)."""
    if emitters.get("cond") is emit_cond:
        return
    emitters["cond"] = emit_cond
    emitters["while"] = emit_while
    emitters["print"] = emit_print
    emitters["getitem"] = _wrap_getitem(emitters["getitem"])
    emitters["setitem"] = _wrap_setitem(emitters["setitem"])


__all__ = ["emit_cond", "emit_while", "emit_print", "emit_block", "extend_emitters"]
