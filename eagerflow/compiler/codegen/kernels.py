"""Loop nests and calls for each kind of node.

- elementwise (single ops and fused.elementwise): one loop nest over the output shape in C order;
  broadcast inputs are indexed in place (index 0 on their size-1 dims), never materialized.
- reductions (single and fused.reduce): kept dims outside, reduced dims inside with a scalar
  accumulator; float sums and products over the innermost dim go through a block buffer and an
  8-lane helper (fixed order, vectorized). Reductions over leading axes loop in C order and
  accumulate into the output array, so the inner loop stays contiguous.
- matmul: np.dot (BLAS through SciPy) for float 1-d/2-d operands, loops otherwise; a fused
  epilogue runs over the product in place.
- other ops: their entry's Numba emitter, else their NumPy implementation through numba.objmode
  (shown as such in the source).
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Const, Graph, Node, Value
from ...ir.types import TensorType
from ...ops.registry import REGISTRY, Kind, raises
from ..rt import CHUNK
from .emit import NB_TYPE, Emitter, cast, dtype_code, math_funcs, math_guarded

# -- scalar expressions ---------------------------------------------------------------------------


def loop_dtypes(op, in_types, out_type) -> list[np.dtype]:
    """The dtypes an op computes in (NumPy's loop), per input."""
    uf = op.numpy[0] if op.numpy else None
    if isinstance(uf, np.ufunc):
        sig = tuple({"b": bool, "i": int, "u": int, "f": float}[t.dtype.kind] if t.weak else t.dtype
                    for t in in_types)
        loop = list(uf.resolve_dtypes(sig + (None,) * uf.nout)[:uf.nin])
        if any(d.kind == "O" for d in loop):   # all-weak comparisons resolve to object loops
            loop = list(uf.resolve_dtypes(tuple(t.dtype for t in in_types) +
                                          (None,) * uf.nout)[:uf.nin])
        return loop
    rule = op.extra.get("loop")
    if rule is None:
        return [t.dtype for t in in_types]
    return [np.dtype(d) for d in rule(*in_types, out_type.dtype)]


def scalar_expr(em: Emitter, op, in_types, out_type, exprs) -> str:
    loop = loop_dtypes(op, in_types, out_type)
    casted = [cast(e, t.dtype, d) for e, t, d in zip(exprs, in_types, loop)]
    ld = loop[0] if loop else out_type.dtype
    uf = op.numpy[0] if op.numpy else None
    fname = math_funcs(em.fastmath).get((uf.__name__, ld.name)) if isinstance(uf, np.ufunc) else None
    if fname and em.guards is not None:
        guarded = math_guarded().get((uf.__name__, ld.name))
        if guarded:   # fast variant; the caller adds a fix-up loop for lanes the guard flags
            fname = guarded[0] if em.guard_fast else fname
            em.guards.append(f"{guarded[1]}({casted[0]})")
    inv = op.extra.get("numba_invariant")
    if inv and em.guards is not None and ld.name in inv[1] and exprs[inv[0]] in em.invariant:
        fast, guard = inv[1][ld.name]    # a variant for a loop-invariant operand, with its guard
        em.guards.append(guard.format(*casted))
        if em.guard_fast:
            return f"{dtype_code(out_type.dtype)}({fast.format(*casted)})"
    if fname:
        tmpl = fname + "(" + ", ".join("{%d}" % i for i in range(len(exprs))) + ")"
    else:
        tmpl = op.emit.get("numba")
        if isinstance(tmpl, dict):
            tmpl = tmpl.get(ld.kind, tmpl.get(""))
        if not isinstance(tmpl, str):
            raise KeyError(op.name)
    expr = tmpl.format(*casted, t=dtype_code(ld), bits=ld.itemsize * 8)
    return f"{dtype_code(out_type.dtype)}({expr})"


def emit_region(em: Emitter, region: Graph, arg_exprs) -> list[str]:
    """Emit a scalar region body; returns the expressions of its results."""
    env = {p.id: e for p, e in zip(region.params, arg_exprs)}

    def ref(v):
        return env[v.id] if v.id in env else em.ref(v)

    for n in region.nodes:
        op = REGISTRY[n.op]
        refs = [ref(v) for v in n.inputs]
        expr = scalar_expr(em, op, [v.type for v in n.inputs], n.outputs[0].type, refs)
        name = em.tmp("e")
        em.line(f"{name} = {expr}")
        env[n.outputs[0].id] = name
        if all(isinstance(v, Const) or r in em.invariant for v, r in zip(n.inputs, refs)):
            em.invariant.add(name)
    return [ref(v) for v in region.results]


def single_op_region(node: Node) -> Graph:
    """A one-op region standing for an unfused elementwise node."""
    params = [Value(TensorType(v.type.dtype, (), v.type.weak)) for v in node.inputs]
    inner = Node(node.op, params, node.attrs, [TensorType(o.type.dtype, ()) for o in node.outputs])
    return Graph("region", params, [inner], list(inner.outputs))


# -- loop helpers ---------------------------------------------------------------------------------


def out_dims(em: Emitter, shape, inputs) -> list[str]:
    """Run-time size of each dim of a broadcast shape, read from an input that has it."""
    dims = []
    for d, size in enumerate(shape):
        expr = "1" if size == 1 else None
        for v in inputs:
            off = len(shape) - v.type.ndim
            j = d - off
            if j >= 0 and v.type.shape[j] != 1 and not isinstance(v, Const) and \
                    v.id not in em.row_local:
                expr = f"{em.ref(v)}.shape[{j}]"
                break
        if expr is None:
            expr = em.size(size)
        dims.append(expr)
    return dims


def invariant_elems(em: Emitter, inputs, shape, idx, inner: int) -> list[str]:
    """Element expressions for a loop body; inputs that do not vary along dim `inner` (the
    innermost loop) are loaded once before it, so that loop is a clean, vectorizable stream."""
    out = []
    for v in inputs:
        e = elem(em, v, shape, idx)
        j = inner - (len(shape) - v.type.ndim)
        if v.type.ndim and (j < 0 or (v.type.shape[j] == 1 and shape[inner] != 1)):
            h = em.tmp("h")
            em.line(f"{h} = {e}")
            e = h
            em.invariant.add(e)
        elif not v.type.ndim:
            em.invariant.add(e)
        out.append(e)
    return out


def elem(em: Emitter, v: Value, shape, idx) -> str:
    if v.type.ndim == 0:
        return em.ref(v)
    return f"{em.ref(v)}[{', '.join(elem_index(em, v, shape, idx))}]"


def elem_index(em: Emitter, v: Value, shape, idx) -> list[str]:
    """Index expressions of array v's element at loop indices idx (broadcast dims read 0)."""
    off = len(shape) - v.type.ndim
    ix = ["0" if v.type.shape[j] == 1 and shape[off + j] != 1 else idx[off + j]
          for j in range(v.type.ndim)]
    return ix[1:] if v.id in em.row_local else ix   # a row buffer: the group's loop picks the row


def open_loops(em: Emitter, dims, names, par=False):
    """Loops over dims; with par, the outermost is a prange in the parallel variant."""
    for k, (d, i) in enumerate(zip(dims, names)):
        rng = "prange" if par and k == 0 and em.threaded else "range"
        em.line(f"for {i} in {rng}({d}):")
        em.indent += 1


def close_loops(em: Emitter, n):
    em.indent -= n


def shape_tuple(dims) -> str:
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


# -- elementwise ----------------------------------------------------------------------------------


def emit_elementwise(em: Emitter, node: Node, region: Graph, shape):
    shape = tuple(shape)
    if not shape:
        outs = [em.define(v) for v in node.outputs]
        exprs = emit_region(em, region, [em.ref(v) for v in node.inputs])
        for o, e, v in zip(outs, exprs, node.outputs):
            em.line(f"{o} = {e}")
        return
    dims = out_dims(em, shape, node.inputs)
    dnames = [em.tmp("d") for _ in dims]
    for n, d in zip(dnames, dims):
        em.hoist(f"{n} = {d}")
    outs = [em.out_array(v, dnames) for v in node.outputs]
    idx = [f"i{k}" for k in range(len(shape))]
    skip = 1 if em.row else 0   # in a row group the group's loop runs dim 0
    nloops = len(shape) - skip
    if em.threaded and nloops == 1 and not skip:
        _elementwise_chunks(em, node, region, shape, dnames[0], idx)
        return
    open_loops(em, dnames[skip:-1], idx[skip:-1], par=not skip)
    args = invariant_elems(em, node.inputs, shape, idx, len(shape) - 1)
    if nloops:
        at = len(em.lines)
        open_loops(em, dnames[-1:], idx[-1:], par=not skip and nloops == 1)
        em.guards, em.guard_fast = [], True
    exprs = emit_region(em, region, args)
    for v, e in zip(node.outputs, exprs):
        em.line(f"{elem(em, v, shape, idx)} = {e}")
    guards, em.guards = em.guards, None
    if guards:
        def store(exprs):
            for v, e in zip(node.outputs, exprs):
                em.line(f"{elem(em, v, shape, idx)} = {e}")
        fixup(em, at, guards, lambda: open_loops(em, dnames[-1:], idx[-1:]), region, args, store)
    close_loops(em, nloops)


def _elementwise_chunks(em: Emitter, node: Node, region: Graph, shape, d, idx):
    """A threaded 1-d kernel: a prange over CHUNK-element chunks, each a serial loop over per-chunk
    slices. A prange over the elements themselves indexes with the thread's range and keeps
    Numba's wrap-around checks in the loop (np.exp on 1e7 elements, 2 threads: 7.4-8.1 ms against
    5.9-6.1 ms in chunks, measured here)."""
    ch, lo, m, jj = em.tmp("ch"), em.tmp("lo"), em.tmp("m"), em.tmp("jj")
    em.line(f"for {ch} in prange(({d} + CHUNK - 1) // CHUNK):")
    em.indent += 1
    start, indent = len(em.lines), em.indent
    em.line(f"{lo} = {ch} * CHUNK")
    em.line(f"{m} = min(CHUNK, {d} - {lo})")
    args = invariant_elems(em, node.inputs, shape, idx, 0)
    views = [block_view(em, v, shape, idx, lo, m) for v in node.inputs]
    args = [e if sv is None else f"{sv}[{jj}]" for sv, e in zip(views, args)]
    outs = [block_view(em, v, shape, idx, lo, m) for v in node.outputs]

    def reopen():
        em.line(f"for {jj} in range({m}):")
        em.indent += 1
        em.line(f"{idx[0]} = {lo} + {jj}")

    def store(exprs):
        for o, e in zip(outs, exprs):
            em.line(f"{o}[{jj}] = {e}")
    at = len(em.lines)
    reopen()
    em.guards, em.guard_fast = [], True
    store(emit_region(em, region, args))
    guards, em.guards = em.guards, None
    if guards:
        fixup(em, at, guards, reopen, region, args, store)
    em.indent = indent
    em.line(em.outline(start, indent, ch))
    close_loops(em, 1)


def fixup(em: Emitter, at: int, guards, reopen, region, args, store):
    """Close the fast innermost loop (opened at line `at`) with a flag set by any flagged lane, and
    add a loop that runs when it is set and recomputes just those lanes with the full functions."""
    flag = em.tmp("big")
    # an or of bools, not a count: the vectorized loop then carries a mask, not int64 adds
    # (np.exp on 1e7 elements, 2 threads: 7.1-7.3 -> 6.4-6.8 ms measured here)
    em.lines.insert(at, "    " * (em.indent - 1) + f"{flag} = False")
    em.line(f"{flag} |= {' | '.join(guards)}")
    em.indent -= 1
    em.line(f"if {flag}:")
    em.indent += 1
    reopen()
    em.guards, em.guard_fast = [], False
    exprs = emit_region(em, region, args)
    guards, em.guards = em.guards, None
    em.line(f"if {' | '.join(guards)}:")
    em.indent += 1
    store(exprs)
    em.indent -= 2   # back inside the enclosing loop level the caller closes


# -- reductions -----------------------------------------------------------------------------------


def _identity(rop, dt: np.dtype) -> str:
    ident = rop.extra["identity"]
    if ident == "-inf":
        v = "-np.inf" if dt.kind == "f" else str(np.iinfo(dt).min) if dt.kind in "iu" else "False"
    elif ident == "+inf":
        v = "np.inf" if dt.kind == "f" else str(np.iinfo(dt).max) if dt.kind in "iu" else "True"
    else:
        v = repr(ident)
    return f"{dtype_code(dt)}({v})"


def emit_reduce(em: Emitter, node: Node, region: Graph, shape, axis, keepdims, reduce):
    rop = REGISTRY[reduce]
    shape = tuple(shape)
    r = len(shape)
    axes = tuple(range(r)) if axis is None else tuple(axis)
    kept = [d for d in range(r) if d not in axes]
    res = node.outputs[0]
    out = em.define(res)
    stored = node.outputs[1:]
    dims = out_dims(em, shape, node.inputs)
    dn = [em.tmp("d") for _ in dims]
    for n, d in zip(dn, dims):
        em.hoist(f"{n} = {d}")
    more = em.absorb.get(id(node), [])   # plain reductions of stored outputs, done per block
    block_local = {m.inputs[0].id for m in more if m.inputs[0].id in em.block_local}
    for v in stored:
        if v.id not in block_local:
            em.out_array(v, dn)
    idx = [f"i{k}" for k in range(r)]
    val_type = region.results[0].type.dtype
    acc_dt = res.type.dtype
    index_kind = rop.extra.get("index", False)
    trailing = axes == tuple(range(r - len(axes), r))
    kept_shape = shape_tuple([dn[d] for d in kept])

    args = None   # element expressions, set before the innermost loop (invariant_elems)

    store_view = {}   # stored output -> its per-block slice, in the block loop

    def store_to(v):
        return f"{store_view[v.id]}[{jj}]" if v.id in store_view else elem(em, v, shape, idx)

    def body():
        exprs = emit_region(em, region, args if args is not None else
                            [elem(em, v, shape, idx) for v in node.inputs])
        for v, e in zip(stored, exprs[1:]):
            em.line(f"{store_to(v)} = {e}")
        return exprs[0]

    if not index_kind and not trailing:
        _reduce_c_order(em, rop, body, res, out, dn, idx, kept, kept_shape, keepdims, shape, axes,
                        val_type, acc_dt)
        return
    # kept dims outside, reduced dims inside, scalar accumulator. A full reduction accumulates
    # fixed partials (per row of dim 0, or per CHUNK elements of a 1-d input) and combines them
    # serially: the same order with one thread or many.
    red = [d for d in range(r) if d in axes]
    partial = not kept and not index_kind and r >= 1
    chunked = partial and r == 1
    outer = [0] if partial and r >= 2 else ([] if chunked else kept)
    inner = [d for d in red if d not in outer]
    acc_arr = None
    # serial code folds the chunk partials into a scalar as they come, in the order the threaded
    # code combines its array of partials: the same result, without an allocation per call
    running = chunked and not em.threaded
    if chunked:
        nch = em.tmp("nch")
        em.line(f"{nch} = ({dn[0]} + CHUNK - 1) // CHUNK")
        acc_arr = em.tmp("tot" if running else "part")
        em.line(f"{acc_arr} = " + (_identity(rop, acc_dt) if running else
                                   f"np.empty(({nch},), {dtype_code(acc_dt)})"))
    elif outer:
        acc_arr = em.tmp("acc")
        em.hoist(f"{acc_arr} = np.empty({shape_tuple([dn[d] for d in outer])}, "
                 f"{dtype_code(acc_dt)})")
    extra = []   # (node, rop, accumulator, partials array) of each absorbed reduction
    for mn in more:
        mrop, mdt = REGISTRY[mn.op], mn.outputs[0].type.dtype
        marr = None
        if running:
            marr = em.tmp("tot")
            em.line(f"{marr} = {_identity(mrop, mdt)}")
        elif chunked or outer:
            marr = em.tmp("part" if chunked else "acc")
            sizes = f"({nch},)" if chunked else shape_tuple([dn[d] for d in outer])
            (em.line if chunked else em.hoist)(f"{marr} = np.empty({sizes}, {dtype_code(mdt)})")
        extra.append((mn, mrop, em.tmp("a"), marr))
    for v in stored:
        if v.id in block_local:
            em.define(v)
            if not em.threaded:
                em.hoist(f"{em.ref(v)} = ef_stack_block({dtype_code(v.type.dtype)})")
    block = rop.extra.get("block") if acc_dt.kind == "f" and val_type.kind == "f" and red else None
    buf = em.tmp("buf") if block else None
    if block and not em.threaded:
        em.hoist(f"{buf} = ef_stack_block({dtype_code(acc_dt)})")
    if chunked:
        c = em.tmp("ch")   # not "c": scalar constants are named c0, c1, ...
        open_loops(em, [nch], [c], par=True)
        lo, hi = em.tmp("lo"), em.tmp("hi")
        em.line(f"{lo} = {c} * CHUNK")
        em.line(f"{hi} = min({dn[0]}, {lo} + CHUNK)")
    else:
        skip = 1 if em.row else 0   # in a row group the group's loop runs dim 0 (kept)
        open_loops(em, [dn[d] for d in outer[skip:]], [idx[d] for d in outer[skip:]],
                   par=not skip)
    if block and em.threaded:
        em.line(f"{buf} = ef_stack_block({dtype_code(acc_dt)})")
        for v in stored:
            if v.id in block_local:
                em.line(f"{em.ref(v)} = ef_stack_block({dtype_code(v.type.dtype)})")
    acc = em.tmp("a")
    em.line(f"{acc} = {_identity(rop, acc_dt) if not index_kind else _arg_init(rop, val_type)}")
    for mn, mrop, macc, _ in extra:
        em.line(f"{macc} = {_identity(mrop, mn.outputs[0].type.dtype)}")
    if index_kind:
        best = em.tmp("b")
        em.line(f"{best} = {acc}")
        em.line(f"{acc} = np.int64(0)")
        flat = em.tmp("f")
        em.line(f"{flat} = 0")
    outer_red, last = inner[:-1], inner[-1] if inner else None
    open_loops(em, [dn[d] for d in outer_red], [idx[d] for d in outer_red])
    if last is not None:
        args = invariant_elems(em, node.inputs, shape, idx, last)
    start, stop = (lo, hi) if chunked else ("0", dn[last] if last is not None else None)
    direct = _direct_input(node, region, shape, last, acc_dt) if last is not None else None
    if last is not None and block:
        jb, m, jj = em.tmp("jb"), em.tmp("m"), em.tmp("jj")
        em.line(f"for {jb} in range({start}, {stop}, BLOCK):")
        em.indent += 1
        em.line(f"{m} = min(BLOCK, {stop} - {jb})")
        if direct is not None and not stored:   # reduce the input's own row: no copy
            src = block_view(em, direct, shape, idx, jb, m)
        else:
            src = buf
            if last == r - 1:
                # index per-block slices with jj: `x[i0, jb + jj]` costs wrap-around checks
                # that keep the loop from vectorizing well (about 1.5x slower measured)
                views = [block_view(em, v, shape, idx, jb, m) for v in node.inputs]
                args = [e if sv is None else f"{sv}[{jj}]" for sv, e in zip(views, args)]
                for v in stored:   # a block-local value is its own block buffer
                    store_view[v.id] = em.ref(v) if v.id in block_local else \
                        block_view(em, v, shape, idx, jb, m)
                same = [store_view[v.id] for v, rv in zip(stored, region.results[1:])
                        if rv is region.results[0] and v.type.dtype == acc_dt]
                if same:   # the reduced value is also stored: sum the stored block
                    src = same[0]
            at = len(em.lines)
            em.line(f"for {jj} in range({m}):")
            em.indent += 1
            em.line(f"{idx[last]} = {jb} + {jj}")
            em.guards, em.guard_fast = [], True
            x = body()
            if src == buf:
                em.line(f"{buf}[{jj}] = {cast(x, val_type, acc_dt)}")
            guards, em.guards = em.guards, None
            if guards:
                def store(exprs):
                    for v, e in zip(stored, exprs[1:]):
                        em.line(f"{store_to(v)} = {e}")
                    if src == buf:
                        em.line(f"{buf}[{jj}] = {cast(exprs[0], val_type, acc_dt)}")

                def reopen():
                    em.line(f"for {jj} in range({m}):")
                    em.indent += 1
                    em.line(f"{idx[last]} = {jb} + {jj}")
                fixup(em, at, guards, reopen, region, args, store)
            em.indent -= 1
        blk = f"{block}({src}, {m}, {_identity(rop, acc_dt)})"
        em.line(f"{acc} = {_combine(rop, acc, blk, acc_dt)}")
        for mn, mrop, macc, _ in extra:   # same blocks, same order as a reduction of its own
            mdt = mn.outputs[0].type.dtype
            mblk = f"{mrop.extra['block']}({store_view[mn.inputs[0].id]}, {m}, " \
                f"{_identity(mrop, mdt)})"
            em.line(f"{macc} = {_combine(mrop, macc, mblk, mdt)}")
        em.indent -= 1
    else:
        if last is not None:
            em.line(f"for {idx[last]} in range({start}, {stop}):")
            em.indent += 1
        x = body()
        if index_kind:
            _arg_step(em, rop, x, val_type, best, acc, flat if axis is None else idx[axes[0]])
            if axis is None:
                em.line(f"{flat} += 1")
        else:
            em.line(f"{acc} = {_combine(rop, acc, cast(x, val_type, acc_dt), acc_dt)}")
        if last is not None:
            close_loops(em, 1)
    close_loops(em, len(outer_red))
    at = f"{c}" if chunked else ", ".join(idx[d] for d in outer)
    if running:
        for rn, rrop, racc, rarr in [(node, rop, acc, acc_arr)] + extra:
            rdt = rn.outputs[0].type.dtype
            em.line(f"{rarr} = {_combine(rrop, rarr, racc, rdt)}")
        close_loops(em, 1)
    elif chunked or outer:
        em.line(f"{acc_arr}[{at}] = {acc}")
        for _, _, macc, marr in extra:
            em.line(f"{marr}[{at}] = {macc}")
        close_loops(em, 1 if chunked else len(outer) - (1 if em.row else 0))
    scalar = not kept
    for rn, rrop, racc, rarr in [(node, rop, acc, acc_arr)] + extra:
        rres, rdt = rn.outputs[0], rn.outputs[0].type.dtype
        if running:
            racc = rarr
        elif partial:
            racc = em.tmp("a")
            em.line(f"{racc} = {_identity(rrop, rdt)}")
            p = em.tmp("p")
            em.line(f"for {p} in {rarr}:")
            em.line(f"    {racc} = {_combine(rrop, racc, p, rdt)}")
        rout = out if rn is node else em.define(rres)
        rkeep = keepdims if rn is node else rn.attrs["keepdims"]
        _finish_reduce(em, rout, racc if scalar else rarr, rres, rkeep, shape, axes, kept, dn,
                       scalar=scalar)
        if rres.type.ndim:
            em.fresh.add(rres.id)


def plan_absorb(em: Emitter, nodes, results=None) -> list:
    """Plain reductions of a fused reduction's stored output, along the same axes, are computed
    in the producer's block loop (same blocks, so the same result); a stored output that only
    they read becomes a block buffer. Sets em.absorb / em.block_local; returns the other nodes."""
    users: dict[int, list] = {}
    for n in em.graph.walk():
        for v in n.inputs:
            users.setdefault(v.id, []).append(n)
    results = {v.id for v in (em.graph.results if results is None else results)}
    here = {id(n) for n in nodes}
    taken = set()
    for n in nodes:
        a = n.attrs
        if REGISTRY[n.op].kind is not Kind.FUSED or "reduce" not in a or not _blocked(
                REGISTRY[a["reduce"]], n.outputs[0].type.dtype, a["shape"], a["axis"]):
            continue
        axes = _axes(a["axis"], len(a["shape"]))
        for v in n.outputs[1:]:
            ms = [m for m in users.get(v.id, []) if id(m) in here and
                  REGISTRY[m.op].kind is Kind.REDUCTION and len(m.inputs) == 1 and
                  v.type.dtype == m.outputs[0].type.dtype and
                  _blocked(REGISTRY[m.op], v.type.dtype, a["shape"], m.attrs["axis"]) and
                  _axes(m.attrs["axis"], len(a["shape"])) == axes]
            em.absorb.setdefault(id(n), []).extend(ms)
            taken.update(id(m) for m in ms)
            if ms and len(ms) == len(users[v.id]) and v.id not in results:
                em.block_local.add(v.id)
    return [n for n in nodes if id(n) not in taken]


def _axes(axis, r) -> tuple:
    return tuple(range(r)) if axis is None else tuple(sorted(d % r for d in axis))


def _blocked(rop, dt, shape, axis) -> bool:
    """The reduction takes emit_reduce's block path over the innermost dim."""
    r = len(shape)
    axes = _axes(axis, r)
    return bool(r) and bool(rop.extra.get("block")) and not rop.extra.get("index") and \
        np.dtype(dt).kind == "f" and axes == tuple(range(r - len(axes), r))


def block_view(em: Emitter, v: Value, shape, idx, start, m) -> str | None:
    """The name of a per-block slice `v[i0, .., start:start + m]` (emitted here) when v varies
    along the innermost dim, else None."""
    k = v.type.ndim - 1
    if k < 0 or (v.type.shape[k] == 1 and shape[-1] != 1):
        return None
    ix = elem_index(em, v, shape, idx)
    ix[-1] = f"{start}:{start} + {m}"
    name = em.tmp("sv")
    em.line(f"{name} = {em.ref(v)}[{', '.join(ix)}]")
    return name


def _direct_input(node, region, shape, last, acc_dt):
    """The input a reduction body merely forwards, when it can be reduced in place: a full-shape
    array of the accumulator's dtype whose last dim is the reduced, innermost one."""
    if region.nodes or len(region.results) != 1 or region.results[0] not in region.params:
        return None
    v = node.inputs[region.params.index(region.results[0])]
    if isinstance(v, Const) or v.type.shape != tuple(shape) or v.type.dtype != acc_dt or \
            last != len(shape) - 1:
        return None
    return v


def _reduce_c_order(em, rop, body, res, out, dn, idx, kept, kept_shape, keepdims, shape, axes,
                    val_type, acc_dt):
    """Reduced axes not innermost: loops in C order, accumulating into the output array, so the
    inner (kept) loop stays contiguous. In parallel code, threads take fixed chunks of the last
    dim when it is kept; each element still accumulates in the serial order."""
    r = len(shape)
    acc = em.tmp("acc")
    em.line(f"{acc} = np.full({kept_shape}, {_identity(rop, acc_dt)}, {dtype_code(acc_dt)})")
    if em.threaded and (r - 1) in kept:
        c = em.tmp("ch")   # not "c": scalar constants are named c0, c1, ...
        em.line(f"for {c} in prange(({dn[-1]} + COLS - 1) // COLS):")
        em.indent += 1
        open_loops(em, dn[:-1], idx[:-1])
        em.line(f"for {idx[-1]} in range({c} * COLS, min({dn[-1]}, {c} * COLS + COLS)):")
        em.indent += 1
        nloops = r + 1
    else:
        open_loops(em, dn, idx)
        nloops = r
    x = cast(body(), val_type, acc_dt)
    k = ", ".join(idx[d] for d in kept)
    em.line(f"{acc}[{k}] = {_combine(rop, f'{acc}[{k}]', x, acc_dt)}")
    close_loops(em, nloops)
    _finish_reduce(em, out, acc, res, keepdims, shape, axes, kept, dn, scalar=False)
    em.fresh.add(res.id)


def _combine(rop, a, x, dt) -> str:
    tmpl = rop.extra["combine"]
    return f"{dtype_code(dt)}({tmpl.format(a=a, x=x)})"


def _arg_init(rop, dt):
    ident = rop.extra["identity_value"]
    if dt.kind == "f":
        return f"{dtype_code(dt)}({'-np.inf' if ident == '-inf' else 'np.inf'})"
    if dt.kind == "b":
        return "np.int64(0)" if ident == "-inf" else "np.int64(1)"
    info = np.iinfo(dt)
    return f"{dtype_code(dt)}({info.min if ident == '-inf' else info.max})"


def _arg_step(em, rop, x, dt, best, acc, pos):
    cmp = rop.extra["better"]
    xv = em.tmp("x")
    em.line(f"{xv} = {x if dt.kind != 'b' else f'np.int64({x})'}")
    nan = f" or ({xv} != {xv} and {best} == {best})" if dt.kind == "f" else ""
    em.line(f"if {xv} {cmp} {best}{nan}:")
    em.line(f"    {best} = {xv}")
    em.line(f"    {acc} = np.int64({pos})")


def _finish_reduce(em, out, acc, res, keepdims, shape, axes, kept, dn, scalar):
    if scalar:
        if res.type.ndim:   # keepdims of a full reduction
            em.line(f"{out} = np.full({shape_tuple(['1'] * res.type.ndim)}, {acc})")
        else:
            em.line(f"{out} = {acc}")
        return
    if keepdims:
        ks = shape_tuple(["1" if d in axes else dn[d] for d in range(len(shape))])
        em.hoist(f"{out} = {acc}.reshape({ks})")
    else:
        em.hoist(f"{out} = {acc}")


# -- matmul ---------------------------------------------------------------------------------------


def emit_matmul(em: Emitter, node: Node, region: Graph | None):
    a, b = node.inputs[:2]
    extras = node.inputs[2:]
    res = node.outputs[0]
    mm_dt = REGISTRY["matmul"].infer(a.type, b.type).dtype
    an, bn = em.ref(a), em.ref(b)
    an = an if a.type.dtype == mm_dt else f"{an}.astype({dtype_code(mm_dt)})"
    bn = bn if b.type.dtype == mm_dt else f"{bn}.astype({dtype_code(mm_dt)})"
    m = em.tmp("mm")
    matrix = a if a.type.ndim == 2 else b   # of a vector-matrix product (ndims 1 and 2)
    narrow = em.threaded and mm_dt.kind == "f" and a.type.ndim + b.type.ndim == 3 and \
        NARROW[0] <= matrix.type.shape[-1] <= NARROW[1]
    if narrow and a.type.ndim == 1:
        _vecmat_rows(em, m, an, bn, mm_dt)
    elif narrow:
        _matvec_rows(em, m, an, bn, mm_dt)
    elif mm_dt.kind == "f" and a.type.ndim <= 2 and b.type.ndim <= 2:
        em.line(f"{m} = np.dot({an}, {bn})")
    elif mm_dt.kind != "b" and a.type.ndim == 2 and b.type.ndim == 2:
        _matmul_loops(em, m, an, bn, mm_dt)
    else:   # batched, 1-d integer or boolean: the product through NumPy, the epilogue compiled
        em.uses_objmode = True
        mt = TensorType(mm_dt, res.type.shape)
        em.line(f'with objmode({m}="{nb_type(mt)}"):')
        em.line(f"    {m} = np.asarray(ef_impl('matmul')({an}, {bn}), {dtype_code(mm_dt)})"
                + ("[()]" if not mt.ndim else ""))
    out = em.define(res)
    if region is None:
        em.line(f"{out} = {m}")
    else:
        shape = res.type.shape
        if not shape:
            (e,) = emit_region(em, region, [m] + [em.ref(v) for v in extras])
            em.line(f"{out} = {e}")
            return
        dims = [f"{m}.shape[{k}]" for k in range(len(shape))]
        same = res.type.dtype == mm_dt
        em.line(f"{out} = {m}" if same else
                f"{out} = np.empty({m}.shape, {dtype_code(res.type.dtype)})")
        idx = [f"i{k}" for k in range(len(shape))]
        open_loops(em, dims, idx)
        (e,) = emit_region(em, region, [f"{m}[{', '.join(idx)}]"] +
                           [elem(em, v, shape, idx) for v in extras])
        em.line(f"{out}[{', '.join(idx)}] = {e}")
        close_loops(em, len(shape))
    if res.type.ndim:
        em.fresh.add(res.id)


# Threaded code computes vector @ matrix and matrix @ vector itself when the matrix has this many
# columns: row blocks beat BLAS's transposed gemv 1.2-2.4x from 8 to 256 columns (1e5 x 20: 0.33
# against 0.9 ms); matrix @ vector is ~25% slower than BLAS (0.38-0.43 against 0.30-0.32 ms), but
# then no BLAS threads compete with the kernels' OpenMP threads for the cores, which cost more
# (docs/numba_backend.md, "Threads").
NARROW = (8, 256)


def _matvec_rows(em, m, an, bn, dt):
    """M @ v for a narrow M in threaded code: tasks of MATROWS rows, a dot product per row."""
    n, k, c, lo, i, s, j = (em.tmp(x) for x in ("n", "k", "c", "lo", "i", "s", "j"))
    em.line(f"{n}, {k} = {an}.shape")
    em.line(f"{m} = np.empty({n}, {dtype_code(dt)})")
    em.line(f"for {c} in prange(({n} + MATROWS - 1) // MATROWS):")
    em.line(f"    {lo} = {c} * MATROWS")
    em.line(f"    for {i} in range({lo}, min({n}, {lo} + MATROWS)):")
    em.line(f"        {s} = {dtype_code(dt)}(0)")
    em.line(f"        for {j} in range({k}):")
    em.line(f"            {s} += {an}[{i}, {j}] * {bn}[{j}]")
    em.line(f"        {m}[{i}] = {s}")


def _vecmat_rows(em, m, an, bn, dt):
    """v @ M for a tall, narrow M in threaded code: each task sums MATROWS rows into its own
    partial row; the partials are added serially in order, so the bits are the same for any
    thread count."""
    n, k, nb, part, c, lo, acc, i, vi, j = (
        em.tmp(x) for x in ("n", "k", "nb", "part", "c", "lo", "acc", "i", "vi", "j"))
    dtc = dtype_code(dt)
    em.line(f"{n}, {k} = {bn}.shape")
    em.line(f"{nb} = ({n} + MATROWS - 1) // MATROWS")
    em.line(f"{part} = np.empty(({nb}, {k}), {dtc})")
    em.line(f"for {c} in prange({nb}):")
    em.line(f"    {lo} = {c} * MATROWS")
    em.line(f"    {acc} = {part}[{c}]")
    em.line(f"    {acc}[:] = 0")
    em.line(f"    for {i} in range({lo}, min({n}, {lo} + MATROWS)):")
    em.line(f"        {vi} = {an}[{i}]")
    em.line(f"        for {j} in range({k}):")
    em.line(f"            {acc}[{j}] += {vi} * {bn}[{i}, {j}]")
    em.line(f"{m} = np.zeros({k}, {dtc})")
    em.line(f"for {c} in range({nb}):")
    em.line(f"    for {j} in range({k}):")
    em.line(f"        {m}[{j}] += {part}[{c}, {j}]")


def _matmul_loops(em, m, an, bn, dt):
    em.line(f"{m} = np.zeros(({an}.shape[0], {bn}.shape[1]), {dtype_code(dt)})")
    em.line(f"for i in range({an}.shape[0]):")
    em.line(f"    for k in range({an}.shape[1]):")
    em.line(f"        aik = {an}[i, k]")
    em.line(f"        for j in range({bn}.shape[1]):")
    em.line(f"            {m}[i, j] += aik * {bn}[k, j]")


# -- objmode fallback -----------------------------------------------------------------------------


def py_literal(v) -> str:
    if isinstance(v, float) and not np.isfinite(v):
        return f"float({str(v)!r})"
    if isinstance(v, tuple):
        return "(" + "".join(py_literal(x) + ", " for x in v) + ")"
    return repr(v)


def nb_type(t: TensorType) -> str:
    base = NB_TYPE[t.dtype.name]
    return base if t.ndim == 0 else f"{base}[{', '.join([':'] * t.ndim)}]"


def emit_objmode(em: Emitter, node: Node):
    em.uses_objmode = True
    outs = [em.define(v) for v in node.outputs]
    decl = ", ".join(f'{o}="{nb_type(v.type)}"' for o, v in zip(outs, node.outputs))
    args = [em.ref(v) for v in node.inputs] + [f"{k}={py_literal(v)}"
                                                for k, v in node.attrs.items()]
    em.line(f"with objmode({decl}):")
    call = f"ef_impl({node.op!r})({', '.join(args)})"
    if len(outs) == 1:
        suffix = "[()]" if node.outputs[0].type.ndim == 0 else ""
        em.line(f"    {outs[0]} = np.asarray({call}, {dtype_code(node.outputs[0].type.dtype)}){suffix}")
    else:
        tmp = em.tmp("r")
        em.line(f"    {tmp} = {call}")
        for k, (o, v) in enumerate(zip(outs, node.outputs)):
            suffix = "[()]" if v.type.ndim == 0 else ""
            em.line(f"    {o} = np.asarray({tmp}[{k}], {dtype_code(v.type.dtype)}){suffix}")
    for v in node.outputs:
        em.fresh.add(v.id)


# -- dispatch -------------------------------------------------------------------------------------


def emit_node(em: Emitter, node: Node):
    op = REGISTRY[node.op]
    custom = op.emit.get("numba")
    mark = len(em.lines)
    em.threaded = em.parallel and kernel_work(node) >= em.par_min and \
        all(o.id in em.top_level for o in node.outputs) and not may_raise(node)
    try:
        if callable(custom):
            custom(em, node)
        elif op.kind is Kind.ELEMENTWISE:
            emit_elementwise(em, node, single_op_region(node), node.outputs[0].type.shape)
        elif op.kind is Kind.REDUCTION:
            x = node.inputs[0]
            emit_reduce(em, node, _identity_region(x.type), x.type.shape, node.attrs["axis"],
                        node.attrs["keepdims"], node.op)
        else:
            emit_objmode(em, node)
    except (KeyError, NotImplementedError, _Fallback):
        del em.lines[mark:]
        _reset_outputs(em, node)
        emit_objmode(em, node)


# -- row groups -----------------------------------------------------------------------------------
#
# Consecutive kernels that all keep dim 0 (elementwise kernels, reductions over trailing axes only)
# and pass each other values indexed by that dim run inside one loop over it: each row's data
# moves through every kernel while it is in cache (softmax: max, exp-sum and divide read a row of
# x from memory once). Per row, the order of every operation is the same as kernel by kernel.


def _row_shape(node: Node):
    """The iteration shape of a kernel that can join a row group, else None."""
    op = REGISTRY[node.op]
    a = node.attrs
    if op.kind is Kind.ELEMENTWISE:
        shape, axes = node.outputs[0].type.shape, ()
    elif op.kind is Kind.REDUCTION and not op.extra.get("index"):
        shape, axes = node.inputs[0].type.shape, a["axis"]
    elif op.kind is Kind.FUSED and "reduce" in a and not REGISTRY[a["reduce"]].extra.get("index"):
        shape, axes = tuple(a["shape"]), a["axis"]
    elif op.kind is Kind.FUSED and set(a) == {"shape"}:
        shape, axes = tuple(a["shape"]), ()
    else:
        return None
    # rows of one element (1-d kernels) are no rows: such kernels keep their own vectorized loops
    if len(shape) < 2 or shape[0] in (0, 1) or axes is None or 0 in axes:
        return None
    if axes and tuple(axes) != tuple(range(len(shape) - len(axes), len(shape))):
        return None
    regions = node.regions or ()
    for r in regions:
        for n in r.nodes:
            t = REGISTRY[n.op].emit.get("numba")
            if not isinstance(t, (str, dict)):
                return None
    if op.kind is Kind.ELEMENTWISE and not isinstance(op.emit.get("numba"), (str, dict)):
        return None
    return shape


def row_groups(em: Emitter, nodes):
    """Split top-level nodes into runs: [node] alone, or a list of row-group members."""
    out, cur, rows, produced = [], [], None, set()
    top = {id(n) for n in em.graph.nodes}
    top = all(id(n) in top for n in nodes)
    for n in nodes:
        shape = _row_shape(n) if top else None
        ok = shape is not None and (rows is None or shape[0] == rows)
        if ok and cur:   # values from earlier members must index dim 0 as this kernel does
            ok = all(v.type.ndim == len(shape) for v in n.inputs if v.id in produced)
        if not ok:
            if len(cur) > 1:
                out.append(cur)
            else:
                out.extend([m] for m in cur)
            cur, rows, produced = [], None, set()
            shape = _row_shape(n) if top else None
            if shape is None:
                out.append([n])
                continue
        cur.append(n)
        rows = shape[0]
        produced.update(o.id for o in n.outputs)
    if len(cur) > 1:
        out.append(cur)
    else:
        out.extend([m] for m in cur)
    return out


def emit_row_group(em: Emitter, group):
    """One loop over dim 0 around every member's inner loops; setup lines hoisted before it."""
    mark, indent0, extra0 = len(em.lines), em.indent, len(em.extra)
    first = group[0]
    rows = out_dims(em, _row_shape(first), first.inputs)[0]
    threaded = em.parallel and max(kernel_work(n) for n in group) >= em.par_min and \
        not any(may_raise(n) for n in group)
    em.row, em.pre = True, []
    em.row_local, em.row_bufs = _row_local(em.graph, group), []
    em.threaded_row = threaded
    em.indent += 1
    try:
        for n in group:
            em.comment_node(n)
            em.threaded = False   # the group's loop is the parallel one
            op = REGISTRY[n.op]
            if op.kind is Kind.ELEMENTWISE:
                emit_elementwise(em, n, single_op_region(n), n.outputs[0].type.shape)
            elif op.kind is Kind.REDUCTION:
                x = n.inputs[0]
                emit_reduce(em, n, _identity_region(x.type), x.type.shape, n.attrs["axis"],
                            n.attrs["keepdims"], n.op)
            else:
                op.emit["numba"](em, n)
        if threaded:   # per-row buffers must be private: allocate them inside the loop
            bufs = [l for l in em.pre if "ef_stack_block(" in l] + em.row_bufs
            em.pre = [l for l in em.pre if l not in bufs]
        else:
            bufs = []
    except Exception:
        del em.lines[mark:]
        em.indent, em.row, em.pre = indent0, False, []
        em.row_local, em.row_bufs = set(), []
        for n in group:
            for v in n.outputs:
                em.names.pop(v.id, None)
        raise
    body = em.lines[mark:]
    del em.lines[mark:]
    em.indent, em.row = indent0, False
    em.row_local, em.row_bufs = set(), []
    rn = em.tmp("rows")
    em.line(f"# row group: {len(group)} kernels share one loop over dim 0")
    em.line(f"{rn} = {rows}")
    for l in em.pre:
        em.line(l)
    em.pre = []
    if threaded:
        # tasks of ROWS rows, each with its own buffers (allocated per task, not per row)
        t = em.tmp("task")
        em.line(f"for {t} in prange(({rn} + ROWS - 1) // ROWS):")
        for l in bufs:
            em.lines.append("    " * (indent0 + 1) + l)
        em.lines.append("    " * (indent0 + 1) +
                        f"for i0 in range({t} * ROWS, min({rn}, {t} * ROWS + ROWS)):")
        body = ["    " + l for l in body]
        indent0 += 1
    else:
        em.line(f"for i0 in range({rn}):")
    em.lines += body


def _row_local(graph: Graph, group) -> set[int]:
    """Values of a row group that only its later members read: each row's values are used up
    within the same iteration, so one row's buffer (in cache) replaces the whole array."""
    members = {id(n) for n in group}
    users: dict[int, set] = {}
    for n in graph.walk():
        for v in n.inputs:
            users.setdefault(v.id, set()).add(id(n))
    results = {v.id for v in graph.results}
    out = set()
    for n in group:
        reduces = REGISTRY[n.op].kind is Kind.REDUCTION or "reduce" in n.attrs
        for v in n.outputs[1:] if reduces else n.outputs:
            if v.type.ndim >= 2 and v.type.shape[0] != 1 and v.id not in results and \
                    users.get(v.id) and users[v.id] <= members:
                out.add(v.id)
    return out


def kernel_work(node: Node) -> int:
    """Elements a kernel touches (its largest operand), each counted 1 + the registry cost of the
    ops applied to it (a transcendental function costs MATH_COST): decides prange, kernel by
    kernel, against config.parallel_threshold."""
    size = max([v.type.size for v in node.inputs] + [v.type.size for v in node.outputs] or [0])
    if size <= CHUNK:   # one chunk's work: threads would get a single task
        return size
    ops = [n.op for r in node.regions for n in r.walk()] if node.regions else [node.op]
    return size * (1 + sum(REGISTRY[op].extra.get("cost", 0) for op in ops))


def may_raise(node: Node) -> bool:
    """Whether the kernel's code can raise (ops.registry.raises). Such a kernel stays
    serial in threaded code: Numba loses an exception raised on a worker thread, so the result
    would be silently wrong and the error would surface on a later call."""
    nodes = [n for r in node.regions for n in r.walk()] if node.regions else [node]
    return any(raises(n) for n in nodes)


class _Fallback(Exception):
    """An emitter that cannot handle this node's types: use objmode."""


def _reset_outputs(em, node):
    for v in node.outputs:
        em.names.pop(v.id, None)


def _identity_region(t: TensorType) -> Graph:
    p = Value(TensorType(t.dtype, ()))
    return Graph("region", [p], [], [p])
