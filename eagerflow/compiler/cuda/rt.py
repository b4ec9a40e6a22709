"""What generated CUDA modules import (`from eagerflow.compiler.cuda.rt import *`).

Device side: `@cuda.jit(device=True)` twins of the CPU backend's scalar helpers (compiler/rt.py),
with the same names, so the registry's Numba templates (`ef_max({0}, {1})`, ...) resolve to device
functions. Float helpers whose rounding depends on the precision come in `_f32`/`_f64` variants
(the code generator appends the suffix for the loop dtype).

Host side: allocation, launch geometry, the host round trip for ops without a kernel, matmul
through CuPy (cuBLAS) or a fallback kernel, and the conversions between NumPy, CuPy, PyTorch and
Numba device arrays.
"""
from __future__ import annotations

import math

import numpy as np

if not hasattr(np, "row_stack"):
    # numba-cuda (0.30.x, the newest) still registers an overload for np.row_stack, which NumPy 2.5
    # removed, and fails to import without it. The alias is set here, in the lazily imported cuda
    # backend only, and nowhere else (docs/gpu.md).
    np.row_stack = np.vstack

from numba import cuda  # noqa: E402
from numba.cuda import libdevice  # noqa: E402

__all__ = ["cuda", "libdevice", "np", "math", "EF_B", "EF_SHMAX", "EF_SHFL",
           "ef_hypot_f32", "ef_hypot_f64",
           "ef_max", "ef_min", "ef_fmax", "ef_fmin", "ef_floordiv_i", "ef_mod_i", "ef_pow_i",
           "ef_lshift", "ef_rshift", "ef_exp2_f32", "ef_exp2_f64",
           "ef_sign_f32", "ef_sign_f64", "ef_floordiv_f32", "ef_floordiv_f64",
           "ef_mod_f32", "ef_mod_f64", "ef_logaddexp_f32", "ef_logaddexp_f64",
           "ef_empty", "ef_grid", "ef_rgrid", "ef_rows_grid", "ef_contig", "ef_ravel",
           "ef_reshape", "ef_copy", "ef_scalar_dev", "ef_pred", "ef_host", "ef_matmul", "ef_prod"]

SIMULATOR = bool(getattr(cuda, "simulator_init", None)) or type(cuda).__name__ == "FakeCUDAModule"
try:
    from numba.cuda.core import config as _cfg
    SIMULATOR = bool(_cfg.ENABLE_CUDASIM)
except Exception:  # pragma: no cover
    pass


class _SimLibdevice:
    """The simulator's libdevice functions are stubs: NumPy stands in for them there."""

    def __init__(self):
        from .emit import LIBDEVICE
        for np_name, (d, f) in LIBDEVICE.items():
            uf = getattr(np, np_name)
            setattr(self, d, self._wrap(uf, np.float64))
            setattr(self, f, self._wrap(uf, np.float32))

    @staticmethod
    def _wrap(uf, t):
        def fn(*args):
            with np.errstate(all="ignore"):
                return t(uf(*[t(a) for a in args]))
        return fn


if SIMULATOR:
    libdevice = _SimLibdevice()

EF_B = 32 if SIMULATOR else 256      # threads per block (reductions combine in this fixed tree)
EF_SHMAX = 48 * 1024                 # dynamic shared memory a row kernel may ask for
EF_SHFL = not SIMULATOR              # block reductions through warp shuffles


# dtypes of shared arrays (np.dtype instances: both the compiler and the simulator take them)
_DTS = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float32", "float64")
for _n in _DTS:
    globals()[f"ef_{_n}"] = np.dtype(_n)
__all__ += [f"ef_{_n}" for _n in _DTS]


# -- device helpers ----------------------------------------------------------------------------

_dev = cuda.jit(device=True)


@_dev
def ef_max(a, b):   # np.maximum: NaN-propagating; on ties the second operand
    return a if (a > b or a != a) else b


@_dev
def ef_min(a, b):
    return a if (a < b or a != a) else b


