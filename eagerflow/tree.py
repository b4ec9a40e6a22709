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

    def go(x):
        if isinstance(x, tuple) and not hasattr(x, "_fields"):
            return ("tuple", tuple(go(c) for c in x))
        if isinstance(x, list):
            return ("list", tuple(go(c) for c in x))
        if isinstance(x, dict):
            keys = tuple(x.keys())
            return ("dict", keys, tuple(go(x[k]) for k in keys))
        if is_leaf(x):
            leaves.append(x)
            return LEAF
        statics.append(x)
        return ("static", len(statics) - 1)

    return leaves, go(obj), statics


def unflatten(treedef, leaves, statics=()):
    it = iter(leaves)

    def go(d):
        if d == LEAF:
            return next(it)
        tag = d[0]
        if tag == "tuple":
            return tuple(go(c) for c in d[1])
        if tag == "list":
            return [go(c) for c in d[1]]
        if tag == "dict":
            return {k: go(c) for k, c in zip(d[1], d[2])}
        return statics[d[1]]

    return go(treedef)


def leaf_paths(treedef, prefix="", static=False) -> list[str]:
    """Readable paths of the leaves, in order: ["x", "params['w']", "batch[0]"]; with
    static=True, of the static leaves instead."""
    out: list[str] = []

    def go(d, path):
        if d == LEAF:
            if not static:
                out.append(path)
        elif d[0] == "static":
            if static:
                out.append(path)
        elif d[0] in ("tuple", "list"):
            for i, c in enumerate(d[1]):
                go(c, f"{path}[{i}]")
        elif d[0] == "dict":
            for k, c in zip(d[1], d[2]):
                go(c, f"{path}[{k!r}]")

    go(treedef, prefix)
    return out


def is_array_leaf(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, bool, int, float, complex))
