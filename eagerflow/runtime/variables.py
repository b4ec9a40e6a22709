"""`ef.Variable`: a mutable array that compiled functions read and update in place.

Eagerly a Variable behaves like the array it holds (NumPy functions, ufuncs, operators and reads
by indexing work on it) and `.assign`, `.assign_add`, `.assign_sub` update it in place. Inside a
traced function it is *captured*: its first use makes it an implicit parameter of the graph
(named after it, re-read on every call), assignments are recorded functionally, and the final
value of each assigned Variable is an `assign_variable` node whose output is an extra result of
the graph. After a call the runtime writes those results back into the Variables, in place, and
only once every result has been computed (a call that raises changes no Variable).
docs/state.md is the reference; this module holds the machinery.

API for other parts of eagerflow (GradientTape, optimizers):

- `v.value`     a read-only view of the live array (eagerly), a Tracer of the current value
                (while tracing)
- `v.numpy()`   a copy, always concrete (outside a trace)
- `v.read()`    the value every operation on `v` goes through; `set_read_hook` can intercept it
- `v.assign(x)`, `v.assign_add(x)`, `v.assign_sub(x)`: in place eagerly, recorded while tracing;
                each returns the Variable
- `v.shape`, `v.dtype`, `v.ndim`, `v.size`, `v.name`, `v.trainable`, `v.uid` (a unique int)
"""
from __future__ import annotations

import contextlib
import itertools
import threading

import numpy as np

from ..errors import ConcretizationError, StateError, user_location
from ..ir.graph import Value
from ..ir.types import TensorType, check_dtype
from ..tracer.context import apply, current

_uids = itertools.count()
_local = threading.local()   # .allow_creation (depth), .read_hook


