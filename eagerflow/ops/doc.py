"""Generate docs/ops.md, the op coverage table, from the registry.

    python -m eagerflow.ops.doc            # writes docs/ops.md
    python -m eagerflow.ops.doc --check    # exit 1 if docs/ops.md is out of date
"""
from __future__ import annotations

import os
import sys

from . import REGISTRY, Kind

HEADER = """\
# Op coverage

Generated from the op registry by `python -m eagerflow.ops.doc`; do not edit by hand.
Each row is one registry entry (`eagerflow/ops/`). *NumPy* lists the callables that trace to it
(operators and ndarray methods of the same name trace there too); *dtypes* are those the
differential tests draw (`tests/ops/test_differential.py`); *backends* are the code emitters an
entry carries; *grad* says whether it has a gradient rule. Composite entries have no kernel of their
own: the tracer lowers them to the ops named in their description.
"""

KIND_TITLES = [
    (Kind.ELEMENTWISE, "Elementwise"), (Kind.REDUCTION, "Reductions"), (Kind.SHAPE, "Shape"),
    (Kind.INDEX, "Indexing"), (Kind.STRUCTURED, "Structured"), (Kind.CREATION, "Creation"),
    (Kind.COMPOSITE, "Composite (lowered by the tracer)"), (Kind.CONTROL, "Control flow"),
    (Kind.STATE, "State"), (Kind.FUSED, "Fused (made by the compiler)"),
]


def _callable_name(f) -> str:
    mod = getattr(f, "__module__", None) or "numpy"
    name = getattr(f, "__name__", repr(f))
    prefix = "np." if mod.startswith("numpy") and mod.count(".") <= 1 or mod == "numpy" else \
        mod.replace("numpy", "np") + "."
    return f"`{prefix}{name}`"


def _dtypes(op) -> str:
    short = {"bool": "b", "int32": "i32", "int64": "i64", "float32": "f32", "float64": "f64"}
    return " ".join(short.get(d, d) for d in op.dtypes) if op.dtypes else "all"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _row(op) -> str:
    numpy = ", ".join(_callable_name(f) for f in op.numpy) or "—"
    attrs = ", ".join(f"`{a}`" for a in op.attrs) or "—"
    backends = ", ".join(sorted(op.emit)) or "—"
    grad = "yes" if op.vjp is not None else "—"
    return (f"| `{op.name}` | {numpy} | {_dtypes(op)} | {attrs} | {backends} | {grad} | "
            f"{_cell(op.doc)} |")


def _metadata_section() -> list[str]:
    from ..tracer.tracer import METADATA
    names = ", ".join(_callable_name(f) for f in METADATA)
    return ["## Metadata functions", "",
            f"{names} read only static shapes and dtypes: while tracing they return Python "
            "values, as they do eagerly, and make no op.", ""]


def render() -> str:
    # backends fill their emitter slots when they load: load the Numba one (no Numba import) so
    # the table does not depend on what ran before
    from ..compiler.codegen.structured import install
    install()
    lines = [HEADER]
    total = len(REGISTRY)
    lines.append(f"{total} entries.\n")
    for kind, title in KIND_TITLES:
        ops = sorted((op for op in REGISTRY.values() if op.kind is kind), key=lambda o: o.name)
        if not ops:
            continue
        lines += [f"## {title}", "",
                  "| op | NumPy | dtypes | attributes | backends | grad | description |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_row(op) for op in ops]
        lines.append("")
    lines += _metadata_section()
    return "\n".join(lines).rstrip() + "\n"


def default_path() -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(root, "docs", "ops.md")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = default_path()
    text = render()
    if "--check" in argv:
        try:
            with open(path) as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            print(f"{path} is out of date: run python -m eagerflow.ops.doc", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path} ({len(REGISTRY)} ops)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
