"""GPU benchmark for backend="cuda": `python -m eagerflow.bench.gpu [--out results.json]`.

Workloads (eagerflow/bench/workloads.py, the same NumPy code the CPU benchmark runs): the
elementwise chain a*b + c*sin(d) - exp(-a), softmax and layernorm over rows, and the MLP, in
float32 and float64. Each runs on device-resident PyTorch tensors (eagerflow returns tensors, so
no host copies are timed) and is compared with the same code written in eager PyTorch ops, with
torch.compile of that code, and with PyTorch's own fused kernels (torch.softmax,
F.layer_norm) for reference. Bandwidth is the bytes each function must move (inputs read once,
outputs written once) over the median time, against the device's copy bandwidth (a large
device-to-device copy, bytes read plus written). Needs a GPU, PyTorch and numba-cuda.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "0")


def _timer(torch, fn, args, reps=20, warmup=3):
    for _ in range(warmup):
        fn(*args)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(*args)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / 1e3)
    times.sort()
    return times[len(times) // 2]


def _timer_batch(torch, fn, args, reps=20, warmup=3):
    """Median-free steady state: `reps` back-to-back calls between two events (launch overhead
    overlaps the previous call's kernels, as in a real loop)."""
    for _ in range(warmup):
        fn(*args)
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps):
        fn(*args)
    e.record()
    e.synchronize()
    return s.elapsed_time(e) / 1e3 / reps


