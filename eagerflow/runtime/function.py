"""`ef.function`: the decorator's object. Trace cache, retrace warning, dispatch, write-back."""
from __future__ import annotations

import collections
import functools
import inspect
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import (_PKG_DIR, AliasingError, EagerflowError, UnsupportedError,
                      strip_internal_frames)
from ..tree import flatten, unflatten
from . import config
from .config import _ENV, _KEY as _EAGER
from .fastpath import FAST_KEY, MISS, fast_key, never
from .fastpath import build as build_fast
from .variables import static_key, write_back

CacheInfo = collections.namedtuple("CacheInfo", "hits misses maxsize currsize")

BACKENDS = ("numba", "interpreter", "cuda")


class RetraceWarning(UserWarning):
    """A function traced anew on at least 5 of its last 10 calls."""


def _is_dev(x) -> bool:
    """A device array (backend="cuda"): anything with __cuda_array_interface__ (docs/gpu.md)."""
    return not isinstance(x, np.ndarray) and (hasattr(x, "__cuda_array_interface__") or
                                              type(x).__name__ == "FakeCUDAArray")


def _leaf_key(x):
    if _is_dev(x):
        from ..compiler.cuda.device import dtype_shape
        return dtype_shape(x)
    if isinstance(x, np.ndarray):
        return (x.dtype, x.shape)
    if isinstance(x, np.generic):   # before float: np.float64 subclasses float, but is strong
        return ("g", x.dtype)
    if isinstance(x, bool):
        return "b"
    if isinstance(x, int):
        return "i"
    if isinstance(x, float):
        return "f"
    if isinstance(x, np.generic):
        return ("g", x.dtype)
    return None


def _is_leaf(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, bool, int, float)) or _is_dev(x)


def _describe(k) -> str:
    if k == "b":
        return "Python bool"
    if k == "i":
        return "Python int"
    if k == "f":
        return "Python float"
    if isinstance(k, tuple) and k and k[0] == "g":
        return f"NumPy scalar {k[1]}"
    if isinstance(k, tuple) and len(k) == 2 and isinstance(k[0], np.dtype):
        return f"{k[0]}{list(k[1])}"
    return repr(k)


@dataclass
class Entry:
    """One traced signature: the stages and the executor."""
    traced: Any            # tracer.trace.Traced
    lowered: Any           # Lowered (stages)
    run: Callable          # executor(*leaves_and_captures) -> list of arrays


