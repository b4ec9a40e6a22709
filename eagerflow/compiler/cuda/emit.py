"""Graph -> one Python module: CUDA kernels (`@cuda.jit`) and a host function that launches them.

Conventions of the generated code (docs/gpu.md):
- the host function takes device arrays for array parameters (the executor copies NumPy inputs
  in), host scalars for 0-d parameters and constants `c0, ...`, device arrays for array constants
  `k0, ...` and ints for attribute sizes `s0, ...`; it returns device arrays. A 0-d value computed
  on the device is a 1-element device array (`dev0`), read in kernels as `x[0]`.
- scalar expressions are the registry's Numba templates (`emit["cuda"]` overrides where present),
  with `np.<fn>` calls mapped to libdevice (`np.exp` -> `libdevice.expf` in float32 loops) and the
  precision-dependent helpers to their `_f32`/`_f64` device twins (cuda/rt.py).
- elementwise: grid-stride kernels over a flat index, unravelled with run-time sizes; inputs of a
  smaller shape are read with broadcasting (index 0 on their size-1 dims). When every array of an
  elementwise node has the full shape and all are C-contiguous, a flat variant runs instead.
- reductions: whole-array ones in two stages (per-block partials over a grid that depends on n
  only, then one block); reductions over the last axis in row kernels (one block per row, a fixed
  shared-memory tree); others one thread per output with a serial loop. Every combine order is a
  function of the shape alone, so results are deterministic.
- row programs: consecutive nodes over one domain (..., C) whose reductions are over the last axis
  (softmax, layernorm) run as one kernel per row: values used by later steps stay in shared
  memory, per-row scalars in registers. When the row does not fit in shared memory, the same
  nodes run one kernel each.
- matmul: CuPy (cuBLAS) where installed, else a plain kernel (rt.ef_matmul); a fused epilogue is
  an elementwise kernel over the product.
- other ops: their NumPy implementation on the host (`ef_host`: device -> host -> device),
  visible as such in the source.
- control flow (`cond`, `while`): host `if`/`while` on a predicate read back from the device,
  running the regions' nodes through these same emitters (cuda/control.py).
"""
from __future__ import annotations

import os
import re

import numpy as np

from ...errors import CompileError
from ...ir.graph import Const, Graph, Node, Value
from ...ir.types import TensorType
from ...ops.registry import REGISTRY, Kind
from ..codegen.emit import Emitter, _safe, cast, dtype_code
from ..codegen.kernels import loop_dtypes, py_literal, single_op_region

# np.<fn> in the templates -> libdevice (float64 name, float32 name)
LIBDEVICE = {
    "sqrt": ("sqrt", "sqrtf"), "exp": ("exp", "expf"), "exp2": ("exp2", "exp2f"),
    "expm1": ("expm1", "expm1f"), "log": ("log", "logf"), "log2": ("log2", "log2f"),
    "log10": ("log10", "log10f"), "log1p": ("log1p", "log1pf"), "sin": ("sin", "sinf"),
    "cos": ("cos", "cosf"), "tan": ("tan", "tanf"), "arcsin": ("asin", "asinf"),
    "arccos": ("acos", "acosf"), "arctan": ("atan", "atanf"), "arctan2": ("atan2", "atan2f"),
    "sinh": ("sinh", "sinhf"), "cosh": ("cosh", "coshf"), "tanh": ("tanh", "tanhf"),
    "arcsinh": ("asinh", "asinhf"), "arccosh": ("acosh", "acoshf"),
    "arctanh": ("atanh", "atanhf"), "floor": ("floor", "floorf"), "ceil": ("ceil", "ceilf"),
    "trunc": ("trunc", "truncf"), "rint": ("rint", "rintf"), "copysign": ("copysign", "copysignf"),
    "hypot": ("hypot", "hypotf"), "fmod": ("fmod", "fmodf"),
}
GENERIC = {"isinf": "math.isinf", "isfinite": "math.isfinite", "isnan": "math.isnan"}
FLOAT_HELPERS = {"ef_floordiv_f": "ef_floordiv_f", "ef_mod_f": "ef_mod_f",
                 "ef_sign_f": "ef_sign_f", "ef_logaddexp": "ef_logaddexp_f",
                 "ef_hypot_f": "ef_hypot_f"}
# where a Numba template does not hold in CUDA kernels or the simulator (which runs kernels as
# Python on NumPy scalars, where bool - bool raises)
CUDA_TEMPLATES = {
    "sign": {"f": "ef_sign_f({0})", "": "(int({0} > 0) - int({0} < 0))"},
    "hypot": "ef_hypot_f({0}, {1})",       # libdevice's hypot overflows near the float64 max
}
_NP_CALL = re.compile(r"\bnp\.([a-z0-9_]+)\(")
_HELPER = re.compile(r"\b(ef_floordiv_f|ef_mod_f|ef_sign_f|ef_logaddexp|ef_hypot_f)\(")


def translate(expr: str, ld: np.dtype) -> str:
    """A Numba (CPU) scalar expression -> one that compiles in a CUDA kernel."""
    f32 = np.dtype(ld) == np.float32

    def np_call(m):
        name = m.group(1)
        if name in LIBDEVICE:
            return f"libdevice.{LIBDEVICE[name][f32]}("
        if name in GENERIC:
            return GENERIC[name] + "("
        return m.group(0)

    expr = _NP_CALL.sub(np_call, expr)
    return _HELPER.sub(lambda m: f"{FLOAT_HELPERS[m.group(1)]}{'32' if f32 else '64'}(", expr)


