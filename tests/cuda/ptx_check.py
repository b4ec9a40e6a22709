"""Compile every kernel the cuda backend generates for a set of programs to PTX (sm_90), without
a GPU: numba-cuda types and lowers the kernels, NVVM compiles them. Catches what the simulator
cannot (it runs kernels as Python): unsupported functions, typing errors, bad shared arrays.

    NUMBA_ENABLE_CUDASIM=0 python tests/cuda/ptx_check.py      # needs numba-cuda[cu13] (NVVM)

Array arguments are checked in both C and any ('A') layout. Prints one line per program.
"""
from __future__ import annotations

import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "0"

import numpy as np  # noqa: E402


def programs():
    from eagerflow.ops import REGISTRY, Kind
    sys.path.insert(0, os.path.dirname(__file__))
    import test_cuda_backend as T
    rng = np.random.default_rng(0)
    out = []
    for dt in ("float32", "float64"):
        x = rng.standard_normal((4, 6)).astype(dt)
        g, b = x[0], x[1]
        out += [(T.softmax, (x,)), (T.layernorm, (x, g, b)), (T.chain, (x, x, x, x)),
                (T.mlp, (x, x.T, x[:, 0], x, x[0]))]
    for dt in ("float64", "float32", "int64", "int32", "bool"):
        ops = [op for op in T._ops(Kind.ELEMENTWISE, 1) if T._supports(op, [dt])]
        out.append((lambda x, ops=ops: tuple(op.numpy[0](x) for op in ops), (np.ones(3, dt),)))
    for da, db in (("float64", "float64"), ("float32", "float32"), ("int64", "int64"),
                   ("int32", "int32"), ("bool", "bool"), ("int32", "float64")):
        ops = [op for op in T._ops(Kind.ELEMENTWISE, 2) if T._supports(op, [da, db])]
        out.append((lambda a, b, ops=ops: tuple(op.numpy[0](a, b) for op in ops),
                    (np.ones((2, 3), da), np.ones(3, db))))
    for dt, axis, keep in T.RED_CLASSES + [("float32", None, False), ("int64", 1, True)]:
        red = [op for op in REGISTRY.values() if op.kind is Kind.REDUCTION and
               (axis is None or isinstance(axis, int) or not op.extra.get("index")) and
               dt in (op.dtypes or (dt,))]
        nd = 3 if axis == (0, 2) else 2
        out.append((lambda x, red=red, axis=axis, keep=keep:
                    tuple(op.numpy[0](x, axis=axis, keepdims=keep) for op in red),
                    (np.ones((2,) * nd, dt),)))
    out.append((lambda c, x, y, s: (np.where(c, x, y), np.clip(x, y, x + 1), x * s, s * 2.0),
                (np.ones(3, bool), np.ones(3), np.ones(3), 2.0)))
    return out


def check(fn, args):
    import eagerflow as ef
    from numba import cuda, types, typeof
    from eagerflow.compiler import cuda as cb
    from eagerflow.compiler.cuda.emit import generate_source
    low = ef.function(fn, backend="cuda").lower(*args)
    src, em = generate_source(low.optimized)
    gen = cb.generate(low.optimized)
    mod = cb.load(gen.canonical, gen.key)
    byname = {}
    for v in list(low.optimized.params) + [n_ for node in low.optimized.nodes
                                           for n_ in node.outputs]:
        if v.id in em.names:
            byname[em.names[v.id]] = v
    for vid, name in em.names.items():
        pass
    extra = dict(em.extra)
    n = 0
    for kname, (params, flat) in em.kernel_params.items():
        for layout in ("C", "A"):
            sig = []
            for p in params:
                if p in extra:
                    val = extra[p]
                    if isinstance(val, np.ndarray):
                        sig.append(types.Array(typeof(val).dtype, max(val.ndim, 1), layout))
                    else:
                        sig.append(typeof(val))
                elif p in getattr(em, "partials", {}):
                    sig.append(types.Array(typeof(np.zeros(1, em.partials[p])).dtype, 1, layout))
                elif p in em.named:
                    dt_, nd_ = em.named[p]
                    sig.append(types.Array(typeof(np.zeros(1, dt_)).dtype,
                                           1 if flat else nd_, layout))
                elif p in byname or p in em.names.values():
                    v = byname.get(p) or next(v for v in _all_values(low.optimized, em) if
                                              em.names.get(v.id) == p)
                    t = v.type
                    dtype = typeof(np.zeros(1, t.dtype)).dtype
                    rep = em.rep.get(v.id, "dev" if t.ndim else "host")
                    if rep == "host":
                        sig.append(typeof(np.zeros((), t.dtype)[()]) if not t.weak else
                                   {"f": types.float64, "i": types.int64,
                                    "b": types.boolean}[t.dtype.kind])
                    else:
                        nd = 1 if (rep == "dev0" or flat or p in em.arrays_1d) else t.ndim
                        sig.append(types.Array(dtype, nd, layout))
                elif p in em.arrays_1d:
                    v = next(v for v in _all_values(low.optimized, em) if em.names.get(v.id) == p)
                    sig.append(types.Array(typeof(np.zeros(1, v.type.dtype)).dtype, 1, layout))
                else:
                    sig.append(types.int64)
            k = getattr(mod, kname)
            cuda.compile_ptx(k.py_func, tuple(sig), cc=(9, 0))
            n += 1
    return n


def _all_values(g, em):
    for p in g.params:
        yield p
    for node in g.nodes:
        yield from node.outputs
    for k in em.names:
        pass


def _no_device():
    """Device functions ask the current device for its compute capability: say sm_90."""
    import numba.cuda.dispatcher as d

    class _Dev:
        compute_capability = (9, 0)
    d.get_current_device = lambda: _Dev()


def main():
    _no_device()
    failed = 0
    for i, (fn, args) in enumerate(programs()):
        try:
            n = check(fn, args)
            print(f"ok   program {i}: {n} kernel signatures compiled to PTX")
        except Exception as e:  # noqa: BLE001
            failed += 1
            print(f"FAIL program {i}: {type(e).__name__}: {str(e)[:2000]}")
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
