"""`ef.GradientTape`: reverse mode for eager code.

    w = ef.Variable(np.zeros(3))
    with ef.GradientTape() as tape:
        x = tape.watch(x_array)          # an ndarray cannot be observed: watch returns a tracked one
        loss = np.sum((x @ w - y) ** 2)  # trainable Variables are watched when read
    dx, dw = tape.gradient(loss, [x, w])  # NumPy arrays

How it works. An eager tape owns a trace context (`_TapeContext`) that is *not* on the tracing
stack, so NumPy code, Variables and `ef.function` calls in the block behave as usual. Watched
values are `TapeTracer`s: Tracers of that context that also have concrete values. Each operation
on one enters the tape's context just for that call and records an ordinary graph node through
the tracer, so the tape *is* a traced graph; concrete values are computed lazily, when something
asks for one (`float(loss)`, `print`, `np.asarray`, `tape.gradient`), by running the recorded
nodes' NumPy implementations once each, as the interpreter would. `gradient()` runs the same
graph transformation as `ef.grad` (autodiff/vjp.py) over the nodes recorded between `__enter__`
and `__exit__`, then evaluates the gradient nodes.

Inside a trace (an `ef.function` body), or inside another eager tape's block, a tape records into
that graph instead: it notes where its block starts and ends, `watch` marks values, and
`gradient` appends the backward nodes to the same graph (returning Tracers), so a compiled step
holds forward and backward together, and nested tapes give higher derivatives.

After the block, operations on tracked values compute eagerly with NumPy and are not recorded.
"""
from __future__ import annotations

import threading

import numpy as np

from ..ir.graph import Const, Value
from ..ir.types import TensorType, type_of
from ..ops.registry import REGISTRY
from ..tracer.context import TraceContext, apply, current
from ..tracer.tracer import Tracer, as_tracer
from ..tree import flatten, unflatten
from .vjp import backward

_local = threading.local()   # .recording: eager tape contexts that are recording, innermost last


def _is_variable(x) -> bool:
    return getattr(type(x), "_ef_variable", False)


class _TapeContext(TraceContext):
    """The graph an eager tape records, with the concrete values computed so far."""

    def __init__(self):
        super().__init__("tape")
        self.values: dict[int, object] = {}     # value id -> concrete value
        self._producer: dict[int, int] = {}     # value id -> index of its node
        self._indexed = 0
        self.recording = False
        self.watched_vars: set[int] = set()
        self.watch_accessed = True
        self.var_reads: dict[int, list[tuple[int, Value]]] = {}   # uid -> [(position, param)]
        self.cls = type("TapeTracer", (TapeTracer,), {"__slots__": (), "_ctx": self})

    # -- values ----------------------------------------------------------------------------------
    def track(self, data, name="x") -> "TapeTracer":
        """A new recorded input holding `data` (copied: later mutation must not leak in)."""
        data = data if isinstance(data, (bool, int, float)) else np.array(data)
        p = self.new_param(type_of(data), name)
        self.values[p.id] = data
        t = self.cls(p)
        t._scalar = not isinstance(data, np.ndarray)
        return t

    def concrete(self, v: Value):
        if isinstance(v, Const):
            return v.data
        if v.id not in self.values:
            self._compute(v)
        return self.values[v.id]

    def _compute(self, v: Value):
        for i in range(self._indexed, len(self.nodes)):
            for o in self.nodes[i].outputs:
                self._producer[o.id] = i
        self._indexed = len(self.nodes)
        need, stack = set(), [v]
        while stack:
            u = stack.pop()
            if isinstance(u, Const) or u.id in self.values:
                continue
            i = self._producer.get(u.id)
            if i is None:
                self.values[u.id] = self._variable_param(u)
                continue
            if i not in need:
                need.add(i)
                stack.extend(self.nodes[i].inputs)
        for i in sorted(need):
            self._eval(self.nodes[i])

    def _variable_param(self, u: Value):
        """A Variable the tracer captured directly (to_value): its value now."""
        for slot in self.effects.get("variables", {}).values():
            if slot.param is not None and slot.param.id == u.id:
                return slot.var._value.copy()
        raise RuntimeError(f"value {u} was not recorded on this GradientTape (it belongs to "
                           "another tape or trace)")

    def _eval(self, node):
        from ..runtime.interpret import _as_type
        op = REGISTRY[node.op]
        ins = [self.concrete(v) for v in node.inputs]
        with np.errstate(all="ignore"):
            outs = op.impl(*ins, regions=node.regions, **node.attrs) if node.regions else \
                op.impl(*ins, **node.attrs)
        if op.nout == 1 and len(node.outputs) == 1:
            outs = (outs,)
        for o, x in zip(node.outputs, outs):
            self.values[o.id] = _as_type(x, o.type)

    # -- tracers ---------------------------------------------------------------------------------
    def wrap_outputs(self, r):
        """Make the Tracers of this context in `r` (a pytree) TapeTracers, in place."""
        if type(r) is Tracer:
            r.__class__ = self.cls
        elif isinstance(r, (tuple, list)):
            for x in r:
                self.wrap_outputs(x)
        elif isinstance(r, dict):
            for x in r.values():
                self.wrap_outputs(x)
        return r

    def read_hook(self, var, val):
        """Variables read while the tape records: trainable (or watched) ones become inputs."""
        if isinstance(val, Tracer) or not self.recording:
            return val
        if not ((self.watch_accessed and var.trainable) or var.uid in self.watched_vars):
            return val
        t = self.track(var._value, var.name or "var")
        self.var_reads.setdefault(var.uid, []).append((len(self.nodes), t.value))
        return t


