"""The CUDA backend (`ef.function(backend="cuda")`): numba-cuda kernels for the optimized graph.

`generate(graph)` writes one Python module (cuda/emit.py): `@cuda.jit` kernels and a host
function that allocates device arrays and launches them. `.compile()` imports the module (so
`numba.cuda` is imported only here, lazily) and returns the executor:

    executor(*inputs) -> list of outputs, in graph.results order

Inputs are the graph's parameters in order (array leaves, then captured arrays). NumPy inputs are
copied to the device and the results copied back (0-d results as 0-d NumPy arrays, as the Numba
backend's executor gives them); if any input is a device array (anything with
`__cuda_array_interface__`: CuPy, PyTorch, Numba), the results stay on the device and come back
as arrays of that input's kind (torch.Tensor, cupy.ndarray or a Numba device array).

Caching: in memory, keyed by the hash of the generated source (without its IR comments, so graphs
that differ only in sizes share one module and Numba's per-signature kernel cache); the module is
written to EAGERFLOW_CACHE_DIR as `efcuda_<hash>.py` so tracebacks show its lines. numba-cuda
compiles each kernel on its first launch. docs/gpu.md has the details.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
from dataclasses import dataclass

import numpy as np

from ...errors import CompileError
from ...ir.graph import Graph

_modules: dict[str, object] = {}
_lock = threading.Lock()
stats = {"compiles": 0}


def _numba_cuda_version() -> str:
    try:
        from importlib.metadata import version
        return version("numba-cuda")
    except Exception:
        return "absent"


@dataclass
class CudaGenerated:
    source: str
    name: str
    extra: list
    zero_d: list
    result_types: list

    @property
    def canonical(self) -> str:
        return "\n".join(l for l in self.source.splitlines()
                         if not l.lstrip().startswith("# ") or not l.startswith("    ")) + "\n"

    @property
    def key(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:24]

    def compile(self):
        mod = load(self.canonical, self.key)
        host = getattr(mod, self.name)
        from . import rt
        from .device import is_device_array
        zero_d = set(self.zero_d)
        rtypes = list(self.result_types)
        extra = list(self.extra)
        state = {"extra": None, "done": False}

        def run(*inputs):
            if state["extra"] is None:
                state["extra"] = [rt.to_device(v) if isinstance(v, np.ndarray) else v
                                  for v in extra]
            kind = None
            args = []
            for i, x in enumerate(inputs):
                if i in zero_d:
                    if is_device_array(x):
                        x = np.asarray(rt.as_device(x).copy_to_host()).reshape(())[()]
                    elif isinstance(x, np.ndarray):
                        x = x[()]
                    args.append(x)
                elif is_device_array(x):
                    kind = kind or rt.array_kind(x)
                    args.append(rt.as_device(x))
                else:
                    args.append(rt.to_device(x))
            outs = host(*args, *state["extra"])
            if kind is None:
                res = []
                for o, t in zip(outs, rtypes):
                    h = o.copy_to_host()
                    res.append(np.asarray(h.reshape(()), t.dtype) if t.ndim == 0 else h)
                return res
            return [rt.from_device(o, t.ndim, kind) for o, t in zip(outs, rtypes)]

        def first(*inputs):
            if state["done"]:
                return run(*inputs)
            try:
                out = run(*inputs)
            except CompileError:
                raise
            except Exception as e:
                from numba.core.errors import NumbaError
                if _no_gpu(e):
                    raise CompileError(_NO_GPU.format(_reason(e)), loc=None) from e
                if not isinstance(e, NumbaError):
                    raise
                raise CompileError(f"numba-cuda could not compile the generated kernels for "
                                   f"{self.name} (efcuda_{self.key}.py in {_cache_dir()}): "
                                   f"{str(e).splitlines()[0]}", loc=None) from e
            state["done"] = True
            return out
        return first


_NO_GPU = ('backend="cuda" needs an NVIDIA GPU and its driver, and none is usable here '
           '(numba-cuda: {}). Use the default CPU backend (ef.function(f), or backend="numba"), '
           'or run on a machine with a CUDA GPU')


def _no_gpu(e) -> bool:
    """numba-cuda found no driver or no device (raised on the first device copy)."""
    from numba.cuda.cudadrv.error import CudaSupportError
    return isinstance(e, CudaSupportError)


def _reason(e) -> str:
    """The line of numba-cuda's multi-line message that says what is missing."""
    lines = [l.strip() for l in str(e).splitlines() if l.strip()]
    line = next((l for l in lines if not l.endswith(":")), lines[0] if lines else type(e).__name__)
    return line.rstrip(".")


def generate(graph: Graph) -> CudaGenerated:
    from ... import __version__
    from .emit import _safe, generate_source
    src, em = generate_source(graph)
    header = f"# eagerflow {__version__} cuda backend, numba-cuda {_numba_cuda_version()}\n"
    return CudaGenerated(header + src, _safe(graph.name), [v for _, v in em.extra],
                         em.zero_d_params, [v.type for v in graph.results])


def _cache_dir() -> str:
    from ..codegen import cache_dir
    return cache_dir()


def load(source: str, key: str):
    mod = _modules.get(key)
    if mod is not None:
        return mod
    with _lock:
        mod = _modules.get(key)
        if mod is None:
            mod = _load_module(source, key)
            _modules[key] = mod
            stats["compiles"] += 1
    return mod


def _load_module(source, key):
    from ..codegen import cached_source
    path = cached_source(f"efcuda_{key}.py", source)   # the fallback directory if read-only
    modname = f"eagerflow_cuda_{key}"
    try:
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
    except ImportError as e:
        sys.modules.pop(modname, None)
        raise CompileError(f"the cuda backend needs numba-cuda (pip install 'eagerflow[cuda]'): "
                           f"{e}", loc=None) from e
    except Exception as e:
        sys.modules.pop(modname, None)
        raise CompileError(f"generated CUDA code failed to load ({e}); source in {path}",
                           loc=None) from e
    return mod


__all__ = ["generate", "CudaGenerated", "stats"]