def copy_bandwidth(torch, nbytes=2 << 30):
    x = torch.empty(nbytes // 4, dtype=torch.float32, device="cuda").uniform_()
    y = torch.empty_like(x)
    t = _timer(torch, lambda: y.copy_(x), (), reps=20)
    return 2 * nbytes / t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None)
    p.add_argument("--gib", type=float, default=1.0, help="GiB per input array")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--budget", type=float, default=240.0, help="seconds; later torch.compile "
                   "runs are skipped past it")
    a = p.parse_args(argv)
    t_start = time.time()
    import numpy as np
    import torch
    import torch.nn.functional as F

    import eagerflow as ef
    from eagerflow.bench import workloads as W

    dev = torch.cuda.get_device_name()
    bw = copy_bandwidth(torch)
    print(f"device: {dev}; copy bandwidth {bw / 1e9:.0f} GB/s (read + write)")

    def t_chain(a, b, c, d):
        return a * b + c * torch.sin(d) - torch.exp(-a)

    def t_softmax(x):
        e = torch.exp(x - x.amax(dim=1, keepdim=True))
        return e / e.sum(dim=1, keepdim=True)

    def t_layernorm(x):
        mu = x.mean(dim=1, keepdim=True)
        xc = x - mu
        var = (xc * xc).mean(dim=1, keepdim=True)
        return xc / torch.sqrt(var + 1e-5)

    def t_mlp(x, w1, b1, w2, b2):
        return torch.relu(x @ w1 + b1) @ w2 + b2

    rows = []
    g = torch.Generator(device="cuda").manual_seed(0)
    for dtn in ("float32", "float64"):
        tdt = getattr(torch, dtn)
        item = np.dtype(dtn).itemsize
        n = int(a.gib * (1 << 30)) // item
        cols = 2048
        r = n // cols

        def rnd(*shape):
            return torch.randn(*shape, device="cuda", dtype=tdt, generator=g)

        cases = []
        ab = [rnd(n) for _ in range(4)]
        cases.append(("chain", W.trig_chain, t_chain, ab, 5 * n * item, None))
        x = rnd(r, cols)
        cases.append(("softmax", W.softmax, t_softmax, [x], 2 * n * item,
                      lambda x: torch.softmax(x, dim=1)))
        cases.append(("layernorm", W.layernorm, t_layernorm, [x], 2 * n * item,
                      lambda x: F.layer_norm(x, (x.shape[1],), eps=1e-5)))
        m, k, h, o = 8192, 4096, 4096, 1024
        mlp_args = [rnd(m, k), rnd(k, h) / 64, rnd(h), rnd(h, o) / 64, rnd(o)]
        cases.append(("mlp", W.mlp, t_mlp, mlp_args, None, None))
        for name, npfn, tfn, args, nbytes, fused in cases:
            efn = ef.function(npfn, backend="cuda")
            t0 = time.time()
            got = efn(*args)
            torch.cuda.synchronize()
            first = time.time() - t0
            ref = tfn(*[t.double() for t in args])
            err = float((got.double() - ref).norm() / ref.norm())
            del ref
            row = {"workload": name, "dtype": dtn, "first_call_s": round(first, 2),
                   "rel_err_vs_f64": err}
            row["eagerflow_s"] = _timer(torch, efn, args)
            row["eagerflow_loop_s"] = _timer_batch(torch, efn, args)
            row["torch_eager_s"] = _timer(torch, tfn, args)
            if fused is not None:
                row["torch_fused_s"] = _timer(torch, fused, args)
            if not a.no_compile and name != "mlp" and time.time() - t_start < a.budget:
                try:
                    cfn = torch.compile(tfn)
                    t0 = time.time()
                    cfn(*args)
                    torch.cuda.synchronize()
                    row["torch_compile_first_s"] = round(time.time() - t0, 1)
                    row["torch_compile_s"] = _timer(torch, cfn, args)
                except Exception as e:  # noqa: BLE001
                    row["torch_compile_error"] = str(e).splitlines()[0][:200]
            if nbytes:
                row["bytes"] = nbytes
                row["eagerflow_GBs"] = nbytes / row["eagerflow_s"] / 1e9
                row["eagerflow_loop_GBs"] = nbytes / row["eagerflow_loop_s"] / 1e9
                row["frac_of_copy_bw"] = nbytes / row["eagerflow_s"] / bw
                row["frac_of_copy_bw_loop"] = nbytes / row["eagerflow_loop_s"] / bw
            else:
                m_, k_ = args[0].shape
                flops = 2 * m_ * k_ * args[1].shape[1] + 2 * m_ * args[1].shape[1] * \
                    args[3].shape[1]
                row["eagerflow_TFLOPs"] = flops / row["eagerflow_s"] / 1e12
            row["speedup_vs_eager"] = row["torch_eager_s"] / row["eagerflow_s"]
            if "torch_compile_s" in row:
                row["speedup_vs_compile"] = row["torch_compile_s"] / row["eagerflow_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
            del args, got
        torch.cuda.empty_cache()
    result = {"device": dev, "copy_bandwidth_Bps": bw, "gib_per_array": a.gib, "rows": rows}
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    print()
    print(f"{'workload':10} {'dtype':8} {'ef ms':>8} {'ef GB/s':>8} {'%copy':>6} "
          f"{'eager ms':>9} {'compile ms':>10} {'fused ms':>9} {'x eager':>8} {'x compile':>9}")
    for r_ in rows:
        def ms(k):
            return f"{r_[k] * 1e3:.3f}" if k in r_ else "-"
        gbs = f"{r_['eagerflow_GBs']:.0f}" if "eagerflow_GBs" in r_ else \
            f"{r_['eagerflow_TFLOPs']:.0f}TF"
        pct = f"{100 * r_['frac_of_copy_bw']:.0f}" if "frac_of_copy_bw" in r_ else "-"
        xc = f"{r_['speedup_vs_compile']:.2f}" if "speedup_vs_compile" in r_ else "-"
        print(f"{r_['workload']:10} {r_['dtype']:8} {ms('eagerflow_s'):>8} {gbs:>8} {pct:>6} "
              f"{ms('torch_eager_s'):>9} {ms('torch_compile_s'):>10} {ms('torch_fused_s'):>9} "
              f"{r_['speedup_vs_eager']:>8.2f} {xc:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
