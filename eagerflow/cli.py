"""The `eagerflow` command: demo, inspect, bench."""
from __future__ import annotations

import argparse
import sys
import time


def _demo(args) -> int:
    import numpy as np
    import eagerflow as ef

    def layer(x, w, b):
        h = np.maximum(x @ w + b, 0.0)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 64))
    w = rng.standard_normal((64, 32)) / 8
    b = rng.standard_normal(32)
    fn = ef.function(layer)
    low = fn.lower(x, w, b)
    print("== traced IR ==")
    print(low.traced)
    for rec in low.passes:
        print(f"-- pass {rec.name}: {len(rec.changes)} change(s)")
    print("\n== optimized IR ==")
    print(low.optimized)
    print("\n== generated source (compiled by Numba) ==")
    print(low.source)
    t0 = time.perf_counter()
    out = fn(x, w, b)
    t1 = time.perf_counter()
    ref = layer(x, w, b)
    print(f"first call (trace + compile or disk-cache load): {t1 - t0:.2f} s")
    print(f"max |compiled - eager| = {np.max(np.abs(out - ref)):.2e}")
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        layer(x, w, b)
    te = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        fn(x, w, b)
    tc = (time.perf_counter() - t0) / n
    print(f"eager NumPy {te * 1e6:.0f} us/call, eagerflow {tc * 1e6:.0f} us/call "
          f"({te / tc:.2f}x)")
    return 0


def _bench(args) -> int:
    from .bench.__main__ import main as bench_main
    return bench_main(args.rest)


def _inspect(args) -> int:
    from .inspect_cli import run_inspect
    return run_inspect(args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="eagerflow", description="A tracing compiler for NumPy code.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="trace a small model, print its IR and source, run it")
    d.set_defaults(func=_demo)
    b = sub.add_parser("bench", help="run the benchmarks and print a Markdown table")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the harness")
    b.set_defaults(func=_bench)
    i = sub.add_parser("inspect", help="print the stages of MODULE_OR_FILE:FUNC for given types")
    i.add_argument("target", help="module.path:func or path/to/file.py:func")
    i.add_argument("--args", required=True, help='argument types, e.g. "f64[1000,3], i64[]"')
    i.add_argument("--stages", default="traced,optimized,source",
                   help="comma list of traced, passes, optimized, source")
    i.add_argument("--dot", help="write Graphviz DOT of the optimized graph to this file")
    i.add_argument("--svg", help="render the optimized graph to this SVG file (needs `dot`)")
    i.set_defaults(func=_inspect)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:   # one line for the user, non-zero exit
        from .errors import EagerflowError
        if isinstance(e, (EagerflowError, ValueError, ImportError, AttributeError, OSError)):
            print(f"eagerflow {args.cmd}: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
