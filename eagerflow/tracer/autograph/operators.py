"""The run-time helpers that autograph-converted code calls (as `ag__.<name>`).

Each does plain Python control flow when its condition is a Python value, and emits `cond` /
`while` nodes (eagerflow.control) when it is a traced value. State (the variables a statement
assigns that are live afterwards) moves through `get_state()` / `set_state(values)` closures
that the converter writes next to each statement.
"""
from __future__ import annotations

import builtins
import sys
import types
import warnings

import numpy as np

from ...errors import AliasingError, TracingError
from ..context import apply, current
from ..tracer import Tracer, as_tracer, masked_update

UNROLL_WARN = 100     # a Python loop that unrolls more iterations than this (and traces ops) warns
AUTO_LOOP = 32        # a Python range longer than this over traced state compiles to one `while`


class AutographWarning(UserWarning):
    """Autograph could not convert a function, or a Python loop unrolled into a large graph."""


class Undefined:
    """The value of a variable that is not (yet) assigned on this path. Using it raises a clear
    error; `placeholder_ok` marks autograph's own return-value slot, which may take a zero of
    the other path's type (it is never read where it is undefined)."""

    __slots__ = ("name", "message", "placeholder_ok")
    __array_priority__ = 10000

    def __init__(self, name, message=None, placeholder_ok=False):
        self.name = name
        self.message = message
        self.placeholder_ok = placeholder_ok

    def _ef_undefined_error(self, *a, **k):
        raise TracingError(self.message or
                           f"`{self.name}` is used before it is assigned (on this path); "
                           "assign it before the `if`/loop that defines it")

    def __repr__(self):
        return f"<undefined {self.name}>"

    def __bool__(self):
        self._ef_undefined_error()

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        self._ef_undefined_error()

    __array_ufunc__ = __array_function__ = __array__ = _ef_undefined_error
    __index__ = __int__ = __float__ = __len__ = __iter__ = __getitem__ = __setitem__ = \
        _ef_undefined_error


for _d in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor",
           "lshift", "rshift", "matmul"):
    setattr(Undefined, f"__{_d}__", Undefined._ef_undefined_error)
    setattr(Undefined, f"__r{_d}__", Undefined._ef_undefined_error)
for _d in ("lt", "le", "gt", "ge", "neg", "pos", "abs", "invert"):
    setattr(Undefined, f"__{_d}__", Undefined._ef_undefined_error)


def undefined_return():
    return Undefined("the return value", placeholder_ok=True)


def retval(v):
    """The function's result (every `return` of converted code goes through here): None when
    no `return` ran; an error naming the variable when the result holds an undefined value."""
    if isinstance(v, Undefined) and v.placeholder_ok:
        return None
    _check_defined(v)
    return v


def _check_defined(v):
    if isinstance(v, Undefined):
        v._ef_undefined_error()
    if isinstance(v, (tuple, list)):
        for x in v:
            _check_defined(x)
    elif isinstance(v, dict):
        for x in v.values():
            _check_defined(x)


def _truth(x) -> bool:
    if isinstance(x, np.ndarray) and x.size != 1:
        raise ValueError("The truth value of an array with more than one element is ambiguous. "
                         "Use a.any() or a.all()")
    return bool(x)


# -- state ------------------------------------------------------------------------------------------

def _fresh(state):
    """Copies of the state in which each Tracer is a new object (a branch or the body may
    mutate it in place: `buf[i] = t`), and those objects, to tell mutation from rebinding."""
    objs = []
    out = []
    for v in state:
        if isinstance(v, Tracer):
            t = Tracer(v.value)
            t._scalar = v._scalar
            out.append(t)
            objs.append(t)
        else:
            out.append(v)
            objs.append(None)
    return tuple(out), objs


def _settle(init, final, rebound):
    """State after a traced statement: a Tracer that was only mutated inside keeps its object
    (so aliases and in-place updated arguments see the update); rebound names take the new."""
    out = []
    for i, (a, b) in enumerate(zip(init, final)):
        if isinstance(a, Tracer) and isinstance(b, Tracer) and not rebound[i]:
            if b.value is not a.value:
                a._assign(b)
            out.append(a)
        else:
            out.append(b)
    return tuple(out)


# -- if ---------------------------------------------------------------------------------------------