class Function:
    """A traced, optimized and compiled NumPy function. See `ef.function`."""

    def __init__(self, fn, *, static_argnums=(), static_argnames=(), backend="numba",
                 autograph=True, fastmath=False, parallel=None, cache_size=64, name=None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "f")
        self.static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        self.static_argnames = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        self.backend = backend
        self.autograph = autograph
        self.fastmath = fastmath
        self.parallel = parallel
        self.cache_size = cache_size
        try:
            self._signature = inspect.signature(fn)
        except (TypeError, ValueError):
            self._signature = None
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.RLock()
        self._hits = self._misses = 0
        self._recent = collections.deque(maxlen=10)
        self._last_key = None
        self._warned_at = -10
        self._ncalls = 0
        self._captures = None
        self._fast: dict = {}   # signature -> generated dispatcher (fastpath.py)
        self._last = never      # the dispatcher of the signature called last

    def __get__(self, obj, objtype=None):   # methods: bind self as a static argument by identity
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)

    # -- signature -----------------------------------------------------------------------------
    def _split(self, args, kwargs):
        """-> (key, leaves, treedef, statics) for a call."""
        if self.static_argnums or self.static_argnames:
            args, kwargs, static = self._pull_statics(args, kwargs)
        else:
            static = ()
        leaves, treedef, statics = flatten((args, kwargs), _is_leaf)
        leaf_keys = tuple(_leaf_key(x) for x in leaves)
        try:
            key = (treedef, leaf_keys, tuple(map(static_key, statics)), static)
            hash(key)
        except TypeError:
            raise UnsupportedError("an argument that is not an array, a number, str or None must be "
                                   "hashable to be static (it is part of the cache key)") from None
        return key, leaves, treedef, statics

    def _pull_statics(self, args, kwargs):
        if self._signature is None:
            raise UnsupportedError("static arguments need a function with an inspectable signature")
        ba = self._signature.bind(*args, **kwargs)
        names = list(self._signature.parameters)
        static = []
        for i, n in enumerate(names):
            if (i in self.static_argnums or n in self.static_argnames) and n in ba.arguments:
                static.append((n, ba.arguments[n]))
        for n, _ in static:
            ba.arguments[n] = _StaticMarker(n)
        return ba.args, ba.kwargs, tuple(static)

    # -- calling ---------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if (config._eager is not None or _ENV is None or _EAGER in _ENV) and \
                config.functions_run_eagerly():   # the flag's cheap test inline, then the full one
            return self.fn(*args, **kwargs)
        try:
            if not kwargs:   # dispatch: flat array/number arguments (fastpath.py)
                out = self._last(args)   # the signature called last, checked inline
                if out is MISS and self._fast:
                    try:
                        run = self._fast.get(fast_key(args))
                    except KeyError:
                        run = None
                    if run is not None:
                        out = run(args)
                        if out is not MISS:
                            self._last = run
                if out is not MISS:
                    self._hits += 1
                    return out
            return self._call(args, kwargs)
        except (EagerflowError, ValueError, TypeError, IndexError) as e:
            user_error = _user_facing(e) or _compiled_code_error(e, self)
            if user_error is None:
                raise
        # Raised here, outside the handler, so that the traceback holds the user's frames and this
        # one entry frame only (CPython always records the frame that raises).
        raise user_error from None

    def _call(self, args, kwargs):
        from ..tracer.context import current
        if current() is not None:
            # called while another function traces (a Module calling its layers): its body is
            # traced inline into the caller's graph. Traced arguments never match the fast
            # path (they are not arrays or numbers), so they all arrive here.
            return self._traceable()(*args, **kwargs)
        key, leaves, treedef, statics = self._split(args, kwargs)
        entry = self._lookup(key, statics)
        traced_now = entry is None
        if entry is None:
            entry, traced_now = self._build(key, leaves, treedef, statics)
        self._note_call(key, traced_now)
        out = self._run(entry, leaves)
        if not kwargs and not traced_now:
            self._add_fast(args, leaves, entry, key)
        return out

    def _add_fast(self, args, leaves, entry, cache_key):
        """Register a generated dispatcher for calls shaped like `args` when they are flat
        arrays/numbers (no static arguments). Called after a successful run, so the entry's
        code is compiled."""
        if (self.static_argnums or self.static_argnames or len(leaves) != len(args) or
                any(type(a) not in FAST_KEY for a in args)):
            return
        key = fast_key(args)
        if getattr(self._fast.get(key), "entry", None) is entry:
            return
        tr, sigs = entry.traced, entry.capture_sigs

        def generic(a):
            caps = [c.get() for c in tr.captures]   # each read once per call
            for c, (dt, shape) in zip(caps, sigs):
                if type(c) is not np.ndarray or c.dtype != dt or c.shape != shape:
                    return MISS   # a captured array changed type: the full path retraces
            return self._run(entry, list(a), caps)
        fast = build_fast(args, entry, generic)
        with self._lock:
            if self._cache.get(cache_key) is entry:
                self._fast[key] = fast
                self._last = fast

    def _lookup(self, key, statics):
        """The cached entry for `key`, if its captured arrays still have their traced types."""
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or not self._captures_match(entry) or \
                    (entry.static_roots and not self._same_roots(entry, statics, key)):
                return None
            self._cache.move_to_end(key)
            self._hits += 1
            return entry

    def _captures_match(self, entry) -> bool:
        for cap, (dt, shape) in zip(entry.traced.captures, entry.capture_sigs):
            a = cap.get()
            if not isinstance(a, np.ndarray) or a.dtype != dt or a.shape != shape:
                return False
        return True

    @staticmethod
    def _same_roots(entry, statics, key) -> bool:
        """Whether the static arguments that captured arrays were found from are these very
        objects (an equal one with its own __eq__ may hold other arrays)."""
        statics = _resolve_statics(statics, key)
        return all(statics[i] is obj for i, obj in entry.static_roots)

    def _run(self, entry, leaves, caps=None):
        tr = entry.traced
        for i, dt in tr.weak_int_checks:
            dt.type(leaves[i])   # NumPy's own OverflowError for a Python int that does not fit
        inputs = list(leaves)
        inputs += [c.get() for c in tr.captures] if caps is None else caps
        if tr.written:
            _check_overlap(leaves, tr.written)
        outs = entry.run(*inputs)
        n = tr.graph.meta["n_outputs"]
        for i, o in zip(tr.written, outs[n:]):
            leaves[i][...] = o
        fresh = entry.lowered.backend == "numba"   # Numba results never alias inputs
        results = [_finish(o, s, inputs) if not fresh or s else o
                   for o, s in zip(outs[:n], tr.out_scalar)]
        if tr.var_updates:   # after every result is computed (and copied): all or nothing
            write_back(tr.captures, tr.var_updates, outs[n + len(tr.written):])
        return unflatten(tr.graph.out_tree, results, tr.out_statics)

    def _build(self, key, leaves, treedef, statics) -> tuple[Entry, bool]:
        """-> (entry, traced now). Traces under the lock: threads that miss on one key together
        trace it once; the others find it here."""
        from .lowering import lower_traced
        with self._lock:
            entry = self._lookup(key, statics)
            if entry is not None:
                return entry, False
            self._misses += 1
            traced = self._trace(leaves, treedef, statics, key)
            lowered = lower_traced(traced, self)
            run = lowered.executor()
            entry = Entry(traced, lowered, run)
            entry.capture_sigs = [(np.asarray(c.get()).dtype, np.shape(c.get()))
                                  for c in traced.captures]
            entry.static_roots = [(c.static, c.obj) for c in traced.captures
                                  if getattr(c, "static", None) is not None]
            self._cache[key] = entry
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
                self._fast.clear()
                self._last = never
            return entry, True

    def _trace(self, leaves, treedef, statics, key):
        from ..tracer.trace import find_captures, leaf_names, trace_function
        if self._captures is None:
            self._captures = find_captures(self.fn)
        fn = self._traceable()
        statics = _resolve_statics(statics, key)
        names = leaf_names(treedef, self._signature)
        if any(_is_dev(x) for x in leaves):   # traced through NumPy stand-ins (cuda backend)
            from ..compiler.cuda.device import stand_in
            leaves = [stand_in(x) if _is_dev(x) else x for x in leaves]
        return trace_function(fn, leaves, treedef, statics, names, self.name, self._captures)

    def _traceable(self):
        """The function as traced: autograph-converted when that is on and available."""
        if not self.autograph:
            return self.fn
        try:
            from ..tracer.autograph import convert
        except ImportError:
            return self.fn
        return convert(self.fn)

    def _note_call(self, key, traced):
        self._ncalls += 1
        self._recent.append(traced)
        prev, self._last_key = self._last_key, key
        if traced and sum(self._recent) >= 5 and self._ncalls - self._warned_at >= 10 and prev:
            self._warned_at = self._ncalls
            warnings.warn(RetraceWarning(self._retrace_message(prev, key)),
                          stacklevel=_user_stacklevel())

    def _retrace_message(self, old, new) -> str:
        """Which argument's signature changed (old and new), and the fix."""
        from ..tracer.trace import leaf_names
        from .variables import ByIdentity
        head = (f"{self.name} was traced anew on {sum(self._recent)} of its last "
                f"{len(self._recent)} calls.")
        if old == new:
            return (f"{head} The arguments kept their types, but an array the function reads "
                    "from outside (a global, a closure variable, or an attribute or item of one "
                    "or of `self`) changed dtype or shape; keep it to one dtype and shape.")
        if old[0] == new[0]:
            for name, a, b in zip(leaf_names(new[0], self._signature), old[1], new[1]):
                if a != b:
                    return f"{head} {_leaf_change(name, a, b)}"
            for name, a, b in zip(leaf_names(new[0], self._signature, static=True), old[2], new[2]):
                if a != b:
                    kind = type(b.obj if isinstance(b, ByIdentity) else b).__name__
                    return (f"{head} Argument `{name}` is a Python {kind}, which is "
                            f"static (part of the cache key), and changed from {a!r} to {b!r}: "
                            "each value is a new trace. Pass data as arrays or numbers, which are "
                            "traced; keep Python values that select behaviour (as those in "
                            "static_argnames) to a few values.")
        for (n, a), (_, b) in zip(old[3], new[3]):
            if a != b:
                return (f"{head} Argument `{n}` is in static_argnames, so each value is a new "
                        f"trace; it changed from {a!r} to {b!r}. If it is data, remove it from "
                        "static_argnames: Python numbers are then traced as weak scalars and new "
                        "values reuse the trace.")
        return (f"{head} The structure of the arguments changed ({old[0]!r} -> {new[0]!r}); "
                "pass the same nesting of tuples, lists and dicts, with the same dict keys.")

    # -- inspection ------------------------------------------------------------------------------
    def lower(self, *args, **kwargs):
        """Every stage for these arguments: `.traced`, `.optimized`, `.passes`, `.source`, `.dot()`.
        Traces and generates code, compiles nothing."""
        from .lowering import lower_traced
        try:
            key, leaves, treedef, statics = self._split(args, kwargs)
            traced = self._trace(leaves, treedef, statics, key)
            return lower_traced(traced, self)
        except (EagerflowError, ValueError, TypeError) as e:
            user_error = _user_facing(e)
            if user_error is None:
                raise
        raise user_error from None

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, self.cache_size, len(self._cache))

    def cache_clear(self):
        with self._lock:
            self._cache.clear()
            self._fast.clear()
            self._last = never

    def __repr__(self):
        return f"<eagerflow.function {self.name} backend={self.backend}>"


