"""The op registry: one OpDef per op, carrying everything about it.

An entry holds the op's type rule (`infer`), its NumPy reference implementation (`impl`, used by
the interpreter, by constant folding and as the test oracle), its code emitters keyed by backend
(`emit`), its gradient rule (`vjp`) and the NumPy callables that the tracer maps to it (`numpy`).
Passes ask questions of entries (`kind`, `pure`, `commutative`) and never test op names.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import AxisError, ShapeError, UnsupportedError
from ..ir.types import TensorType, check_dtype


class Kind(enum.Enum):
    ELEMENTWISE = "elementwise"   # maps scalars to scalars; broadcasting; fusible
    REDUCTION = "reduction"       # reduces over `axis` with a combine and an identity
    SHAPE = "shape"               # moves data without arithmetic (reshape, transpose, ...)
    INDEX = "index"               # getitem / gather / setitem
    STRUCTURED = "structured"     # matmul and other kernels with their own loop structure
    CREATION = "creation"         # makes values from attributes alone (fill)
    COMPOSITE = "composite"       # a NumPy function the tracer lowers to other ops (var, stack)
    CONTROL = "control"           # ops with regions (cond, while)
    FUSED = "fused"               # made by the fuse pass: a region applied elementwise/reduced
    STATE = "state"               # reads/writes of Variables, prints: effects


@dataclass(frozen=True, eq=False)
class OpDef:
    name: str
    kind: Kind
    impl: Callable | None = None          # NumPy reference: impl(*arrays, **attrs)
    infer: Callable | None = None         # infer(*types, **attrs) -> TensorType | tuple
    numpy: tuple = ()                     # NumPy callables that trace to this entry
    trace: Callable | None = None         # tracer-level handler taking NumPy's own arguments
    emit: dict = field(default_factory=dict)   # backend -> scalar template or emitter
    vjp: Callable | None = None           # gradient rule (autodiff)
    attrs: tuple = ()
    pure: bool = True
    commutative: bool = False
    nin: int | None = None                # number of array inputs (None: variadic)
    nout: int = 1
    dtypes: tuple = ()                    # dtypes the differential tests draw (empty: all)
    doc: str = ""
    extra: dict = field(default_factory=dict)  # family-specific facts (reduction identity, ...)

    def __repr__(self):
        return f"<op {self.name}>"

    def infer_types(self, in_types, attrs, regions=()) -> tuple[TensorType, ...]:
        out = self.infer(*in_types, regions=regions, **attrs) if regions else \
            self.infer(*in_types, **attrs)
        return out if isinstance(out, tuple) else (out,)


REGISTRY: dict[str, OpDef] = {}
NUMPY_MAP: dict[Any, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} registered twice")
    REGISTRY[op.name] = op
    for f in op.numpy:
        NUMPY_MAP[f] = op
    return op


def get(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnsupportedError(f"no op named {name!r} in the registry", loc=None) from None


def raises(node) -> bool:
    """Whether a node's generated code can raise on its data (its entry's extra["raises"]
    says so, per node): such code never runs on threads, and its errors name the node's line."""
    rule = REGISTRY[node.op].extra.get("raises")
    return rule is not None and rule(node)


# ---- shared type-rule helpers ------------------------------------------------------------------

def broadcast_shapes(*shapes) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError("shapes " + ", ".join(str(tuple(s)) for s in shapes)
                         + " do not broadcast together; reshape or expand_dims one of them so "
                           "that trailing dimensions are equal or 1") from None


def normalize_axis(axis, ndim: int, allow_tuple=True):
    """None, an int or a tuple of ints -> None or a sorted tuple of non-negative ints."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if not allow_tuple and len(axes) != 1:
        raise UnsupportedError(f"axis must be an int here, got {axis!r}")
    out = []
    for a in axes:
        a = _static_int(a, "axis")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise AxisError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis!r}")
    return tuple(sorted(out))


def _static_int(v, what):
    try:
        return int(v.__index__())
    except AttributeError:
        raise UnsupportedError(f"{what} must be a Python int, got {type(v).__name__}") from None


def strong_stand_in(t: TensorType):
    return np.zeros((), t.dtype)


def stand_in(t: TensorType):
    """A zero-cost array of type t (stride-0 view) for running NumPy to learn result types."""
    if t.weak:
        return {"b": False, "i": 0, "u": 0, "f": 0.0}[t.dtype.kind]
    return np.broadcast_to(np.zeros((), t.dtype), t.shape)


def result_type(*types: TensorType) -> TensorType:
    """NEP 50 promotion of the operands' types; the shape is not computed here."""
    dt = np.result_type(*[stand_in(t) if t.weak else t.dtype for t in types])
    return TensorType(check_dtype(dt), (), all(t.weak for t in types) and dt.kind != "b")
