"""`eagerflow inspect TARGET --args TYPES`: print the stages of a function for given types.

    eagerflow inspect mypkg.model:step --args "f64[1000,3], f64[3,4], float"
    eagerflow inspect path/to/model.py:step --args "f32[64,64]" --stages all --svg step.svg

TARGET is `module.path:func` (imported) or `path/to/file.py:func` (loaded from the file; its
folder goes first on sys.path so sibling imports work); `func` may be dotted (`Model.step`).
An `ef.function` object is inspected with its own options; a plain function is wrapped with the
defaults. TYPES is a comma list: `f64[1000,3]` an array of zeros, `f64[]` a 0-d array, and
`int`/`float`/`bool` (or `~i64[]`/`~f64[]`) a Python scalar, which traces as a weak value. Nothing
is compiled or run: the function is traced once on those example values.

Errors (bad target, missing function, bad type string) are ValueError/ImportError/AttributeError/
OSError, which `eagerflow.cli` prints as one line with exit status 2.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

STAGES = ("traced", "passes", "optimized", "source")


def example_args(types: str) -> list:
    """Example values for a type string: zeros of each array type, 0 / 0.0 / False for Python
    scalars. Dimension names are not allowed here (the CLI needs concrete sizes)."""
    import numpy as np

    from .testing import parse_signature
    out = []
    for spec in parse_signature(types, allow_names=False):
        if spec[0] == "python":
            out.append(spec[1](0))
        else:
            out.append(np.zeros(spec[2], dtype=spec[1]))
    return out


def _split_target(target: str) -> tuple[str, str]:
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise ValueError(f"bad target {target!r}: expected module.path:func or "
                         "path/to/file.py:func")
    return where, name


def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or os.sep in where


def _load_file(path: str):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    modname = "_eagerflow_inspect_" + "".join(c if c.isalnum() else "_" for c in
                                              os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(modname, None)
        raise ImportError(f"importing {path} failed: {type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}") from e
    return module


def _import(where: str):
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as e:
        if e.name and (where == e.name or where.startswith(e.name + ".")):
            raise ImportError(f"no module named {where!r} (expected module.path:func or "
                              "path/to/file.py:func)") from None
        raise ImportError(f"importing {where} failed: {e}") from e
    except ImportError:
        raise
    except Exception as e:
        raise ImportError(f"importing {where} failed: {type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else ''}") from e


def load_target(target: str):
    """The ef.Function named by `module.path:func` or `path/to/file.py:func`."""
    from .runtime.function import Function
    where, name = _split_target(target)
    module = _load_file(where) if _is_path(where) else _import(where)
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError(f"{where} has no attribute {name!r}") from None
    if isinstance(obj, Function):
        return obj
    if not callable(obj):
        raise ValueError(f"{where}:{name} is a {type(obj).__name__}, not a function")
    return Function(obj)


def _stages(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if names == ["all"]:
        return list(STAGES)
    bad = [s for s in names if s not in STAGES]
    if bad or not names:
        raise ValueError(f"bad --stages {text!r}: use a comma list of {', '.join(STAGES)} "
                         "or 'all'")
    return names


def run_inspect(args) -> int:
    stages = _stages(args.stages)
    example = example_args(args.args)   # the type string first: it is cheap to check
    fn = load_target(args.target)
    if fn._signature is not None:
        try:
            fn._signature.bind(*example)
        except TypeError as e:
            raise ValueError(f"{args.target}: {e} (--args gives {len(example)} value(s))") \
                from None
    from .errors import EagerflowError
    try:
        low = fn.lower(*example)
    except EagerflowError:
        raise
    except Exception as e:   # the user's code failed while tracing: one line, not a traceback
        raise ValueError(f"tracing {args.target} failed: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from e
    out = []
    if "traced" in stages:
        out.append(f"== traced ==\n{low.traced}")
    if "passes" in stages:
        for rec in low.passes:
            changes = "".join(f"\n#   {c}" for c in rec.changes)
            out.append(f"== pass {rec.name}: {len(rec.changes)} change(s) =={changes}\n"
                       f"{rec.graph}")
    if "optimized" in stages:
        out.append(f"== optimized ==\n{low.optimized}")
    if "source" in stages:
        src = low.source if low.source else f"# no generated source (backend={low.backend})"
        out.append(f"== source ==\n{src.rstrip()}")
    if out:
        print("\n\n".join(out))
    if args.dot:
        with open(args.dot, "w") as f:
            f.write(low.dot())
        print(f"wrote {args.dot}", file=sys.stderr)
    if args.svg:
        low.render(args.svg, format="svg")
        print(f"wrote {args.svg}", file=sys.stderr)
    return 0