def tape_context_of(tree) -> "_TapeContext | None":
    """The eager tape context of the first TapeTracer in a pytree of arguments, if any."""
    leaves, _, _ = flatten(tree, lambda x: isinstance(x, Tracer))
    for x in leaves:
        if isinstance(x, TapeTracer):
            return x._ctx
    return None


class GradientTape:
    """Records operations on watched values for `gradient()`; see the module docstring.

    `persistent=True` allows several `gradient` calls; `watch_accessed_variables=False` watches
    only what `watch` names (by default every trainable Variable read in the block is watched).
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._ctx: TraceContext | None = None
        self._owner = False        # this tape owns an eager context (not a trace's or a tape's)
        self._start = self._end = 0
        self._used = False
        self._watched_vars: set[int] = set()
        self._old_hook = None

    # -- the block -------------------------------------------------------------------------------
    def __enter__(self):
        if self._ctx is not None:
            raise RuntimeError("a GradientTape records one block; make a new tape")
        host = current() or (_local.recording[-1] if getattr(_local, "recording", None) else None)
        if host is None:
            from ..runtime.variables import set_read_hook
            host, self._owner = _TapeContext(), True
            host.watch_accessed = self.watch_accessed_variables
            host.recording = True
            _local.__dict__.setdefault("recording", []).append(host)
            self._old_hook = set_read_hook(host.read_hook)
        self._ctx = host
        self._start = len(host.nodes)
        self._end = None
        return self

    def __exit__(self, *exc):
        self._end = len(self._ctx.nodes)
        if self._owner:
            from ..runtime.variables import set_read_hook
            self._ctx.recording = False
            _local.recording.remove(self._ctx)
            set_read_hook(self._old_hook)

    @property
    def _eager(self) -> bool:
        return isinstance(self._ctx, _TapeContext)

    # -- watching --------------------------------------------------------------------------------
    def watch(self, x):
        """Record operations on `x` from now on. Returns what to compute with: a tracked array for
        an ndarray or number (the ndarray itself cannot be observed), `x` itself for a value
        already recorded and for a Variable (then watched even if not trainable). Pytrees are
        watched leaf by leaf."""
        if self._ctx is None or self._end is not None:
            raise RuntimeError("tape.watch is called inside the tape's `with` block")
        leaves, tree, statics = flatten(x, lambda v: isinstance(v, (Tracer, np.ndarray, np.generic,
                                                                    bool, int, float))
                                        or _is_variable(v))
        return unflatten(tree, [self._watch_one(v) for v in leaves], statics)

    def _watch_one(self, x):
        if _is_variable(x):
            self._watched_vars.add(x.uid)
            if self._eager:
                self._ctx.watched_vars.add(x.uid)
            return x
        if isinstance(x, Tracer):
            return x
        if np.asarray(x).dtype.kind != "f":
            raise TypeError(f"GradientTape.watch: gradients are defined for floating-point values; "
                            f"got {np.asarray(x).dtype} (cast with .astype(float))")
        if self._eager:
            return self._ctx.track(x)
        t = as_tracer(x)
        s = apply("astype", t, dtype=str(t.dtype))
        s._scalar = t._scalar
        return s

    # -- gradients -------------------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None):
        """d(sum of target)/d(source) for each source (a Variable or a watched value), in the
        structure of `sources`: NumPy arrays for an eager tape, Tracers inside a trace; None for a
        source the target does not depend on (as TensorFlow does). `target` may be a pytree of
        values (their sums add up); `output_gradients` gives the seed cotangents instead of ones."""
        if self._ctx is None:
            raise RuntimeError("GradientTape.gradient before the tape recorded anything")
        if self._used and not self.persistent:
            raise RuntimeError("a non-persistent GradientTape computes one set of gradients; use "
                               "GradientTape(persistent=True) to call gradient() several times")
        self._used = True
        ctx = self._ctx
        end = len(ctx.nodes) if self._end is None else self._end
        # every non-container is a source: a NumPy scalar or a number must get the TypeError
        # below, not come back as a "static" in place of its gradient
        src, tree, statics = flatten(sources, lambda v: True)
        with ctx:
            wrt = [self._source_values(s) for s in src]
            seeds = self._seeds(target, output_gradients)
            flat = [v for vs in wrt for v in vs]
            cts = backward(ctx.nodes[self._start:end], seeds, flat) if seeds else [None] * len(flat)
        # NumPy results, except while an enclosing tape or trace records: then recorded values,
        # so that it can differentiate the gradient (nested tapes, tapes in ef.function)
        as_numpy = self._eager and (self._owner or not ctx.recording)
        grads, it = [], iter(cts)
        with ctx:
            for vs in wrt:
                grads.append(self._combine([next(it) for _ in vs], as_numpy))
        if self._eager and not as_numpy:
            ctx.wrap_outputs(grads)
        return unflatten(tree, grads, statics)

    def _source_values(self, s) -> list[Value]:
        ctx = self._ctx
        if _is_variable(s):
            if not self._eager:
                from ..runtime.variables import trace_read
                return [trace_read(s, ctx)]
            reads = [v for pos, v in ctx.var_reads.get(s.uid, ()) if pos >= self._start]
            slot = ctx.effects.get("variables", {}).get(s.uid)
            return reads + ([slot.param] if slot is not None and slot.param is not None else [])
        if isinstance(s, Tracer):
            return [s.value]
        raise TypeError("GradientTape.gradient: a source must be a Variable or a value the tape "
                        "recorded; for an array, use the result of `x = tape.watch(x)`")

    def _seeds(self, target, output_gradients) -> dict[int, Tracer]:
        outs, _, _ = flatten(target, lambda v: isinstance(v, (Tracer, np.ndarray, np.generic,
                                                              bool, int, float)))
        given = [None] * len(outs) if output_gradients is None else \
            flatten(output_gradients, lambda v: True)[0]
        seeds: dict[int, Tracer] = {}
        for t, g in zip(outs, given):
            if not isinstance(t, Tracer):
                continue   # a constant target: no gradient
            if g is None:
                g = apply("fill", value=1.0, shape=t.shape, dtype=str(t.dtype))
            g = as_tracer(self._ctx.concrete(g.value) if isinstance(g, TapeTracer) else g)
            seeds[t.value.id] = g if t.value.id not in seeds else seeds[t.value.id] + g
        return seeds

    def _combine(self, cts, as_numpy):
        cts = [c for c in cts if c is not None]
        if not cts:
            return None
        if not as_numpy:
            out = cts[0]
            for c in cts[1:]:
                out = apply("add", out, c)
            return out
        vals = [np.asarray(self._ctx.concrete(c.value)) for c in cts]
        out = vals[0].copy()
        for v in vals[1:]:
            out += v
        return out

    def concrete(self, x):
        """The value of a recorded tracer (pytree) as NumPy data; other leaves as they are."""
        leaves, tree, statics = flatten(x, lambda v: isinstance(v, Tracer))
        return unflatten(tree, [l.numpy() if isinstance(l, TapeTracer) else l for l in leaves],
                         statics)


# -- tracked values -----------------------------------------------------------------------------------

class TapeTracer(Tracer):
    """A Tracer of an eager tape that also has a concrete value: it prints, converts to NumPy,
    and works as a Python bool/float/int; NumPy calls on it are recorded while the tape records
    and compute plain NumPy arrays afterwards."""

    __slots__ = ()
    _ctx: _TapeContext = None   # set on each tape's subclass

    def _data(self):
        return self._ctx.concrete(self.value)

    def numpy(self):
        """A NumPy copy of the value (a NumPy scalar for a 0-d scalar value)."""
        d = np.array(self._data())
        return d[()] if self._scalar and d.ndim == 0 else d

    @property
    def value(self):
        b = self._base
        if b is not None and self._base_ver != b._ver and current() is not self._ctx:
            with self._ctx:
                return Tracer.value.fget(self)
        return Tracer.value.fget(self)

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._data(), dtype=dtype)
        return a.copy() if copy else a

    def __bool__(self):
        return bool(self._data())

    def __float__(self):
        return float(self._data())

    def __int__(self):
        return int(self._data())

    def __index__(self):
        return np.asarray(self._data()).__index__()

    def __complex__(self):
        return complex(self._data())

    def item(self, *a):
        return np.asarray(self._data()).item(*a)

    def tolist(self):
        return np.asarray(self._data()).tolist()

    def __repr__(self):
        return f"TapeTracer({self.numpy()!r})"

    def __str__(self):
        return str(self.numpy())

    def __format__(self, spec):
        return format(self.numpy(), spec)


def _concrete_tree(x):
    if isinstance(x, TapeTracer):
        return x.numpy()
    if isinstance(x, (tuple, list)):
        return type(x)(_concrete_tree(c) for c in x)
    if isinstance(x, dict):
        return {k: _concrete_tree(c) for k, c in x.items()}
    return x


def _read_variables(x):
    """Variables among the operands are read (through the tape's hook) before entering the tape's
    context, so that trainable ones become tape inputs rather than captured graph parameters."""
    if _is_variable(x):
        return x.read()
    if isinstance(x, (tuple, list)):
        return type(x)(_read_variables(c) for c in x)
    if isinstance(x, dict):
        return {k: _read_variables(c) for k, c in x.items()}
    return x


def _eager_fallback(name, self, args, kwargs):
    """After the block: compute with NumPy on the concrete values; not recorded."""
    args, kwargs = _concrete_tree(args), _concrete_tree(kwargs)
    if name == "__array_ufunc__":
        ufunc, method, *inputs = args
        return getattr(ufunc, method)(*inputs, **kwargs)
    if name == "__array_function__":
        func, _types, fargs, fkwargs = args
        return func(*fargs, **fkwargs)
    if name == "__setitem__":
        raise RuntimeError("cannot write into a value tracked by a GradientTape after its block "
                           "ended; use .numpy() to get a NumPy copy")
    if name.startswith("__i") and name[3:-2] in _INPLACE:
        name = "__" + name[3:]
    return getattr(np.asarray(self.numpy()), name)(*args, **kwargs)


_INPLACE = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift",
            "rshift", "matmul"}


def _dual(name, traced):
    def method(self, *args, **kwargs):
        ctx = self._ctx
        if not ctx.recording:
            return _eager_fallback(name, self, args, kwargs)
        args, kwargs = _read_variables(args), _read_variables(kwargs)
        with ctx:
            r = traced(self, *args, **kwargs)
        return ctx.wrap_outputs(r)
    method.__name__ = name
    return method


_OWN = {"__init__", "_assign", "apply", "_concrete", "__repr__", "__len__", "__iter__", "__hash__",
        "__bool__", "__index__", "__int__", "__float__", "__complex__", "__array__", "item",
        "tolist", "__getattribute__"}
for _name, _attr in list(vars(Tracer).items()):
    if callable(_attr) and not isinstance(_attr, type) and _name not in _OWN and \
            _name not in vars(TapeTracer):
        setattr(TapeTracer, _name, _dual(_name, _attr))
