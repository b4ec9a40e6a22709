"""Graphviz DOT for any IR graph (traced, after a pass, optimized).

    text = to_dot(graph)            # or fn.lower(x).dot(stage="traced")

Layout: parameters are ellipses, ops boxes, array constants notes, weak/0-d constants plain
text, the graph's results one `return` node. Every edge carries the type of the value it moves
(`f64[1000,3]`; `#i` first for ops with several outputs). A node with regions (fused kernels,
control flow) is a cluster `subgraph cluster_N` holding the op itself and, nested, one cluster per
region with its block arguments, its body and its `yield`. When a region has one block argument per
node input (fused kernels), the producers are wired straight to the block arguments; otherwise to
the op. Each op's tooltip (SVG hover) is the user's `file:line` that created it, plus its attributes.
"""
from __future__ import annotations

import os

from ..errors import EagerflowError
from .graph import Const, Graph, Node, Value
from .printer import format_const, format_literal

__all__ = ["to_dot", "render", "GraphvizNotFoundError"]


class GraphvizNotFoundError(EagerflowError, FileNotFoundError):
    """The Graphviz `dot` program, needed to render SVG/PNG, is not on PATH."""


_FORMATS = ("svg", "png", "pdf", "dot")


def render(dot_text: str, path, format: str | None = None) -> str:
    """Write `dot_text` rendered by Graphviz's `dot` to `path` (format from the suffix:
    .svg, .png, .pdf; .dot writes the text itself). Returns the path."""
    import shutil
    import subprocess
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(f"cannot render to {fmt!r}: use one of .svg, .png, .pdf, .dot")
    if fmt == "dot":
        with open(path, "w") as f:
            f.write(dot_text)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFoundError(
            "rendering needs the Graphviz `dot` program, which is not on PATH. Install Graphviz "
            "(apt install graphviz, brew install graphviz, conda install graphviz or "
            "https://graphviz.org/download; the Python `viz` extra, pip install 'eagerflow[viz]', "
            "does not include the program), or write the DOT text with .dot() / "
            "`eagerflow inspect --dot` and render it elsewhere", loc=())
    proc = subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot_text.encode(),
                          capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise EagerflowError(f"Graphviz `dot` failed (exit {proc.returncode}): "
                             f"{err[0] if err else 'no message'}", loc=())
    return path


