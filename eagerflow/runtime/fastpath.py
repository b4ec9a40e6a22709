"""Per-signature dispatch for calls whose arguments are flat arrays and numbers.

For each such signature, a small Python function is generated that checks the arguments' types,
dtypes and shapes inline and, on a match, calls the compiled code and builds the results: no
pytree flattening, no key tuple, no per-leaf conversions through generic helpers. A mismatch
returns MISS and the call takes the full path (which traces anew where needed)."""
from __future__ import annotations

import numpy as np

from ..tree import LEAF, unflatten

MISS = object()


def never(args):
    return MISS


# type -> signature part, as Function._split's leaf keys would tell the types apart
FAST_KEY = {np.ndarray: lambda a: (a.dtype, a.shape), float: lambda a: "f",
            int: lambda a: "i", bool: lambda a: "b"}
for _t in (np.float64, np.float32, np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint16,
           np.uint32, np.uint64, np.bool_):
    FAST_KEY[_t] = lambda a: ("g", a.dtype)   # as _leaf_key keys NumPy scalars


def fast_key(args):
    """The signature of flat arguments; KeyError for an argument of another type."""
    return tuple([FAST_KEY[type(a)](a) for a in args])


def build(args, entry, generic):
    """The dispatcher for calls shaped like `args` (which just ran `entry`). Entries that need
    more than the compiled code (captures, write-back, the interpreter) run `generic(args)`
    after the checks; the others call the Numba code directly."""
    tr = entry.traced
    n = len(args)
    ns = {"MISS": MISS, "ndarray": np.ndarray, "generic": generic}
    lines = ["def fast(args):"]
    if n:
        unpack = f"{', '.join(f'a{i}' for i in range(n))}, = args"
        lines += ["    try:", f"        {unpack}", "    except ValueError:", "        return MISS"]
    else:
        lines += ["    if args:", "        return MISS"]
    types, arrays = [], []
    for i, a in enumerate(args):
        ns[f"T{i}"] = type(a)
        types.append(f"type(a{i}) is not T{i}")
        if type(a) is np.ndarray:
            ns[f"D{i}"], ns[f"S{i}"] = a.dtype, a.shape
            arrays.append(f"a{i}.shape != S{i} or (a{i}.dtype is not D{i} and a{i}.dtype != D{i})")
    for cond in (types, arrays):
        if cond:
            lines += [f"    if {' or '.join(cond)}:", "        return MISS"]
    direct = getattr(entry.run, "direct", None)
    if (tr.captures or tr.written or getattr(tr, "var_updates", None) or direct is None
            or entry.lowered.backend != "numba"):
        lines.append("    return generic(args)")
        return _compile(lines, ns, entry)
    for i, dt in tr.weak_int_checks:   # NumPy's own OverflowError for an int that does not fit
        ns[f"W{i}"] = dt.type
        lines.append(f"    W{i}(a{i})")
    disp, extra = direct
    ns["disp"] = disp
    call = [f"a{i}[()]" if type(a) is np.ndarray and a.ndim == 0 else f"a{i}"
            for i, a in enumerate(args)]
    for k, e in enumerate(extra):
        ns[f"E{k}"] = e
        call.append(f"E{k}")
    call = ", ".join(call)
    ep = _entry_point(disp, args, extra)
    if ep is None:
        lines.append(f"    r = disp({call})")
    else:   # Numba's compiled wrapper for exactly these types: no type dispatch per call
        ns["ep"] = ep
        same = [f"a{i}.flags.num & {_LAYOUT} == {a.flags.num & _LAYOUT}"
                for i, a in enumerate(args) if type(a) is np.ndarray and a.ndim]
        lines += [f"    if {' and '.join(same or ['True'])}:", f"        r = ep({call})",
                  "    else:", f"        r = disp({call})"]
    results = []
    for k, (v, scalar) in enumerate(zip(tr.graph.results, tr.out_scalar)):
        if v.type.ndim:
            results.append(f"r[{k}]")   # Numba's arrays are fresh: returned as they are
        else:   # Numba gives a Python number: a NumPy scalar or a 0-d array, as NumPy would
            ns[f"R{k}"] = v.type.dtype.type if scalar else np.dtype(v.type.dtype)
            results.append(f"R{k}(r[{k}])" if scalar else f"asarray(r[{k}], R{k})")
    ns["asarray"] = np.asarray
    expr = _tree_expr(tr.graph.out_tree, iter(results), tr.out_statics, ns)
    if expr is None:
        ns["unflatten"], ns["TREE"], ns["STATICS"] = unflatten, tr.graph.out_tree, tr.out_statics
        expr = f"unflatten(TREE, [{', '.join(results)}], STATICS)"
    lines.append(f"    return {expr}")
    return _compile(lines, ns, entry)


# the array flags that decide Numba's array type besides dtype and rank: layout (C, F or any),
# aligned, and readonly (NumPy's C_CONTIGUOUS, F_CONTIGUOUS, ALIGNED, WRITEABLE)
_LAYOUT = 0x1 | 0x2 | 0x100 | 0x400


def _entry_point(disp, args, extra):
    """The compiled wrapper of `disp` (a Numba dispatcher) for the Numba types of these
    arguments, or None: for a plain function, or Python ints (which Numba types by value)."""
    if any(type(a) is int for a in args) or not hasattr(disp, "overloads"):
        return None
    try:
        vals = [a[()] if type(a) is np.ndarray and a.ndim == 0 else a for a in args]
        sig = tuple(disp.typeof_pyval(v) for v in [*vals, *extra])
        return getattr(disp.overloads.get(sig), "entry_point", None)
    except Exception:   # an internal of Numba's that moved: the dispatcher still works
        return None


def _tree_expr(tree, leaves, statics, ns):
    """The expression that rebuilds a result tree of leaves, tuples and lists; None otherwise."""
    if tree == LEAF:
        return next(leaves)
    if tree[0] in ("tuple", "list"):
        parts = [_tree_expr(c, leaves, statics, ns) for c in tree[1]]
        if any(p is None for p in parts):
            return None
        inner = ", ".join(parts) + ("," if parts and tree[0] == "tuple" else "")
        return f"({inner})" if tree[0] == "tuple" else f"[{inner}]"
    if tree[0] == "static":
        ns[f"ST{tree[1]}"] = statics[tree[1]]
        return f"ST{tree[1]}"
    return None


def _compile(lines, ns, entry):
    exec(compile("\n".join(lines) + "\n", "<eagerflow dispatch>", "exec"), ns)
    ns["fast"].entry = entry
    return ns["fast"]
