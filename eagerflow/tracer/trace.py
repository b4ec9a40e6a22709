"""Trace one call of a Python function into a Graph.

Inputs: every array/number leaf of the (pytree) arguments becomes a parameter; Python scalars are
weak. Static arguments and str/None leaves are part of the signature, not of the graph. Arrays the
function reads from closures and globals become implicit parameters, re-read on every call.
"""
from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field

import numpy as np

from ..errors import TracingError, UnsupportedError
from ..ir.graph import Const, Graph, Value
from ..ir.types import type_of
from ..tree import flatten, leaf_paths
from .context import TraceContext, build_graph, to_value
from .tracer import Tracer


@dataclass
class Capture:
    """Where an implicit input lives: a closure cell or a module global."""
    label: str
    cell: object = None
    namespace: dict | None = None
    name: str = ""

    def get(self):
        if self.cell is not None:
            return self.cell.cell_contents
        return self.namespace[self.name]


def find_captures(fn, depth=2) -> dict[int, Capture]:
    """Arrays reachable from fn's closure cells and the globals its code names."""
    out: dict[int, Capture] = {}
    seen = set()

    def scan(f, d):
        f = inspect.unwrap(getattr(f, "__func__", f))
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            return
        seen.add(id(f))
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                val = cell.cell_contents
            except ValueError:
                continue
            _consider(val, Capture(name, cell=cell), d)
        g = f.__globals__
        for name in _code_names(code):
            if name in g:
                _consider(g[name], Capture(name, namespace=g, name=name), d)

    def _consider(val, cap, d):
        if isinstance(val, np.ndarray) or _holds_state(val):   # arrays; Variables, Modules
            out.setdefault(id(val), cap)
        elif isinstance(val, types.FunctionType) and d > 0:
            scan(val, d - 1)

    scan(fn, depth)
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


@dataclass
class Traced:
    graph: Graph
    captures: list[Capture]          # implicit inputs, in parameter order after the leaves
    written: list[int]               # leaf indices of array arguments updated in place
    out_statics: list = field(default_factory=list)
    out_scalar: list = field(default_factory=list)   # per result: NumPy scalar when 0-d
    weak_int_checks: list = field(default_factory=list)   # (leaf index, dtype)
    var_updates: list = field(default_factory=list)   # capture index of each Variable update result


def trace_function(fn, leaves, treedef, statics, names, name, captures: dict[int, Capture]) -> Traced:
    """Trace fn on the pytree (args, kwargs) = unflatten(treedef, leaves, statics)."""
    cap_map = {k: (c.label, c.get()) for k, c in captures.items()}
    ctx = TraceContext(name, captures=cap_map)
    from ..runtime import variables as _vars
    _vars.begin_trace(ctx, captures, statics)
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
            ctx, list(names) + [label for label, _ in ctx.captured_order])
        results += vresults   # Variables' final values (assign_variable), written back after a call
    caps = [next(c for k, c in captures.items() if cap_map[k][1] is a) for _, a in ctx.captured_order]
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
