"""Semantic preservation: every pass, and the whole pipeline, on random programs.

The interpreter must give bit-identical results (values, dtypes, shapes, NaN positions, signs of
zero) before and after, because no pass reorders float arithmetic; the verifier must accept the
result; the input graph must not be mutated. Programs come from eagerflow.testing.programs().
"""
from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings

from eagerflow.compiler.passes import (eliminate_common_subexpressions, eliminate_dead_code,
                                       fold_constants, fuse, simplify)
from eagerflow.compiler.pipeline import optimize
from eagerflow.ir import print_graph, verify
from eagerflow.ops.registry import REGISTRY, Kind
from eagerflow.runtime.interpret import interpret
from eagerflow.testing import assert_same, programs

# Thousands of programs per run in all: ~400 per pass, more under the "long" profile.
N = max(400, settings.default.max_examples * 4)
PROPERTY = settings(max_examples=N, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PASSES = {"fold": fold_constants, "simplify": simplify, "cse": eliminate_common_subexpressions,
          "dce": eliminate_dead_code, "fuse": fuse}


def _run(graph, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interpret(graph, list(args))


def _check(before, after, args):
    verify(after)
    assert_same(_run(after, args), _run(before, args))


@pytest.mark.parametrize("name", list(PASSES))
@PROPERTY
@given(prog=programs())
def test_pass_preserves_meaning(name, prog):
    graph, args = prog
    text = print_graph(graph)
    after, changes = PASSES[name](graph)
    assert print_graph(graph) == text, "pass mutated its input"
    assert (after is graph) == (not changes), "changes must be reported exactly when rewriting"
    _check(graph, after, args)


@PROPERTY
@given(prog=programs())
def test_pipeline_preserves_meaning(prog):
    graph, args = prog
    optimized, records = optimize(graph)      # verify_each is on (tests/conftest.py)
    _check(graph, optimized, args)
    assert [r.name for r in records] == ["fold", "simplify", "cse", "dce", "fuse", "dce"]
    # Structural invariants of the result.
    used = {v.id for n in optimized.nodes for v in n.inputs} | {v.id for v in optimized.results}
    for n in optimized.nodes:
        assert not REGISTRY[n.op].pure or any(v.id in used for v in n.outputs), \
            f"dead node {n.op} survived dce"
    # A second run finds nothing more to fold, simplify or deduplicate.
    again, records2 = optimize(optimized)
    for r in records2:
        assert r.name == "fuse" or not r.changes, (r.name, r.changes)


@PROPERTY
@given(prog=programs())
def test_fused_elementwise_is_maximal(prog):
    """After fuse, no two fusible elementwise nodes of equal shape feed each other directly
    (both outside regions) unless joining them would close a cycle through another node."""
    graph, args = prog
    after, _ = fuse(graph)
    from eagerflow.compiler.passes.fuse import _fusible
    producers = {v.id: n for n in after.nodes for v in n.outputs}
    for n in after.nodes:
        if not _fusible(n):
            continue
        for v in n.inputs:
            p = producers.get(v.id)
            if p is not None and _fusible(p) and p.output.type.shape == n.output.type.shape:
                # the only reason to keep them apart: p's other users lead back into n
                assert _reaches_via_other(after, p, n), (print_graph(after))


def _reaches_via_other(graph, p, n):
    """Is there a path p -> x -> ... -> n through a node x other than n?"""
    order = {id(m): i for i, m in enumerate(graph.nodes)}
    defined_by = {v.id: m for m in graph.nodes for v in m.outputs}
    seen = {id(p)}
    frontier = [p]
    while frontier:
        m = frontier.pop()
        for u in graph.nodes:
            if id(u) in seen or order[id(u)] <= order[id(m)]:
                continue
            if any(defined_by.get(v.id) is m for v in u.inputs):
                if u is n:
                    if m is not p:
                        return True
                    continue
                seen.add(id(u))
                frontier.append(u)
    return False


def test_all_elementwise_graph_fuses_completely():
    """On a graph of chained same-shape elementwise ops, no elementwise node stays outside."""
    from _passtest import run_pass
    g, _, _ = run_pass(fuse, """
        func @f(%x: f32[5], %y: f32[5]) -> (f32[5], f32[5]) {
          %0 = mul(%x, %y) : f32[5]
          %1 = sin(%0) : f32[5]
          %2 = add(%1, %x) : f32[5]
          %3 = neg(%0) : f32[5]
          %4 = maximum(%2, %3) : f32[5]
          return %4, %3
        }""")
    assert [n.op for n in g.nodes] == ["fused.elementwise"]
    assert all(REGISTRY[n.op].kind is not Kind.ELEMENTWISE for n in g.nodes)


def test_fuse_softmax_gradient_has_no_cycle():
    """Regression: fuse asserted "fusion made a cycle" on softmax's gradient graph. Two groups,
    each convex on its own, needed each other's outputs through a plain sum/reshape; the cycle
    check must treat the other groups as whole units (fuse.py, _Plan.acyclic)."""
    import numpy as np

    import eagerflow as ef

    def softmax(x):     # exp written twice, as in the report (cse merges the copies)
        return (np.exp(x - x.max(axis=-1, keepdims=True))
                / np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True))

    def loss(x, r):
        return (softmax(x) * r).sum()

    rng = np.random.default_rng(0)
    x, r = rng.random((3, 4)), rng.random((3, 4))
    low = ef.function(ef.grad(loss, argnums=(0,)), backend="interpreter").lower(x, r)
    assert [p.name for p in low.passes] == ["fold", "simplify", "cse", "dce", "fuse", "dce"]
    verify(low.optimized)
    assert any(n.op.startswith("fused.") for n in low.optimized.nodes)
    assert_same(_run(low.optimized, [x, r]), _run(low.traced, [x, r]))
    # fuse alone on its input graph, and a second fuse run, are acyclic and exact too
    before_fuse = low.passes[3].graph
    after, changes = fuse(before_fuse)
    assert changes
    _check(before_fuse, after, [x, r])
    _check(after, fuse(after)[0], [x, r])
