"""EAGERFLOW_DUMP=DIR: write every stage of every compiled function as readable files."""
from __future__ import annotations

import itertools
import os

_counter = itertools.count()


def dump_stages(name: str, low) -> str | None:
    root = os.environ.get("EAGERFLOW_DUMP")
    if not root:
        return None
    d = os.path.join(root, f"{name}.{os.getpid()}.{next(_counter)}")
    os.makedirs(d, exist_ok=True)
    files = [("00-traced.ir", str(low.traced))]
    for i, rec in enumerate(low.passes, 1):
        files.append((f"{i:02d}-{rec.name}.ir", f"# changes: {rec.changes}\n{rec.graph}"))
    files.append((f"{len(files):02d}-optimized.ir", str(low.optimized)))
    if low.source:
        files.append(("source.py", low.source))
    for fname, text in files:
        with open(os.path.join(d, fname), "w") as f:
            f.write(text + "\n")
    return d
