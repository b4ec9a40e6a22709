"""Tracer: the stand-in for an array while a function is traced.

It speaks NumPy's own protocols (`__array_ufunc__`, `__array_function__`, operators, ndarray
methods, `__getitem__`/`__setitem__`), so user code calls `np.*` and every call becomes a registry
op. In-place updates are functionalized: the Tracer object is rebound to a new Value. A view made
by basic slicing remembers its base: writing through the view updates the base, and reading a view
whose base changed re-reads it.
"""
from __future__ import annotations

import sys

import numpy as np

from ..errors import (AliasingError, ConcretizationError, UnsupportedAttributeError,
                      UnsupportedError)
from ..ops.registry import NUMPY_MAP
from .context import apply, current, to_value

class Tracer:
    __slots__ = ("_val", "_base", "_index", "_base_ver", "_ver", "_scalar", "_maybe_view",
                 "_copy_note", "_pending")
    __array_priority__ = 1000

    def __init__(self, value, base: "Tracer | None" = None, index=None):
        self._val = value
        self._base = base
        self._index = index
        self._base_ver = base._ver if base is not None else 0
        self._ver = 0
        self._scalar = False   # a 0-d value that eager NumPy holds as a NumPy scalar
        # The result of a reshape/transpose-like op: NumPy may have returned a view of its input,
        # so a write through it cannot be functionalized exactly. (A flag, not a set: a Tracer's
        # __eq__ traces, so Tracers must never be compared as keys.)
        self._maybe_view = False
        self._copy_note = None   # why writing into this value (a gather's copy) is refused
        self._pending = None     # see __repr__

    # -- value and views ---------------------------------------------------------------------------
    @property
    def value(self):
        b = self._base
        if b is not None and self._base_ver != b._ver:
            self._val = apply("getitem", b, index=self._index).value
            self._base_ver = b._ver
        return self._val

    def _assign(self, new: "Tracer"):
        """Rebind to a new value (an in-place update), propagating through view bases."""
        if self._maybe_view:
            raise AliasingError(
                "writing into the result of a reshape/transpose-like op, which NumPy may return "
                "as a view of its input or as a copy; write to the original array, or call "
                ".copy() first to make the intent explicit")
        if self._copy_note:
            raise AliasingError(self._copy_note)
        self._val = new.value
        self._ver += 1
        b = self._base
        if b is not None:
            b._assign(apply("setitem", b, self, index=self._index))
            self._base_ver = b._ver

    def apply(self, name, *others, **attrs):
        return apply(name, self, *others, **attrs)

    # -- metadata ----------------------------------------------------------------------------------
    type = property(lambda self: self.value.type)
    shape = property(lambda self: self.value.type.shape)
    dtype = property(lambda self: self.value.type.dtype)
    ndim = property(lambda self: self.value.type.ndim)
    size = property(lambda self: self.value.type.size)
    weak = property(lambda self: self.value.type.weak)
    T = property(lambda self: self.transpose())
    mT = property(lambda self: self.swapaxes(-1, -2))

    def __repr__(self):
        # NumPy's shape parsing (np.zeros(n)) replaces the TypeError that __index__ raised with
        # its own, formatting repr(n) into it in the same bytecode instruction: raise ours again.
        pending, self._pending = self._pending, None
        if pending is not None:
            f = sys._getframe(1)
            if pending == (id(f), f.f_lasti):
                self._int_error()
        return f"Tracer<{self.value.type}>"

    def __getattr__(self, name):
        # Reached only when normal lookup fails: ndarray attributes that do not trace.
        if name.startswith("__") or not hasattr(np.ndarray, name):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        err = UnsupportedAttributeError(
            f"ndarray.{name} is not supported on traced values (docs/ops.md lists what traces). "
            "Write it with supported NumPy functions, or compute it outside the traced function "
            "and pass the result in")
        err.name = name
        raise err

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    # -- concretization: a traced value used where Python needs a concrete one ---------------------
    def _concrete(self, what, hint):
        raise ConcretizationError(
            f"{what} of a traced value ({self.value.type}{_provenance(self)}) is not known while "
            f"tracing. {hint}")

    def __bool__(self):
        self._concrete("the truth value", "Branch with np.where(cond, a, b) or ef.cond, keep "
                       "autograph on (the default) so that `if`/`while` on traced values compile, "
                       "or make the value static with static_argnames.")

    def __index__(self):
        f = sys._getframe(1)
        self._pending = (id(f), f.f_lasti)
        self._int_error()

    def _int_error(self):
        self._concrete("the integer value", "Sizes, shapes and slice bounds must be Python ints: "
                       "pass the argument through static_argnames=(...).")

    __int__ = __index__

    def __float__(self):
        self._concrete("the float value", "Keep it an array (np.float64 arithmetic traces), or "
                       "pass the argument through static_argnames=(...). To write traced values "
                       "into a new buffer, create it with np.zeros_like(x) or np.zeros(n, like=x) "
                       "rather than np.zeros(n).")

    def __complex__(self):
        self._concrete("the complex value", "complex numbers are not supported.")

    def __array__(self, dtype=None, copy=None):
        self._concrete("the array data", "np.asarray/np.array cannot hold a traced value. To build "
                       "an array from traced values use np.stack; to write traced values into a "
                       "new buffer, create it with np.zeros_like(x) or np.zeros(n, like=x).")

    def item(self, *a):
        self._concrete("item()", "Return the array from the compiled function and call .item() "
                       "on the result.")

    def tolist(self):
        self._concrete("tolist()", "Return the array and convert the result.")

    # -- NumPy protocols ---------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if method != "__call__":
            raise UnsupportedError(f"np.{ufunc.__name__}.{method} is not supported; use the "
                                   "matching function (np.sum, np.max, ...)")
        op = NUMPY_MAP.get(ufunc)
        if op is None:
            raise UnsupportedError(f"np.{ufunc.__name__} has no eagerflow registry entry; rewrite "
                                   "it with supported ufuncs (docs/ops.md lists them) or call it "
                                   "outside the traced function")
        dtype = kwargs.pop("dtype", None)
        if kwargs.pop("where", True) is not True:
            raise UnsupportedError("the where= argument of ufuncs is not supported; use np.where")
        kwargs.pop("casting", None), kwargs.pop("order", None), kwargs.pop("subok", None)
        if kwargs:
            raise UnsupportedError(f"np.{ufunc.__name__}: argument(s) {', '.join(kwargs)} "
                                   "not supported")
        if dtype is not None:
            inputs = tuple(as_tracer(x).astype(dtype) for x in inputs)
        r = op.trace(*inputs) if op.trace else apply(op.name, *inputs)
        if r.weak:   # a NumPy call returns a NumPy scalar: strongly typed (NEP 50)
            r = r.apply("astype", dtype=str(r.dtype))
        return write_out(out, r, ufunc=True)

    def __array_function__(self, func, types, args, kwargs):
        if func in METADATA:   # static facts about the array: no op, a Python value
            return METADATA[func](*args, **kwargs)
        op = NUMPY_MAP.get(func)
        if op is None:
            raise UnsupportedError(
                f"{_np_name(func)} is not supported by eagerflow (it has no registry entry). "
                "Write it with supported NumPy functions (docs/ops.md), or compute it outside the "
                "traced function and pass the result in")
        if op.extra.get("like"):
            kwargs = {**kwargs, "like": self}
        if op.trace:
            return op.trace(*args, **kwargs)
        if kwargs:
            raise UnsupportedError(f"np.{func.__name__}: keyword arguments not supported")
        return apply(op.name, *args)

    # -- indexing ----------------------------------------------------------------------------------
    def __getitem__(self, key):
        from ..ops.index import normalize_index
        pattern, arrays, mask = normalize_index(key, self.shape)
        if mask is not None:
            raise UnsupportedError(
                "x[mask] has a data-dependent shape and cannot be traced; use "
                "np.where(mask, x, fill) to keep the shape, or reduce with np.sum(x, where=...) "
                "written as np.sum(np.where(mask, x, 0))")
        if arrays:
            t = apply("getitem", self, *arrays, index=pattern)
            t._copy_note = _gather_note(arrays)
            return t
        keys = key if isinstance(key, tuple) else (key,)
        if self.ndim == 0 and not any(k is Ellipsis or k is None for k in keys):
            t = Tracer(self.value)   # x[()] of a 0-d array is a NumPy scalar, not a view
            t._scalar = True
            return t
        if all(isinstance(p, tuple) and p == (0, s, 1) for p, s in zip(pattern, self.shape)) \
                and len(pattern) == len(self.shape):
            return Tracer(self.value, base=self, index=pattern)
        t = apply("getitem", self, index=pattern)
        if t.ndim == 0 and not any(k is Ellipsis for k in keys):
            # every axis indexed by an int: NumPy returns a scalar, not a view (x[..., 0] is a view)
            return t
        return Tracer(t.value, base=self, index=pattern)

    def __setitem__(self, key, v):
        from ..ops.index import normalize_index
        pattern, arrays, mask = normalize_index(key, self.shape)
        if mask is not None:
            self._assign(_masked_write(self, mask, v))
            return
        self._assign(apply("setitem", self, v, *arrays, index=pattern))

    # -- methods (each goes through the registry entry of the NumPy function of the same name) -----
    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dt = np.dtype(dtype)
        if dt == self.dtype and not self.weak:
            t = Tracer(self.value)
        else:
            t = apply("astype", self, dtype=str(dt))
        t._scalar = self._scalar
        return t

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return NUMPY_MAP[np.reshape].trace(self, shape, order=order)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return NUMPY_MAP[np.transpose].trace(self, axes or None)

    def copy(self, order="C"):
        t = Tracer(self.value)
        t._scalar = self._scalar
        return t

    def flatten(self, order="C"):
        return Tracer(self.ravel().value)

    def fill(self, value):
        from ..ops.creation import fill_like
        self._assign(fill_like(self, value))

    # -- operators ---------------------------------------------------------------------------------
    def __iop(self, name, other):
        r = apply(name, self, other)
        if self.ndim == 0 and self._scalar:   # Python and NumPy scalars are immutable: rebind
            return r
        if not np.can_cast(r.dtype, self.dtype, "same_kind"):
            raise UnsupportedError(f"Cannot cast ufunc '{name}' output from {r.dtype} to "
                                   f"{self.dtype} with casting rule 'same_kind'")
        if r.shape != self.shape:
            raise AliasingError(f"non-broadcastable output operand with shape {self.shape} doesn't "
                                f"match the broadcast shape {r.shape}")
        self._assign(r.astype(self.dtype) if r.dtype != self.dtype else r)
        return self