def _leaf_change(name, a, b) -> str:
    sizes_only = (isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]
                  and isinstance(a[0], np.dtype) and len(a[1]) == len(b[1]))
    if sizes_only:
        return (f"Argument `{name}` changed shape from {_describe(a)} to {_describe(b)}. Only "
                "sizes changed, so the compiled code is reused and each new shape costs a trace "
                "only; pad inputs to a few fixed sizes if tracing shows up in profiles.")
    if isinstance(a, str) and isinstance(b, str):   # Python bool/int/float kinds
        return (f"Argument `{name}` changed from {_describe(a)} to {_describe(b)}. Python numbers "
                "are traced by kind (bool, int, float), so pass one kind (e.g. always a float); "
                "if the value selects behaviour rather than being data, list it in "
                "static_argnames.")
    return (f"Argument `{name}` changed from {_describe(a)} to {_describe(b)}: a new dtype, rank "
            "or kind of value is a new trace and a new compile. Pass one dtype and rank, or "
            "cast with .astype() before the call.")


def _user_stacklevel() -> int:
    """The stacklevel for warnings.warn that points at the first frame outside eagerflow."""
    import os
    import sys
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(pkg):
        frame, level = frame.f_back, level + 1
    return level


def _user_facing(e: BaseException) -> EagerflowError | None:
    """The eagerflow error to show for `e`, its traceback stripped of eagerflow's frames; None
    for errors that are not ours. NumPy wraps some of ours (`buf[0] = tracer` raises "setting
    an array element with a sequence" from our ConcretizationError): the cause is shown."""
    if not isinstance(e, EagerflowError):
        e = e.__cause__
        if not isinstance(e, EagerflowError):
            return None
    return strip_internal_frames(e)


