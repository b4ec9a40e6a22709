"""Graph control flow: `ef.cond`, `ef.while_loop`, `ef.fori_loop`, `ef.print`, and the tracing
machinery they share with autograph (eagerflow/tracer/autograph).

On Python values they are plain Python (`ef.cond(True, f, g)` calls `f`; a loop whose condition
is a Python bool runs in Python). On traced values they trace their functions into *regions*
(closed graphs) and append one `cond` / `while` node. A traced value from outside that a region
uses becomes an operand of the node and a block argument of the region (RegionContext.local).

Loop-carried values have fixed types. A carried Python number adapts to the strong type the body
gives it (NEP 50: `total = 0.0; total += x_f32[i]` carries float32); any other change of dtype or
shape is an error naming the variable and the loop's line.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import ShapeError, TracingError, UnsupportedError, user_location
from .ir.graph import Const, Graph, Node, Value
from .ir.types import TensorType, type_of
from .tracer import context as _ctx
from .tracer.context import TraceContext, current, to_value
from .tracer.tracer import Tracer, as_tracer
from .tree import flatten, unflatten

__all__ = ["cond", "while_loop", "fori_loop", "print_", "RegionContext"]


# -- regions ----------------------------------------------------------------------------------------

class RegionContext(TraceContext):
    """Traces one region: outer values it uses become block arguments (`lifted`)."""

    def __init__(self, parent: TraceContext):
        super().__init__("region", captures=parent.captures, parent=parent)
        # Variables assigned in the region get slots here (reads fall through to the parents);
        # trace_cond / trace_while set threads_variables and thread them out (docs/state.md)
        self.effects = {}
        self.threads_variables = False
        self.weak_int_checks = parent.weak_int_checks
        self.defined: set[int] = set()
        self._scanned = 0
        self.lifted: list[tuple[Value, Value]] = []     # (outer value, block argument)
        self._lift_map: dict[int, Value] = {}

    def new_param(self, t, name=None):
        v = super().new_param(t, name)
        self.defined.add(v.id)
        return v

    def local(self, v: Value) -> Value:
        if isinstance(v, Const):
            return v
        p = self._lift_map.get(v.id)
        if p is not None:
            return p
        if self._scanned < len(self.nodes):
            for n in self.nodes[self._scanned:]:
                self.defined.update(o.id for o in n.outputs)
            self._scanned = len(self.nodes)
        if v.id in self.defined:
            return v
        outer = self.parent.local(v)
        p = Value(v.type)
        self.params.append(p)
        self.defined.add(p.id)
        self.lifted.append((outer, p))
        self._lift_map[v.id] = p
        return p

    def capture(self, arr):
        v = self.parent.capture(arr)
        return None if v is None else self.local(v)

    def region(self, results, own_params, operands) -> Graph:
        """The region graph: `own_params` first, then one block argument per outer operand in
        `operands` (the union over sibling regions; unused ones are fresh)."""
        mine = {outer.id: p for outer, p in self.lifted}
        params = list(own_params) + [mine.get(o.id) or Value(o.type) for o in operands]
        return Graph("region", params, self.nodes, results)


def _union_operands(*ctxs) -> list[Value]:
    out, seen = [], set()
    for c in ctxs:
        for outer, _ in c.lifted:
            if outer.id not in seen:
                seen.add(outer.id)
                out.append(outer)
    return out


def _traced(x) -> bool:
    return isinstance(x, Tracer)


def _is_leaf(x) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float)) or \
        hasattr(x, "_ef_undefined_error")


def _is_number(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, bool, int, float)) and not \
        hasattr(x, "_ef_undefined_error")


def _scalar_kind(x) -> bool:
    if isinstance(x, Tracer):
        return x._scalar
    return not isinstance(x, np.ndarray)


def to_pred(c) -> Tracer:
    """A traced condition as a 0-d bool (NumPy truthiness: nonzero; one element only)."""
    t = as_tracer(c)
    if t.size != 1:
        raise ShapeError(f"the truth value of an array with more than one element ({t.type}) is "
                         "ambiguous; use np.any(...) or np.all(...) in the condition")
    if t.ndim:
        t = t.reshape(())
    if t.dtype != np.bool_:
        t = t != 0
    return t


def _type_of_leaf(x) -> TensorType:
    if isinstance(x, Tracer):
        return x.type
    return type_of(x)


def _new_tracer(v: Value, scalar: bool) -> Tracer:
    t = Tracer(v)
    t._scalar = scalar
    return t


def _node(op, inputs, attrs, out_types, regions, loc=None) -> Node:
    ctx = current()
    node = Node(op, [to_value(x, ctx) for x in inputs], attrs, out_types,
                loc=loc or user_location(), regions=regions)
    from .ops.registry import get
    expected = get(op).infer_types([v.type for v in node.inputs], node.attrs, node.regions)
    assert expected == tuple(out_types), (expected, out_types)
    ctx.nodes.append(node)
    return node


def _placeholder(t: TensorType):
    """A zero of type t: the value a variable defined only inside a loop (or on one path of a
    traced branch, for a return value) holds where Python would have left it unbound."""
    if t.weak:
        return {"b": False, "i": 0, "u": 0, "f": 0.0}[t.dtype.kind]
    from .tracer.tracer import current_apply
    r = current_apply("fill", value=np.zeros((), t.dtype).item(), shape=t.shape, dtype=str(t.dtype))
    if t.ndim == 0:
        r._scalar = True
    return r


def _cast_leaf(x, t: TensorType):
    """Value x (weak or of a narrower type) as type t, in the current context."""
    tr = as_tracer(x)
    if tr.type == t:
        return tr
    r = tr.astype(t.dtype)
    if r.shape != t.shape:
        r = r.apply("broadcast_to", shape=t.shape)
    r._scalar = _scalar_kind(x)
    return r


def _adapts(a: TensorType, b: TensorType) -> TensorType | None:
    """The common type when a weak Python number meets a strong type (NEP 50), or when a value
    is promoted by the body (int counter += float step); None if the types cannot meet."""
    if a == b:
        return a
    if a.shape != b.shape:
        return None
    from .ops.registry import result_type
    try:
        r = result_type(a, b)
    except Exception:   # noqa: BLE001
        return None
    r = TensorType(r.dtype, a.shape, r.weak)
    if a.weak or b.weak:
        return r
    return None


class _Names:
    """Names of state variables for error messages."""

    def __init__(self, names, line):
        self.names = list(names)
        self.line = line

    def of(self, i):
        if i >= len(self.names):
            return f"value {i}"
        n = self.names[i]
        return f"`{n}`" if n.isidentifier() else n


# -- cond -------------------------------------------------------------------------------------------

def _fill_return_placeholders(results, ctxs):
    """Autograph's return-value slot is a single placeholder on a path that has not returned;
    where the other branch returns a tuple, list or dict, it becomes that structure of
    placeholders (zeros of each leaf's type), made in its own branch."""
    for i, pair in enumerate(zip(*results)):
        for k in (0, 1):
            u, other = pair[k], pair[1 - k]
            if getattr(u, "placeholder_ok", False) and not _is_leaf(other):
                leaves, tree, statics = flatten(other, _is_leaf)
                if any(hasattr(x, "_ef_undefined_error") for x in leaves):
                    continue
                with ctxs[k]:
                    filled = [_placeholder(_type_of_leaf(x)) for x in leaves]
                results[k][i] = unflatten(tree, filled, statics)


def trace_cond(pred, branches, names=(), what="cond", line=None):
    """Trace `branches` (two zero-argument functions returning a tuple of state values) into one
    cond node; returns the merged values. `names` name the values for errors."""
    parent = current()
    p = to_pred(pred)
    line = line or _line()
    results, ctxs = [], []
    for fn in branches:
        rc = RegionContext(parent)
        rc.threads_variables = True
        with rc:
            results.append(list(fn()))
        ctxs.append(rc)
    _fill_return_placeholders(results, ctxs)
    outs, trees = [], []
    for res in results:
        res = tuple(res)
        leaves, tree, statics = flatten(res, _is_leaf)
        outs.append((leaves, statics, res))
        trees.append(tree)
    names = _Names(names, line)
    (la, sa, ra), (lb, sb, rb) = outs
    if trees[0] != trees[1]:
        i = _first_structure_diff(ra, rb)
        raise TracingError(f"{names.of(i)} has a different structure in the two branches of the "
                           f"{what} at line {line}: {_short(ra[i])} vs {_short(rb[i])}")
    if len(sa) != len(sb) or any(not _same_static(x, y) for x, y in zip(sa, sb)):
        i = _first_static_diff(ra, rb)
        raise TracingError(f"{names.of(i)} is a Python {type(ra[i]).__name__} that the two "
                           f"branches of the {what} at line {line} set differently; a branch on "
                           "a traced value can only merge arrays and numbers")
    owner = _leaf_owner(ra)
    merged, keep = [], []
    for k, (a, b) in enumerate(zip(la, lb)):
        ua, ub = hasattr(a, "_ef_undefined_error"), hasattr(b, "_ef_undefined_error")
        if ua and ub:
            merged.append(a)
            continue
        if ua or ub:
            u, other = (a, b) if ua else (b, a)
            if getattr(u, "placeholder_ok", False) and not hasattr(other, "_ef_undefined_error"):
                t = _type_of_leaf(other)
                with ctxs[0 if ua else 1]:
                    ph = _placeholder(t)
                if ua:
                    a = ph
                else:
                    b = ph
            else:
                side = "true" if ub else "false"
                merged.append(_undefined_after(names.names[owner[k]] if owner[k] < len(names.names)
                                               else "a value", line, side, what))
                continue
        if not _traced(a) and not _traced(b) and _same_number(a, b):
            merged.append(a)
            continue
        if _traced(a) and _traced(b) and a.value is b.value and _outside(a.value, ctxs):
            merged.append(a)    # the same outer value on both paths: no output needed
            continue
        ta, tb = _type_of_leaf(a), _type_of_leaf(b)
        t = _adapts(ta, tb)
        if t is None:
            raise TracingError(f"{names.of(owner[k])} has type {ta} in the true branch and {tb} "
                               f"in the false branch of the {what} at line {line}; both branches "
                               "must give it the same dtype and shape (cast with .astype, or "
                               "broadcast explicitly)")
        with ctxs[0]:
            va = to_value(_cast_leaf(a, t) if ta != t else a)
        with ctxs[1]:
            vb = to_value(_cast_leaf(b, t) if tb != t else b)
        keep.append((len(merged), va, vb, t, _scalar_kind(a) and _scalar_kind(b)))
        merged.append(None)
    for var in _assigned_variables(ctxs):   # Variables assigned in a branch: extra outputs
        va, vb = (_variable_value(c, var) for c in ctxs)
        keep.append((var, va, vb, va.type, False))
    operands = _union_operands(*ctxs)
    regions = [ctxs[0].region([k[1] for k in keep], [], operands),
               ctxs[1].region([k[2] for k in keep], [], operands)]
    node = _node("cond", [p, *operands], {}, [k[3] for k in keep], regions)
    _close(ctxs, line, what)
    from .runtime.variables import set_slot_value
    for (pos, _, _, _, scalar), v in zip(keep, node.outputs):
        if isinstance(pos, int):
            merged[pos] = _new_tracer(v, scalar)
        else:
            set_slot_value(parent, pos, v)
    _report(line, f"{what} -> cond")
    return unflatten(trees[0], merged, sa)


def _assigned_variables(ctxs) -> list:
    """The Variables assigned in any of the regions traced in `ctxs`, in first-seen order."""
    from .runtime.variables import assigned_in
    seen = {}
    for c in ctxs:
        for var, _ in assigned_in(c):
            seen.setdefault(var.uid, var)
    return list(seen.values())


def _variable_value(ctx, var) -> Value:
    """The Variable's value at the end of region `ctx`, as a value of that region (its value on
    entry, lifted, where the region does not assign it)."""
    from .runtime.variables import trace_read
    with ctx:
        return to_value(Tracer(trace_read(var, ctx)))


def _outside(v, ctxs) -> bool:
    """Whether v is defined outside the regions traced in `ctxs`."""
    for c in ctxs:
        if any(p is v for p in c.params) or any(o is v for n in c.nodes for o in n.outputs):
            return False
    return True


def _leaf_owner(values):
    """For each flattened leaf of the tuple `values`, the index of the value it belongs to."""
    out = []
    for i, v in enumerate(values):
        out += [i] * len(flatten(v, _is_leaf)[0])
    return out


def _first_structure_diff(ra, rb):
    for i, (a, b) in enumerate(zip(ra, rb)):
        if flatten(a, _is_leaf)[1] != flatten(b, _is_leaf)[1]:
            return i
    return 0


def _first_static_diff(ra, rb):
    for i, (a, b) in enumerate(zip(ra, rb)):
        sa, sb = flatten(a, _is_leaf)[2], flatten(b, _is_leaf)[2]
        if len(sa) != len(sb) or any(not _same_static(x, y) for x, y in zip(sa, sb)):
            return i
    return 0


def _same_static(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:   # noqa: BLE001
        return False


def _same_number(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a is b
    try:
        return bool(a == b) and np.signbit(a) == np.signbit(b)
    except Exception:   # noqa: BLE001
        return False


def _short(x) -> str:
    if isinstance(x, Tracer):
        return f"an array {x.type}"
    return f"a {type(x).__name__}"


def _undefined_after(name, line, side, what):
    from .tracer.autograph.operators import Undefined
    return Undefined(name, f"`{name}` is assigned only in the {side} branch of the {what} at "
                           f"line {line} (a branch on a traced value), and is used after it; "
                           "assign it in both branches or before the `if`")


# -- while ------------------------------------------------------------------------------------------

def _define_containers(state, out):
    """The state with each value undefined before the loop that the body defines as a tuple,
    list or dict (`return x[i], i` in a loop; a pair assigned only in the body) replaced by
    that structure of placeholder zeros, as a single value defined by the body is; None if
    there is no such value."""
    new, changed = list(state), False
    for i, (a, b) in enumerate(zip(state, out)):
        if hasattr(a, "_ef_undefined_error") and not _is_leaf(b):
            leaves, tree, statics = flatten(b, _is_leaf)
            if not any(hasattr(x, "_ef_undefined_error") for x in leaves):
                new[i] = unflatten(tree, [_placeholder(_type_of_leaf(x)) for x in leaves],
                                   statics)
                changed = True
    return new if changed else None


def trace_while(test, body, state, names=(), what="while", line=None):
    """Trace a loop: `test(state) -> bool-like`, `body(state) -> state`, where state is a tuple of
    pytrees of arrays/numbers (Python objects that are not numbers must stay unchanged; a
    variable that is undefined at the start may be defined by the body). Returns the final state."""
    parent = current()
    line = line or _line()
    names = _Names(names, line)
    state = tuple(state)
    from .runtime.variables import assigned_in, set_slot_value, trace_read
    carried_vars: list = []   # Variables the body assigns: carried after the loop's own state
    for _attempt in range(6 + 8):
        leaves, tree, statics = flatten(state, _is_leaf)
        owner = _leaf_owner(state)
        slots = [k for k, x in enumerate(leaves) if not hasattr(x, "_ef_undefined_error")]
        rc = RegionContext(parent)
        rc.threads_variables = True
        with rc:
            params = [rc.new_param(_type_of_leaf(leaves[k])) for k in slots]
            vparams = [rc.new_param(TensorType(var.dtype, var.shape)) for var in carried_vars]
            for var, vp in zip(carried_vars, vparams):
                set_slot_value(rc, var, vp, assigned=False)
            inner = list(leaves)
            for k, p in zip(slots, params):
                inner[k] = _new_tracer(p, _scalar_kind(leaves[k]))
            out = body(unflatten(tree, inner, statics))
            out = tuple(out)
            oleaves, otree, ostatics = flatten(out, _is_leaf)
        new_vars = [var for var, _ in assigned_in(rc)
                    if all(var is not w for w in carried_vars)]
        if new_vars:   # trace again, carrying them
            carried_vars += new_vars
            continue
        defined = _define_containers(state, out) if otree != tree else None
        if defined is not None:
            state = tuple(defined)
            continue
        if otree != tree:
            i = _first_structure_diff(state, out)
            raise TracingError(f"{names.of(i)} changes structure in the {what} loop at line "
                               f"{line}: {_short(state[i])} before, {_short(out[i])} after an "
                               "iteration")
        if any(not _same_static(a, b) for a, b in zip(statics, ostatics)):
            i = _first_static_diff(state, out)
            raise TracingError(f"{names.of(i)} is a Python {type(state[i]).__name__} that the "
                               f"{what} loop at line {line} changes; a loop on a traced value "
                               "can only carry arrays and numbers")
        new_leaves, restart = list(leaves), False
        for k, (a, b) in enumerate(zip(leaves, oleaves)):
            ua, ub = hasattr(a, "_ef_undefined_error"), hasattr(b, "_ef_undefined_error")
            if ua:
                if not ub:   # defined by the body: carried, from a placeholder zero
                    new_leaves[k] = _placeholder(_type_of_leaf(b))
                    restart = True
                continue
            if ub:
                raise TracingError(f"{names.of(owner[k])} is undefined after an iteration of the "
                                   f"{what} loop at line {line}")
            ta, tb = _type_of_leaf(a), _type_of_leaf(b)
            if ta == tb:
                continue
            t = _adapts(ta, tb)
            if t is None or t.shape != ta.shape:
                raise TracingError(
                    f"{names.of(owner[k])} changes from {ta} to {tb} across iterations of the "
                    f"{what} loop at line {line}; a loop on a traced value needs a fixed dtype "
                    "and shape (cast with .astype, or give it its final shape before the loop)")
            if t != ta:
                new_leaves[k] = _cast_leaf(a, t)
                restart = True
        if restart:
            state = unflatten(tree, new_leaves, statics)
            continue
        break
    else:
        raise TracingError(f"the types carried by the {what} loop at line {line} do not settle")
    # the condition
    cc = RegionContext(parent)
    with cc:
        cparams = [cc.new_param(p.type) for p in params + vparams]
        for var, vp in zip(carried_vars, cparams[len(params):]):
            set_slot_value(cc, var, vp, assigned=False)
        inner = list(leaves)
        for k, p in zip(slots, cparams):
            inner[k] = _new_tracer(p, _scalar_kind(leaves[k]))
        c = test(unflatten(tree, inner, statics))
        pv = to_value(to_pred(c))
    with rc:
        yields = [to_value(oleaves[k]) for k in slots]
    yields += [_variable_value(rc, var) for var in carried_vars]
    operands = _union_operands(cc, rc)
    regions = [cc.region([pv], cparams, operands), rc.region(yields, params + vparams, operands)]
    init = [leaves[k] for k in slots] + [Tracer(trace_read(var, parent)) for var in carried_vars]
    node = _node("while", [*init, *operands], {"carried": len(slots) + len(carried_vars)},
                 [p.type for p in params + vparams], regions)
    _close([cc, rc], line, what + " loop")
    final = list(leaves)
    for k, v in zip(slots, node.outputs):
        final[k] = _new_tracer(v, _scalar_kind(leaves[k]))
    for var, v in zip(carried_vars, node.outputs[len(slots):]):
        set_slot_value(parent, var, v)
    _report(line, f"{what} -> while")
    return unflatten(tree, final, statics)


def _close(ctxs, line, what):
    """Values of finished regions must not be used outside them: remember them, so that such a
    use (through a variable autograph does not track) is a clear error, not a broken graph."""
    ctx = current()
    while ctx.parent is not None:
        ctx = ctx.parent
    closed = ctx.__dict__.setdefault("closed_values", {})
    msg = (f"a value computed inside the {what} at line {line} (on a traced condition) is used "
           "outside it. It was stored where autograph does not track assignments (a nonlocal or "
           "global variable set in a called function, an attribute, a list or dict): assign it "
           "to a local variable of the function that has the `if`/loop, or return it")
    for c in ctxs:
        for p in c.params:
            closed[p.id] = msg
        for n in Graph("r", (), c.nodes, ()).walk():
            for r in n.regions:
                for p in r.params:
                    closed[p.id] = msg
            for o in n.outputs:
                closed[o.id] = msg


# -- report / locations -------------------------------------------------------------------------

def _line():
    loc = user_location()
    return loc[1] if loc else "?"


def _report(line, text):
    ctx = current()
    while ctx is not None and ctx.parent is not None:
        ctx = ctx.parent
    if ctx is None:
        return
    rep = ctx.__dict__.setdefault("autograph_report", {})
    rep.setdefault(f"line {line}: {text}", None)


def report_order(entry: str):
    """Sort key of a report line: by line number ("line 12: if -> cond")."""
    parts = entry.split(" ", 2)
    num = parts[1].rstrip(":") if len(parts) > 1 else ""
    return (int(num) if num.isdigit() else 0, entry)


def report_note(text):
    """Add a line to the current trace's report (fn.lower(...).report)."""
    ctx = current()
    while ctx is not None and ctx.parent is not None:
        ctx = ctx.parent
    if ctx is not None:
        ctx.__dict__.setdefault("autograph_report", {}).setdefault(text, None)


# -- the public API ---------------------------------------------------------------------------------

def _any_traced(tree) -> bool:
    return any(isinstance(x, Tracer) for x in flatten(tree, _is_leaf)[0])


def cond(pred, true_fn, false_fn, *operands):
    """`true_fn(*operands)` if `pred` else `false_fn(*operands)`. On a traced `pred` both
    functions are traced into one `cond` node (they must return the same structure, dtypes and
    shapes); on a Python or NumPy value it is a plain `if`.

    >>> cond(True, lambda x: x + 1, lambda x: x - 1, 1)
    2
    """
    if not isinstance(pred, Tracer) or current() is None:
        # a Python/NumPy value, or an eager GradientTape's value (concrete; not tracing)
        return true_fn(*operands) if _truth(pred) else false_fn(*operands)
    res = trace_cond(pred, [lambda: (true_fn(*operands),), lambda: (false_fn(*operands),)],
                     names=("the result",), what="ef.cond")
    return res[0]


def _truth(p):
    if isinstance(p, np.ndarray) and p.size != 1:
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")
    return bool(p)


def while_loop(cond_fn, body_fn, init_val, max_iters=None):
    """`val = init_val; while cond_fn(val): val = body_fn(val); return val`, as one `while`
    node when traced (the carried pytree keeps its structure, dtypes and shapes).

    `max_iters` (a Python int): run at most that many iterations (the loop also stops when the
    count is reached). A loop with `max_iters` is differentiable (reverse mode, with a
    preallocated tape: docs/autodiff.md, 'Control flow')."""
    if max_iters is not None:
        n = int(max_iters)

        def _cond(s):
            c = cond_fn(s[1])
            if isinstance(c, Tracer) or isinstance(s[0], Tracer):
                return np.logical_and(s[0] < n, to_pred(c))
            return s[0] < n and _truth(c)
        return while_loop(_cond, lambda s: (s[0] + 1, body_fn(s[1])), (0, init_val))[1]
    if current() is None or not (_any_traced(init_val) or isinstance(cond_fn(init_val), Tracer)):
        val = init_val
        while _truth(cond_fn(val)):
            val = body_fn(val)
            if current() is not None and isinstance(cond_fn(val), Tracer):
                return while_loop(cond_fn, body_fn, val)
        return val
    (out,) = trace_while(lambda s: cond_fn(s[0]), lambda s: (body_fn(s[0]),), (init_val,),
                         names=("the loop value",), what="ef.while_loop")
    return out


def fori_loop(lower, upper, body_fn, init_val):
    """`val = init_val; for i in range(lower, upper): val = body_fn(i, val); return val`.
    With traced bounds (or traced values in `init_val`) it is one `while` node; the counter
    takes the type of the bounds (a Python int bound adapts to a traced one)."""
    if current() is None or not (isinstance(lower, Tracer) or isinstance(upper, Tracer) or
                                 _any_traced(init_val)):
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fn(i, val)
        return val
    _i, out = trace_while(lambda s: s[0] < upper,
                          lambda s: (s[0] + 1, body_fn(s[0], s[1])), (lower, init_val),
                          names=("the loop index", "the loop value"), what="ef.fori_loop")
    return out


def print_(*values, sep=" ", end="\n"):
    """Print at run time, in order, inside compiled code (eagerly: Python's print). Strings and
    Python objects other than arrays and numbers are printed as literal text."""
    ctx = current()
    if ctx is None:
        print(*values, sep=sep, end=end)
        return
    parts, vals = [], []
    for v in values:
        if isinstance(v, Tracer) or (isinstance(v, (np.ndarray, np.generic))):
            parts.append(None)
            vals.append(v)
        else:
            parts.append(str(v))
    _node("print", vals, {"parts": tuple(parts), "sep": str(sep), "end": str(end)}, [], ())