class Variable:
    """A named, mutable array with a fixed shape and dtype.

    >>> v = Variable(np.zeros(3), name="w")
    >>> v.assign_add(1.0).numpy()
    array([1., 1., 1.])
    """

    _ef_variable = True   # duck-typed marker for the tracer (tracer/context.py)
    __array_priority__ = 1001

    def __init__(self, initial, name: str | None = None, trainable: bool = True, dtype=None):
        if current() is not None and not getattr(_local, "allow_creation", 0):
            raise StateError(
                "ef.Variable created inside a traced function: a Variable is state that lives "
                "across calls, so create it outside (e.g. in a Module's __init__, or before the "
                "first call) and use or .assign() it inside the function")
        if _is_traced(initial):
            raise StateError("the initial value of a Variable must be a concrete array, not a "
                             "traced value")
        if isinstance(initial, Variable):
            initial = initial._value
        arr = np.array(initial, dtype=dtype, copy=True, order="C")
        try:
            check_dtype(arr.dtype)
        except Exception as e:
            raise StateError(f"Variable dtype: {e.message if hasattr(e, 'message') else e}",
                             loc=None) from None
        self._value = arr
        self._ro = arr.view()
        self._ro.flags.writeable = False
        self.name = name
        self.trainable = bool(trainable)
        self.uid = next(_uids)

    # -- static facts -----------------------------------------------------------------------------
    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)

    def __repr__(self):
        name = f" {self.name!r}" if self.name else ""
        flag = "" if self.trainable else " trainable=False"
        return (f"<ef.Variable{name} shape={self.shape} dtype={self.dtype}{flag} "
                f"value={np.array2string(self._value, threshold=8, edgeitems=2)}>")

    # -- reading ----------------------------------------------------------------------------------
    def read(self):
        """The current value: a read-only view of the live array eagerly, a Tracer while tracing.
        Every operation on the Variable reads through here."""
        hook = getattr(_local, "read_hook", None)
        ctx = current()
        val = self._ro if ctx is None else _tracer(trace_read(self, ctx))
        return val if hook is None else hook(self, val)

    @property
    def value(self):
        """The current value (see `read`): eagerly a read-only view of the live array, which
        shows later assignments; use `.numpy()` for a snapshot."""
        return self.read()

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        if current() is not None:
            raise ConcretizationError(
                "Variable.numpy() inside a traced function: the value is only known when the "
                "compiled function runs. Use the Variable (or v.value) in NumPy calls directly")
        return self._value.copy()

    def __array__(self, dtype=None, copy=None):
        if current() is not None:
            raise ConcretizationError(
                f"np.asarray of Variable {self.name or ''!r} inside a traced function would bake its "
                "current value into the graph. Use the Variable itself in NumPy calls "
                "(np.sin(v), x @ v) or v.value, which read it on every call")
        if dtype is None or np.dtype(dtype) == self.dtype:
            return self._value.copy() if copy else self._ro
        if copy is False:
            raise ValueError("a dtype conversion of a Variable needs a copy")
        return self._value.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        inputs = tuple(_unwrap(x) for x in inputs)
        if out is None:
            return getattr(ufunc, method)(*inputs, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        if not any(isinstance(o, Variable) for o in outs):
            return getattr(ufunc, method)(*inputs, out=out, **kwargs)
        if len(outs) != 1 or method != "__call__":
            raise StateError("out= with a Variable supports single-output ufunc calls only")
        r = getattr(ufunc, method)(*inputs, **kwargs)
        return outs[0].assign(r)

    def __array_function__(self, func, types, args, kwargs):
        return func(*_unwrap_tree(args), **_unwrap_tree(kwargs))

    def __getattr__(self, name):   # ndarray methods and properties: v.sum(), v.T, v.reshape(...)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.read(), name)

    def __getitem__(self, key):
        return self.read()[_unwrap_tree(key)]

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self):
        return bool(self.read())

    def __float__(self):
        return float(self.read())

    def __int__(self):
        return int(self.read())

    def __index__(self):
        return self.read().__index__()

    __hash__ = object.__hash__   # identity; == is elementwise, as for arrays

    # -- writing ----------------------------------------------------------------------------------
    def assign(self, value) -> "Variable":
        """Set the value: same shape (or a scalar, broadcast), a dtype that casts safely."""
        ctx = current()
        if ctx is not None:
            trace_assign(self, value, ctx)
            return self
        arr = self._prepare(value, "assign")
        np.copyto(self._value, arr, casting="unsafe")   # checked by _prepare
        return self

    def assign_add(self, delta) -> "Variable":
        return self._update(np.add, delta, "assign_add")

    def assign_sub(self, delta) -> "Variable":
        return self._update(np.subtract, delta, "assign_sub")

    def _update(self, ufunc, delta, what):
        ctx = current()
        if ctx is not None:
            trace_assign(self, ufunc(self.read(), _unwrap(delta)), ctx, what)
            return self
        d = self._prepare_operand(delta, what)
        rdt = np.result_type(self.dtype, d)
        _check_cast(rdt, False, self, what, d)
        ufunc(self._value, d, out=self._value, casting="unsafe")
        return self

    def _prepare_operand(self, value, what):
        if isinstance(value, Variable):
            value = value._value
        if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
            if isinstance(value, int) and not isinstance(value, bool) and self.dtype.kind in "iu":
                self.dtype.type(value)   # NumPy's own OverflowError for an int that does not fit
            return value
        a = np.asarray(value)
        if a.dtype == object:
            raise StateError(f"{what}: cannot assign a {type(value).__name__} to a Variable")
        if a.ndim and a.shape != self.shape:
            raise StateError(f"{what}: value of shape {a.shape} does not match Variable "
                             f"{self._label()} of shape {self.shape} (shape is fixed at creation)",
                             loc=None)
        return a

    def _prepare(self, value, what):
        v = self._prepare_operand(value, what)
        if isinstance(v, np.ndarray):
            _check_cast(v.dtype, False, self, what, v)
        else:
            _check_cast(np.result_type(v), True, self, what, v)
        return v

    def _label(self):
        return repr(self.name) if self.name else f"#{self.uid}"

    # in-place operators update the Variable; the rest read it
    def __iadd__(self, o):
        return self.assign_add(o)

    def __isub__(self, o):
        return self.assign_sub(o)

    def __setitem__(self, key, v):
        ctx = current()
        if ctx is not None:
            from ..tracer.tracer import Tracer
            t = Tracer(trace_read(self, ctx))
            t[_unwrap_tree(key)] = _unwrap(v)
            trace_assign(self, t, ctx, "setitem")
            return
        self._value[_unwrap_tree(key)] = _unwrap(v)


def _binary(name):
    def op(self, other):
        return getattr(self.read(), f"__{name}__")(_unwrap(other))
    op.__name__ = f"__{name}__"
    return op


