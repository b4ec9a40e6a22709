"""Checkpoints of Variables: `ef.save_variables(obj, path)` / `ef.restore_variables(obj, path)`.

Format (docs/state.md): a NumPy `.npz` archive with one array per Variable, keyed by its name, and
an entry `__eagerflow__` holding JSON metadata: {"format": "eagerflow.variables", "version": 1,
"variables": {name: {"dtype": ..., "shape": [...]}}}. It loads with plain `np.load` as well.

`obj` is a Module (names are attribute paths such as "layer1.w"), an optimizer (its
`named_variables()`), a dict {name: Variable}, a single Variable, or a list/tuple of Variables that
all have distinct names. Saving writes a temporary file in the target's directory, flushes it to
disk and renames it over the target (os.replace), so an interrupted save leaves the old file or
none, never a torn one. Restoring reads and checks everything first and only then assigns, so on a
missing name, a shape or dtype mismatch or a corrupt file every Variable is left as it was.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .errors import SaveFormatError, StateError
from .runtime.variables import Variable

__all__ = ["save_variables", "restore_variables"]

FORMAT = "eagerflow.variables"
VERSION = 1
META_KEY = "__eagerflow__"


def named_variables(obj) -> list[tuple[str, Variable]]:
    """[(name, Variable)] for a Module, optimizer, dict, Variable or list of named Variables."""
    if isinstance(obj, Variable):
        pairs = [(obj.name, obj)]
    elif hasattr(obj, "named_variables"):
        pairs = list(obj.named_variables())
    elif isinstance(obj, dict):
        pairs = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        pairs = [(getattr(v, "name", None), v) for v in obj]
    else:
        raise StateError(f"cannot take Variables from a {type(obj).__name__}: pass a Module, an "
                         "optimizer, a dict {name: Variable} or a list of named Variables",
                         loc=None)
    seen = set()
    for name, v in pairs:
        if not isinstance(v, Variable):
            raise StateError(f"{name!r} is a {type(v).__name__}, not an ef.Variable", loc=None)
        if not name or not isinstance(name, str):
            raise StateError("every Variable in a checkpoint needs a name: create it with "
                             "ef.Variable(..., name='w'), or pass a Module or a dict "
                             "{name: variable}", loc=None)
        if name == META_KEY or name in seen:
            raise StateError(f"two Variables are named {name!r}; names in a checkpoint must be "
                             "unique", loc=None)
        seen.add(name)
    return pairs


def save_variables(obj, path) -> None:
    """Write the Variables of `obj` to `path` (an .npz archive), atomically."""
    pairs = named_variables(obj)
    arrays = {name: v.numpy() for name, v in pairs}
    meta = {"format": FORMAT, "version": VERSION,
            "variables": {n: {"dtype": a.dtype.str, "shape": list(a.shape)}
                          for n, a in arrays.items()}}
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{META_KEY: np.array(json.dumps(meta))}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def restore_variables(obj, path, strict: bool = True) -> None:
    """Assign the Variables of `obj` from the checkpoint at `path`. All or nothing: everything is
    read and checked before the first Variable changes. With strict=True (the default) a name in
    the file that `obj` does not have is an error too."""
    pairs = named_variables(obj)
    path = os.fspath(path)
    values = _read(path)
    have = set(values)
    missing = [n for n, _ in pairs if n not in have]
    if missing:
        raise StateError(f"checkpoint {path} has no variable(s) {', '.join(map(repr, missing))} "
                         f"(it has: {', '.join(map(repr, sorted(have))) or 'none'})", loc=None)
    if strict:
        extra = sorted(have - {n for n, _ in pairs})
        if extra:
            raise StateError(f"checkpoint {path} has variable(s) {', '.join(map(repr, extra))} "
                             "that the object being restored does not have; pass strict=False "
                             "to ignore them", loc=None)
    staged = []
    for name, v in pairs:
        a = values[name]
        if a.shape != v.shape:
            raise StateError(f"checkpoint {path}: variable {name!r} has shape {a.shape}, the "
                             f"Variable has shape {v.shape}", loc=None)
        if a.dtype != v.dtype and not np.can_cast(a.dtype, v.dtype, "safe"):
            raise StateError(f"checkpoint {path}: variable {name!r} is {a.dtype}, which does not "
                             f"cast safely to the Variable's {v.dtype}", loc=None)
        staged.append((v, a))
    for v, a in staged:
        np.copyto(v._value, a, casting="safe")


def _read(path) -> dict[str, np.ndarray]:
    """Every array of the checkpoint, fully read (a corrupt member fails here, before any
    assignment)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if META_KEY not in names:
                raise SaveFormatError(f"{path} is not an eagerflow checkpoint (no {META_KEY} "
                                      "entry)", loc=None)
            meta = json.loads(str(z[META_KEY][()]))
            values = {n: z[n] for n in names if n != META_KEY}
    except FileNotFoundError:
        raise
    except SaveFormatError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, TypeError,
            json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SaveFormatError(f"{path} is not a readable eagerflow checkpoint (corrupt or "
                              f"truncated): {type(e).__name__}: {e}", loc=None) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SaveFormatError(f"{path} is not an eagerflow checkpoint", loc=None)
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise SaveFormatError(f"{path} was written by a newer eagerflow (checkpoint format "
                              f"version {meta.get('version')!r}; this one reads up to "
                              f"{VERSION}); upgrade eagerflow", loc=None)
    listed = meta.get("variables", {})
    if set(listed) != set(values):
        raise SaveFormatError(f"{path} is inconsistent: its metadata lists other variables than "
                              "it holds", loc=None)
    for n, a in values.items():
        info = listed[n]
        if list(a.shape) != list(info.get("shape", [])) or a.dtype.str != info.get("dtype"):
            raise SaveFormatError(f"{path} is inconsistent: variable {n!r} is {a.dtype}{a.shape}, "
                                  f"its metadata says {info}", loc=None)
    return values