def _compiled_code_error(e: BaseException, fn: "Function") -> BaseException | None:
    """A ValueError/IndexError that compiled code raised on its data (an integer to a negative
    power, an index out of bounds in a loop, a range step of 0), as the same type naming the
    user's line. None for any other error (the user's own code running eagerly, NumPy's own
    error from an interpreted op, a bug of ours)."""
    if not isinstance(e, (ValueError, IndexError)) or isinstance(e, EagerflowError):
        return None
    from .interpret import interpret
    entry, generated, node, inner, tb = None, None, None, "", e.__traceback__
    while tb is not None:
        f = tb.tb_frame
        inner = f.f_code.co_filename
        if f.f_code is interpret.__code__:   # the interpreter: the node it was running
            node = f.f_locals.get("node")
        elif inner == "<eagerflow dispatch>":
            entry = getattr(f.f_globals.get("fast"), "entry", None)
        elif f.f_code is Function._run.__code__:
            entry = f.f_locals.get("entry")
        elif os.path.basename(inner).startswith("ef_"):   # a generated module (Numba's frame)
            generated = (inner, tb.tb_lineno)
        tb = tb.tb_next
    lowered = getattr(entry, "lowered", None)
    if lowered is None or not (inner == "<eagerflow dispatch>" or inner.startswith(_PKG_DIR) or
                               generated and inner == generated[0]):
        return None
    from ..ops.registry import raises
    if lowered.backend == "interpreter":
        if node is None or not node.loc or not raises(node):
            return None
        locs = [node.loc]
    elif lowered.backend == "numba":
        locs = [_ir_location(lowered, *generated)] if generated else [None]
        if locs[0] is None:
            locs = sorted({n.loc for n in lowered.optimized.walk() if n.loc and raises(n)})
    else:
        return None
    if not locs:
        code = getattr(fn.fn, "__code__", None)
        locs = [(code.co_filename, code.co_firstlineno)] if code is not None else []
    where = ", ".join(f"{f}:{l}" for f, l in locs)
    try:
        return type(e)(f"{where}: {e} (raised by the compiled code of {fn.name})")
    except Exception:   # noqa: BLE001 - a subclass built differently: keep the original
        return None


