"""python -m eagerflow.bench [--quick] [--only NAME,...]: the benchmark table."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

from .harness import fmt_time, table, timeit, timeit_side_by_side
from . import workloads as W


def _cases(quick):
    n = 10**6 if quick else 10**7
    m = 500 if quick else 2000
    rng = np.random.default_rng(0)
    v = [rng.standard_normal(n) for _ in range(4)]
    x = rng.standard_normal((m, m))
    mlp_args = (rng.standard_normal((512, 1024)), rng.standard_normal((1024, 1024)) / 32,
                rng.standard_normal(1024), rng.standard_normal((1024, 10)) / 32,
                rng.standard_normal(10))
    return [
        (f"np.exp, {n:.0e} f64", np.exp, v[:1], None),
        (f"np.sin, {n:.0e} f64", np.sin, v[:1], None),
        (f"np.tanh, {n:.0e} f64", np.tanh, v[:1], None),
        (f"arithmetic chain, {n:.0e} f64", W.arith_chain, v, "arith"),
        (f"a*b + c*sin(d) - exp(-a), {n:.0e} f64", W.trig_chain, v, None),
        (f"variance over rows, {m}x{m}", W.variance, [x], "variance"),
        (f"softmax over rows, {m}x{m}", W.softmax, [x], None),
        (f"layernorm over rows, {m}x{m}", W.layernorm, [x], None),
        ("MLP forward 512x1024 @1024x1024 @1024x10", W.mlp, list(mlp_args), None),
        # below the parallel threshold: threads vs serial shows small inputs pay nothing for threads
        ("a*b + c*sin(d) - exp(-a), 1e+03 f64", W.trig_chain, [a[:1000] for a in v], None),
        ("per-call overhead, (x*2+1).sum() on 10 f64", W.tiny, [rng.standard_normal(10)], "tiny"),
    ]


def _numexpr_row(name, args):
    try:
        import numexpr as ne
    except ImportError:
        return None
    exprs = {"arith": "a*b + c*d - a*0.5", "trig": "a*b + c*sin(d) - exp(-a)"}
    key = "arith" if name.startswith("arith") else "trig" if name.startswith("a*b") else None
    if key is None:
        return None
    a, b, c, d = args
    return timeit(lambda: ne.evaluate(exprs[key], local_dict=dict(a=a, b=b, c=c, d=d)))


def _torch_row(name, args):
    """The same workload in eager PyTorch (its own threads), where torch is installed."""
    try:
        import torch
    except ImportError:
        return None
    F = torch.nn.functional
    fns = {"np.exp": torch.exp, "np.sin": torch.sin, "np.tanh": torch.tanh,
           "arithmetic": lambda a, b, c, d: a * b + c * d - a * 0.5,
           "a*b + c*sin": lambda a, b, c, d: a * b + c * torch.sin(d) - torch.exp(-a),
           "variance": lambda x: torch.var(x, dim=1, unbiased=False),
           "softmax": lambda x: torch.softmax(x, dim=1),
           "layernorm": lambda x: F.layer_norm(x, (x.shape[1],), eps=1e-5),
           "MLP": lambda x, w1, b1, w2, b2: torch.relu(x @ w1 + b1) @ w2 + b2}
    key = next((k for k in fns if name.startswith(k)), None)
    if key is None:
        return None
    targs = [torch.from_numpy(a) for a in args]
    with torch.no_grad():
        return timeit(fns[key], *targs)


def _torch_ratios(quick, names) -> dict:
    """{workload: NumPy time / eager PyTorch time}, both timed in a fresh process."""
    try:
        import importlib.util
        if importlib.util.find_spec("torch") is None:
            return {}
    except (ImportError, ValueError):
        return {}
    code = ("import json, sys; from eagerflow.bench.__main__ import _torch_child; "
            "print(json.dumps(_torch_child(sys.argv[1] == '1', sys.argv[2:])))")
    out = subprocess.run([sys.executable, "-c", code, "1" if quick else "0", *names],
                         capture_output=True, text=True)
    try:
        return __import__("json").loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def _torch_child(quick, names) -> dict:
    out = {}
    for name, fn, args, _ in _cases(quick):
        if name in names:
            t_torch = _torch_row(name, args)
            if t_torch:
                out[name] = timeit(fn, *args) / t_torch
    return out


def run(quick=False, only=None):
    import eagerflow as ef
    from eagerflow.compiler.codegen import configure_numba
    configure_numba()   # before the reference loops load Numba
    refs = W.numba_refs()
    rows = []
    for name, fn, args, ref in _cases(quick):
        if only and not any(o in name for o in only):
            continue
        cf = ef.function(fn, parallel=False)
        pf = ef.function(fn, parallel=True)
        cf(*args)
        pf(*args)
        t_np, t_ef, t_par = timeit_side_by_side([(fn, args), (cf, args), (pf, args)])
        row = {"workload": name, "NumPy": fmt_time(t_np), "eagerflow": fmt_time(t_ef),
               "eagerflow vs NumPy": f"{t_np / t_ef:.2f}x",
               "threads vs NumPy": f"{t_np / t_par:.2f}x",
               "threads vs serial": f"{t_ef / t_par:.2f}x"}
        if ref:
            t_ref = timeit(refs[ref], *args)
            row["hand-written Numba"] = f"{t_np / t_ref:.2f}x"
        par = next((r for r in refs if r.endswith(" prange") and name.startswith(r.split()[0])),
                   None)
        if par:
            row["Numba prange"] = f"{t_np / timeit(refs[par], *args):.2f}x"
        t_ne = _numexpr_row(name, args)
        if t_ne:
            row["numexpr"] = f"{t_np / t_ne:.2f}x"
        if name.startswith("arith"):
            a = args[0]
            out = np.empty_like(a)
            t_copy = timeit(np.copyto, out, a)
            # the chain reads 4 arrays and writes 1: 5 passes of memory traffic vs a copy's 2
            row["bandwidth limit"] = f"{t_np / (t_copy * 5 / 2):.2f}x"
        rows.append(row)
    # torch in a process of its own: its OpenMP threads keep spinning after a call and slowed
    # whatever ran after them in this one (the autodiff rows, by up to a quarter)
    ratios = _torch_ratios(quick, [row["workload"] for row in rows])
    for row in rows:
        if row["workload"] in ratios:
            row["torch (threads)"] = f"{ratios[row['workload']]:.2f}x"
    if not only or any("first" in o for o in only):
        rows += first_call_rows()
    return rows


_FIRST = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import numpy as np
    import eagerflow as ef
    t1 = time.perf_counter()
    @ef.function
    def f(x, y):
        return (np.sin(x) * y + 1.0).sum(axis=0)
    x = np.ones((100, 10)); f(x, x)
    print(time.perf_counter() - t0, t1 - t0)
""")