def scalar_expr(op, in_types, out_type, exprs) -> str:
    loop = loop_dtypes(op, in_types, out_type)
    casted = [cast(e, t.dtype, d) for e, t, d in zip(exprs, in_types, loop)]
    ld = loop[0] if loop else out_type.dtype
    tmpl = op.emit.get("cuda", CUDA_TEMPLATES.get(op.name, op.emit.get("numba")))
    if isinstance(tmpl, dict):
        tmpl = tmpl.get(ld.kind, tmpl.get(""))
    if not isinstance(tmpl, str):
        raise _NoKernel(f"{op.name} has no scalar template")
    expr = tmpl.format(*casted, t=dtype_code(ld), bits=ld.itemsize * 8)
    return f"{dtype_code(out_type.dtype)}({translate(expr, ld)})"


def unroll() -> int:
    """Elements per thread per loop step, loaded before any is used (memory-level parallelism:
    one 4-byte load in flight per thread leaves HBM idle). 2 on the simulator, so its small test
    inputs reach the unrolled path."""
    return 2 if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else 4


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def strided_loop(k: "Kernel", start: str, stop: str, step: str, reads, compute):
    """for j in range(start, stop, step): compute(j, reads(j)) -- unrolled: each step of the
    outer loop first loads the inputs of `unroll()` iterations, then computes them in order (the
    same order as the plain loop, so results do not depend on the unrolling)."""
    u = unroll()
    jb = k.tmp("jb")
    k.line(f"for {jb} in range({start}, {stop}, {step} * {u}):")
    k.indent += 1
    k.line(f"if {jb} + {u - 1} * {step} < {stop}:")
    k.indent += 1
    js = []
    for q in range(u):
        j = k.tmp("j")
        k.line(f"{j} = {jb} + {q} * {step}" if q else f"{j} = {jb}")
        js.append(j)
    loaded = []
    for j in js:
        vals = []
        for e in reads(j):
            if _IDENT.match(e):
                vals.append(e)
            else:
                tmp = k.tmp("ld")
                k.line(f"{tmp} = {e}")
                vals.append(tmp)
        loaded.append(vals)
    for j, vals in zip(js, loaded):
        compute(j, vals)
    k.indent -= 1
    k.line("else:")
    k.indent += 1
    j = k.tmp("j")
    k.line(f"for {j} in range({jb}, {stop}, {step}):")
    k.indent += 1
    compute(j, reads(j))
    k.indent -= 3


class _NoKernel(Exception):
    """This node has no kernel form: it runs on the host (ef_host)."""


# -- the emitter -------------------------------------------------------------------------------

class CudaEmitter(Emitter):
    def __init__(self, graph: Graph):
        super().__init__(graph, fastmath=False)
        self.rep: dict[int, str] = {}        # value id -> "host" | "dev0" | "dev"
        self.kernels: list[str] = []
        self.kernel_params: dict[str, list[str]] = {}   # for ptx checks (tests/cuda/ptx_check.py)
        self.arrays_1d: set[str] = set()                 # host names that are 1-d device arrays
        self.named: dict[str, tuple] = {}                # other device arrays: (dtype, ndim)
        self.nk = 0
        for p in graph.params:
            self.rep[p.id] = "host" if p.type.ndim == 0 else "dev"

    def rep_of(self, v: Value) -> str:
        if isinstance(v, Const):
            return "host" if v.type.ndim == 0 else "dev"
        return self.rep[v.id]

    def out(self, v: Value) -> str:
        name = self.names.get(v.id) or self.define(v)
        self.rep[v.id] = "dev" if v.type.ndim else "dev0"
        self.fresh.add(v.id)
        return name

    def kernel(self, prefix="kern") -> "Kernel":   # "k0", "k1"... name array constants
        self.nk += 1
        return Kernel(self, f"{prefix}{self.nk}")


class Kernel:
    """The lines and parameters of one `@cuda.jit` function."""

    def __init__(self, em: CudaEmitter, name: str):
        self.em, self.name = em, name
        self.params: list[str] = []
        self.lines: list[str] = []
        self.indent = 1
        self.counter = 0

    def arg(self, name: str) -> str:
        if name not in self.params:
            self.params.append(name)
        return name

    def tmp(self, prefix="t") -> str:
        self.counter += 1
        return f"_{prefix}{self.counter}"

    def line(self, text: str):
        self.lines.append("    " * self.indent + text)

    def finish(self, doc: str):
        head = ["@cuda.jit", f"def {self.name}({', '.join(self.params)}):", f"    # {doc}"]
        self.em.kernel_params[self.name] = (list(self.params), "(flat)" in doc)
        self.em.kernels.append("\n".join(head + self.lines))

    # values inside the kernel
    def scalar(self, v: Value) -> str:
        """A 0-d value (host scalar or 1-element device array)."""
        name = self.arg(self.em.ref(v))
        return f"{name}[0]" if self.em.rep_of(v) == "dev0" else name

    def elem(self, v: Value, shape, idx) -> str:
        if v.type.ndim == 0:
            return self.scalar(v)
        name = self.arg(self.em.ref(v))
        off = len(shape) - v.type.ndim
        ix = ["0" if v.type.shape[j] == 1 and shape[off + j] != 1 else idx[off + j]
              for j in range(v.type.ndim)]
        return f"{name}[{', '.join(ix)}]"

    def region(self, region: Graph, arg_exprs) -> list[str]:
        env = {p.id: e for p, e in zip(region.params, arg_exprs)}

        def ref(v):
            return env[v.id] if v.id in env else self.scalar(v)

        for n in region.nodes:
            expr = scalar_expr(REGISTRY[n.op], [v.type for v in n.inputs], n.outputs[0].type,
                               [ref(v) for v in n.inputs])
            name = self.tmp("e")
            self.line(f"{name} = {expr}")
            env[n.outputs[0].id] = name
        return [ref(v) for v in region.results]

    def unravel(self, flat: str, idx: list[str], dims: list[str]):
        """idx[k] from a C-order flat index over dims (dims[0] is not needed)."""
        if not idx:
            return
        r = self.tmp("r")
        self.line(f"{r} = {flat}")
        for k in range(len(idx) - 1, 0, -1):
            self.line(f"{idx[k]} = {r} % {dims[k]}")
            self.line(f"{r} = {r} // {dims[k]}")
        self.line(f"{idx[0]} = {r}")


