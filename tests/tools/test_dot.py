"""Graphviz DOT output and rendering (no Numba: interpreter backend)."""
import os
import re
import stat
import sys

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.ir.dot import GraphvizNotFoundError, render, to_dot


def model(x, y):
    h = np.sin(x) * y + 1.0
    return h.sum(), x @ np.ones((4, 2))


@pytest.fixture(scope="module")
def low():
    return ef.function(model, backend="interpreter").lower(np.ones(4), np.ones(4))


def _balanced(text):
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0
    return depth == 0


def test_optimized_dot_structure(low):
    text = low.dot()
    assert text.startswith('digraph "model" {') and text.rstrip().endswith("}")
    assert _balanced(re.sub(r'"(\\.|[^"\\])*"', '""', text))
    # every fused node is a cluster holding a nested region cluster
    fused = [n for n in low.optimized.nodes if n.regions]
    assert fused
    assert len(re.findall(r"subgraph cluster_\d+ \{", text)) == len(fused)
    assert len(re.findall(r"subgraph cluster_\d+_0 \{", text)) == len(fused)
    assert 'label="fused.' in text
    # parameters with their types, typed edges, the return node, an array constant
    assert 'label="x\\nf64[4]"' in text
    assert '[label="f64[4]", tooltip="f64[4]"]' in text
    assert 'label="return"' in text and 'shape="note"' in text
    # the user's file:line in tooltips
    line = model.__code__.co_firstlineno + 1
    assert f'tooltip="{__file__}:{line}' in text


def test_edges_are_top_level(low):
    """An edge declared inside a cluster would pull its endpoints into it."""
    depth, bad = 0, []
    for line in low.dot().splitlines():
        if "->" in line and depth > 1:
            bad.append(line)
        depth += line.count("subgraph cluster")
        depth -= line.strip() == "}"
        if line.startswith("digraph"):
            depth = 1
    assert not bad


def test_every_stage(low):
    traced = low.dot("traced")
    assert "subgraph cluster" not in traced and 'label="sin' in traced
    for rec in low.passes:
        assert low.dot(rec.name).startswith("digraph")
    with pytest.raises(ValueError, match="no stage 'nope'"):
        low.dot("nope")
    assert to_dot(low.optimized) == low.dot()


def test_multiple_outputs_and_escaping():
    from eagerflow.ir.graph import Graph, Node, Value
    from eagerflow.ir.types import TensorType
    t = TensorType(np.float64, (3,))
    x = Value(t, "x")
    n = Node("divmod", [x, x], {}, [t, t], loc=('dir/we"ird.py', 7))
    g = Graph('g"q', [x], [n], list(n.outputs))
    text = to_dot(g)
    assert '#0: f64[3]' in text and '#1: f64[3]' in text
    assert 'digraph "g\\"q"' in text and 'we\\"ird.py:7' in text


def _no_dot_path(tmp_path):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    return str(empty)


def test_render_without_graphviz(low, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _no_dot_path(tmp_path))
    with pytest.raises(GraphvizNotFoundError) as info:
        low.render(tmp_path / "g.svg")
    msg = str(info.value)
    assert "apt install graphviz" in msg and "viz" in msg and ".dot()" in msg
    assert isinstance(info.value, OSError) and isinstance(info.value, ef.errors.EagerflowError)
    assert not (tmp_path / "g.svg").exists()


def test_render_dot_suffix_needs_no_graphviz(low, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _no_dot_path(tmp_path))
    out = low.render(tmp_path / "g.dot", stage="traced")
    assert open(out).read() == low.dot("traced")
    with pytest.raises(ValueError, match="cannot render"):
        low.render(tmp_path / "g.bmp")


@pytest.mark.skipif(sys.platform == "win32", reason="shell script stands in for dot")
def test_render_calls_dot(low, tmp_path, monkeypatch):
    """A stand-in `dot` on PATH records its arguments and writes the output file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    fake.write_text('#!/bin/sh\necho "$@" > "%s"\nfor a; do out="$a"; done\n'
                    'cat > "$out"\n' % (tmp_path / "args.txt"))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    out = low.render(tmp_path / "g.png")
    assert (tmp_path / "args.txt").read_text().split()[0] == "-Tpng"
    assert open(out).read() == low.dot()
    render(low.dot(), tmp_path / "h.svg")
    assert (tmp_path / "args.txt").read_text().split()[0] == "-Tsvg"
