"""The Numba backend: generate source for a graph, compile it once per distinct source.

Caches: in memory, source hash -> Numba dispatcher; on disk, the generated module is written to
EAGERFLOW_CACHE_DIR (default: the user cache dir) as `ef_<hash>.py` and imported, so Numba's own
`cache=True` keeps the machine code beside it and a new process skips compilation. The hash covers
the source (whose header names eagerflow's and Numba's versions). A cache directory that cannot be
created or written is replaced, for this process, by one private temporary directory (one warning).
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import pickle
import re
import shutil
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import CompileError
from ...ir.graph import Graph

_compiled: dict[str, object] = {}
_lock = threading.Lock()
stats = {"compiles": 0, "disk_loads": 0}


def _from_numba_cache(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core", "caching.py")):
            return True
        tb = tb.tb_next
    return False


def cache_dir() -> str:
    """The configured cache directory, created if needed; the fallback if it cannot be."""
    d = os.environ.get("EAGERFLOW_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "eagerflow")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        return fallback_dir(d, e)
    return d


_fallback: list[str] = []      # the private directory, made on first need
_warned: set[str] = set()      # configured directories already warned about
_fallback_lock = threading.Lock()


def fallback_dir(d: str, error: OSError) -> str:
    """This process's private cache directory, used instead of `d` (warns once per `d`)."""
    with _fallback_lock:
        if not _fallback:
            _fallback.append(tempfile.mkdtemp(prefix="eagerflow-cache-"))
            atexit.register(shutil.rmtree, _fallback[0], ignore_errors=True)
        if d not in _warned:
            _warned.add(d)
            warnings.warn(f"eagerflow: cannot write the cache directory {d} ({error}); this "
                          f"process caches compiled code in {_fallback[0]} instead, so a new "
                          f"process compiles again (set EAGERFLOW_CACHE_DIR to a writable "
                          f"directory)")
    return _fallback[0]


def cached_source(name: str, source: str) -> str:
    """The path of a file `name` holding `source` in the cache directory, written if it does not
    hold it yet; in the fallback directory if the cache directory cannot be written."""
    d = cache_dir()
    path = os.path.join(d, name)
    if _file_holds(path, source):
        return path          # a read-only directory with a warm cache still serves reads
    try:
        _write_atomic(path, source, d)
    except OSError as e:
        d = fallback_dir(d, e)
        path = os.path.join(d, name)
        if not _file_holds(path, source):
            _write_atomic(path, source, d)
    return path


@dataclass
class Generated:
    source: str
    name: str
    extra: list            # values of the extra arguments, in order
    zero_d: list           # indices of 0-d parameters (passed as scalars)
    result_types: list
    out_types: list = ()   # arrays the executor allocates and passes last (Emitter.out_params)
    scratch_types: list = ()   # intermediates in arrays the executor reuses across calls
    par_source: str | None = None   # the threaded variant (prange), if any loop can use it
    work: int = 0          # largest input/result size or kernel_work: picks the variant

    def variant(self) -> tuple[str, str]:
        """(canonical source, cache key) of the variant this signature runs: the threaded one
        when there is one and the work reaches config.parallel_threshold."""
        from ...runtime import config
        if self.par_source is not None and self.work >= config.parallel_threshold:
            _threadsafe_layer()
            src = _canonical(self.par_source)
        else:
            src = self.canonical
        return src, hashlib.sha256(src.encode()).hexdigest()[:24]

    @property
    def canonical(self) -> str:
        """The source without its IR comments (which carry sizes and file:line): what is
        compiled and cached, so graphs that differ only in sizes share one compiled function."""
        return _canonical(self.source)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:24]

    def compile(self):
        src, key = self.variant()
        disp = raw = load(src, self.name, key)
        # a Python float unboxes faster than np.float64 (~90 ns of a call with three of them
        # measured here); Numba types both as float64
        extra = tuple(float(v) if type(v) is np.float64 else v for v in self.extra)
        zero_d = tuple(self.zero_d)
        if self.out_types or self.scratch_types:
            alloc = [(t.shape, t.dtype) for t in self.out_types]
            spec = [(t.shape, t.dtype) for t in self.scratch_types]
            pool: list = []   # scratch sets; one per concurrent caller (list ops are atomic)
            fixed = extra
            disp0 = disp
            new = _fresh if src == self.canonical else _fresh_threaded

            keep = [[] for _ in alloc]   # last large output per slot, for recycling

            def disp(*args):
                tmp = pool.pop() if pool else [np.empty(s, d) for s, d in spec]
                outs = []
                for (s, d), k in zip(alloc, keep):
                    a = k.pop() if k else None
                    # refs: `a` and getrefcount's argument. Any other (the caller's variable, a
                    # view's base, a Variable) means the array is still in use: allocate anew.
                    outs.append(a if a is not None and sys.getrefcount(a) == 2 else new(s, d))
                try:
                    return disp0(*args, *fixed, *outs, *tmp)
                finally:
                    pool.append(tmp)
                    for a, k in zip(outs, keep):
                        if a.nbytes >= _TOUCH and not k:
                            k.append(a)
            extra = ()
        scalar_out = [i for i, t in enumerate(self.result_types) if t.ndim == 0]
        dts = [t.dtype for t in self.result_types]
        if not zero_d and not scalar_out:
            def run(*inputs):
                return disp(*inputs, *extra)
            return _direct(_first_call_errors(run, self, raw), disp, extra)

        def run(*inputs):
            if zero_d:
                inputs = list(inputs)
                for i in zero_d:
                    x = inputs[i]
                    if isinstance(x, np.ndarray):
                        inputs[i] = x[()]
            outs = list(disp(*inputs, *extra))
            for i in scalar_out:
                outs[i] = np.asarray(outs[i], dts[i])
            return outs
        return _direct(_first_call_errors(run, self, raw), disp, extra)