# -- helpers -----------------------------------------------------------------------------------

def run_dims(em: CudaEmitter, shape, inputs) -> list[str]:
    """Run-time size of each dim of a broadcast shape, read from an input that has it."""
    dims = []
    for d, size in enumerate(shape):
        expr = "1" if size == 1 else None
        for v in inputs:
            j = d - (len(shape) - v.type.ndim)
            if j >= 0 and v.type.shape[j] != 1 and em.rep_of(v) == "dev":
                expr = f"{em.ref(v)}.shape[{j}]"
                break
        dims.append(expr if expr is not None else em.size(size))
    return dims


def tup(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _np(dt) -> str:
    return dtype_code(dt)


def identity(rop, dt: np.dtype) -> str:
    ident = rop.extra["identity"]
    if ident == "-inf":
        v = "-np.inf" if dt.kind == "f" else str(np.iinfo(dt).min) if dt.kind in "iu" else "False"
    elif ident == "+inf":
        v = "np.inf" if dt.kind == "f" else str(np.iinfo(dt).max) if dt.kind in "iu" else "True"
    else:
        v = repr(ident)
    return f"{_np(dt)}({v})"


def combine(rop, a, x, dt) -> str:
    return f"{_np(dt)}({translate(rop.extra['combine'].format(a=a, x=x), dt)})"


SHUFFLE_DTYPES = ("int32", "int64", "float32", "float64")


def tree(k: Kernel, sm: str, t: str, acc: str, rop, dt) -> str:
    """Block reduction of each thread's `acc` in a fixed order; every thread gets the result.
    On a GPU (EF_SHFL) and for 32/64-bit types: a shuffle tree in each warp, then one over the
    warps' results; else (the simulator, small types) a shared-memory tree."""
    if np.dtype(dt).name in SHUFFLE_DTYPES:
        v, off, lane, w, o = k.tmp("v"), k.tmp("off"), k.tmp("lane"), k.tmp("w"), k.tmp("o")
        k.line("if EF_SHFL:")
        k.indent += 1
        k.line(f"{v} = {acc}")
        for _ in range(2):
            k.line(f"{off} = 16")
            k.line(f"while {off} > 0:")
            k.line(f"    {o} = cuda.shfl_down_sync(0xffffffff, {v}, {off})")
            k.line(f"    {v} = {combine(rop, v, o, dt)}")
            k.line(f"    {off} //= 2")
            if _ == 0:
                k.line(f"{lane} = {t} % 32")
                k.line(f"{w} = {t} // 32")
                k.line(f"if {lane} == 0:")
                k.line(f"    {sm}[{w}] = {v}")
                k.line("cuda.syncthreads()")
                k.line(f"{v} = {sm}[{lane}] if {lane} < EF_B // 32 else {identity(rop, dt)}")
        k.line(f"if {t} == 0:")
        k.line(f"    {sm}[0] = {v}")
        k.line("cuda.syncthreads()")
        k.indent -= 1
        k.line("else:")
        k.indent += 1
        r = _shared_tree(k, sm, t, acc, rop, dt, final=False)
        k.indent -= 1
        red = k.tmp("red")
        k.line(f"{red} = {sm}[0]")
        k.line("cuda.syncthreads()")
        return red
    return _shared_tree(k, sm, t, acc, rop, dt, final=True)


def _shared_tree(k: Kernel, sm: str, t: str, acc: str, rop, dt, final=True) -> str:
    k.line(f"{sm}[{t}] = {acc}")
    k.line("cuda.syncthreads()")
    s = k.tmp("half")   # not "s": sizes are s0, s1, ...
    k.line(f"{s} = EF_B // 2")
    k.line(f"while {s} > 0:")
    k.line(f"    if {t} < {s}:")
    k.line(f"        {sm}[{t}] = {combine(rop, f'{sm}[{t}]', f'{sm}[{t} + {s}]', dt)}")
    k.line("    cuda.syncthreads()")
    k.line(f"    {s} //= 2")
    r = k.tmp("red")
    k.line(f"{r} = {sm}[0]")
    k.line("cuda.syncthreads()")
    return r


# -- elementwise -------------------------------------------------------------------------------

def emit_elementwise(em: CudaEmitter, node: Node, inputs, outputs, region: Graph, shape):
    shape = tuple(shape)
    outs = [em.out(v) for v in outputs]
    r = len(shape)
    dims = run_dims(em, shape, inputs) if r else []
    dn = [em.tmp("d") for _ in dims]
    for n_, d in zip(dn, dims):
        em.line(f"{n_} = {d}")
    for o, v in zip(outs, outputs):
        em.line(f"{o} = ef_empty({tup(dn) if r else '(1,)'}, {_np(v.type.dtype)})")
    n = em.tmp("n")
    em.line(f"{n} = {' * '.join(dn) if dn else '1'}")
    arrays = [v for v in inputs if em.rep_of(v) == "dev"]
    flat = r >= 2 and all(v.type.shape == shape for v in arrays)
    k = _elementwise_kernel(em, node, inputs, outputs, region, shape, dn, n, flat=False)
    launch = f"{k.name}[ef_grid({n}), EF_B]({', '.join(k.params)})"
    if flat:
        kf = _elementwise_kernel(em, node, inputs, outputs, region, shape, dn, n, flat=True)
        names = [em.ref(v) for v in arrays]
        em.line(f"if {n} and ef_contig({', '.join(names)}):")
        args = [f"ef_ravel({p})" if p in names or p in outs else p for p in kf.params]
        em.line(f"    {kf.name}[ef_grid({n}), EF_B]({', '.join(args)})")
        em.line(f"elif {n}:")
        em.line(f"    {launch}")
    else:
        em.line(f"if {n}:")
        em.line(f"    {launch}")


def _elementwise_kernel(em, node, inputs, outputs, region, shape, dn, n, flat):
    k = em.kernel()
    k.arg(n)
    r = len(shape)
    idx = [f"i{j}" for j in range(r)]
    if flat or r == 1:
        def reads(f):
            if flat:
                return [f"{k.arg(em.ref(v))}[{f}]" if em.rep_of(v) == "dev" else k.scalar(v)
                        for v in inputs]
            return [k.elem(v, shape, [f]) for v in inputs]

        def compute(f, vals):
            for v, e in zip(outputs, k.region(region, vals)):
                k.line(f"{k.arg(em.ref(v))}[{f}] = {e}")
        st = k.tmp("st")
        k.line(f"{st} = cuda.gridsize(1)")
        strided_loop(k, "cuda.grid(1)", n, st, reads, compute)
    else:
        f = k.tmp("f")
        k.line(f"for {f} in range(cuda.grid(1), {n}, cuda.gridsize(1)):")
        k.indent += 1
        if r:
            kd = [k.arg(d) if j else d for j, d in enumerate(dn)]
            k.unravel(f, idx, kd)
        exprs = k.region(region, [k.elem(v, shape, idx) for v in inputs])
        for v, e in zip(outputs, exprs):
            o = k.arg(em.ref(v))
            k.line(f"{o}[{', '.join(idx) if r else '0'}] = {e}")
    k.finish(f"{node.op} over {tuple(shape)}{' (flat)' if flat else ''}")
    return k


# -- reductions --------------------------------------------------------------------------------

def emit_reduce(em: CudaEmitter, node: Node, region: Graph, shape, axis, keepdims, reduce):
    rop = REGISTRY[reduce]
    shape = tuple(shape)
    r = len(shape)
    axes = tuple(range(r)) if axis is None else tuple(axis)
    if rop.extra.get("index"):
        return _reduce_columns(em, node, region, shape, axes, keepdims, rop, axis)
    if set(axes) == set(range(r)):
        return _reduce_all(em, node, region, shape, keepdims, rop)
    if axes == (r - 1,):
        return emit_rows(em, [node], shape)
    return _reduce_columns(em, node, region, shape, axes, keepdims, rop, axis)


def _alloc_dims(em, shape, inputs):
    dims = run_dims(em, shape, inputs)
    dn = [em.tmp("d") for _ in dims]
    for n_, d in zip(dn, dims):
        em.line(f"{n_} = {d}")
    return dn


def _res_shape(res, dn, axes, keepdims):
    if res.type.ndim == 0:
        return "(1,)"
    return tup("1" if d in axes else dn[d] for d in range(len(dn))
               if keepdims or d not in axes)


def _body(k: Kernel, node, region, shape, idx, stored):
    exprs = k.region(region, [k.elem(v, shape, idx) for v in node.inputs])
    for v, e in zip(stored, exprs[1:]):
        k.line(f"{k.arg(k.em.ref(v))}[{', '.join(idx)}] = {e}")
    return exprs[0]


def _reduce_all(em, node, region, shape, keepdims, rop):
    res, stored = node.outputs[0], node.outputs[1:]
    r = len(shape)
    dn = _alloc_dims(em, shape, node.inputs)
    out = em.out(res)
    for v in stored:
        em.line(f"{em.out(v)} = ef_empty({tup(dn)}, {_np(v.type.dtype)})")
    acc_dt, val_dt = res.type.dtype, region.results[0].type.dtype
    n, g, part = em.tmp("n"), em.tmp("g"), em.tmp("part")
    em.line(f"{n} = {' * '.join(dn) if dn else '1'}")
    em.line(f"{g} = ef_rgrid({n})")
    em.line(f"{part} = ef_empty(({g},), {_np(acc_dt)})")
    em.arrays_1d.add(part)
    em.partials = getattr(em, "partials", {})
    em.partials[part] = acc_dt
    em.line(f"{out} = ef_empty((1,), {_np(acc_dt)})")
    k1 = em.kernel()
    k1.arg(n), k1.arg(g)
    sm, t, b = k1.tmp("sm"), k1.tmp("t"), k1.tmp("b")
    k1.line(f"{sm} = cuda.shared.array(EF_B, ef_{acc_dt.name})")
    k1.line(f"{t} = cuda.threadIdx.x")
    k1.line(f"{b} = cuda.blockIdx.x")
    acc = k1.tmp("acc")
    k1.line(f"{acc} = {identity(rop, acc_dt)}")
    f = k1.tmp("f")
    k1.line(f"for {f} in range({b} * EF_B + {t}, {n}, {g} * EF_B):")
    k1.indent += 1
    idx = [f"i{j}" for j in range(r)]
    k1.unravel(f, idx, [k1.arg(d) if j else d for j, d in enumerate(dn)])
    x = _body(k1, node, region, shape, idx, stored)
    k1.line(f"{acc} = {combine(rop, acc, cast(x, val_dt, acc_dt), acc_dt)}")
    k1.indent -= 1
    red = tree(k1, sm, t, acc, rop, acc_dt)
    k1.line(f"if {t} == 0:")
    k1.line(f"    {k1.arg(part)}[{b}] = {red}")
    k1.finish(f"{node.op}: whole-array {rop.name}, stage 1 (one partial per block)")
    k2 = em.kernel()
    k2.arg(g), k2.arg(part), k2.arg(out)
    sm, t = k2.tmp("sm"), k2.tmp("t")
    k2.line(f"{sm} = cuda.shared.array(EF_B, ef_{acc_dt.name})")
    k2.line(f"{t} = cuda.threadIdx.x")
    acc = k2.tmp("acc")
    k2.line(f"{acc} = {identity(rop, acc_dt)}")
    f = k2.tmp("f")
    k2.line(f"for {f} in range({t}, {g}, EF_B):")
    k2.line(f"    {acc} = {combine(rop, acc, f'{part}[{f}]', acc_dt)}")
    red = tree(k2, sm, t, acc, rop, acc_dt)
    k2.line(f"if {t} == 0:")
    k2.line(f"    {out}[0] = {red}")
    k2.finish(f"{node.op}: whole-array {rop.name}, stage 2 (the partials, one block)")
    em.line(f"{k1.name}[{g}, EF_B]({', '.join(k1.params)})")
    em.line(f"{k2.name}[1, EF_B]({', '.join(k2.params)})")
    if res.type.ndim:
        em.line(f"{out} = ef_reshape({out}, {tup(['1'] * res.type.ndim)})")


def _reduce_columns(em, node, region, shape, axes, keepdims, rop, axis):
    """One thread per output element, a serial loop over the reduced indices in C order."""
    res, stored = node.outputs[0], node.outputs[1:]
    r = len(shape)
    kept = [d for d in range(r) if d not in axes]
    red = [d for d in range(r) if d in axes]
    dn = _alloc_dims(em, shape, node.inputs)
    out = em.out(res)
    for v in stored:
        em.line(f"{em.out(v)} = ef_empty({tup(dn)}, {_np(v.type.dtype)})")
    acc_dt, val_dt = res.type.dtype, region.results[0].type.dtype
    m = em.tmp("n")
    em.line(f"{m} = {' * '.join(dn[d] for d in kept) if kept else '1'}")
    em.line(f"{out} = ef_empty(({m},), {_np(acc_dt)})")
    em.arrays_1d.add(out)
    k = em.kernel()
    k.arg(m)
    idx = [f"i{j}" for j in range(r)]
    o = k.tmp("o")
    k.line(f"for {o} in range(cuda.grid(1), {m}, cuda.gridsize(1)):")
    k.indent += 1
    k.unravel(o, [idx[d] for d in kept], [k.arg(dn[d]) for d in kept])
    index_kind = rop.extra.get("index", False)
    acc = k.tmp("acc")
    if index_kind:
        best, pos = k.tmp("best"), k.tmp("pos")
        k.line(f"{best} = {_arg_init(rop, val_dt)}")
        k.line(f"{acc} = np.int64(0)")
        k.line(f"{pos} = np.int64(0)")
    else:
        k.line(f"{acc} = {identity(rop, acc_dt)}")
    for d in red:
        k.line(f"for {idx[d]} in range({k.arg(dn[d])}):")
        k.indent += 1
    x = _body(k, node, region, shape, idx, stored)
    if index_kind:
        xv = k.tmp("x")
        k.line(f"{xv} = {x if val_dt.kind != 'b' else f'np.int64({x})'}")
        nan = f" or ({xv} != {xv} and {best} == {best})" if val_dt.kind == "f" else ""
        where = pos if axis is None else idx[axes[0]]
        k.line(f"if {xv} {rop.extra['better']} {best}{nan}:")
        k.line(f"    {best} = {xv}")
        k.line(f"    {acc} = np.int64({where})")
        if axis is None:
            k.line(f"{pos} += 1")
    else:
        k.line(f"{acc} = {combine(rop, acc, cast(x, val_dt, acc_dt), acc_dt)}")
    k.indent -= len(red)
    k.line(f"{k.arg(out)}[{o}] = {acc}")
    k.finish(f"{node.op}: {rop.name} over axes {axes}, one thread per output")
    em.line(f"if {m}:")
    em.line(f"    {k.name}[ef_grid({m}), EF_B]({', '.join(k.params)})")
    em.line(f"{out} = ef_reshape({out}, {_res_shape(res, dn, axes, keepdims)})")


def _arg_init(rop, dt):
    ident = rop.extra["identity_value"]
    if dt.kind == "f":
        return f"{_np(dt)}({'-np.inf' if ident == '-inf' else 'np.inf'})"
    if dt.kind == "b":
        return "np.int64(0)" if ident == "-inf" else "np.int64(1)"
    info = np.iinfo(dt)
    return f"{_np(dt)}({info.min if ident == '-inf' else info.max})"


# -- row programs ------------------------------------------------------------------------------

def _node_region(node):
    if node.op in ("fused.elementwise", "fused.reduce"):
        return node.regions[0]
    op = REGISTRY[node.op]
    if op.kind is Kind.REDUCTION:
        p = Value(TensorType(node.inputs[0].type.dtype, ()))
        return Graph("region", [p], [], [p])
    return single_op_region(node)


def _reduce_info(node):
    """(reduce op name, axis, keepdims, domain shape) of a reduction node, else None."""
    op = REGISTRY[node.op]
    if node.op == "fused.reduce":
        a = node.attrs
        return a["reduce"], a["axis"], a["keepdims"], tuple(a["shape"])
    if op.kind is Kind.REDUCTION:
        return node.op, node.attrs["axis"], node.attrs["keepdims"], node.inputs[0].type.shape
    return None


def row_role(node, shape):
    """How a node takes part in a row program over `shape`: "reduce", "full", "row" or None."""
    r = len(shape)
    if r < 1:
        return None
    op = REGISTRY[node.op]
    info = _reduce_info(node)
    if info is not None:
        name, axis, _, dom = info
        if (dom == shape and axis == (r - 1,) and not REGISTRY[name].extra.get("index")
                and "combine" in REGISTRY[name].extra):
            return "reduce"
        return None
    if op.kind is Kind.ELEMENTWISE or node.op == "fused.elementwise":
        if node.regions and node.op != "fused.elementwise":
            return None
        out = node.outputs[0].type.shape
        if out == shape:
            return "full"
        if out == shape[:-1] + (1,) and r >= 2:
            return "row"
    return None


def emit_rows(em: CudaEmitter, nodes: list, shape, uses=None):
    """One kernel for `nodes` over rows of `shape` (one block per row of the last axis)."""
    shape = tuple(shape)
    r = len(shape)
    in_group = {id(n) for n in nodes}
    made = {v.id: n for n in nodes for v in n.outputs}
    uses = uses or {}
    roles = [row_role(n, shape) for n in nodes]

    def internal(v):
        return any(id(c) in in_group for c in uses.get(v.id, ()))

    def external(v):
        return len(nodes) == 1 or any(id(c) not in in_group for c in uses.get(v.id, ())) \
            or v.id in em._results

    ext_inputs = [v for n in nodes for v in n.inputs if v.id not in made]
    dn = _alloc_dims(em, shape, ext_inputs)
    R, C = em.tmp("n"), dn[-1]
    em.line(f"{R} = {' * '.join(dn[:-1]) if r > 1 else '1'}")
    # values kept in shared memory for later steps: full values used inside the group
    caches = []
    for n, role in zip(nodes, roles):
        outs = n.outputs if role == "full" else n.outputs[1:] if role == "reduce" else []
        for v in outs:
            if internal(v):
                caches.append(v)
    caches.sort(key=lambda v: -v.type.dtype.itemsize)
    width = sum(v.type.dtype.itemsize for v in caches)
    shb = em.tmp("sh")
    em.line(f"{shb} = {C} * {width}")
    if caches:
        em.line(f"if {shb} <= EF_SHMAX:")
        em.indent += 1
    # outputs the rest of the graph reads
    for n, role in zip(nodes, roles):
        for j, v in enumerate(n.outputs):
            if not external(v):
                continue
            o = em.out(v)
            if role == "reduce" and j == 0:
                keep = _reduce_info(n)[2]
                sh = ["1" if d == r - 1 else dn[d] for d in range(r)] if keep else dn[:-1]
                em.line(f"{o} = ef_empty({tup(sh) if sh else '(1,)'}, {_np(v.type.dtype)})")
            elif role == "row":
                em.line(f"{o} = ef_empty({tup(dn[:-1] + ['1'])}, {_np(v.type.dtype)})")
            else:
                em.line(f"{o} = ef_empty({tup(dn)}, {_np(v.type.dtype)})")
    k = em.kernel()
    k.arg(R), k.arg(C)
    t, row = k.tmp("t"), k.tmp("row")
    k.line(f"{t} = cuda.threadIdx.x")
    scratch = {}
    for n, role in zip(nodes, roles):
        if role == "reduce":
            dt = n.outputs[0].type.dtype
            if dt.name not in scratch:
                scratch[dt.name] = k.tmp("sm")
                k.line(f"{scratch[dt.name]} = cuda.shared.array(EF_B, ef_{dt.name})")
    cache_name, off = {}, 0
    dyn = {}
    for v in caches:
        dt = v.type.dtype
        if dt.name not in dyn:
            dyn[dt.name] = k.tmp("dyn")
            k.line(f"{dyn[dt.name]} = cuda.shared.array(0, ef_{dt.name})")
        c = k.tmp("cache")
        start = off // dt.itemsize
        k.line(f"{c} = {dyn[dt.name]}[{C} * {start}:{C} * {start + 1}]")
        cache_name[v.id] = c
        off += dt.itemsize
    k.line(f"for {row} in range(cuda.blockIdx.x, {R}, cuda.gridDim.x):")
    k.indent += 1
    idx = [f"i{d}" for d in range(r)]
    k.unravel(row, idx[:-1], [k.arg(d) if j else d for j, d in enumerate(dn[:-1])])
    regs: dict[int, str] = {}
    rshape = shape[:-1] + (1,)
    ridx = idx[:-1] + ["0"]

    def read(v, full: bool, j=None):
        if v.id in regs:
            return regs[v.id]
        if v.id in cache_name:
            return f"{cache_name[v.id]}[{j}]"
        return k.elem(v, shape, idx[:-1] + [j]) if full else k.elem(v, rshape, ridx)

    def store(v, e, full: bool, j=None, keep=True):
        if v.id in cache_name:
            k.line(f"{cache_name[v.id]}[{j}] = {e}")
        if external(v):
            o = k.arg(em.ref(v))
            if full:
                k.line(f"{o}[{', '.join(idx[:-1] + [j])}] = {e}")
            else:
                at = ridx if keep else idx[:-1]
                k.line(f"if {t} == 0:")
                k.line(f"    {o}[{', '.join(at) if at else '0'}] = {e}")

    for n, role in zip(nodes, roles):
        region = _node_region(n)
        if role == "row":
            exprs = k.region(region, [read(v, False) for v in n.inputs])
            for v, e in zip(n.outputs, exprs):
                regs[v.id] = e
                store(v, e, False)
            continue

        def reads(j, n=n):
            return [read(v, True, j) for v in n.inputs]

        if role == "full":
            def compute(j, vals, n=n, region=region):
                for v, e in zip(n.outputs, k.region(region, vals)):
                    store(v, e, True, j)
            strided_loop(k, t, C, "EF_B", reads, compute)
            continue
        name, _, keep, _ = _reduce_info(n)
        rop = REGISTRY[name]
        res = n.outputs[0]
        acc_dt, val_dt = res.type.dtype, region.results[0].type.dtype
        acc = k.tmp("acc")
        k.line(f"{acc} = {identity(rop, acc_dt)}")

        def compute(j, vals, n=n, region=region, rop=rop, acc=acc, acc_dt=acc_dt,
                    val_dt=val_dt):
            exprs = k.region(region, vals)
            for v, e in zip(n.outputs[1:], exprs[1:]):
                store(v, e, True, j)
            k.line(f"{acc} = {combine(rop, acc, cast(exprs[0], val_dt, acc_dt), acc_dt)}")
        strided_loop(k, t, C, "EF_B", reads, compute)
        red = tree(k, scratch[acc_dt.name], t, acc, rop, acc_dt)
        regs[res.id] = red
        store(res, red, False, keep=keep)
    k.finish(f"row program over {shape}: " + ", ".join(
        f"{n.op}{'/' + _reduce_info(n)[0] if n.op == 'fused.reduce' else ''}"
        for n, role in zip(nodes, roles)))
    em.line(f"if {R}:")
    launch = f"{k.name}[ef_rows_grid({R}), EF_B, 0, {shb}]" if caches else \
        f"{k.name}[ef_rows_grid({R}), EF_B]"
    em.line(f"    {launch}({', '.join(k.params)})")
    for n in nodes:
        for v in n.outputs:
            if external(v):
                em.fresh.add(v.id)
    if caches:
        em.indent -= 1
        em.line("else:   # the row does not fit in shared memory: one kernel per node")
        em.indent += 1
        for n in nodes:
            emit_node(em, n, grouped=False)
        em.indent -= 1


# -- matmul ------------------------------------------------------------------------------------

def emit_matmul(em: CudaEmitter, node: Node, region: Graph | None):
    a, b = node.inputs[:2]
    extras = node.inputs[2:]
    res = node.outputs[0]
    mm_dt = REGISTRY["matmul"].infer(a.type, b.type).dtype
    if region is None:
        out = em.out(res)
        em.line(f"{out} = ef_matmul({em.ref(a)}, {em.ref(b)}, {_np(mm_dt)})")
        return
    mv = Value(TensorType(mm_dt, res.type.shape))
    m = em.define(mv, em.tmp("mm"))
    em.named[m] = (mm_dt, max(res.type.ndim, 1))
    em.rep[mv.id] = "dev" if res.type.ndim else "dev0"
    em.line(f"{m} = ef_matmul({em.ref(a)}, {em.ref(b)}, {_np(mm_dt)})")
    emit_elementwise(em, node, [mv] + list(extras), node.outputs, region, res.type.shape)


# -- host round trip ---------------------------------------------------------------------------

def emit_host(em: CudaEmitter, node: Node):
    if node.regions:
        raise CompileError(f"cannot generate CUDA code for {node.op}: its regions have no "
                           "cuda form; use backend=\"numba\" for this function", loc=node.loc)
    args = tup(em.ref(v) for v in node.inputs) if node.inputs else "()"
    outs = [em.out(v) for v in node.outputs]
    attrs = "{" + ", ".join(f"{k!r}: {py_literal(v)}" for k, v in node.attrs.items()) + "}"
    types = tup(_np(v.type.dtype) for v in node.outputs)
    ndims = tup(str(v.type.ndim) for v in node.inputs) if node.inputs else "()"
    lhs = f"{', '.join(outs)}, = " if outs else ""   # print has no outputs
    em.line(f"{lhs}ef_host({node.op!r}, {attrs}, {types}, {args}, {ndims})   # on the host")
    for v in node.outputs:
        em.rep[v.id] = "dev" if v.type.ndim else "dev0"


def emit_reshape(em: CudaEmitter, node: Node):
    (x,), out = node.inputs, node.outputs[0]
    if em.rep_of(x) == "host":
        raise _NoKernel()
    o = em.define(out)
    em.rep[out.id] = "dev" if out.type.ndim else "dev0"
    sizes = tup(em.size(s) for s in out.type.shape) if out.type.ndim else "(1,)"
    em.line(f"{o} = ef_reshape({em.ref(x)}, {sizes})")


# -- dispatch ----------------------------------------------------------------------------------

def emit_node(em: CudaEmitter, node: Node, grouped=True):
    if node.op in ("cond", "while"):   # on the host, launching their regions' kernels
        from .control import emit_cond, emit_while
        return (emit_cond if node.op == "cond" else emit_while)(em, node)
    op = REGISTRY[node.op]
    mark = len(em.lines), len(em.kernels), em.indent
    try:
        if node.op == "fused.elementwise":
            emit_elementwise(em, node, node.inputs, node.outputs, node.regions[0],
                             node.attrs["shape"])
        elif node.op == "fused.reduce":
            a = node.attrs
            emit_reduce(em, node, node.regions[0], a["shape"], a["axis"], a["keepdims"],
                        a["reduce"])
        elif node.op == "fused.matmul":
            emit_matmul(em, node, node.regions[0])
        elif node.op == "matmul":
            emit_matmul(em, node, None)
        elif node.op == "reshape":
            emit_reshape(em, node)
        elif op.kind is Kind.ELEMENTWISE and not node.regions:
            emit_elementwise(em, node, node.inputs, node.outputs, single_op_region(node),
                             node.outputs[0].type.shape)
        elif op.kind is Kind.REDUCTION and "combine" in op.extra or op.extra.get("index"):
            x = node.inputs[0]
            emit_reduce(em, node, _node_region(node), x.type.shape, node.attrs["axis"],
                        node.attrs["keepdims"], node.op)
        else:
            raise _NoKernel()
    except (_NoKernel, KeyError, NotImplementedError):
        del em.lines[mark[0]:]
        del em.kernels[mark[1]:]
        em.indent = mark[2]
        for v in node.outputs:
            em.names.pop(v.id, None)
        emit_host(em, node)


def row_groups(graph: Graph):
    """Maximal runs of consecutive nodes that form a row program with at least one reduction
    and two nodes; -> list of (nodes, shape) or single nodes."""
    items, i, nodes = [], 0, graph.nodes
    while i < len(nodes):
        n = nodes[i]
        shape = _group_shape(n)
        j = i
        if shape is not None:
            j = i + 1
            made = {v.id for v in n.outputs}
            while j < len(nodes) and row_role(nodes[j], shape) and \
                    _inputs_ok(nodes[j], made, shape):
                made |= {v.id for v in nodes[j].outputs}
                j += 1
            group = nodes[i:j]
            if len(group) >= 2:
                items.append((group, shape))
                i = j
                continue
        items.append(n)
        i += 1
    return items


def _group_shape(n):
    info = _reduce_info(n)
    if info is not None:
        shape = tuple(info[3])
        return shape if row_role(n, shape) == "reduce" else None
    return None


def _inputs_ok(node, made, shape):
    """Values made in the group are read only as full values (shape) or row values (..., 1)."""
    role = row_role(node, shape)
    for v in node.inputs:
        if v.id in made:
            s = v.type.shape
            if s == shape and role in ("full", "reduce"):
                continue
            if s == shape[:-1] + (1,):
                continue
            return False
    return True


# -- module ------------------------------------------------------------------------------------

def emit_nodes(em: CudaEmitter, graph: Graph):
    """The host code for a graph's nodes (the function, or a control-flow region): row programs
    where they form, else one emitter per node."""
    uses: dict[int, list] = {}
    for n in graph.nodes:
        for v in n.inputs:
            uses.setdefault(v.id, []).append(n)
    for item in row_groups(graph):
        if isinstance(item, tuple):
            group, shape = item
            for n in group:
                em.comment_node(n)
            emit_rows(em, group, shape, uses)
        else:
            em.comment_node(item)
            emit_node(em, item)


def generate_source(graph: Graph) -> tuple[str, CudaEmitter]:
    em = CudaEmitter(graph)
    em._results = {v.id for v in graph.results}
    params = [em.define(p, f"p{i}_{_safe(p.name)}") for i, p in enumerate(graph.params)]
    emit_nodes(em, graph)
    results, seen = [], set()
    for v in graph.results:
        name = em.ref(v)
        rep = em.rep_of(v)
        if rep == "host":
            name = f"ef_scalar_dev({name}, {_np(v.type.dtype)})"
        elif v.id not in em.fresh or v.id in seen or isinstance(v, Const):
            name = f"ef_copy({name})"
        seen.add(v.id)
        results.append(name)
    em.line(f"return {tup(results)}")
    args = params + [n for n, _ in em.extra]
    head = [f"# eagerflow generated CUDA code for @{graph.name}",
            "from eagerflow.compiler.cuda.rt import *", ""]
    host = [f"def {_safe(graph.name)}({', '.join(args)}):"] + em.lines
    src = "\n".join(head) + "\n\n" + "\n\n\n".join(em.kernels + ["\n".join(host)]) + "\n"
    return src, em
