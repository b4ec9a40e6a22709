"""Helpers for the optimizer's tests: IR text in, IR text out (no tracer involved)."""
from __future__ import annotations

import textwrap

from eagerflow.ir import parse_graph, print_graph, verify


def ir(graph) -> str:
    return print_graph(graph, locations=False)


def run_pass(pass_fn, text: str, constants=None):
    """Parse `text`, run one pass, verify; return (graph_after, changes, graph_before)."""
    before = parse_graph(textwrap.dedent(text).strip(), constants)
    verify(before)
    printed = ir(before)
    after, changes = pass_fn(before)
    verify(after)
    assert ir(before) == printed, "the pass mutated its input graph"
    return after, changes, before


def assert_ir(graph, expected: str):
    got = ir(graph).strip()
    want = textwrap.dedent(expected).strip()
    assert got == want, f"IR differs.\n--- got:\n{got}\n--- expected:\n{want}"


def check_rewrite(pass_fn, before: str, after: str, n_changes=None):
    """Golden before/after: `after` is the expected IR (`None`: expect no change)."""
    g, changes, orig = run_pass(pass_fn, before)
    if after is None:
        assert not changes and g is orig, f"expected no rewrite, got {changes}"
        return g, changes
    assert_ir(g, after)
    assert changes
    if n_changes is not None:
        assert len(changes) == n_changes, changes
    return g, changes
