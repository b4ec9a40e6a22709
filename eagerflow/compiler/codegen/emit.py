"""Graph -> one Python function that Numba compiles.

Conventions of the generated code:
- 0-d values are Numba scalars; arrays are arrays. The executor turns 0-d inputs into scalars and
  scalar outputs back into NumPy scalars or 0-d arrays.
- No value is frozen into the source: scalar constants arrive as arguments `c0, c1, ...`, array
  constants as `k0, ...`, and sizes that attributes fix (slices, reshape targets, fills) as ints
  `s0, ...`. Graphs that differ only in sizes therefore generate the same source, which is the
  compile cache key.
- Every generated line group is commented with its IR line and the user's file:line.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ...errors import CompileError
from ...ir.graph import Const, Graph, Node, Value
from ...ops.registry import REGISTRY, Kind

NB_DTYPE = {"bool": "np.bool_", "int8": "np.int8", "int16": "np.int16", "int32": "np.int32",
            "int64": "np.int64", "uint8": "np.uint8", "uint16": "np.uint16",
            "uint32": "np.uint32", "uint64": "np.uint64", "float32": "np.float32",
            "float64": "np.float64"}
NB_TYPE = {"bool": "boolean", "float32": "float32", "float64": "float64", "int8": "int8",
           "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8",
           "uint16": "uint16", "uint32": "uint32", "uint64": "uint64"}


SCRATCH_MIN = 4096   # elements: smaller intermediates are cheap to allocate in the kernel


def dtype_code(dt) -> str:
    return NB_DTYPE[np.dtype(dt).name]


def cast(expr: str, src: np.dtype, dst: np.dtype) -> str:
    src, dst = np.dtype(src), np.dtype(dst)
    if src == dst:
        return expr
    if dst.kind == "b":
        return f"({expr} != 0)"
    return f"{dtype_code(dst)}({expr})"


class Emitter:
    """Collects the lines and the extra arguments of one generated function."""

    def __init__(self, graph: Graph, fastmath=False, parallel=False):
        self.graph = graph
        self.fastmath = fastmath
        self.parallel = parallel        # emit prange on the outermost profitable loops
        self.threaded = False           # this kernel gets prange (set per node by emit_node)
        from ...runtime import config
        self.par_min = config.parallel_threshold
        self.lines: list[str] = []
        self.indent = 1
        self.names: dict[int, str] = {}
        self.extra: list[tuple[str, object]] = []     # (arg name, value) after the params
        self._extra_keys: dict = {}
        self.fresh: set[int] = set()                    # values that are new C arrays
        self.counter = 0
        self.uses_objmode = False
        self.zero_d_params = [i for i, p in enumerate(graph.params) if p.type.ndim == 0]
        # Results that kernels write straight into arrays the executor allocates with NumPy
        # (whose allocator uses huge pages: far fewer page faults on large outputs).
        self.out_params: dict[int, str] = {}
        firsts = {}
        for v in graph.results:
            if v.type.ndim and not isinstance(v, Const) and v.id not in firsts:
                firsts[v.id] = v
        self.out_candidates = firsts
        # Large intermediates of top-level kernels live in scratch arrays the executor keeps and
        # reuses from call to call (no allocation, no page faults). Not inside control regions:
        # a loop-carried value must not share storage with its next iteration.
        self.row = False        # inside a row group: dim 0's loop is the group's (kernels.py)
        self.row_local: set[int] = set()   # values only that group's later members read
        self.row_bufs: list[str] = []      # allocations of their one-row buffers
        self.threaded_row = False          # the row group's loop is a prange
        self.guards = None      # a list while emitting a loop body that may use guarded variants
        self.invariant: set[str] = set()   # expressions constant within the innermost loop
        self.absorb: dict[int, list] = {}  # fused reduction -> reductions done in its loop
        self.block_local: set[int] = set()  # stored values kept only one block at a time
        self.guard_fast = True
        self.pre: list[str] = []   # lines hoisted before a row group's loop
        self.scratch: dict[int, str] = {}
        self.top_level = {o.id for n in graph.nodes for o in n.outputs}
        self.chunk_funcs: list[str] = []   # outlined prange bodies (outline)

    def out_array(self, v: Value, dims: list[str]) -> str:
        """Name of the array a kernel stores value v into: a preallocated output, a reused
        scratch array, one row's buffer (row-local values of a row group), or np.empty."""
        name = self.define(v)
        dims_expr = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        if v.id in self.row_local:
            row = "(" + ", ".join(dims[1:]) + ("," if len(dims) == 2 else "") + ")"
            line = f"{name} = np.empty({row}, {dtype_code(v.type.dtype)})"
            if self.threaded_row:   # private to each row's thread
                self.row_bufs.append(line)
            else:
                self.hoist(line)
        elif v.id in self.out_candidates and v.id not in self.out_params:
            self.out_params[v.id] = f"out{len(self.out_params)}"
            self.hoist(f"{name} = {self.out_params[v.id]}")
        elif v.id in self.top_level and v.id not in self.out_candidates and \
                v.type.size >= SCRATCH_MIN and v.id not in self.scratch:
            self.scratch[v.id] = f"tmp{len(self.scratch)}"
            self.hoist(f"{name} = {self.scratch[v.id]}")
        else:
            self.hoist(f"{name} = np.empty({dims_expr}, {dtype_code(v.type.dtype)})")
        self.fresh.add(v.id)
        return name

    # -- names and arguments ------------------------------------------------------------------
    def tmp(self, prefix="t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _extra(self, prefix, key, value) -> str:
        if key not in self._extra_keys:
            name = f"{prefix}{sum(1 for n, _ in self.extra if n.startswith(prefix))}"
            self._extra_keys[key] = name
            self.extra.append((name, value))
        return self._extra_keys[key]

    def size(self, n: int) -> str:
        """A size fixed by an attribute, passed at run time so sizes stay out of the source."""
        return self._extra("s", ("s", int(n)), int(n))

    def ref(self, v: Value) -> str:
        if isinstance(v, Const):
            if v.type.ndim == 0:
                data = v.data if v.type.weak else v.data[()]
                return self._extra("c", ("c",) + v.key(), data)
            return self._extra("k", ("k",) + v.key(), np.ascontiguousarray(v.data))
        return self.names[v.id]

    def define(self, v: Value, name: str | None = None) -> str:
        name = name or f"v{len(self.names)}"
        self.names[v.id] = name
        return name

    def line(self, text: str):
        self.lines.append("    " * self.indent + text)

    def hoist(self, text: str):
        """A setup line (sizes, allocations): before the row group's loop when in one."""
        if self.row:
            self.pre.append(text)
        else:
            self.line(text)

    def outline(self, start: int, indent: int, index: str) -> str:
        """Move the lines from `start` on (a prange body at `indent`) into a serial function of
        their own and return the call that replaces them. Numba links a function the body merely
        called into the threaded code; cached, that linked copy ran 1-d kernels 15-20% slower
        than the function's own compiled code, which the threaded code calls instead when that
        code is loaded first (codegen._preload_chunks; docs/numba_backend.md, "Threads")."""
        body = [l[4 * indent:] for l in self.lines[start:]]
        del self.lines[start:]
        params = free_names("\n".join(body))
        name = f"{_safe(self.graph.name)}_chunk{len(self.chunk_funcs)}"
        fm = fastmath_arg(self.fastmath)
        self.chunk_funcs.append("\n".join(
            [f"@njit(error_model='numpy', fastmath={fm}, cache=True, nogil=True)",
             f"def {name}({', '.join(params)}):"] + ["    " + l for l in body]))
        # the prange index is typed int64 in the loop body and uint64 in Numba's gufunc: one
        # type, one compile of the function
        return f"{name}({', '.join(f'np.int64({p})' if p == index else p for p in params)})"

    def comment_node(self, node: Node):
        ir = self._ir_line(node)
        loc = f"  # {os.path.basename(node.loc[0])}:{node.loc[1]}" if node.loc else ""
        self.line(f"# {ir}{loc}")

    def dims(self, v: Value) -> list[str]:
        """Run-time size expressions of an array value."""
        return [f"{self.ref(v)}.shape[{i}]" for i in range(v.type.ndim)]


    def _ir_line(self, node: Node) -> str:
        from ...ir.printer import format_const, format_literal
        args = ", ".join(format_const(v) if isinstance(v, Const) else self.names.get(v.id, "?")
                         for v in node.inputs)
        attrs = ", ".join(f"{k}={format_literal(v)}" for k, v in node.attrs.items())
        types = ", ".join(str(v.type) for v in node.outputs)
        return f"{node.op}({args}){' {' + attrs + '}' if attrs else ''} : {types}"


# fastmath=True: LLVM may reassociate (vector reductions), contract to fma, use reciprocals,
# ignore the sign of zero and approximate library calls: results differ by rounding. Not its
# nnan/ninf flags: with them isnan(x) folds to False, max drops NaN and 1/0 gives garbage
# (LLVM may assume no NaN or inf exists), a silent wrong answer rather than a rounding change.
FASTMATH_FLAGS = "{'afn', 'arcp', 'contract', 'nsz', 'reassoc'}"


def fastmath_arg(fastmath: bool) -> str:
    return FASTMATH_FLAGS if fastmath else "False"


def generate_source(graph: Graph, fastmath=False, parallel=None) -> tuple[str, Emitter]:
    from .kernels import emit_node
    em = Emitter(graph, fastmath, bool(parallel))
    params = [em.define(p, f"p{i}_{_safe(p.name)}") for i, p in enumerate(graph.params)]
    body_start = len(em.lines)
    from .kernels import emit_row_group, plan_absorb, row_groups
    for run in row_groups(em, plan_absorb(em, graph.nodes)):
        if len(run) > 1:
            emit_row_group(em, run)
            continue
        em.comment_node(run[0])
        emit_node(em, run[0])
    results = []
    seen = set()
    for v in graph.results:
        name = em.ref(v)
        if v.type.ndim and (v.id not in em.fresh or v.id in seen or isinstance(v, Const)):
            name = f"np.ascontiguousarray({name}).copy()"
        seen.add(v.id)
        results.append(name)
    em.line(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
    args = params + [n for n, _ in em.extra] + list(em.out_params.values()) + \
        list(em.scratch.values())
    _check_no_shadowing(em.lines, args)
    fm = fastmath_arg(fastmath)
    head = [
        f"# eagerflow generated code for @{graph.name}",
        "import numpy as np",
        "import math",
        "from numba import njit, objmode",
        "from eagerflow.compiler.rt import *",
    ]
    if _has_mathlib():
        head.append("from eagerflow.compiler.mathlib import *")
    if parallel:
        head.append("from numba import prange")
    par = ", parallel=True" if parallel else ""
    for fn in em.chunk_funcs:
        head += ["", "", fn]
    head += ["", "", f"@njit(error_model='numpy', fastmath={fm}, cache=True, nogil=True{par})",
             f"def {_safe(graph.name)}({', '.join(args)}):"]
    del body_start
    return "\n".join(head + em.lines) + "\n", em


def free_names(code: str) -> list[str]:
    """Names `code` reads but neither assigns nor gets from the generated module's imports:
    the arguments it needs as a function of its own, in order of first use."""
    import ast
    stored, loaded = set(), {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            else:   # ast.walk is breadth-first: keep the earliest position seen
                pos = (node.lineno, node.col_offset)
                loaded[node.id] = min(loaded.get(node.id, pos), pos)
    known = _module_names()
    return sorted((n for n in loaded if n not in stored and n not in known), key=loaded.get)


_NAMES = None


def _module_names() -> set:
    global _NAMES
    if _NAMES is None:
        import builtins
        from .. import rt
        names = set(dir(builtins)) | set(rt.__all__) | {"np", "math", "njit", "objmode", "prange"}
        if _has_mathlib():
            from .. import mathlib
            names |= set(mathlib.__all__)
        _NAMES = names
    return _NAMES


_ASSIGNED = re.compile(r"^\s*(?:for\s+)?(\w+)\s*(?:=[^=]|\s+in\s)")


def _check_no_shadowing(lines, args):
    """A local named like an argument (a loop variable `c5` beside the constant `c5`) would
    silently replace the argument's value for the rest of the function."""
    clash = {m.group(1) for l in lines if (m := _ASSIGNED.match(l))} & set(args)
    if clash:
        raise CompileError(f"internal error: generated locals shadow arguments {sorted(clash)}; "
                           "please report this with the function that caused it", loc=None)


def _safe(name) -> str:
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name or "f"))
    return s if s and not s[0].isdigit() else f"f_{s}"


_MATHLIB = None


def _has_mathlib() -> bool:
    global _MATHLIB
    if _MATHLIB is None:
        try:
            from .. import mathlib  # noqa: F401
            _MATHLIB = hasattr(mathlib, "MATH_FUNCS")
        except Exception:
            _MATHLIB = False
    return _MATHLIB


def math_funcs(fastmath: bool) -> dict:
    if not _has_mathlib():
        return {}
    from .. import mathlib
    if fastmath and hasattr(mathlib, "MATH_FUNCS_FAST"):
        return mathlib.MATH_FUNCS_FAST
    return mathlib.MATH_FUNCS


def math_guarded() -> dict:
    if not _has_mathlib():
        return {}
    from .. import mathlib
    return getattr(mathlib, "MATH_GUARDED", {})


def fail(node: Node, msg: str):
    raise CompileError(f"cannot generate Numba code for {node.op}: {msg}", loc=node.loc)


__all__ = ["Emitter", "generate_source", "cast", "dtype_code", "NB_TYPE", "REGISTRY", "Kind"]