def _q(text: str) -> str:
    """A DOT double-quoted string (newlines become centered line breaks)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw) -> str:
    items = [f"{k}={_q(v)}" for k, v in kw.items() if v is not None]
    return " [" + ", ".join(items) + "]" if items else ""


def _loc(loc) -> str | None:
    if not loc:
        return None
    return f"{loc[0]}:{loc[1]}"


def _short_loc(loc) -> str:
    return f"{os.path.basename(loc[0])}:{loc[1]}" if loc else ""


class _Dot:
    def __init__(self):
        self.lines: list[str] = []
        self.counter = 0
        self.clusters = 0
        self.producer: dict[int, tuple[str, int, int]] = {}   # value id -> (dot id, index, count)
        self.edges: list[str] = []   # emitted at the top level: an edge inside a cluster would
        #                              pull its endpoints into that cluster

    def new_id(self, prefix="n") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, indent: str, text: str):
        self.lines.append(indent + text)

    def edge(self, indent: str, v: Value, dst: str, extra: str = ""):
        """An edge from the producer of `v` (a constant gets its own small node) to `dst`."""
        if isinstance(v, Const):
            src = self.new_id("c")
            text = format_const(v)
            if v.is_scalar:
                self.emit(indent, f"{src}{_attrs(label=text, shape='plaintext', fontsize='9')};")
            else:
                self.emit(indent, f"{src}{_attrs(label=text.replace(' ', chr(10)), shape='note', tooltip=text)};")
            label = str(v.type)
        else:
            src, i, count = self.producer.get(v.id, (None, 0, 1))
            if src is None:   # undefined (a broken graph): still draw something
                src = self.new_id("u")
                self.emit(indent, f"{src}{_attrs(label=f'undefined {v!r}', shape='octagon', color='red')};")
            label = f"#{i}: {v.type}" if count > 1 else str(v.type)
        self.edges.append(f"{src} -> {dst}{_attrs(label=label, tooltip=label)}{extra};")

    def define(self, node_id: str, outputs):
        for i, o in enumerate(outputs):
            self.producer[o.id] = (node_id, i, len(outputs))

    def node(self, n: Node, indent: str):
        attrs = ", ".join(f"{k}={format_literal(v)}" for k, v in n.attrs.items())
        where = _loc(n.loc)
        tip = "\n".join(x for x in (where, f"{n.op}" + (f" {{{attrs}}}" if attrs else "")) if x)
        label = n.op
        if n.attrs and len(attrs) <= 40:
            label += "\n{" + attrs + "}"
        if n.loc:
            label += "\n" + _short_loc(n.loc)
        nid = self.new_id()
        if not n.regions:
            self.emit(indent, f"{nid}{_attrs(label=label, shape='box', tooltip=tip)};")
            for v in n.inputs:
                self.edge(indent, v, nid)
            self.define(nid, n.outputs)
            return
        self.clusters += 1
        cid = self.clusters
        self.emit(indent, f"subgraph cluster_{cid} {{")
        inner = indent + "  "
        self.emit(inner, f"label={_q(n.op)}; tooltip={_q(tip)}; style=\"rounded,filled\"; "
                         f"fillcolor=\"#eef3fb\"; color=\"#6a8ac7\";")
        direct = len(n.regions) == 1 and len(n.regions[0].params) == len(n.inputs)
        if not direct:
            self.emit(inner, f"{nid}{_attrs(label=label, shape='box', style='bold', tooltip=tip)};")
            for v in n.inputs:
                self.edge(inner, v, nid)
        for r, region in enumerate(n.regions):
            self.emit(inner, f"subgraph cluster_{cid}_{r} {{")
            rin = inner + "  "
            self.emit(rin, f"label={_q(f'region {r}')}; style=dashed; color=\"#999999\";")
            for i, p in enumerate(region.params):
                pid = self.new_id("a")
                self.emit(rin, f"{pid}{_attrs(label=f'^{i}: {p.type}', shape='ellipse', style='dashed', tooltip=f'block argument {i}')};")
                self.producer[p.id] = (pid, 0, 1)
                if direct:
                    self.edge(inner, n.inputs[i], pid)
            for sub in region.nodes:
                self.node(sub, rin)
            yid = self.new_id("y")
            self.emit(rin, f"{yid}{_attrs(label='yield', shape='invhouse', tooltip=f'region {r} yields')};")
            for v in region.results:
                self.edge(rin, v, yid)
            self.emit(inner, "}")
            if direct:
                self.emit(inner, f"{nid}{_attrs(label=label, shape='box', style='bold', tooltip=tip)};")
            self.edges.append(f"{yid} -> {nid} [style=dotted, arrowhead=none];")
        self.emit(indent, "}")
        self.define(nid, n.outputs)


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text for `graph` (any stage); render with `dot -Tsvg` or Lowered.render."""
    d = _Dot()
    d.emit("", f"digraph {_q(graph.name or 'f')} {{")
    d.emit("  ", "rankdir=TB; compound=true;")
    d.emit("  ", 'node [fontname="monospace", fontsize=10]; edge [fontname="monospace", fontsize=9];')
    d.emit("  ", f"label={_q('@' + (graph.name or 'f'))}; labelloc=t;")
    for i, p in enumerate(graph.params):
        pid = d.new_id("p")
        name = p.name or f"arg{i}"
        label = f"{name}\n{p.type}"
        d.emit("  ", pid + _attrs(label=label, shape="ellipse", style="filled", fillcolor="#fdf6e3",
                                  tooltip=f"parameter {name}: {p.type}") + ";")
        d.producer[p.id] = (pid, 0, 1)
    for n in graph.nodes:
        d.node(n, "  ")
    rid = d.new_id("r")
    d.emit("  ", f"{rid}{_attrs(label='return', shape='invhouse', style='filled', fillcolor='#e8f5e9', tooltip=f'{len(graph.results)} result(s)')};")
    for v in graph.results:
        d.edge("  ", v, rid)
    for e in d.edges:
        d.emit("  ", e)
    d.emit("", "}")
    return "\n".join(d.lines) + "\n"