def if_stmt(test, body, orelse, get_state, set_state, names, opts):
    if not isinstance(test, Tracer):
        if _truth(test):
            body()
        else:
            orelse()
        return
    from ...control import trace_cond
    init = tuple(get_state())
    rebound = [False] * len(init)

    def run(branch):
        def fn():
            st, objs = _fresh(init)
            set_state(st)
            branch()
            out = tuple(get_state())
            for i, (o, v) in enumerate(zip(objs, out)):
                if o is None or v is not o:
                    rebound[i] = True
            return out
        return fn

    out = trace_cond(test, [run(body), run(orelse)], names, what="if", line=opts.get("line"))
    set_state(_settle(init, out, rebound))


def ifexp(test, true_fn, false_fn, opts=None):
    if not isinstance(test, Tracer):
        return true_fn() if _truth(test) else false_fn()
    from ...control import trace_cond
    line = (opts or {}).get("line")
    return trace_cond(test, [lambda: (true_fn(),), lambda: (false_fn(),)],
                      ("the conditional expression",), what="conditional expression",
                      line=line)[0]


def not_(x):
    if isinstance(x, Tracer):
        from ...control import to_pred
        return np.logical_not(to_pred(x))
    return not x


def and_(*fns, opts=None):
    v = fns[0]()
    for k in range(1, len(fns)):
        if isinstance(v, Tracer):
            from ...control import to_pred, trace_cond
            rest = fns[k:]
            return trace_cond(to_pred(v), [lambda: (_pred_or_bool(and_(*rest)),),
                                           lambda: (False,)],
                              ("the `and` expression",), what="`and`",
                              line=(opts or {}).get("line"))[0]
        if not v:
            return v
        v = fns[k]()
    return v


def or_(*fns, opts=None):
    v = fns[0]()
    for k in range(1, len(fns)):
        if isinstance(v, Tracer):
            from ...control import to_pred, trace_cond
            rest = fns[k:]
            return trace_cond(to_pred(v), [lambda: (True,),
                                           lambda: (_pred_or_bool(or_(*rest)),)],
                              ("the `or` expression",), what="`or`",
                              line=(opts or {}).get("line"))[0]
        if v:
            return v
        v = fns[k]()
    return v


def _pred_or_bool(x):
    if isinstance(x, Tracer):
        from ...control import to_pred
        return to_pred(x)
    return bool(_truth(x))


# -- loops ------------------------------------------------------------------------------------------