class _file_lock:
    """An exclusive lock on `<module file>.lock` (fcntl; a no-op where that is unavailable)."""

    def __init__(self, disp):
        import inspect
        try:
            self.path = inspect.getsourcefile(disp.py_func) + ".lock"
        except (TypeError, AttributeError):
            self.path = None
        self.fd = None

    def __enter__(self):
        try:
            import fcntl
            self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except (ImportError, OSError, TypeError):
            self.fd = None
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)   # closing releases the lock


_TOUCH = 1 << 20   # bytes: outputs this large are pre-faulted


def _fresh(shape, dtype):
    """A new output array. Large ones get one store per 4 KiB page first: the kernel then writes
    into mapped pages (faulting them inside the vectorized loop was ~1.3x slower for np.exp)."""
    a = np.empty(shape, dtype)
    if a.nbytes >= _TOUCH:
        a.reshape(-1)[::4096 // a.itemsize] = 0
    return a


def _fresh_threaded(shape, dtype):
    """A new output array for threaded code: large ones get their pages faulted in by all
    threads (`rt.ef_touch_pages`). A recycled output skips this: its pages are mapped."""
    a = np.empty(shape, dtype)
    if a.nbytes >= _TOUCH:
        from ..rt import ef_touch_pages
        ef_touch_pages(a.reshape(-1).view(np.uint8), 4096)
    return a


def _is_ir_comment(line: str) -> bool:
    """An indented comment: the IR node (with its file:line) a block of generated code is for."""
    return line.startswith("    ") and line.lstrip().startswith("# ")


def _canonical(source: str) -> str:
    return "\n".join(l for l in source.splitlines() if not _is_ir_comment(l)) + "\n"


_IR_LOC = re.compile(r"#\s*([^#]+):(\d+)\s*$")


def ir_location(source: str, lineno: int, text: str):
    """(file base name, line) from the IR comment above line `lineno` of the canonical form of
    `source` (what the cached module holds), if that line reads `text`; else None."""
    n, last = 0, None
    for line in source.splitlines():
        if _is_ir_comment(line):
            m = _IR_LOC.search(line)
            last = (m.group(1).strip(), int(m.group(2))) if m else last
            continue
        n += 1
        if n == lineno:
            return last if line.rstrip() == text else None
    return None


def _threadsafe_layer():
    """Threaded code may be called from several Python threads at once: the workqueue layer
    aborts then, so ask Numba for a thread-safe one (OpenMP or TBB) unless the user chose."""
    import numba
    if "NUMBA_THREADING_LAYER" not in os.environ and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "threadsafe"


def _omp_spin():
    """How long OpenMP workers spin after a loop before they sleep (docs/numba_backend.md,
    "Threads"): libgomp's default spin starves the BLAS threads of a following np.dot; workers
    that sleep at once take ~55 us to wake for every threaded call, and longer when BLAS threads
    still spin on their cores. 30,000 spins measured best here. Unless the user chose. libgomp
    reads this once, when Numba first compiles parallel code: configure_numba, which generate
    calls first, sets it before that."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "30000")


def _direct(run, disp, extra):
    """`run.direct`: (callable, extra arguments) for callers that, after run's first call, call
    the compiled code themselves (0-d inputs as scalars; 0-d results come back as Python
    numbers): the runtime's per-signature dispatch (runtime/fastpath.py)."""
    run.direct = (disp, extra)
    return run


def _first_call_errors(run, gen, disp):
    """Numba compiles on the first call: report its failure as a CompileError naming the
    generated file (the dispatcher then keeps its state; later calls go straight to `run`)."""
    from numba.core.errors import NumbaError
    state = {"done": False}

    def first(*inputs):
        if state["done"]:
            return run(*inputs)
        try:
            # Numba's cache index is a read-modify-write file: processes compiling one module at
            # once could overwrite each other's entries. Compile (or load) under a file lock.
            with _file_lock(disp), _quiet_numba():
                try:
                    out = run(*inputs)
                except Exception as e:
                    if not _from_numba_cache(e):
                        raise
                    # a corrupt or foreign entry in Numba's cache: empty its index, recompile
                    disp._cache.flush()
                    out = run(*inputs)
        except NumbaError as e:
            raise CompileError(f"Numba could not compile the generated code for "
                               f"{gen.name} (ef_{gen.key}.py in {cache_dir()}): "
                               f"{str(e).splitlines()[0]}", loc=None) from e
        state["done"] = True
        _record_chunks(disp)
        return out
    return first


class _quiet_numba:
    """Hides Numba's notes about generated code while a first call compiles it: "object mode
    won't allow parallel execution despite nogil" (objmode blocks) and performance hints such as
    np.dot on non-contiguous arrays. The user cannot act on them. Other warnings pass.

    Not catch_warnings: its restore would undo filter changes other threads made meanwhile, and
    two overlapping first calls could leave a filter behind. The filters are in place while any
    first call runs (a count under a lock) and are then taken out of the list they went into
    (a catch_warnings entered meanwhile in another thread swaps that list out and back)."""
    _lock = threading.Lock()
    _depth = 0
    _items: list = []
    _into: list = []

    def __enter__(self):
        cls = _quiet_numba
        with cls._lock:
            if cls._depth == 0:
                import re
                from numba.core.errors import NumbaPerformanceWarning, NumbaWarning
                objmode = re.compile(r".*code running in object mode won't allow parallel", re.I)
                cls._items = [("ignore", objmode, NumbaWarning, None, 0),
                              ("ignore", None, NumbaPerformanceWarning, None, 0)]
                cls._into = warnings.filters
                cls._into[:0] = cls._items
                _filters_mutated()
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = _quiet_numba
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0:
                for filters in {id(l): l for l in (cls._into, warnings.filters)}.values():
                    for item in cls._items:
                        if item in filters:
                            filters.remove(item)
                _filters_mutated()


def _filters_mutated():
    """Tell the warnings module its filters changed (CPython caches per-module decisions)."""
    fn = getattr(warnings, "_filters_mutated", None)
    if fn is not None:
        fn()


def configure_numba():
    """On AVX-512 CPUs, LLVM's default tuning prefers 256-bit vectors; the generated loops (and
    mathlib's polynomials) run up to 2x faster with 512-bit ones. So, before Numba's CPU target
    is first built, and unless the user configured it (NUMBA_CPU_FEATURES) or opted out
    (EAGERFLOW_WIDE_VECTORS=0), ask for the host's features without the prefer-256-bit tuning.
    This applies to the process's Numba code from then on (docs/numba_backend.md)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    _CONFIGURED = True
    _omp_spin()
    if os.environ.get("NUMBA_CPU_FEATURES") or os.environ.get("EAGERFLOW_WIDE_VECTORS") == "0":
        return
    try:
        import llvmlite.binding as llvm
        feats = llvm.get_host_cpu_features()
        if not feats.get("avx512f"):
            return
        name, flat = llvm.get_host_cpu_name(), feats.flatten() + ",-prefer-256-bit"
        if "numba" not in sys.modules:
            os.environ["NUMBA_CPU_NAME"], os.environ["NUMBA_CPU_FEATURES"] = name, flat
            return
        from numba.core import config as nconfig
        from numba.core.registry import cpu_target
        built = "_toplevel_target_context" in vars(cpu_target)
        if not built and nconfig.CPU_FEATURES is None:   # Numba loaded, its target not built yet
            nconfig.CPU_NAME, nconfig.CPU_FEATURES = name, flat
    except Exception:   # tuning only: never fail code generation over it
        return


_CONFIGURED = False


def generate(graph: Graph, fastmath=False, parallel=None) -> Generated:
    configure_numba()
    from ... import __version__
    from .emit import generate_source
    from .structured import install
    install()
    src, em = generate_source(graph, fastmath=fastmath, parallel=False)
    import numba
    header = f"# eagerflow {__version__} ({helpers_digest()}), numba {numba.__version__}\n"
    par_src = None
    if parallel:
        psrc, pem = generate_source(graph, fastmath=fastmath, parallel=True)
        if "prange(" in psrc:
            par_src = header + psrc
            assert pem.extra == em.extra and pem.out_params == em.out_params and \
                pem.scratch == em.scratch
    outs = {v.id: v.type for v in graph.results}
    from .kernels import kernel_work
    work = max([v.type.size for v in list(graph.params) + list(graph.results)] +
               [kernel_work(n) for n in graph.nodes] or [0])
    types = {o.id: o.type for n in graph.nodes for o in n.outputs}
    return Generated(header + src, _fn_name(graph), [v for _, v in em.extra], em.zero_d_params,
                     [v.type for v in graph.results], [outs[i] for i in em.out_params],
                     [types[i] for i in em.scratch], par_src, work)


_DIGEST = None


def helpers_digest() -> str:
    """Hash of the helper modules generated code inlines: Numba's cache checks only the
    generated file, so a change to them must change the source (and so the cache key). Each
    module hashes its own file when it is imported, so the digest names the code this process
    runs even if the file changes later (a process started mid-edit once cached old code under
    the new key)."""
    global _DIGEST
    if _DIGEST is None:
        from .. import mathlib, rt
        h = hashlib.sha256((rt.SOURCE_DIGEST + mathlib.SOURCE_DIGEST).encode())
        _DIGEST = h.hexdigest()[:12]
    return _DIGEST


def _fn_name(graph):
    from .emit import _safe
    return _safe(graph.name)


def load(source: str, name: str, key: str):
    """The dispatcher for this source: from memory, else from the disk cache, else compiled."""
    disp = _compiled.get(key)
    if disp is not None:
        return disp
    with _lock:
        disp = _compiled.get(key)
        if disp is None:
            disp = _load_module(source, name, key)
            _compiled[key] = disp
    return disp


def _load_module(source, name, key):
    path = cached_source(f"ef_{key}.py", source)
    modname = f"eagerflow_generated_{key}"
    try:
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        disp = getattr(mod, name)
    except Exception as e:
        sys.modules.pop(modname, None)
        raise CompileError(f"generated code failed to load ({e}); source in {path}", loc=None) from e
    _preload_chunks(mod, name, key)
    if disp.stats.cache_hits or _has_cached(disp):
        stats["disk_loads"] += 1
    else:
        stats["compiles"] += 1
    return disp


def _chunk_funcs(mod, name) -> list:
    """The module's outlined prange bodies (emit.Emitter.outline), as (name, dispatcher)."""
    pre = f"{name}_chunk"
    return [(n, f) for n, f in vars(mod).items() if n.startswith(pre) and n[len(pre):].isdigit()]


def _chunks_path(mod, key) -> str:
    return os.path.join(os.path.dirname(mod.__file__), f"ef_{key}.chunks")   # beside the module


def _preload_chunks(mod, name, key):
    """Compile (from Numba's disk cache) the outlined prange bodies for the argument types an
    earlier process recorded, before the threaded function loads: its cached machine code then
    calls their own compiled code, not the copy linked into it, which ran 15-20% slower
    (docs/numba_backend.md, "Threads"). Speed only: any failure leaves the linked copy."""
    funcs = dict(_chunk_funcs(mod, name))
    if not funcs:
        return
    try:
        with open(_chunks_path(mod, key), "rb") as f:
            entries = pickle.load(f)
        for fname, sig in entries:
            funcs[fname].compile(sig)
    except Exception:
        return


def _record_chunks(disp):
    """After a threaded function's first call: the argument types its outlined bodies were
    compiled for, for _preload_chunks in later processes."""
    try:
        mod = sys.modules[disp.py_func.__module__]
        key = disp.py_func.__module__.rsplit("_", 1)[1]
        entries = [(n, tuple(sig)) for n, f in _chunk_funcs(mod, disp.py_func.__name__)
                   for sig in f.signatures]
        if not entries:
            return
        path = _chunks_path(mod, key)
        try:
            with open(path, "rb") as f:
                if pickle.load(f) == entries:
                    return
        except Exception:
            pass
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".chunks")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(entries, f)
        os.replace(tmp, path)
    except Exception:   # speed only
        return


def _has_cached(disp) -> bool:
    try:
        return bool(disp._cache._cache_file._load_index())
    except Exception:
        return False


def _file_holds(path, source) -> bool:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == source
    except (OSError, ValueError):    # missing, unreadable, or not UTF-8 (garbled): rewrite it
        return False


def _write_atomic(path, source, d):
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
