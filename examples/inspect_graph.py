"""Look inside a compiled function: the IR as traced, what each pass did, the optimized IR, the
Python that Numba compiles, and a Graphviz DOT file of the optimized graph.

    python examples/inspect_graph.py            # writes inspect_graph.dot next to this file
"""
import os

import numpy as np

import eagerflow as ef


@ef.function
def normalize(x, gain):
    """Layer normalization over the rows, then a gain and a ReLU."""
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=1, keepdims=True)
    return np.maximum(xc / np.sqrt(var + 1e-5) * gain, 0.0)


def main():
    rng = np.random.default_rng(0)
    x, gain = rng.standard_normal((128, 64)), rng.standard_normal(64)
    low = normalize.lower(x, gain)
    print("== traced ==")
    print(low.traced)
    for rec in low.passes:
        print(f"\n== after {rec.name}: {len(rec.changes)} change(s) ==")
        for change in rec.changes[:6]:
            print("  ", change)
    print("\n== optimized ==")
    print(low.optimized)
    print("\n== generated source ==")
    print(low.source)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inspect_graph.dot")
    with open(path, "w") as f:
        f.write(low.dot())
    print(f"wrote {path} (render it with: dot -Tsvg {os.path.basename(path)} -o graph.svg)")
    out = normalize(x, gain)
    mu = x.mean(axis=1, keepdims=True)
    ref = np.maximum((x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
                     * gain, 0.0)
    print(f"max |compiled - eager| = {np.max(np.abs(out - ref)):.2e}")


if __name__ == "__main__":
    main()
