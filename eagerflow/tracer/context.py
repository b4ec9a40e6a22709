"""The tracing context: where traced ops become graph nodes.

`apply(name, *inputs, **attrs)` is the one way an op enters a graph: it turns operands into
Values (tracers, Python scalars, captured and constant arrays), runs the op's type rule, records the
user's file:line and appends the node to the innermost active context.
"""
from __future__ import annotations

import threading

import numpy as np

from ..errors import (AliasingError, IntOverflowError, TracingError, UnsupportedError,
                      user_location)
from ..ir.graph import Const, Graph, Node, Value
from ..ir.types import TensorType, type_of
from ..ops.registry import Kind, get

_state = threading.local()


def current() -> "TraceContext | None":
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


class TraceContext:
    """Collects the nodes of one graph (or one region) being traced."""

    def __init__(self, name="f", captures: dict | None = None, parent: "TraceContext | None" = None):
        self.name = name
        self.params: list[Value] = []
        self.nodes: list[Node] = []
        self.captures = captures if captures is not None else {}   # id(array) -> (capture, array)
        self.captured: dict[int, Value] = {}                         # id(array) -> param
        self.captured_order: list[tuple] = []                        # (capture, array)
        self.find_capture = None   # arr -> (capture, arr) or None: arrays reached by a path
        self.parent = parent
        self.effects: dict = {}   # filled by state (Variables); kept per context
        self.weak_int_checks: set = set()   # (param id, dtype str) checked at call time

    def __enter__(self):
        if not hasattr(_state, "stack"):
            _state.stack = []
        _state.stack.append(self)
        return self

    def __exit__(self, *exc):
        _state.stack.pop()

    def new_param(self, t: TensorType, name: str) -> Value:
        v = Value(t, name)
        self.params.append(v)
        return v

    def local(self, v: Value) -> Value:
        """`v` as a value of this graph. The top-level graph sees every value; a region context
        (eagerflow.control.RegionContext) passes outer values in as block arguments."""
        closed = self.__dict__.get("closed_values")   # values of finished regions (control flow)
        if closed and v.id in closed:
            raise TracingError(closed[v.id])
        return v

    def root(self) -> "TraceContext":
        ctx = self
        while ctx.parent is not None:
            ctx = ctx.parent
        return ctx

    def note_rewritten(self, arr: np.ndarray, name: str):
        """Autograph made the NumPy array `arr` traced (a write of a traced value into it through
        `name`): another name for the same array would not see the write, so using it raises."""
        self.root().__dict__.setdefault("rewritten", {})[id(arr)] = (arr, name)

    def check_not_rewritten(self, arr: np.ndarray):
        found = self.root().__dict__.get("rewritten", {}).get(id(arr))
        if found is not None and found[0] is arr:
            raise AliasingError(
                f"this NumPy array was written with a traced value through the name `{found[1]}`, "
                "which made that name traced; the write does not reach this other name for the "
                "same array. Use one name for the buffer, or create it with np.zeros_like(x)")

    def capture(self, arr: np.ndarray) -> Value | None:
        """An array from outside the function (closure, global, or an attribute or item of one or
        of a static argument) seen in an op: an implicit input, passed by reference."""
        key = id(arr)
        if key in self.captured:
            return self.captured[key]
        found = self.captures.get(key)
        if found is None and self.find_capture is not None:
            found = self.find_capture(arr)
            if found is not None:
                self.captures[key] = found
        if found is None:
            return None
        cap, a = found
        v = Value(type_of(a), cap.label)
        self.captured[key] = v
        self.captured_order.append(found)
        return v


def to_value(x, ctx: TraceContext | None = None) -> Value:
    """An operand as a Value of the current graph."""
    from .tracer import Tracer
    ctx = ctx or current()
    if isinstance(x, Tracer):
        return ctx.local(x.value) if ctx is not None else x.value
    if isinstance(x, Value):
        return ctx.local(x) if ctx is not None else x
    if getattr(type(x), "_ef_variable", False) and ctx is not None:   # ef.Variable: captured
        from ..runtime.variables import trace_read
        return to_value(Tracer(trace_read(x, ctx)), ctx)
    if isinstance(x, np.ndarray) and ctx is not None:
        ctx.check_not_rewritten(x)
        v = ctx.capture(x)
        if v is not None:
            return v
    if isinstance(x, (bool, int, float, np.ndarray, np.generic)):
        return Const(x)
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except Exception:
            arr = None
        if arr is not None and arr.dtype != object:
            return Const(arr)
        raise UnsupportedError("a list or tuple that mixes traced values cannot be an operand; "
                               "use np.stack([...]) to combine traced values")
    if hasattr(x, "_ef_undefined_error"):   # autograph: a variable not defined on every path
        x._ef_undefined_error()
    raise UnsupportedError(f"cannot use a {type(x).__name__} as an array operand in a traced "
                           "function; pass arrays or Python numbers")


def apply(name: str, *inputs, **attrs):
    """Add op `name` to the current graph; returns a Tracer (or a tuple for several outputs)."""
    from .tracer import Tracer
    ctx = current()
    if ctx is None:
        raise TracingError(f"op {name} applied outside a trace")
    op = get(name)
    values = [to_value(x, ctx) for x in inputs]
    out_types = op.infer_types([v.type for v in values], attrs)
    node = Node(name, values, attrs, out_types, loc=user_location())
    ctx.nodes.append(node)
    outs = tuple(Tracer(v) for v in node.outputs)
    rule = op.extra.get("zero_d") or ("scalar" if op.kind in _SCALAR_KINDS else "array")
    for t in outs:
        t._scalar = rule == "scalar" or (rule == "inherit" and _is_numpy_scalar(inputs[0]))
    if op.kind is Kind.SHAPE and not op.extra.get("fresh"):
        for t in outs:
            t._maybe_view = True
    _check_weak_ints(ctx, values, out_types)
    return outs[0] if op.nout == 1 else outs


# Kinds whose 0-d results eager NumPy returns as NumPy scalars (ufuncs, reductions, matmul);
# shape ops, where and creation return 0-d arrays. Entries override with extra["zero_d"]:
# "inherit" for ops whose 0-d result is a scalar exactly when the input is (reshape, transpose and
# astype are methods of NumPy scalars, which return scalars).
_SCALAR_KINDS = (Kind.ELEMENTWISE, Kind.REDUCTION, Kind.STRUCTURED)


def _is_numpy_scalar(x) -> bool:
    """Whether eager NumPy would hold `x` as a scalar (not a 0-d array)."""
    from .tracer import Tracer
    if isinstance(x, Tracer):
        return x._scalar
    return not isinstance(x, np.ndarray)


def build_graph(ctx: TraceContext, results, in_tree=None, out_tree=None) -> Graph:
    return Graph(ctx.name, ctx.params, ctx.nodes, results, in_tree, out_tree)


def _check_weak_ints(ctx: TraceContext, values, out_types):
    """NEP 50: a Python int meeting a narrower integer dtype must fit it (NumPy's OverflowError).
    Constants are checked now; weak int parameters when the function is called."""
    out = out_types[0]
    if out.weak or out.dtype.kind not in "iu":
        return
    for v in values:
        if v.type.weak and v.type.dtype.kind in "iu" and v.type.dtype != out.dtype:
            if isinstance(v, Const):
                try:
                    out.dtype.type(v.data)   # NumPy's own check and message
                except OverflowError as e:
                    raise IntOverflowError(f"{e} (eager NumPy raises this OverflowError too: a "
                                           f"Python int meeting {out.dtype} must fit it)") \
                        from None
            else:
                ctx.weak_int_checks.add((v.id, out.dtype.str))