@_dev
def ef_fmax(a, b):   # np.fmax: NaN-ignoring; on ties the first operand
    return b if (b > a or a != a) else a


@_dev
def ef_fmin(a, b):
    return b if (b < a or a != a) else a


@_dev
def ef_floordiv_i(a, b):
    if b == 0:
        return a - a
    if b == -1:
        return -a
    q = a // b
    return q


@_dev
def ef_mod_i(a, b):
    if b == 0 or b == -1:
        return a - a
    return a % b


@_dev
def ef_pow_i(a, b):
    # NumPy raises for a negative exponent; a kernel cannot raise: it gives 0 (docs/gpu.md).
    r = a - a + 1
    if b < 0:
        return r - r
    base = a
    e = b
    while e > 0:
        if e & 1:
            r = r * base
        base = base * base
        e >>= 1
    return r


@_dev
def ef_lshift(a, b, bits):
    if b < 0 or b >= bits:
        return a - a
    return a << b


@_dev
def ef_rshift(a, b, bits):
    if b < 0 or b >= bits:
        return a - a - 1 if a < 0 else a - a
    return a >> b


def _float_helpers(T, fmod, floor, copysign, log1p, exp, exp2):
    zero, one, half, ln2 = T(0.0), T(1.0), T(0.5), T(0.6931471805599453)

    @_dev
    def divmod_(a, b):
        # npy_divmod (numpy/_core/src/npymath/npy_math_internal.h.src), step by step
        mod = fmod(a, b)
        if b == zero:
            return a / b, mod
        div = (a - mod) / b
        if mod != zero or mod != mod:
            if (b < zero) != (mod < zero):
                mod += b
                div -= one
        else:
            mod = copysign(zero, b)
        if div != zero or div != div:
            floordiv = floor(div)
            if div - floordiv > half:
                floordiv += one
        else:
            floordiv = copysign(zero, a / b)
        return floordiv, mod

    @_dev
    def floordiv(a, b):
        if b == zero:
            return a / b
        return divmod_(a, b)[0]

    @_dev
    def mod(a, b):
        if b == zero:
            return fmod(a, b)
        return divmod_(a, b)[1]

    @_dev
    def sign(a):
        if a > zero:
            return one
        if a < zero:
            return -one
        return zero if a == a else a

    @_dev
    def logaddexp(x, y):
        if x == y:
            return x + ln2
        t = x - y
        if t > zero:
            return x + log1p(exp(-t))
        if t <= zero:
            return y + log1p(exp(t))
        return t

    @_dev
    def exp2_(x):
        return exp2(x)

    return floordiv, mod, sign, logaddexp, exp2_


(ef_floordiv_f32, ef_mod_f32, ef_sign_f32, ef_logaddexp_f32, ef_exp2_f32) = _float_helpers(
    np.float32, libdevice.fmodf, libdevice.floorf, libdevice.copysignf, libdevice.log1pf,
    libdevice.expf, libdevice.exp2f)
(ef_floordiv_f64, ef_mod_f64, ef_sign_f64, ef_logaddexp_f64, ef_exp2_f64) = _float_helpers(
    np.float64, libdevice.fmod, libdevice.floor, libdevice.copysign, libdevice.log1p,
    libdevice.exp, libdevice.exp2)


@_dev
def ef_hypot_f32(x, y):   # exact enough in float64, rounded once
    return np.float32(libdevice.hypot(np.float64(x), np.float64(y)))


@_dev
def ef_hypot_f64(x, y):
    a = abs(x)
    b = abs(y)
    if a == np.inf or b == np.inf:
        return np.inf
    if a != a or b != b:
        return a + b
    if a < b:
        a, b = b, a
    if a == 0.0:
        return a
    q = b / a
    return a * libdevice.sqrt(1.0 + q * q)


# -- host runtime ------------------------------------------------------------------------------

_SMS = None


def _sm_count() -> int:
    global _SMS
    if _SMS is None:
        try:
            _SMS = int(cuda.get_current_device().MULTIPROCESSOR_COUNT)
        except Exception:
            _SMS = 1
    return _SMS