def _reflected(name):
    def rop(self, other):
        return getattr(self.read(), f"__r{name}__")(_unwrap(other))
    rop.__name__ = f"__r{name}__"
    return rop


def _inplace(name):
    def iop(self, other):
        return self.assign(getattr(self.read(), f"__{name}__")(_unwrap(other)))
    return iop


for _n in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
           "lshift", "rshift"):
    setattr(Variable, f"__{_n}__", _binary(_n))
    setattr(Variable, f"__r{_n}__", _reflected(_n))
    if _n not in ("add", "sub"):
        setattr(Variable, f"__i{_n}__", _inplace(_n))
for _n in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(Variable, f"__{_n}__", _binary(_n))
Variable.__neg__ = lambda self: -self.read()
Variable.__pos__ = lambda self: +self.read()
Variable.__abs__ = lambda self: abs(self.read())
Variable.__invert__ = lambda self: ~self.read()


# -- helpers -----------------------------------------------------------------------------------------

def _is_traced(x) -> bool:
    from ..tracer.tracer import Tracer
    return isinstance(x, Tracer)


def _tracer(value: Value):
    from ..tracer.tracer import Tracer
    return Tracer(value)


def _unwrap(x):
    return x.read() if isinstance(x, Variable) else x


def _unwrap_tree(x):
    if isinstance(x, Variable):
        return x.read()
    if isinstance(x, tuple):
        return tuple(_unwrap_tree(c) for c in x)
    if isinstance(x, list):
        return [_unwrap_tree(c) for c in x]
    if isinstance(x, dict):
        return {k: _unwrap_tree(c) for k, c in x.items()}
    return x


def _check_cast(src: np.dtype, weak: bool, var: Variable, what: str, value=None):
    """Safe casting into the Variable's dtype; a weak (Python) scalar only by kind (NEP 50)."""
    dst = var.dtype
    if weak:
        ok = {"b": True, "i": dst.kind in "iuf", "u": dst.kind in "iuf", "f": dst.kind == "f"}[src.kind]
    else:
        ok = np.can_cast(src, dst, "safe")
    if not ok:
        kind = f"a Python {type(value).__name__}" if weak and not _is_traced(value) else f"{src}"
        raise StateError(f"{what}: cannot store {kind} value in Variable {var._label()} of dtype "
                         f"{dst} without an unsafe cast; cast it first (.astype({dst.name!r}))",
                         loc=None)


@contextlib.contextmanager
def allow_creation():
    """Let eagerflow itself create Variables with concrete initial values while a trace runs
    (optimizer slots: zeros, not traced values). Not for user code."""
    _local.allow_creation = getattr(_local, "allow_creation", 0) + 1
    try:
        yield
    finally:
        _local.allow_creation -= 1


def set_read_hook(hook):
    """Install `hook(variable, value) -> value` for reads in this thread (None removes it);
    returns the previous hook. For GradientTape: every read of a Variable goes through it."""
    old = getattr(_local, "read_hook", None)
    _local.read_hook = hook
    return old


# -- tracing -----------------------------------------------------------------------------------------
#
# Per trace context, ctx.effects["variables"] maps a Variable's uid to its _Slot: the Value it has
# at this point of the trace. The root context's slots carry the graph parameter and where the
# Variable is found on later calls; a nested context (a control-flow region) holds a slot only
# for the Variables assigned in it, and reads fall through to the enclosing contexts. Control
# flow (eagerflow/control.py: trace_cond, trace_while) threads the Variables assigned in a region
# out as extra cond outputs / loop-carried values and calls `set_slot_value(parent_ctx, var,
# output)` (see docs/state.md).

class _Slot:
    __slots__ = ("var", "value", "param", "assigned", "source", "loc")

    def __init__(self, var, value, param=None, source=None):
        self.var, self.value, self.param, self.source = var, value, param, source
        self.assigned = False
        self.loc = None   # the user's line of the last assignment


def _slots(ctx) -> dict:
    return ctx.effects.setdefault("variables", {})


def _root(ctx):
    while ctx.parent is not None:
        ctx = ctx.parent
    return ctx