def _ir_location(lowered, filename, lineno):
    """The user's (file, line) for line `lineno` of a cached generated module (serial or
    threaded source), with the file's full path from the graph (comments hold base names)."""
    import linecache
    from ..compiler.codegen import ir_location
    text = linecache.getline(filename, lineno).rstrip()
    for src in (lowered.source, getattr(lowered, "parallel_source", None)):
        loc = ir_location(src or "", lineno, text)
        if loc is not None:
            return next((n.loc for n in lowered.optimized.walk() if n.loc and n.loc[1] == loc[1]
                         and os.path.basename(n.loc[0]) == loc[0]), loc)
    return None


def _resolve_statics(statics, key) -> list:
    """The static leaves with static_argnames' values in place of their markers."""
    static = dict(key[3])
    return [static[s.name] if isinstance(s, _StaticMarker) else s for s in statics]


class _StaticMarker:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, _StaticMarker) and other.name == self.name

    def __hash__(self):
        return hash(("static", self.name))

    def __repr__(self):
        return f"<static {self.name}>"


def _finish(o, scalar, inputs):
    """A result as eager NumPy gives it: a NumPy scalar, or a fresh, writeable, C-ordered array
    that aliases no input (an executor may hand back an argument, a view or a constant)."""
    if _is_dev(o):   # the cuda backend's results stay on the device
        return o
    if scalar and np.ndim(o) == 0:
        return np.asarray(o)[()]
    o = np.asarray(o)
    if isinstance(o.base, np.ndarray) or not o.flags.c_contiguous or not o.flags.writeable or \
            any(o is a for a in inputs):
        o = np.array(o, order="C", copy=True)
    return o


def _check_overlap(leaves, written):
    arrays = [(i, a) for i, a in enumerate(leaves) if isinstance(a, np.ndarray)]
    for w in written:
        for i, a in arrays:
            if i != w and np.may_share_memory(leaves[w], a):
                raise AliasingError(
                    f"argument {w} is updated in place and overlaps argument {i} in memory; pass "
                    "separate arrays (e.g. .copy() one of them)", loc=None)


def function(fn=None, **options):
    """Compile a NumPy function: `@ef.function` or `@ef.function(static_argnames=("n",), ...)`.

    Options: static_argnums, static_argnames, backend ("numba", "interpreter", "cuda"),
    autograph (True), fastmath (False), parallel, cache_size (64).

    >>> @function(backend="interpreter")
    ... def f(x):
    ...     return (x * 2 + 1).sum()
    >>> float(f(np.arange(3.0)))
    9.0
    """
    if fn is None:
        return lambda f: Function(f, **options)
    return Function(fn, **options)
