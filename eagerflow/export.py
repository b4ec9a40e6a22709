"""`ef.save` / `ef.load`: a compiled graph as a file that needs neither the Python source nor the
original function (docs/export.md describes the format).

    ef.save(step, "step.efg", x, w, b)      # traces for these example arguments, optimizes, writes
    step2 = ef.load("step.efg")             # checks the file, parses the IR; compiles on first call
    step2(x, w, b)                          # same results, same pytree structure

The file is a zip archive: `meta.json` (format, versions, input signature, output structure,
checksum), `graph.ir` (the optimized graph in the IR text format, pytree header included),
`constants/<digest>.npy` (array constants) and `captures/<i>.npy` (captured arrays, frozen at save
time). Loading reads JSON, `.npy` arrays with `allow_pickle=False` and IR text, whose parser only
reads literals: no code from the file is executed. The Python the Numba backend compiles is
generated here from the IR, as for any traced function.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile

import numpy as np

from .errors import EagerflowError, ParseError, SaveFormatError, UnsupportedError, VerificationError

FORMAT = "eagerflow.graph"
FORMAT_VERSION = 1

__all__ = ["save", "load", "LoadedFunction", "SignatureError", "FORMAT_VERSION"]


class SignatureError(EagerflowError, TypeError):
    """A loaded function called with arguments that do not match the signature it was saved for."""


def _fail(msg: str) -> SaveFormatError:
    return SaveFormatError(msg, loc=())


# -- signatures ----------------------------------------------------------------------------------

def _leaf_sig(x) -> list:
    """JSON form of a traced leaf's signature (what the trace cache keys on)."""
    from .ir.types import check_dtype
    if isinstance(x, np.ndarray):
        return ["array", str(check_dtype(x.dtype).name), list(x.shape)]
    if isinstance(x, np.generic):
        return ["scalar", str(check_dtype(x.dtype).name), []]
    if isinstance(x, bool):
        return ["bool"]
    if isinstance(x, int):
        return ["int"]
    if isinstance(x, float):
        return ["float"]
    return ["other", type(x).__name__]


def _describe_sig(s) -> str:
    if s[0] == "array":
        return f"a {s[1]} array of shape {tuple(s[2])}"
    if s[0] == "scalar":
        return f"a NumPy {s[1]} scalar"
    if s[0] in ("bool", "int", "float"):
        return f"a Python {s[0]}"
    return f"a {s[1]}"


def _literal(value, what: str) -> str:
    """Text of a Python literal that parses back to an equal value, or UnsupportedError."""
    from .ir.parser import parse_literal
    from .ir.printer import format_literal
    try:
        text = format_literal(value)
        ok = type(parse_literal(text)) is type(value) and parse_literal(text) == value
    except Exception:
        ok = False
    if not ok:
        raise UnsupportedError(f"cannot save {what} {value!r}: only Python literals (str, "
                               "numbers, None, tuples, ...) can be stored in a saved graph", loc=())
    return text


# -- saving --------------------------------------------------------------------------------------