def trace_read(var: Variable, ctx) -> Value:
    """The Value `var` has at this point of the trace (a new graph parameter on first use)."""
    c = ctx
    while c is not None:
        s = c.effects.get("variables", {}).get(var.uid)
        if s is not None:
            return s.value
        c = c.parent
    root = _root(ctx)
    source = root.effects.get("variable_sources", {}).get(var.uid)
    if source is None:
        source = VariableCapture(_ident(var.name) or "var", obj=var)
    param = Value(TensorType(var.dtype, var.shape), source.label)
    _slots(root)[var.uid] = _Slot(var, param, param, source)
    return param


def trace_assign(var: Variable, value, ctx, what="assign"):
    """Record `var = value` in the trace (checked like an eager assignment)."""
    from ..tracer.tracer import as_tracer
    if isinstance(value, Variable):
        value = value.read()
    if not _is_traced(value):
        value = var._prepare(value, what)
    t = as_tracer(value)
    if t.shape != var.shape:
        if t.ndim:
            raise StateError(f"{what}: value of shape {t.shape} does not match Variable "
                             f"{var._label()} of shape {var.shape} (shape is fixed at creation)")
    _check_cast(t.dtype, t.weak, var, what, value)
    if t.dtype != var.dtype or t.weak:
        t = t.astype(var.dtype)
    if t.shape != var.shape:
        t = t.apply("broadcast_to", shape=var.shape)
    set_slot_value(ctx, var, t.value)


def set_slot_value(ctx, var: Variable, value: Value, assigned: bool = True):
    """Make `value` the Variable's value from here on in context `ctx` (marks it assigned;
    control flow binds a loop-carried block argument with assigned=False)."""
    if assigned and ctx.parent is not None and not getattr(ctx, "threads_variables", False):
        raise StateError(
            f"Variable {var._label()} is assigned inside a traced region that cannot carry "
            "Variables (e.g. the condition of a loop on a traced value); assign it in the loop "
            "body, or before or after the loop")
    trace_read(var, _root(ctx))   # make sure the root has its parameter
    slots = _slots(ctx)
    s = slots.get(var.uid)
    if s is None:
        s = slots[var.uid] = _Slot(var, value)
    s.value = value
    if assigned:
        s.assigned = True
        s.loc = user_location()


def assigned_in(ctx) -> list:
    """[(variable, Value)] assigned in this context, in first-assignment order."""
    return [(s.var, s.value) for s in ctx.effects.get("variables", {}).values() if s.assigned]


def begin_trace(ctx, captures: dict, statics) -> None:
    """Before tracing: where each reachable Variable lives (closure/global, or a path from a
    static argument such as a method's `self`), so later calls find it again and the IR names it."""
    sources: dict[int, VariableCapture] = {}
    for cap in captures.values():
        try:
            obj = cap.get()
        except Exception:
            continue
        _walk(obj, (), lambda v, path, cap=cap: sources.setdefault(
            v.uid, VariableCapture(_label(cap.label, path), capture=cap, path=path)), set())
    for s in statics:
        if isinstance(s, Variable) or _is_module(s) or isinstance(s, (list, tuple, dict)):
            _walk(s, (), lambda v, path, s=s: sources.setdefault(
                v.uid, VariableCapture(_label(None, path) if path else _ident(v.name) or "var",
                                       obj=s, path=path)), set())
    ctx.effects["variable_sources"] = sources


def finish_trace(ctx, taken_names) -> tuple[list, list, list, list]:
    """After tracing (inside the context): -> (params, captures, update results, update indices).
    Each assigned Variable's final value goes through an `assign_variable` node, whose output is
    a graph result; `update indices` are positions in `captures`."""
    slots = list(ctx.effects.get("variables", {}).values())
    used = set(taken_names)
    params, caps, results, updates = [], [], [], []
    for k, s in enumerate(slots):
        name = _unique(s.source.label, used)
        s.param.name = name
        params.append(s.param)
        caps.append(s.source)
        if s.assigned and s.value is not s.param:
            out = apply("assign_variable", _tracer(s.value), variable=name)
            if s.loc is not None:
                ctx.nodes[-1].loc = s.loc
            results.append(out.value)
            updates.append(k)
    return params, caps, results, updates