class TracedRange:
    """range(start, stop, step) where a bound is traced: the loop becomes a `while`."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step


def range_(rng, *args):
    """`range(...)` in a `for` header: a real range on Python ints, a TracedRange otherwise."""
    if rng is not builtins.range or not any(isinstance(a, Tracer) for a in args):
        return rng(*args)
    if len(args) == 1:
        start, stop, step = 0, args[0], 1
    elif len(args) == 2:
        (start, stop), step = args, 1
    else:
        start, stop, step = args
    for a in (start, stop, step):
        if isinstance(a, Tracer) and (a.ndim != 0 or a.dtype.kind not in "iub"):
            raise TracingError(f"range() needs integer scalars, got a traced {a.type}")
    if not isinstance(step, Tracer) and step == 0:
        raise ValueError("range() arg 3 must not be zero")
    if isinstance(step, Tracer):   # checked when the loop runs: a step of 0 never ends it
        step = apply("check", step != 0, step, what="range_step")
    return TracedRange(start, stop, step)


def _range_test(i, stop, step):
    if isinstance(step, Tracer):
        return np.where(step > 0, i < stop, i > stop)
    return i < stop if step > 0 else i > stop


def _loop_state_fns(get_state, set_state, body, rebound):
    def body_fn(state):
        set_state(state)
        body()
        out = tuple(get_state())
        for i, (a, b) in enumerate(zip(state, out)):
            if not isinstance(a, Tracer) or a is not b:
                rebound[i] = True
        return out
    return body_fn


def while_stmt(test, body, get_state, set_state, names, opts):
    ctx = current()
    n, start_nodes, warned = 0, len(ctx.nodes) if ctx else 0, False
    while True:
        c = test()
        if isinstance(c, Tracer):
            return _traced_while(test, body, get_state, set_state, names, opts)
        if not _truth(c):
            break
        body()
        n += 1
        if n > UNROLL_WARN and not warned and ctx is not None and len(ctx.nodes) > start_nodes:
            warned = True
            _warn_unroll(opts, "while loop", n)
    if n > UNROLL_WARN and ctx is not None and len(ctx.nodes) > start_nodes:
        _note_unrolled(opts, "while", n)


def _traced_while(test, body, get_state, set_state, names, opts):
    from ...control import trace_while
    init = tuple(get_state())
    rebound = [False] * len(init)
    body_fn = _loop_state_fns(get_state, set_state, body, rebound)

    def test_fn(state):
        set_state(state)
        return test()

    out = trace_while(test_fn, body_fn, init, names, what="while", line=opts.get("line"))
    set_state(_settle(init, out, rebound))


def for_stmt(iterable, extra_test, body, get_state, set_state, names, opts):
    if isinstance(iterable, (TracedRange, Tracer)):
        return _traced_for(iterable, extra_test, body, get_state, set_state, names, opts)
    ctx = current()
    start_nodes = len(ctx.nodes) if ctx else 0
    n, warned = 0, False
    if isinstance(iterable, range) and len(iterable) > AUTO_LOOP and ctx is not None and \
            _carries_traced(get_state()):
        # A long Python range over traced state compiles to one loop rather than unrolling;
        # a body that needs `i` as a Python int (static slicing, list indexing) still unrolls.
        from ...errors import ConcretizationError, UnsupportedError
        before = tuple(get_state())
        try:
            return _traced_for(TracedRange(iterable.start, iterable.stop, iterable.step),
                               extra_test, body, get_state, set_state, names, opts)
        except (ConcretizationError, UnsupportedError):
            set_state(before)
    if isinstance(iterable, range):
        rng = iterable
        for v in rng:
            if extra_test is not None:
                t = extra_test()
                if isinstance(t, Tracer):   # a traced `break` flag: the rest becomes a while
                    rest = TracedRange(v, rng.stop, rng.step)
                    return _traced_for(rest, extra_test, body, get_state, set_state, names, opts)
                if not _truth(t):
                    break
            body(v)
            n += 1
            if n > UNROLL_WARN and not warned and ctx is not None and \
                    len(ctx.nodes) > start_nodes:
                warned = True
                _warn_unroll(opts, "for loop", len(rng))
    else:
        for v in iterable:
            if extra_test is not None:
                t = extra_test()
                if isinstance(t, Tracer):
                    raise TracingError(
                        f"line {opts.get('line')}: `break` on a traced condition inside a loop "
                        "over a Python iterable; loop over range(...) or a traced array instead")
                if not _truth(t):
                    break
            body(v)
            n += 1
    if n > UNROLL_WARN and ctx is not None and len(ctx.nodes) > start_nodes:
        _note_unrolled(opts, "for over " + opts.get("iter", "an iterable"), n)


def _carries_traced(state) -> bool:
    from ...tree import flatten
    return any(isinstance(x, Tracer) for x in flatten(tuple(state), lambda x: isinstance(
        x, (Tracer, np.ndarray, np.generic, int, float, bool)))[0])


def _traced_for(iterable, extra_test, body, get_state, set_state, names, opts):
    from ...control import to_pred, trace_while
    if isinstance(iterable, Tracer):
        arr = iterable
        if arr.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        start, stop, step = 0, arr.shape[0], 1
    else:
        arr = None
        start, stop, step = iterable.start, iterable.stop, iterable.step
    init = tuple(get_state())
    rebound = [False] * len(init)

    def test_fn(state):
        c = _range_test(state[0], stop, step)
        if extra_test is not None:
            set_state(state[1:])
            e = extra_test()
            if isinstance(e, Tracer):
                c = np.logical_and(to_pred(c), to_pred(e))
            elif not _truth(e):
                c = False
        return c

    def body_fn(state):
        i = state[0]
        set_state(state[1:])
        body(arr[i] if arr is not None else i)
        out = tuple(get_state())
        for k, (a, b) in enumerate(zip(state[1:], out)):
            if not isinstance(a, Tracer) or a is not b:
                rebound[k] = True
        return (i + step,) + out

    what = "for over " + opts.get("iter", "a traced range")
    out = trace_while(test_fn, body_fn, (start,) + init, ("the loop counter",) + tuple(names),
                      what=what, line=opts.get("line"))
    set_state(_settle(init, out[1:], rebound))


def _warn_unroll(opts, what, n):
    warnings.warn(AutographWarning(
        f"line {opts.get('line')}: a Python {what} unrolls ({n} iterations) while tracing, and "
        "each iteration adds ops to the graph. Loop bounds that are Python values unroll; to "
        "compile one real loop, pass the bound as a traced argument (not in static_argnames) "
        "or use ef.fori_loop"), stacklevel=4)


def _note_unrolled(opts, what, n):
    from ...control import report_note
    report_note(f"line {opts.get('line')}: {what} -> unrolled ({n} iterations)")


# -- calls --------------------------------------------------------------------------------------------

def callee(f):
    """The function to call for `f(...)` in converted code: user functions are converted, anything
    else is called as it is."""
    if isinstance(f, types.FunctionType):
        from . import convert_if_user
        return convert_if_user(f)
    if isinstance(f, types.MethodType) and isinstance(f.__func__, types.FunctionType):
        from . import convert_if_user
        g = convert_if_user(f.__func__)
        return f if g is f.__func__ else types.MethodType(g, f.__self__)
    return f


_AUG = {"Add": "iadd", "Sub": "isub", "Mult": "imul", "Div": "itruediv",
        "FloorDiv": "ifloordiv", "Mod": "imod", "Pow": "ipow", "BitAnd": "iand", "BitOr": "ior",
        "BitXor": "ixor", "LShift": "ilshift", "RShift": "irshift", "MatMult": "imatmul"}


def _has_tracer(x) -> bool:
    if isinstance(x, Tracer):
        return True
    if isinstance(x, tuple):
        return any(_has_tracer(v) for v in x)
    return False


def _traced_buffer(obj, traced, name):
    """A NumPy array about to receive a traced value inside a trace becomes traced (a constant
    with the writes applied), unless it comes from outside the function. The traced copy is
    what `name` holds afterwards: another local name for the same memory would not see the
    write, so that raises here (and using the array itself later raises: note_rewritten)."""
    if not (isinstance(obj, np.ndarray) and traced):
        return obj
    ctx = current()
    if ctx is None:
        return obj
    root = ctx.root()
    if id(obj) in ctx.captures or (root.find_capture is not None and
                                   root.find_capture(obj) is not None):
        return obj   # an outside array: the write itself raises, as for any captured array
    caller = sys._getframe(2).f_locals   # the converted function (via setitem or augassign)
    for other, v in caller.items():
        if other != name and isinstance(v, np.ndarray) and np.may_share_memory(v, obj):
            raise AliasingError(
                f"`{name}` and `{other}` are the same NumPy array (or overlap); writing a traced "
                f"value through `{name}` makes it a traced copy, which `{other}` would not see. "
                "Use one name for the buffer, or create it with np.zeros_like(x)")
    ctx.note_rewritten(obj, name)
    return as_tracer(obj.copy())


def augassign(obj, value, aug, name):
    """`name <op>= value`: as Python's, except that a NumPy buffer receiving a traced value
    becomes traced first (`buf = np.zeros(n); buf += t`)."""
    import operator
    obj = _traced_buffer(obj, _has_tracer(value), name)
    return getattr(operator, _AUG[aug])(obj, value)


def setitem(obj, key, value, aug=None, name="buf"):
    """`obj[key] = value` (or `obj[key] <op>= value`), returning what `obj` is afterwards. Writing
    a traced value (or at a traced index) into a NumPy array inside a trace makes the array
    traced (a constant with the write applied), so `buf = np.zeros(n); buf[i] = t` works."""
    obj = _traced_buffer(obj, _has_tracer(key) or _has_tracer(value), name)
    if aug is None:
        obj[key] = value
    else:
        import operator
        op = getattr(operator, _AUG[aug])
        if isinstance(obj, Tracer):
            masked_update(obj, key, op, value)   # x[mask] += v reads no data-dependent shape
        else:
            obj[key] = op(obj[key], value)
    return obj


__all__ = ["if_stmt", "while_stmt", "for_stmt", "ifexp", "and_", "or_", "not_", "range_",
           "callee", "setitem", "augassign", "Undefined", "undefined_return", "retval",
           "AutographWarning"]
_ = as_tracer