def _binary(name, swap=False):
    if swap:
        return lambda self, other: apply(name, other, self)
    return lambda self, other: apply(name, self, other)


def _inplace(name):
    return lambda self, other: self._Tracer__iop(name, other)


for _dunder, _op in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"),
                     ("floordiv", "floordiv"), ("mod", "mod"), ("pow", "pow"), ("and", "bitwise_and"),
                     ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"),
                     ("rshift", "right_shift"), ("matmul", "matmul")):
    setattr(Tracer, f"__{_dunder}__", _binary(_op))
    setattr(Tracer, f"__r{_dunder}__", _binary(_op, swap=True))
    setattr(Tracer, f"__i{_dunder}__", _inplace(_op))
for _dunder, _op in (("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge"), ("eq", "eq"),
                     ("ne", "ne")):
    setattr(Tracer, f"__{_dunder}__", _binary(_op))
Tracer.__hash__ = object.__hash__


def _pow(self, other):
    """`x ** 2`, `x ** -1` (Python ints) and `x ** 0.5` (a Python float) on a float array are
    NumPy's fast scalar powers: square, reciprocal and sqrt, not power (numpy's
    fast_scalar_power). Traced the same way, they give NumPy's exact results."""
    if self.dtype.kind == "f" and not (self.ndim == 0 and self._scalar):
        if type(other) is int and other in (2, -1):
            return apply("square" if other == 2 else "reciprocal", self)
        if type(other) is float and other == 0.5:
            return apply("sqrt", self)
    return apply("pow", self, other)