def first_call_rows():
    rows = []
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, EAGERFLOW_CACHE_DIR=d)
        script = os.path.join(d, "first.py")
        with open(script, "w") as f:
            f.write(_FIRST)
        for label in ("cold disk cache", "warm disk cache"):
            out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True)
            try:
                secs, imp = map(float, out.stdout.strip().splitlines()[-1].split())
            except (ValueError, IndexError):
                secs = imp = float("nan")
            # the targets are for the call after import: both parts are shown
            rows.append({"workload": f"first call in a fresh process, {label} (import "
                                     f"{imp:.2f} s + call {secs - imp:.2f} s)",
                         "eagerflow": f"{secs:.2f} s"})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="eagerflow bench")
    p.add_argument("--quick", action="store_true", help="smaller inputs (1e6, 500x500)")
    p.add_argument("--only", help="comma list of substrings of workload names")
    a = p.parse_args(argv)
    only = a.only.split(",") if a.only else None
    import numba
    print(f"eagerflow column: serial (parallel=False); threads: parallel=True with "
          f"{numba.get_num_threads()} Numba threads\n")
    rows = run(a.quick, only)
    cols = ["workload", "NumPy", "eagerflow", "eagerflow vs NumPy", "threads vs NumPy",
            "threads vs serial", "hand-written Numba", "Numba prange", "numexpr",
            "torch (threads)",
            "bandwidth limit"]
    print(table(rows, cols))
    for section in ("control", "state", "autodiff"):
        if only and section not in only:
            continue
        try:
            mod = __import__(f"eagerflow.bench.{section}", fromlist=["run"])
        except ImportError:
            continue
        srows = mod.run(quick=a.quick)
        if srows:
            print(f"\n### {section}\n")
            print(table(srows, list(dict.fromkeys(k for r in srows for k in r))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