def write_back(captures, indices, outs) -> None:
    """After a successful call: store each update result into its Variable, in place. Results
    that alias a Variable's own array (the interpreter may return an input) are copied first, so
    that swaps and reads of other Variables see the old values."""
    pairs = []
    for k, o in zip(indices, outs):
        v = captures[k].variable()
        if v is None:
            raise StateError(f"Variable {captures[k].label} is no longer reachable", loc=None)
        pairs.append((v, o))
    own = {id(w._value) for w, _ in pairs}
    for i, (v, o) in enumerate(pairs):
        if type(o) is np.ndarray and (type(o.base) is np.ndarray or id(o) in own):
            if any(np.may_share_memory(o, w._value) for w, _ in pairs):
                pairs[i] = (v, o.copy())
    for v, o in pairs:
        v._value[...] = o


class VariableCapture:
    """Where a captured Variable is found on each call: through a closure cell or global
    (`capture`) or a fixed object (`obj`), then a path of attributes ("a", name) and items
    ("i", key) through Modules, lists, tuples and dicts. Rebinding `self.w` or a global to another
    Variable of the same type is seen without retracing; to another type, retraces."""

    __slots__ = ("label", "capture", "obj", "path")

    def __init__(self, label, capture=None, obj=None, path=()):
        self.label, self.capture, self.obj, self.path = label, capture, obj, tuple(path)

    def variable(self):
        if self.capture is None and not self.path:   # a fixed Variable (the common case)
            return self.obj if isinstance(self.obj, Variable) else None
        try:
            o = self.capture.get() if self.capture is not None else self.obj
            for kind, k in self.path:
                o = getattr(o, k) if kind == "a" else o[k]
        except (AttributeError, KeyError, IndexError, TypeError, NameError, ValueError):
            return None
        return o if isinstance(o, Variable) else None

    def get(self):
        v = self.variable()
        return None if v is None else v._value

    def __repr__(self):
        return f"<variable {self.label}>"


def _is_module(x) -> bool:
    return getattr(type(x), "_ef_module", False)


def _walk(obj, path, visit, seen, depth=0):
    if isinstance(obj, Variable):
        visit(obj, path)
        return
    if id(obj) in seen or depth > 32:
        return
    if _is_module(obj):
        seen.add(id(obj))
        for name, val in obj._ef_children():
            _walk(val, path + (("a", name),), visit, seen, depth + 1)
    elif isinstance(obj, (list, tuple)) and len(obj) <= 10000:
        seen.add(id(obj))
        for i, x in enumerate(obj):
            if isinstance(x, Variable) or _is_module(x) or isinstance(x, (list, tuple, dict)):
                _walk(x, path + (("i", i),), visit, seen, depth + 1)
    elif isinstance(obj, dict) and len(obj) <= 10000:
        seen.add(id(obj))
        for k, x in obj.items():
            if isinstance(x, Variable) or _is_module(x) or isinstance(x, (list, tuple, dict)):
                _walk(x, path + (("i", k),), visit, seen, depth + 1)


def holds_state(val) -> bool:
    """Whether a closure/global value can lead to Variables (captured by find_captures)."""
    if isinstance(val, Variable) or _is_module(val):
        return True
    if isinstance(val, (list, tuple)) and not hasattr(val, "_fields"):
        return any(isinstance(x, Variable) or _is_module(x) for x in val[:64])
    if isinstance(val, dict):
        return any(isinstance(x, Variable) or _is_module(x) for x in itertools.islice(val.values(), 64))
    return False


def path_name(path) -> str:
    """("a","layer1"),("a","w") -> "layer1.w"; items print as indices: "layers.0.w"."""
    return ".".join(str(k) for _, k in path)


def _label(root: str | None, path) -> str:
    parts = ([root] if root else []) + [str(k) for _, k in path]
    return _ident("_".join(parts)) or "var"


def _ident(name) -> str:
    if not name:
        return ""
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name))
    return s if s[0].isalpha() or s[0] == "_" else f"v_{s}"


def _unique(name, used: set) -> str:
    out, i = name, 1
    while out in used:
        out, i = f"{name}_{i}", i + 1
    used.add(out)
    return out


class ByIdentity:
    """A cache-key stand-in for a static argument compared by identity (Variables, Modules:
    their == is elementwise or user-defined, and they may be unhashable)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, ByIdentity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)

    def __repr__(self):
        o = self.obj
        if isinstance(o, Variable):
            return f"<Variable {o._label()} {o.dtype}{list(o.shape)}>"
        return f"<{type(o).__name__} object at {id(o):#x}>"


def static_key(x):
    """How a static argument enters the cache key."""
    return ByIdentity(x) if isinstance(x, Variable) or _is_module(x) else x
