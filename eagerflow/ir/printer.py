"""The IR text format (docs/ir.md is the reference). One node a line, values renumbered %0...
in print order, parameters keep the user's names, attributes sorted, `# file:line` comments."""
from __future__ import annotations

import math
import os
import re

import numpy as np

from .graph import Const, Graph, Node, Value
from .types import DTYPE_SHORT

LOC_COLUMN = 50


def format_literal(v) -> str:
    """Python-literal text for an attribute or a scalar; inf and nan print bare."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(format_literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{format_literal(k)}: {format_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def format_const(c: Const) -> str:
    if c.type.weak:
        return format_literal(c.data)
    if c.is_scalar:
        return f"{format_literal(c.data.item())}:{DTYPE_SHORT[c.type.dtype]}"
    return f"const<{c.type}> sha{c.digest}"


class _Namer:
    def __init__(self):
        self.names: dict[int, str] = {}
        self.counter = 0

    def define_param(self, v: Value, fallback: str) -> str:
        name = v.name if v.name and v.name.isidentifier() and v.name not in self.names.values() \
            else fallback
        self.names[v.id] = name
        return name

    def define(self, v: Value) -> str:
        name = str(self.counter)
        self.counter += 1
        self.names[v.id] = name
        return name

    def ref(self, v: Value) -> str:
        if isinstance(v, Const):
            return format_const(v)
        try:
            return "%" + self.names[v.id]
        except KeyError:
            return f"%<undefined {v!r}>"


def _loc_text(loc) -> str:
    return f"{os.path.basename(loc[0])}:{loc[1]}" if loc else ""


def _with_loc(line: str, loc, locations: bool) -> str:
    if not (locations and loc):
        return line
    return f"{line.ljust(LOC_COLUMN)}  # {_loc_text(loc)}"


def _node_lines(node: Node, namer: _Namer, indent: str, locations: bool) -> list[str]:
    args = ", ".join(namer.ref(v) for v in node.inputs)
    outs = ", ".join("%" + namer.define(v) for v in node.outputs)
    attrs = ""
    if node.attrs:
        attrs = " {" + ", ".join(f"{k}={format_literal(v)}" for k, v in node.attrs.items()) + "}"
    types = ", ".join(str(v.type) for v in node.outputs)
    head = f"{indent}{outs + ' = ' if outs else ''}{node.op}({args}){attrs} : {types or '()'}"
    if not node.regions:
        return [_with_loc(head, node.loc, locations)]
    lines = [_with_loc(head + " {", node.loc, locations)]
    for i, region in enumerate(node.regions):
        if i:
            lines.append(f"{indent}}} {{")
        lines += _region_lines(region, namer, indent + "  ", locations)
    lines.append(f"{indent}}}")
    return lines


def _region_lines(g: Graph, namer: _Namer, indent: str, locations: bool) -> list[str]:
    params = ", ".join(f"%{namer.define_param(p, f'a{namer.counter}_{i}')}: {p.type}"
                       for i, p in enumerate(g.params))
    lines = [f"{indent}^({params}):"]
    for n in g.nodes:
        lines += _node_lines(n, namer, indent + "  ", locations)
    lines.append(f"{indent}  yield {', '.join(namer.ref(v) for v in g.results)}")
    return lines


def _symbol(name: str) -> str:
    """A function name the parser reads back: `<lambda>` prints as `_lambda_`."""
    name = re.sub(r"[^\w.]", "_", name or "f")
    return name if name[0].isalpha() or name[0] == "_" else "_" + name


def print_graph(g: Graph, locations: bool = True) -> str:
    namer = _Namer()
    params = ", ".join(f"%{namer.define_param(p, f'arg{i}')}: {p.type}" for i, p in enumerate(g.params))
    rtypes = [str(v.type) for v in g.results]
    rtext = rtypes[0] if len(rtypes) == 1 else "(" + ", ".join(rtypes) + ")"
    lines = []
    if g.in_tree is not None or g.out_tree is not None:
        lines.append(f"# in: {format_literal(g.in_tree)}  out: {format_literal(g.out_tree)}")
    lines.append(f"func @{_symbol(g.name)}({params}) -> {rtext} {{")
    for n in g.nodes:
        lines += _node_lines(n, namer, "  ", locations)
    lines.append(f"  return {', '.join(namer.ref(v) for v in g.results)}")
    lines.append("}")
    return "\n".join(lines)
