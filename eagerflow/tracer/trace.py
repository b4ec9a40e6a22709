"""Trace one call of a Python function into a Graph.

Inputs: every array/number leaf of the (pytree) arguments becomes a parameter; Python scalars are
weak. Static arguments and str/None leaves are part of the signature, not of the graph. Arrays the
function reads from closures and globals, or through their attributes and items or those of a
static argument (`self.w`), become implicit parameters, re-read on every call.
"""
from __future__ import annotations

import collections
import functools
import inspect
import itertools
import types
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import TracingError, UnsupportedError
from ..ir.graph import Const, Graph, Value
from ..ir.types import type_of
from ..tree import flatten, leaf_paths
from .context import TraceContext, build_graph, to_value
from .tracer import Tracer


@dataclass
class Capture:
    """Where an implicit input lives: a closure cell, a module global or a static argument (`obj`,
    the `static`-th static leaf), then a path of attributes ("a", name) and items ("i", key).
    With `view`: a view of the array found there (`self.w.T`, made before NumPy met a tracer),
    valid while the path still leads to that array (`anchor`)."""
    label: str
    cell: object = None
    namespace: dict | None = None
    name: str = ""
    obj: object = None
    static: int | None = None
    path: tuple = ()
    view: object = None
    anchor: object = None

    def get(self):
        if not self.path and self.view is None:
            return self._root()
        try:
            o = self._root()
            for kind, k in self.path:
                o = getattr(o, k) if kind == "a" else o[k]
        except Exception:   # the path no longer resolves: no array, so the caller retraces
            return None
        if self.view is not None:
            return self.view if o is self.anchor else None
        return o

    def _root(self):
        if self.cell is not None:
            return self.cell.cell_contents
        if self.namespace is not None:
            return self.namespace[self.name]
        return self.obj


def find_captures(fn, depth=2) -> list[Capture]:
    """fn's closure cells and the globals its code names, and those of the functions they hold
    (`depth` levels): the roots implicit inputs are found from. Their values are read per trace."""
    out: list[Capture] = []
    seen = set()

    def scan(f, d):
        f = inspect.unwrap(getattr(f, "__func__", f))
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            return
        seen.add(id(f))
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            consider(Capture(name, cell=cell), d)
        g = f.__globals__
        for name in sorted(_code_names(code)):   # sorted: labels do not depend on set order
            if name in g:
                consider(Capture(name, namespace=g, name=name), d)

    def consider(cap, d):
        try:
            val = cap.get()
        except ValueError:   # an empty cell
            return
        out.append(cap)
        if isinstance(val, types.FunctionType) and d > 0:
            scan(val, d - 1)

    # what a callable that is not a plain function holds: a partial's bound arguments, a bound
    # method's or a callable instance's self (their arrays are inputs by reference too)
    while True:
        if isinstance(fn, functools.partial):
            for i in range(len(fn.args)):
                consider(Capture(f"arg{i}", obj=fn, path=(("a", "args"), ("i", i))), depth)
            for k in fn.keywords:
                consider(Capture(str(k), obj=fn, path=(("a", "keywords"), ("i", k))), depth)
            fn = fn.func
        elif isinstance(fn, types.MethodType):
            consider(Capture("self", obj=fn, path=(("a", "__self__"),)), depth)
            fn = fn.__func__
        elif not isinstance(fn, (types.FunctionType, types.BuiltinFunctionType, type)) and \
                callable(fn) and isinstance(getattr(type(fn), "__call__", None),
                                            types.FunctionType):
            consider(Capture("self", obj=fn), depth)
            fn = type(fn).__call__
        else:
            break
    scan(fn, depth)
    return out


def _direct(roots) -> dict[int, tuple[Capture, object]]:
    """id(value) -> (capture, value) for roots that now hold an array or state (Variables...)."""
    out = {}
    for c in roots:
        try:
            val = c.get()
        except (ValueError, KeyError):
            continue
        if isinstance(val, np.ndarray) or _holds_state(val):
            out.setdefault(id(val), (c, val))
    return out


def _holds_state(val) -> bool:
    from ..runtime.variables import holds_state
    return holds_state(val)


def _code_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