def ef_grid(n: int) -> int:
    """Blocks for a grid-stride elementwise kernel over n elements."""
    if SIMULATOR:
        return max(1, min(-(-n // EF_B), 4))
    return max(1, min(-(-n // EF_B), 32 * _sm_count()))


def ef_rgrid(n: int) -> int:
    """Blocks of the first stage of a whole-array reduction: a function of n alone, so the
    combine order (and the result) is the same on every run and every device."""
    return max(1, min(-(-n // EF_B), 8 if SIMULATOR else 1024))


def ef_rows_grid(rows: int) -> int:
    return max(1, min(rows, 64 if SIMULATOR else 1 << 20))


def ef_prod(*dims) -> int:
    p = 1
    for d in dims:
        p *= int(d)
    return p


_cupy = None


def _cp():
    """CuPy when it is installed and a real GPU is used (its pool allocates, cuBLAS multiplies)."""
    global _cupy
    if _cupy is None:
        _cupy = False
        if not SIMULATOR:
            try:
                import cupy
                _cupy = cupy
            except Exception:
                pass
    return _cupy or None


def ef_empty(shape, dtype):
    shape = tuple(int(s) for s in shape)
    cp = _cp()
    if cp is not None:
        return cuda.as_cuda_array(cp.empty(shape, dtype), sync=False)
    return cuda.device_array(shape, dtype)


def _is_contig(a) -> bool:
    try:
        return bool(a.is_c_contiguous())
    except AttributeError:
        return bool(a.flags["C_CONTIGUOUS"])


def ef_contig(*arrays) -> bool:
    return all(_is_contig(a) for a in arrays)


def ef_ravel(a):
    return a.reshape(a.size) if a.ndim != 1 else a


def ef_reshape(x, shape):
    shape = tuple(int(s) for s in shape) or (1,)
    if _is_contig(x):
        return x.reshape(*shape)
    return to_device(np.ascontiguousarray(x.copy_to_host()).reshape(shape))


def ef_copy(x):
    """A fresh C-contiguous device copy (results never alias inputs)."""
    out = ef_empty(x.shape, x.dtype)
    if _is_contig(x):
        out.copy_to_device(x)
    else:
        out.copy_to_device(np.ascontiguousarray(x.copy_to_host()))
    return out


def ef_scalar_dev(x, dtype):
    return to_device(np.asarray(x, dtype))


def ef_pred(x) -> bool:
    """A 0-d predicate of `cond`/`while` on the host. A device value is copied back: one
    element, but the copy waits for every kernel queued before it (docs/gpu.md)."""
    if hasattr(x, "copy_to_host"):
        return bool(x.copy_to_host()[0])
    return bool(x)


def to_device(a):
    a = np.asarray(a)
    if a.ndim == 0:
        a = a.reshape(1)
    a = np.ascontiguousarray(a)
    cp = _cp()
    if cp is not None:
        out = ef_empty(a.shape, a.dtype)
        out.copy_to_device(a)
        return out
    return cuda.to_device(a)


def _to_host(x, ndim):
    if hasattr(x, "copy_to_host"):
        h = x.copy_to_host()
        return h.reshape(()) if ndim == 0 else h
    return x


def ef_host(name, attrs, out_types, args, ndims):
    """Run an op's NumPy implementation on the host: device inputs are copied there and the
    results back (ops with no kernel; shown as `ef_host` in the generated source)."""
    from ...ops.registry import REGISTRY
    host = [_to_host(a, nd) for a, nd in zip(args, ndims)]
    with np.errstate(all="ignore"):
        r = REGISTRY[name].impl(*host, **attrs)
    rs = r if isinstance(r, tuple) else (r,)
    return tuple(to_device(np.asarray(v, dt)) for v, dt in zip(rs, out_types))


@cuda.jit
def _matmul_kernel(a, b, out, zero):
    # the fallback when CuPy is absent: one thread per output element, k in order
    i, j = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        acc = zero
        for k in range(a.shape[1]):
            acc += a[i, k] * b[k, j]
        out[i, j] = acc


def ef_matmul(a, b, dtype):
    """a @ b on the device in `dtype`: CuPy's matmul (cuBLAS) where CuPy is installed, else a
    plain kernel for 1-d/2-d operands, else the host round trip (docs/gpu.md)."""
    dtype = np.dtype(dtype)
    cp = _cp()
    if cp is not None and dtype.kind != "b":
        ca, cb = cp.asarray(a), cp.asarray(b)
        if ca.dtype != dtype:
            ca = ca.astype(dtype)
        if cb.dtype != dtype:
            cb = cb.astype(dtype)
        r = cp.matmul(ca, cb)
        return cuda.as_cuda_array(r if r.ndim else r.reshape(1), sync=False)
    if a.ndim <= 2 and b.ndim <= 2 and dtype.kind in "fiu" and a.shape[a.ndim - 1] > 0:
        a2 = a if a.ndim == 2 else a.reshape(1, a.shape[0])
        b2 = b if b.ndim == 2 else b.reshape(b.shape[0], 1)
        if a2.dtype != dtype or b2.dtype != dtype:
            a2 = to_device(a2.copy_to_host().astype(dtype))
            b2 = to_device(b2.copy_to_host().astype(dtype))
        out = ef_empty((a2.shape[0], b2.shape[1]), dtype)
        if out.size:
            bs = 8 if SIMULATOR else 16
            grid = (-(-out.shape[0] // bs), -(-out.shape[1] // bs))
            _matmul_kernel[grid, (bs, bs)](a2, b2, out, dtype.type(0))
        shape = tuple(s for s, keep in ((a2.shape[0], a.ndim == 2), (b2.shape[1], b.ndim == 2))
                      if keep)
        return out.reshape(*shape) if shape else out.reshape(1)
    ha = a.copy_to_host().astype(dtype)
    hb = b.copy_to_host().astype(dtype)
    return to_device(np.matmul(ha, hb))


# -- conversions between array kinds (the executor) ------------------------------------------------

def array_kind(x) -> str:
    mod = type(x).__module__.split(".")[0]
    if mod == "torch":
        return "torch"
    if mod == "cupy":
        return "cupy"
    return "numba"


def as_device(x):
    """A Numba view of a device array. Work on the legacy or per-thread default stream (CAI
    stream 1 or 2, or none given) is ordered with our launches on the default stream without a
    host synchronization; any other stream is synchronized first."""
    if hasattr(x, "copy_to_host"):
        return x
    stream = x.__cuda_array_interface__.get("stream")
    return cuda.as_cuda_array(x, sync=stream not in (None, 1, 2))


def from_device(o, ndim, kind):
    if kind == "torch":
        import torch
        t = torch.as_tensor(o, device="cuda")
        return t.reshape(()) if ndim == 0 else t
    if kind == "cupy":
        import cupy
        c = cupy.asarray(o)
        return c.reshape(()) if ndim == 0 else c
    return o


def _exact_contraction():
    """NVVM contracts a*b+c into one fma by default (-fma=1): results then differ from NumPy's by
    a rounding. eagerflow promises bit-equal + - * /, so its own kernels (their LLVM IR names the
    generated module `eagerflow_cuda_...`) compile with -fma=0 unless fastmath is asked for. Other
    kernels in the process are left as they are."""
    if SIMULATOR:
        return
    try:
        from numba.cuda.cudadrv import nvvm
    except Exception:  # pragma: no cover
        return
    orig = nvvm.compile_ir
    if getattr(orig, "_eagerflow", False):
        return

    def compile_ir(llvmir, **options):
        irs = [llvmir] if isinstance(llvmir, str) else llvmir
        if not options.get("fastmath") and any("eagerflow_cuda_" in str(m) for m in irs):
            options.setdefault("fma", False)
        return orig(llvmir, **options)

    compile_ir._eagerflow = True
    nvvm.compile_ir = compile_ir


_exact_contraction()