Tracer.__pow__ = _pow
Tracer.__neg__ = lambda self: apply("neg", self)
Tracer.__pos__ = lambda self: apply("pos", self)
Tracer.__abs__ = lambda self: apply("abs", self)
Tracer.__invert__ = lambda self: apply("invert", self)
Tracer.__divmod__ = lambda self, o: (self // o, self % o)


def _method(npfunc):
    def method(self, *args, **kwargs):
        return NUMPY_MAP[npfunc].trace(self, *args, **kwargs)
    method.__name__ = npfunc.__name__
    return method


for _f in (np.sum, np.prod, np.mean, np.var, np.std, np.max, np.min, np.argmax, np.argmin, np.any,
           np.all, np.ravel, np.squeeze, np.swapaxes, np.dot, np.clip):
    setattr(Tracer, _f.__name__, _method(_f))


def _size(a, axis=None):
    return as_tracer(a).size if axis is None else as_tracer(a).shape[axis]


# NumPy functions that read only static metadata (shape, dtype): they return Python values while
# tracing, as they do eagerly, and make no op. docs/ops.md lists them.
METADATA = {
    np.shape: lambda a: as_tracer(a).shape,
    np.ndim: lambda a: as_tracer(a).ndim,
    np.size: _size,
    np.result_type: lambda *a: np.result_type(*[x.dtype if isinstance(x, Tracer) else x
                                                for x in a]),
}


# -- helpers used by op entries' trace functions -----------------------------------------------------

def as_tracer(x) -> Tracer:
    return x if isinstance(x, Tracer) else Tracer(to_value(x))


def current_apply(name, *inputs, **attrs):
    return apply(name, *inputs, **attrs)


def write_out(out, r, ufunc=False):
    """Honour NumPy's `out=`: write `r` into the traced array `out` and return it."""
    if out is None:
        return r
    if isinstance(out, tuple):
        if len(out) != 1:
            raise UnsupportedError("only single-output out= is supported")
        out = out[0]
    is_variable = getattr(type(out), "_ef_variable", False)   # out=v: an in-place update of v
    if not isinstance(out, Tracer) and not is_variable:
        raise UnsupportedError("out= must be a traced array; writing a traced result into a "
                               "NumPy array that is not an argument cannot be traced — create it "
                               "with np.zeros_like(x) or pass it in")
    if ufunc and not np.can_cast(r.dtype, out.dtype, "same_kind"):
        raise UnsupportedError(f"Cannot cast ufunc output from {r.dtype} to {out.dtype} with "
                               "casting rule 'same_kind'")
    out[...] = r
    return out


def _np_name(func) -> str:
    """'np.linalg.norm' for np.linalg.norm: the name as users write it."""
    parts = (getattr(func, "__module__", None) or "numpy").split(".")[1:]
    while parts and (parts[-1].startswith("_") or parts[-1] == "core"):   # numpy.ma.core
        parts.pop()
    return ".".join(["np", *parts, func.__name__])


def _gather_note(arrays) -> str:
    if all(isinstance(a, Tracer) and a._scalar for a in arrays):
        return ("writing into x[i] with a traced integer i: eager NumPy gives a view of x, but a "
                "position known only at run time is traced as a copy, so the write would not "
                "reach x. Write into x directly (x[i, j] = v), or take an explicit copy first "
                "(row = x[i].copy()) to update a separate array")
    return ("writing into the result of integer-array indexing (x[[0, 1]], x[idx]), which is a "
            "copy: the write would not reach x, and eagerflow does not guess which was meant. "
            "Write into x directly (x[[0, 1]] = v), or take an explicit copy first "
            "(c = x[[0, 1]].copy()) to update a separate array")


def masked_update(x: Tracer, key, op, v):
    """`x[key] <op>= v` (autograph's augmented assignment), `op` the in-place operator: NumPy's
    tmp = x[key]; tmp <op>= v; x[key] = tmp. A boolean-mask key (scalar v) becomes
    x = where(mask, tmp, x) with tmp = x.copy(); tmp <op>= v: no data-dependent shape."""
    from ..ops.index import normalize_index
    mask = normalize_index(key, x.shape)[2]
    if mask is None:
        # NumPy: tmp = x[key]; tmp <op>= v; x[key] = tmp. On a copy, so that x[i] with a traced
        # i (a gather, which refuses writes) works too; a view's write-through ends the same
        x[key] = op(x[key].copy(), v)
    else:
        x._assign(_masked_write(x, mask, v, op))


def _masked_write(x: Tracer, mask, v, op=None) -> Tracer:
    m = as_tracer(mask)
    if m.shape != x.shape[:m.ndim]:
        raise UnsupportedError(f"boolean index of shape {m.shape} does not match the indexed "
                               f"array's shape {x.shape}")
    vt = as_tracer(v)
    if vt.ndim != 0:
        raise UnsupportedError("x[mask] = v needs a scalar v (an array v has a data-dependent "
                               "layout); use x = np.where(mask, values, x) instead")
    if m.ndim < x.ndim:
        m = m.reshape(m.shape + (1,) * (x.ndim - m.ndim))
    # op is the in-place operator (x[mask] += v runs tmp = x[mask]; tmp += v): applied to a copy
    # it keeps x's dtype and refuses a cast NumPy refuses (int += float)
    new = vt if op is None else as_tracer(op(x.copy(), vt))
    return apply("where", m, new.astype(x.dtype), x)


def _provenance(t: Tracer) -> str:
    """', derived from argument(s) x, y' for error messages."""
    ctx = current()
    if ctx is None:
        return ""
    producers = {o.id: n for n in ctx.nodes for o in n.outputs}
    params = {p.id: p.name for p in ctx.params}
    seen, stack, names = set(), [t.value], []
    while stack:
        v = stack.pop()
        if v.id in seen:
            continue
        seen.add(v.id)
        if params.get(v.id) and params[v.id] not in names:   # block arguments have no name
            names.append(params[v.id])
        n = producers.get(v.id)
        if n is not None:
            stack.extend(n.inputs)
    return f", derived from argument{'s' if len(names) > 1 else ''} {', '.join(names)}" if names else ""