# Arrays reached through attributes and items (self.w, cfg.w, D["k"], L[0]) of the roots and the
# static arguments: looked up on first need in a trace, breadth first so the shortest path wins.
PATH_DEPTH = 6          # attribute/item steps followed from a root
PATH_BUDGET = 50_000    # objects and items looked at per trace (~0.1 s at most)

_OPAQUE = (str, bytes, int, float, complex, type(None), np.generic, type, types.ModuleType,
           types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def path_finder(roots, statics, direct: dict):
    """arr -> (Capture, arr) when `arr` is reachable from a root or a static argument, or is a view
    of such an array or of one in `direct` (id -> (capture, array)), else None. The reachable
    arrays are collected on first need (most traces never need them)."""
    starts = [(Capture("", obj=s, static=i), s) for i, s in enumerate(statics) if _walkable(s)]
    for c in roots:
        try:
            val = c.get()
        except (ValueError, KeyError):
            continue
        if _walkable(val):
            starts.append((c, val))
    found = None   # id(array) -> (root, path, array), breadth-first order

    def lookup(arr):
        nonlocal found
        if id(arr) in direct:
            return direct[id(arr)]
        if found is None:
            found = _reachable_arrays(starts)
        hit = found.get(id(arr))
        if hit is None:
            return None
        root, path, a = hit
        from ..runtime.variables import _label
        # a root may itself be a path (a bound method's __self__, a partial's args[i])
        return replace(root, path=root.path + path, label=_label(root.label or None, path)), a

    def find(arr):
        hit = lookup(arr)
        if hit is not None or not isinstance(arr.base, np.ndarray):
            return hit
        # a view made before NumPy met a tracer (self.w.T, W[:, 0]): the captured array whose
        # memory holds it, so that writes to that array are seen and rebinding it retraces
        arrays = [a for _, a in direct.values()] + [a for _, _, a in found.values()]
        for a in arrays:
            if _owner(a) is arr.base and _holds(a, arr):
                cap, a = lookup(a)
                return replace(cap, view=arr, anchor=a), arr
        return None
    return find


def _owner(a):
    return a.base if isinstance(a.base, np.ndarray) else a


def _holds(a, view) -> bool:
    lo, hi = np.lib.array_utils.byte_bounds(a)
    vlo, vhi = np.lib.array_utils.byte_bounds(view)
    return lo <= vlo and vhi <= hi


def _reachable_arrays(starts) -> dict[int, tuple]:
    out, seen = {}, {id(v) for _, v in starts}
    queue = collections.deque((c, v, ()) for c, v in starts)
    budget, kinds = PATH_BUDGET, {}
    while queue and budget > 0:
        root, obj, path = queue.popleft()
        step, items = _items(obj)
        for key, child in itertools.islice(items, budget):
            budget -= 1
            t = type(child)
            k = kinds.get(t)
            if k is None:
                k = kinds[t] = _kind(t)
            if k == "array":
                out.setdefault(id(child), (root, path + ((step, key),), child))
            elif k and len(path) + 1 < PATH_DEPTH and id(child) not in seen:
                seen.add(id(child))
                queue.append((root, child, path + ((step, key),)))
    return out


def _items(obj):
    """("i", items) of a dict, list or tuple; ("a", attributes) of another object: its instance
    dict only, so no property or __getattr__ runs."""
    if isinstance(obj, dict):
        return "i", dict.items(obj)
    if isinstance(obj, (list, tuple)):
        return "i", enumerate(obj)
    try:
        d = vars(obj)
    except Exception:
        return "a", ()
    return "a", ((k, v) for k, v in d.items() if type(k) is str)


def _kind(t) -> str:
    """"array", "walk" (may hold arrays) or "" for values of type t."""
    if issubclass(t, np.ndarray):
        return "array"
    if issubclass(t, (dict, list, tuple)):
        return "walk"
    if issubclass(t, _OPAQUE) or getattr(t, "_ef_variable", False):
        return ""
    # eagerflow's own objects (compiled functions, traces) hold no user arrays; Modules do
    own = str(getattr(t, "__module__", "")).split(".")[0] == "eagerflow"
    return "walk" if not own or getattr(t, "_ef_module", False) else ""


def _walkable(x) -> bool:
    return _kind(type(x)) == "walk"


@dataclass
class Traced:
    graph: Graph
    captures: list[Capture]          # implicit inputs, in parameter order after the leaves
    written: list[int]               # leaf indices of array arguments updated in place
    out_statics: list = field(default_factory=list)
    out_scalar: list = field(default_factory=list)   # per result: NumPy scalar when 0-d
    weak_int_checks: list = field(default_factory=list)   # (leaf index, dtype)
    var_updates: list = field(default_factory=list)   # capture index of each Variable update result


def trace_function(fn, leaves, treedef, statics, names, name, roots: list[Capture]) -> Traced:
    """Trace fn on the pytree (args, kwargs) = unflatten(treedef, leaves, statics). `roots`:
    find_captures(fn)."""
    direct = _direct(roots)   # keyed by the ids of this trace's values: a rebound global is new
    ctx = TraceContext(name, captures={k: cv for k, cv in direct.items()
                                       if isinstance(cv[1], np.ndarray)})
    ctx.find_capture = path_finder(roots, statics, ctx.captures)
    from ..runtime import variables as _vars
    _vars.begin_trace(ctx, {k: c for k, (c, _) in direct.items()}, statics)
    tracers = []
    for i, (leaf, pname) in enumerate(zip(leaves, names)):
        v = ctx.new_param(type_of(leaf), pname)
        tr = Tracer(v)
        tr._scalar = not isinstance(leaf, np.ndarray)
        tracers.append(tr)
    from ..tree import unflatten
    targs, tkwargs = unflatten(treedef, tracers, statics)
    with ctx:
        out = fn(*targs, **tkwargs)
        out_leaves, out_tree, out_statics = flatten(out, lambda x: isinstance(x, Tracer) or
                                                    isinstance(x, (np.ndarray, np.generic)))
        results = [to_value(x, ctx) for x in out_leaves]
        scalars = [_is_scalar(x) for x in out_leaves]
        written = [i for i, (leaf, tr) in enumerate(zip(leaves, tracers))
                   if isinstance(leaf, np.ndarray) and tr.value is not ctx.params[i]]
        results += [tracers[i].value for i in written]
        vparams, vcaps, vresults, vupdates = _vars.finish_trace(
            ctx, list(names) + [c.label for c, _ in ctx.captured_order])
        results += vresults   # Variables' final values (assign_variable), written back after a call
    caps = [c for c, _ in ctx.captured_order]
    ctx.params.extend(ctx.captured[id(a)] for _, a in ctx.captured_order)
    ctx.params.extend(vparams)
    graph = build_graph(ctx, results, in_tree=treedef, out_tree=out_tree)
    graph.meta["n_outputs"] = len(out_leaves)
    if getattr(ctx, "autograph_report", None):   # control flow: what became cond/while
        from ..control import report_order
        graph.meta["report"] = sorted(ctx.autograph_report, key=report_order)
    pos = {p.id: i for i, p in enumerate(ctx.params)}
    checks = [(pos[vid], np.dtype(dt)) for vid, dt in ctx.weak_int_checks if vid in pos]
    graph.meta["variable_updates"] = len(vresults)
    return Traced(graph, caps + vcaps, written, out_statics, scalars, checks,
                  [len(caps) + k for k in vupdates])


def _is_scalar(x) -> bool:
    if isinstance(x, Tracer):
        return x.ndim == 0 and getattr(x, "_scalar", True)
    return isinstance(x, np.generic)


def leaf_names(treedef, signature: inspect.Signature | None, static=False) -> list[str]:
    """Parameter names for the leaves of (args, kwargs): 'x', 'params_w', 'batch_0' (with
    static=True, for the static leaves: str, None, ...)."""
    pos = [p.name for p in signature.parameters.values()] if signature else []
    out, used = [], set()
    for i, path in enumerate(leaf_paths(treedef, "", static)):
        parts = [p.strip("'") for p in path.strip("[]").split("][")]
        if parts[0] == "0" and len(parts) > 1:
            k = int(parts[1])
            head = pos[k] if k < len(pos) and signature.parameters[pos[k]].kind <= 1 else f"arg{k}"
        else:
            head = parts[1] if len(parts) > 1 else f"arg{i}"
        name = "_".join([head] + parts[2:])
        name = name if name.isidentifier() and name not in used else f"{head}_{i}" \
            if f"{head}_{i}".isidentifier() else f"arg{i}"
        used.add(name)
        out.append(name)
    return out