def _checksum(members: dict[str, bytes], meta: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(members):
        data = members[name]
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    h.update(json.dumps({k: v for k, v in meta.items() if k != "checksum"}, sort_keys=True,
                        separators=(",", ":")).encode())
    return h.hexdigest()


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def save(fn, path, *example_args, **example_kwargs) -> str:
    """Trace `fn` for the example arguments, optimize, and write the graph to `path`.

    `fn` is an `ef.function` (its static_argnames etc. apply) or a plain function. The saved
    function accepts arguments of exactly this signature: the same pytree structure, dtypes and
    shapes, Python-number kinds, and static values. Captured (closure/global) arrays are stored
    with their current values: the loaded function uses those values, frozen. Returns `path`.
    """
    from . import __version__
    from .compiler.pipeline import optimize
    from .ir.printer import print_graph
    from .runtime.function import Function, _StaticMarker
    if not isinstance(fn, Function):
        if not callable(fn):
            raise TypeError(f"ef.save needs a function, got {type(fn).__name__}")
        fn = Function(fn)
    key, leaves, treedef, statics = fn._split(example_args, example_kwargs)
    traced = fn._trace(leaves, treedef, statics, key)
    graph, _ = optimize(traced.graph, name=fn.name)
    n_out = traced.graph.meta["n_outputs"]
    if len(graph.results) != n_out + len(traced.written):
        raise UnsupportedError("cannot save a function that updates state other than its "
                               "arguments (e.g. ef.Variables); save a pure function instead",
                               loc=())
    static_vals = dict(key[3])
    captures = [c.get() for c in traced.captures]
    for c, a in zip(traced.captures, captures):
        if type(a) is not np.ndarray:
            raise UnsupportedError(f"cannot save captured value `{c.label}` of type "
                                   f"{type(a).__name__}: only NumPy arrays are stored", loc=())
    n_leaves = len(leaves)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "eagerflow_version": __version__,
        "name": fn.name,
        "inputs": [_leaf_sig(x) for x in leaves],
        "input_names": [p.name or f"arg{i}" for i, p in enumerate(graph.params[:n_leaves])],
        "statics": [_literal(s, "static argument") for s in statics
                    if not isinstance(s, _StaticMarker)],
        "static_args": [[n, _literal(v, f"static argument `{n}` =")]
                        for n, v in static_vals.items()],
        "parameters": ([[p.name, int(p.kind), p.default is not p.empty]
                        for p in fn._signature.parameters.values()]
                       if static_vals and fn._signature is not None else []),
        "n_outputs": n_out,
        "out_scalar": [bool(s) for s in traced.out_scalar],
        "out_statics": [_literal(s, "static output") for s in traced.out_statics],
        "written": list(traced.written),
        "weak_int_checks": [[int(i), np.dtype(dt).name] for i, dt in traced.weak_int_checks],
        "captures": [c.label for c in traced.captures],
    }
    members = {"graph.ir": print_graph(graph).encode()}
    for digest, data in graph.constants().items():
        members[f"constants/{digest}.npy"] = _npy(data)
    for i, a in enumerate(captures):
        members[f"captures/{i}.npy"] = _npy(a)
    meta["checksum"] = {"algorithm": "sha256", "digest": _checksum(members, meta)}
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            for name, data in members.items():
                z.writestr(name, data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


# -- loading -------------------------------------------------------------------------------------

_SAFE_STR = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _check_literals(v, where):
    """Attribute strings are names (dtype names, reduction kinds, 'idx'): refuse anything else,
    so no text from the file can reach generated code except as a vetted name."""
    if isinstance(v, str):
        if not _SAFE_STR.match(v) or "__" in v:
            raise _fail(f"{where}: attribute string {v!r} is not a plain name")
    elif isinstance(v, tuple):
        for x in v:
            _check_literals(x, where)
    elif isinstance(v, dict):
        raise _fail(f"{where}: dict attributes are not allowed")
    elif v is not None and not isinstance(v, (bool, int, float)):
        raise _fail(f"{where}: attribute {v!r} is not a literal")


def _read_npy(data: bytes, name: str) -> np.ndarray:
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise _fail(f"{name} is not a valid .npy array: {e}") from None
    if not isinstance(a, np.ndarray):
        raise _fail(f"{name} is not a single array")
    return a


def _read(path) -> tuple[dict, str, dict, list]:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if "meta.json" not in names:
                raise _fail(f"{path} is not an eagerflow graph file (no meta.json)")
            raw = {n: z.read(n) for n in names}
    except SaveFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError) as e:
        raise _fail(f"{path} is not a readable eagerflow graph file (corrupt or truncated: "
                    f"{e})") from None
    try:
        meta = json.loads(raw.pop("meta.json").decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(f"{path}: meta.json is corrupt ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(f"{path} is not an eagerflow graph file (format {meta.get('format')!r} "
                    if isinstance(meta, dict) else f"{path}: meta.json is not an object")
    ver = meta.get("format_version")
    if not isinstance(ver, int) or isinstance(ver, bool) or ver < 1:
        raise _fail(f"{path}: bad format_version {ver!r}")
    if ver > FORMAT_VERSION:
        from . import __version__
        raise _fail(f"{path} was written by a newer eagerflow ({meta.get('eagerflow_version')}, "
                    f"graph format {ver}); this eagerflow {__version__} reads format "
                    f"{FORMAT_VERSION}: upgrade eagerflow to load it")
    cs = meta.get("checksum")
    if not (isinstance(cs, dict) and cs.get("algorithm") == "sha256" and
            cs.get("digest") == _checksum(raw, meta)):
        raise _fail(f"{path}: checksum mismatch, the file is corrupt or was modified")
    try:
        text = raw.pop("graph.ir").decode()
    except KeyError:
        raise _fail(f"{path}: no graph.ir") from None
    except UnicodeDecodeError as e:
        raise _fail(f"{path}: graph.ir is not text ({e})") from None
    constants, captures = {}, {}
    for name, data in raw.items():
        m = re.fullmatch(r"constants/([0-9a-f]{16})\.npy", name)
        c = re.fullmatch(r"captures/(\d+)\.npy", name)
        if m:
            constants[m.group(1)] = _read_npy(data, name)
        elif c:
            captures[int(c.group(1))] = _read_npy(data, name)
        else:
            raise _fail(f"{path}: unexpected member {name!r}")
    ncap = len(meta.get("captures", []))
    if sorted(captures) != list(range(ncap)):
        raise _fail(f"{path}: captured arrays missing")
    return meta, text, constants, [captures[i] for i in range(ncap)]


def load(path, backend: str = "numba", fastmath: bool = False) -> "LoadedFunction":
    """Load a graph written by `ef.save`: a callable that runs it (compiled by Numba on the
    first call, or `backend="interpreter"`). Raises SaveFormatError for a corrupt, truncated,
    modified or newer-version file; FileNotFoundError when there is no file."""
    from .ir.parser import parse_graph, parse_literal
    from .ir.verify import verify
    if backend not in ("numba", "interpreter"):
        raise ValueError(f"backend must be 'numba' or 'interpreter', got {backend!r}")
    meta, text, constants, captures = _read(path)
    try:
        graph = parse_graph(text, constants)
    except ParseError as e:
        raise _fail(f"{path}: graph.ir does not parse: {e}") from None
    try:
        for node in graph.walk():
            for k, v in node.attrs.items():
                _check_literals(v, f"{path}: {node.op} attribute {k}")
        verify(graph)
        inputs = meta["inputs"]
        n_leaves = len(inputs)
        if len(graph.params) != n_leaves + len(captures):
            raise _fail(f"{path}: the graph has {len(graph.params)} parameters, meta.json "
                        f"declares {n_leaves} inputs and {len(captures)} captures")
        for p, c in zip(graph.params[n_leaves:], captures):
            if p.type.dtype != c.dtype or p.type.shape != c.shape:
                raise _fail(f"{path}: captured array for %{p.name} has the wrong type")
        statics = [parse_literal(s) for s in meta["statics"]]
        out_statics = [parse_literal(s) for s in meta["out_statics"]]
        static_args = {n: parse_literal(v) for n, v in meta["static_args"]}
    except VerificationError as e:
        raise _fail(f"{path}: graph.ir is not a valid graph: {e}") from None
    except (ParseError, KeyError, TypeError, ValueError) as e:
        if isinstance(e, SaveFormatError):
            raise
        raise _fail(f"{path}: meta.json is malformed ({type(e).__name__}: {e})") from None
    graph.meta["n_outputs"] = meta["n_outputs"]
    return LoadedFunction(graph, meta, statics, out_statics, static_args, captures, backend,
                          fastmath)


class LoadedFunction:
    """A function loaded by `ef.load`: call it like the saved function; `.graph` is its IR,
    `.signature` describes the arguments it accepts."""

    def __init__(self, graph, meta, statics, out_statics, static_args, captures, backend,
                 fastmath):
        self.graph = graph
        self.meta = meta
        self.name = meta.get("name", graph.name)
        self.backend = backend
        self._statics = statics
        self._out_statics = out_statics
        self._static_args = static_args
        self._captures = captures
        self._fastmath = fastmath
        self._run = None
        self._inputs = [list(s) for s in meta["inputs"]]
        self._names = meta.get("input_names") or [f"arg{i}" for i in range(len(self._inputs))]
        self._written = [int(i) for i in meta["written"]]
        self._weak = [(int(i), np.dtype(dt)) for i, dt in meta["weak_int_checks"]]
        self._out_scalar = [bool(s) for s in meta["out_scalar"]]
        self._params = None
        if meta.get("parameters"):
            import inspect
            self._params = inspect.Signature([
                inspect.Parameter(n, inspect._ParameterKind(k),
                                  **({"default": None} if d else {}))
                for n, k, d in meta["parameters"]])

    @property
    def signature(self) -> str:
        parts = [f"{n}: {_describe_sig(s)}" for n, s in zip(self._names, self._inputs)]
        parts += [f"{n}={v!r} (static)" for n, v in self._static_args.items()]
        return f"{self.name}({', '.join(parts)})"

    def _executor(self):
        if self._run is None:
            if self.backend == "interpreter":
                from .runtime.interpret import interpret
                graph = self.graph
                self._run = lambda *a: interpret(graph, a)
            else:
                from .compiler.codegen import generate
                self._run = generate(self.graph, fastmath=self._fastmath).compile()
        return self._run

    def _flatten(self, args, kwargs):
        from .runtime.function import _is_leaf, _StaticMarker
        from .tree import flatten
        if self._static_args:
            try:
                ba = self._params.bind(*args, **kwargs)
            except TypeError as e:
                raise SignatureError(f"{self.name}: {e}", loc=()) from None
            for n, v in self._static_args.items():
                if n not in ba.arguments or not _static_equal(ba.arguments[n], v):
                    got = ba.arguments.get(n, "<missing>")
                    raise SignatureError(f"{self.name} was saved for the static argument {n}={v!r}"
                                         f", got {got!r}: save one file per static value", loc=())
                ba.arguments[n] = _StaticMarker(n)
            args, kwargs = ba.args, ba.kwargs
        leaves, treedef, statics = flatten((args, kwargs), _is_leaf)
        statics = [s for s in statics if not isinstance(s, _StaticMarker)]
        if treedef != self.graph.in_tree:
            raise SignatureError(f"{self.name} was saved for arguments structured as "
                                 f"{_call_text(self.graph.in_tree)}, got {_call_text(treedef)}: "
                                 f"call it as it was called when saved ({self.signature})",
                                 loc=())
        for s, want in zip(statics, self._statics):
            if not _static_equal(s, want):
                raise SignatureError(f"{self.name} was saved with the static value {want!r}, "
                                     f"got {s!r}", loc=())
        return leaves

    def __call__(self, *args, **kwargs):
        from .runtime.function import _check_overlap, _finish
        from .tree import unflatten
        leaves = self._flatten(args, kwargs)
        for i, (leaf, want, name) in enumerate(zip(leaves, self._inputs, self._names)):
            got = _leaf_sig(leaf)
            if got != want:
                raise SignatureError(f"{self.name}: argument `{name}` must be "
                                     f"{_describe_sig(want)}, got {_describe_sig(got)} "
                                     f"(a saved function accepts the signature it was saved "
                                     f"for: {self.signature})", loc=())
        for i, dt in self._weak:
            dt.type(leaves[i])   # NumPy's own OverflowError for an int that does not fit
        if self._written:
            _check_overlap(leaves, self._written)
        inputs = list(leaves) + list(self._captures)
        outs = self._executor()(*inputs)
        n = self.meta["n_outputs"]
        for i, o in zip(self._written, outs[n:]):
            leaves[i][...] = o
        results = [_finish(o, s, inputs) for o, s in zip(outs[:n], self._out_scalar)]
        return unflatten(self.graph.out_tree, results, self._out_statics)

    def __repr__(self):
        return f"<eagerflow loaded function {self.signature} backend={self.backend}>"


def _tree_text(d) -> str:
    """A treedef as a readable call shape: ('*', '*'), {'k': *}, ..."""
    if d == "*":
        return "array"
    if d[0] == "static":
        return "static"
    if d[0] in ("tuple", "list"):
        inner = ", ".join(_tree_text(c) for c in d[1])
        return f"({inner})" if d[0] == "tuple" else f"[{inner}]"
    if d[0] == "dict":
        return "{" + ", ".join(f"{k!r}: {_tree_text(c)}" for k, c in zip(d[1], d[2])) + "}"
    return repr(d)


def _call_text(treedef) -> str:
    try:
        (_, (args, kwargs)) = treedef
        return f"positional {_tree_text(args)}, keyword {_tree_text(kwargs)}"
    except (TypeError, ValueError, IndexError):
        return repr(treedef)


def _static_equal(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False
