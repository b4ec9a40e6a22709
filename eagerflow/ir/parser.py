"""Read the text format (docs/ir.md) back into a Graph. Never evaluates code: literals go through
a small whitelist over Python's own `ast`."""
from __future__ import annotations

import ast
import re

import numpy as np

from ..errors import ParseError
from .graph import Const, Graph, Node, Value
from .types import SHORT_NAMES, TensorType, parse_type

_LOC = re.compile(r"^(.*?)\s+# (\S+):(\d+)$")
_NODE = re.compile(r"^(?:(%[\w.]+(?:, %[\w.]+)*) = )?([\w.]+)\((.*)$")
_CONST = re.compile(r"^const<([^>]*)> sha([0-9a-f]+)$")
_NAMES = {"inf": float("inf"), "nan": float("nan"), "None": None, "True": True, "False": False}


def parse_literal(text: str):
    """A Python literal, plus bare inf/nan; anything else is a ParseError."""
    try:
        return _lit(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError) as e:
        raise ParseError(f"bad literal {text!r}: {e}", loc=None) from None


def _lit(n):
    if isinstance(n, ast.Constant):
        return n.value
    if isinstance(n, ast.Name) and n.id in _NAMES:
        return _NAMES[n.id]
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        v = _lit(n.operand)
        return -v if isinstance(n.op, ast.USub) else v
    if isinstance(n, (ast.Tuple, ast.List)):
        return tuple(_lit(e) for e in n.elts)
    if isinstance(n, ast.Dict):
        return {_lit(k): _lit(v) for k, v in zip(n.keys, n.values)}
    raise ValueError(f"not a literal: {ast.dump(n)}")


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts]


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing text[start] (quotes respected)."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in pairs:
            depth += 1
        elif ch in pairs.values():
            depth -= 1
            if depth == 0:
                return i
    raise ParseError(f"unbalanced brackets in {text!r}", loc=None)


class _Parser:
    def __init__(self, text: str, constants: dict | None):
        self.lines = [l.rstrip() for l in text.strip().splitlines() if l.strip()]
        self.pos = 0
        self.constants = constants or {}

    def fail(self, msg):
        line = self.lines[self.pos - 1] if 0 < self.pos <= len(self.lines) else ""
        raise ParseError(f"IR line {self.pos}: {msg}: {line.strip()!r}", loc=None)

    def next(self) -> str:
        if self.pos >= len(self.lines):
            self.fail("unexpected end of text")
        self.pos += 1
        return self.lines[self.pos - 1].strip()

    def operand(self, text: str, scope: dict) -> Value:
        text = text.strip()
        if text.startswith("%"):
            if text[1:] not in scope:
                self.fail(f"use of undefined value {text}")
            return scope[text[1:]]
        m = _CONST.match(text)
        if m:
            t = parse_type(m.group(1))
            if m.group(2) not in self.constants:
                self.fail(f"no data for constant sha{m.group(2)}")
            return Const(np.asarray(self.constants[m.group(2)]).reshape(t.shape), t)
        lit, _, dt = text.rpartition(":") if ":" in text else (text, "", "")
        if dt:
            if dt not in SHORT_NAMES:
                self.fail(f"unknown dtype {dt}")
            return Const(np.asarray(parse_literal(lit), dtype=SHORT_NAMES[dt]),
                         TensorType(SHORT_NAMES[dt], ()))
        v = parse_literal(text)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(f"bad operand {text!r}")
        return Const(v)

    def params(self, text: str, scope: dict) -> list[Value]:
        out = []
        for p in split_top(text):
            name, _, t = p.partition(":")
            name = name.strip().lstrip("%")
            v = Value(parse_type(t), name)
            scope[name] = v
            out.append(v)
        return out

    def body(self, scope: dict, end: str) -> tuple[list[Node], list[Value], str]:
        nodes = []
        while True:
            line = self.next()
            if line.startswith(end + " ") or line == end:
                rest = line[len(end):].strip()
                return nodes, [self.operand(a, scope) for a in split_top(rest)], line
            nodes.append(self.node(line, scope))

    def node(self, line: str, scope: dict) -> Node:
        loc = None
        m = _LOC.match(line)
        if m:
            line, loc = m.group(1), (m.group(2), int(m.group(3)))
        m = _NODE.match(line)
        if not m:
            self.fail("expected a node")
        outs, op, rest = m.group(1), m.group(2), "(" + m.group(3)
        close = _matching(rest, 0)
        args = [self.operand(a, scope) for a in split_top(rest[1:close])]
        rest = rest[close + 1:].strip()
        attrs = {}
        if rest.startswith("{"):
            close = _matching(rest, 0)
            for item in split_top(rest[1:close]):
                k, _, v = item.partition("=")
                attrs[k.strip()] = parse_literal(v)
            rest = rest[close + 1:].strip()
        if not rest.startswith(":"):
            self.fail("expected ': types'")
        rest = rest[1:].strip()
        has_region = rest.endswith("{")
        rest = rest[:-1].strip() if has_region else rest
        types = [] if rest == "()" else [parse_type(t) for t in split_top(rest)]
        regions = self.regions() if has_region else []
        node = Node(op, args, attrs, types, loc, regions)
        names = [o.strip().lstrip("%") for o in outs.split(",")] if outs else []
        if len(names) != len(node.outputs):
            self.fail(f"{len(names)} names for {len(node.outputs)} results")
        for name, v in zip(names, node.outputs):
            scope[name] = v
        return node

    def regions(self) -> list[Graph]:
        regions = []
        while True:
            head = self.next()
            if not (head.startswith("^(") and head.endswith("):")):
                self.fail("expected a region header ^(...):")
            scope: dict = {}
            params = self.params(head[2:-2], scope)
            nodes, results, _ = self.body(scope, "yield")
            regions.append(Graph("region", params, nodes, results))
            closing = self.next()
            if closing == "}":
                return regions
            if closing != "} {":
                self.fail("expected '}' or '} {' after a region")

    def graph(self) -> Graph:
        in_tree = out_tree = None
        if self.lines and self.lines[0].startswith("# in:"):
            head = self.next()[len("# in:"):]
            a, _, b = head.partition("  out:")
            in_tree, out_tree = parse_literal(a), parse_literal(b)
        line = self.next()
        m = re.match(r"^func @([\w.]+)\((.*)\) -> (.*) \{$", line)
        if not m:
            self.fail("expected 'func @name(...) -> types {'")
        scope: dict = {}
        params = self.params(m.group(2), scope)
        nodes, results, _ = self.body(scope, "return")
        if self.next() != "}":
            self.fail("expected '}' closing the function")
        return Graph(m.group(1), params, nodes, results, in_tree, out_tree)


def parse_graph(text: str, constants: dict | None = None) -> Graph:
    """Parse printed IR. `constants` maps the digests of array constants to their data."""
    return _Parser(text, constants).graph()
