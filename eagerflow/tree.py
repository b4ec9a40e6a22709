"""Pytrees: nested tuples, lists and dicts of leaves.

A treedef is a nested Python literal, so it prints in the IR header and parses back:
"*" for an array leaf, ("tuple", children), ("list", children), ("dict", keys, children),
("static", i) for a static leaf kept by index in a side list.
"""
from __future__ import annotations

import numpy as np

LEAF = "*"


def flatten(obj, is_leaf, statics: list | None = None):
    """-> (leaves, treedef). `is_leaf(x)` says what is traced; other scalars go to `statics`."""
    leaves: list = []
    statics = [] if statics is None else statics
    return leaves, _flatten(obj, is_leaf, leaves, statics), statics


# The walkers below are module functions, not closures that call themselves: such a closure is
# a reference cycle, and the leaves it holds (a call's inputs or results) would stay alive until
# the cyclic garbage collector ran. A result kept alive that way cannot be recycled as the next
# call's output buffer (codegen's `keep`), and costs a fresh 32 MB array on a 2000x2000 call.
def _flatten(x, is_leaf, leaves, statics):
    if isinstance(x, tuple) and not hasattr(x, "_fields"):
        return ("tuple", tuple(_flatten(c, is_leaf, leaves, statics) for c in x))
    if isinstance(x, list):
        return ("list", tuple(_flatten(c, is_leaf, leaves, statics) for c in x))
    if isinstance(x, dict):
        keys = tuple(x.keys())
        return ("dict", keys, tuple(_flatten(x[k], is_leaf, leaves, statics) for k in keys))
    if is_leaf(x):
        leaves.append(x)
        return LEAF
    statics.append(x)
    return ("static", len(statics) - 1)


def unflatten(treedef, leaves, statics=()):
    return _unflatten(treedef, iter(leaves), statics)


def _unflatten(d, it, statics):
    if d == LEAF:
        return next(it)
    tag = d[0]
    if tag == "tuple":
        return tuple([_unflatten(c, it, statics) for c in d[1]])
    if tag == "list":
        return [_unflatten(c, it, statics) for c in d[1]]
    if tag == "dict":
        return {k: _unflatten(c, it, statics) for k, c in zip(d[1], d[2])}
    return statics[d[1]]


def leaf_paths(treedef, prefix="", static=False) -> list[str]:
    """Readable paths of the leaves, in order: ["x", "params['w']", "batch[0]"]; with
    static=True, of the static leaves instead."""
    out: list[str] = []
    _leaf_paths(treedef, prefix, static, out)
    return out


def _leaf_paths(d, path, static, out):
    if d == LEAF:
        if not static:
            out.append(path)
    elif d[0] == "static":
        if static:
            out.append(path)
    elif d[0] in ("tuple", "list"):
        for i, c in enumerate(d[1]):
            _leaf_paths(c, f"{path}[{i}]", static, out)
    elif d[0] == "dict":
        for k, c in zip(d[1], d[2]):
            _leaf_paths(c, f"{path}[{k!r}]", static, out)


def is_array_leaf(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, bool, int, float, complex))
