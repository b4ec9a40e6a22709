"""Fusion: goldens and the issue's acceptance cases (through the tracer, interpreter backend)."""
from __future__ import annotations

import numpy as np

import eagerflow as ef
from eagerflow.compiler.passes import fuse
from eagerflow.ir.graph import Const
from eagerflow.ops.registry import REGISTRY, Kind
from eagerflow.testing import assert_same

from _passtest import assert_ir, check_rewrite, run_pass

RNG = np.random.default_rng(0)


def _lower(fn, *args):
    f = ef.function(fn, backend="interpreter")
    low = f.lower(*args)
    assert_same(f(*args), fn(*args))          # and the optimized graph still computes fn
    return low.optimized


def _ops(graph):
    return [n.op for n in graph.nodes]


def _count(graph, op):
    return sum(1 for n in graph.walk() if n.op == op)


def test_five_op_chain_is_one_node():
    x, y = RNG.standard_normal(8), RNG.standard_normal(8)
    g = _lower(lambda x, y: np.tanh(np.exp(x * y) + 1.0) - y * 2.0, x, y)
    assert _ops(g) == ["fused.elementwise"]
    assert len(g.nodes[0].regions[0].nodes) == 6


def test_sum_of_elementwise_is_one_reduce():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    def f(x, y):
        return (x * y + 1).sum()
    g = _lower(f, x, y)
    assert_ir(g, """
        # in: ('tuple', (('tuple', ('*', '*')), ('dict', (), ())))  out: '*'
        func @f(%x: f64[3,4], %y: f64[3,4]) -> f64[] {
          %0 = fused.reduce(%x, %y) {axis=None, keepdims=False, reduce='sum', shape=(3, 4)} : f64[] {
            ^(%a1_0: f64[], %a1_1: f64[]):
              %1 = mul(%a1_0, %a1_1) : f64[]
              %2 = add(%1, 1) : f64[]
              yield %2
          }
          return %0
        }""")


def test_softmax_three_fused_nodes_exp_once():
    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    g = _lower(softmax, RNG.standard_normal((5, 7)).astype(np.float32))
    fused = [n for n in g.nodes if REGISTRY[n.op].kind is Kind.FUSED]
    assert len(fused) <= 3 and len(g.nodes) <= 3
    assert _count(g, "exp") == 1
    red = next(n for n in g.nodes if n.op == "fused.reduce")
    assert red.attrs["reduce"] == "sum" and len(red.outputs) == 2   # the sum, and exp stored
    assert red.outputs[1].type.shape == (5, 7)


def test_relu_matmul_bias_is_one_fused_matmul():
    x, w, b = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5)), RNG.standard_normal(5)
    def f(x, w, b):
        return np.maximum(x @ w + b, 0.0)
    g = _lower(f, x, w, b)
    assert_ir(g, """
        # in: ('tuple', (('tuple', ('*', '*', '*')), ('dict', (), ())))  out: '*'
        func @f(%x: f64[4,3], %w: f64[3,5], %b: f64[5]) -> f64[4,5] {
          %0 = fused.matmul(%x, %w, %b) : f64[4,5] {
            ^(%a1_0: f64[], %a1_1: f64[]):
              %1 = add(%a1_0, %a1_1) : f64[]
              %2 = maximum(%1, 0.0) : f64[]
              yield %2
          }
          return %0
        }""")


def test_matmul_result_needed_elsewhere_not_absorbed():
    x, w = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5))
    g = _lower(lambda x, w: (np.tanh(x @ w) * 2.0, x @ w), x, w)
    assert "matmul" in _ops(g) and "fused.matmul" not in _ops(g)


def test_reduction_over_axis_keepdims_any_reduce():
    x = RNG.standard_normal((2, 3, 4))
    for fn in (lambda x: np.abs(x * 3.0).max(axis=(0, 2), keepdims=True),
               lambda x: np.argmin(np.sin(x) * x, axis=1),
               lambda x: np.all(x * x > 0.5, axis=0)):
        g = _lower(fn, x)
        assert _ops(g) == ["fused.reduce"]


def test_broadcast_smaller_value_is_input():
    """A (3,1) value feeding a (3,4) group is computed once at its own shape, then broadcast."""
    check_rewrite(fuse, """
        func @f(%x: f64[3,4], %c: f64[3,1]) -> f64[3,4] {
          %0 = exp(%c) : f64[3,1]
          %1 = mul(%x, %0) : f64[3,4]
          %2 = add(%1, %x) : f64[3,4]
          return %2
        }""", """
        func @f(%x: f64[3,4], %c: f64[3,1]) -> f64[3,4] {
          %0 = exp(%c) : f64[3,1]
          %1 = fused.elementwise(%x, %0) {shape=(3, 4)} : f64[3,4] {
            ^(%a2_0: f64[], %a2_1: f64[]):
              %2 = mul(%a2_0, %a2_1) : f64[]
              %3 = add(%2, %a2_0) : f64[]
              yield %3
          }
          return %1
        }""")


def test_value_needed_outside_is_stored_once():
    _, changes = check_rewrite(fuse, """
        func @f(%x: f64[4]) -> (f64[4], f64[]) {
          %0 = exp(%x) : f64[4]
          %1 = mul(%0, 2.0) : f64[4]
          %2 = sum(%0) {axis=None, keepdims=False} : f64[]
          %3 = max(%1) {axis=None, keepdims=False} : f64[]
          %4 = add(%2, %3) : f64[]
          return %1, %4
        }""", """
        func @f(%x: f64[4]) -> (f64[4], f64[]) {
          %0, %1 = fused.reduce(%x) {axis=None, keepdims=False, reduce='sum', shape=(4,)} : f64[], f64[4] {
            ^(%a2_0: f64[]):
              %2 = exp(%a2_0) : f64[]
              %3 = mul(%2, 2.0) : f64[]
              yield %2, %3
          }
          %4 = max(%1) {axis=None, keepdims=False} : f64[]
          %5 = add(%0, %4) : f64[]
          return %1, %5
        }""")
    assert changes == ["fuse: %0, %1, %2 -> fused.reduce {shape=(4,)}"]


def test_no_fusion_through_an_outside_path():
    """x -> a -> sum -> c and a -> c: a and c may not share a node (a cycle through sum)."""
    g, _, _ = run_pass(fuse, """
        func @f(%x: f64[4]) -> f64[4] {
          %0 = exp(%x) : f64[4]
          %1 = sum(%0) {axis=None, keepdims=False} : f64[]
          %2 = div(%0, %1) : f64[4]
          %3 = neg(%2) : f64[4]
          return %3
        }""")
    assert _ops(g) == ["fused.reduce", "fused.elementwise"]
    assert _count(g, "exp") == 1


def test_weak_nodes_and_single_ops_stay_plain():
    check_rewrite(fuse, """
        func @f(%x: f64[4], %s: ~f64[]) -> f64[4] {
          %0 = mul(%s, 2.0) : ~f64[]
          %1 = add(%0, 1.0) : ~f64[]
          %2 = add(%x, %1) : f64[4]
          return %2
        }""", None)


def test_constants_in_bodies():
    """0-d constants (weak or strong) stay in the body; array constants become inputs."""
    c = Const(np.arange(4.0))
    g, _, _ = run_pass(fuse, f"""
        func @f(%x: f32[4]) -> f64[4] {{
          %0 = mul(%x, 0.5) : f32[4]
          %1 = add(%0, 1.0:f32) : f32[4]
          %2 = sub(%1, const<f64[4]> sha{c.digest}) : f64[4]
          return %2
        }}""", {c.digest: c.data})
    (n,) = g.nodes
    assert n.inputs[1] is not None and isinstance(n.inputs[1], Const) and n.inputs[1].type.ndim == 1
    body = n.regions[0]
    assert isinstance(body.nodes[0].inputs[1], Const) and body.nodes[0].inputs[1].type.weak
    assert isinstance(body.nodes[1].inputs[1], Const) and not body.nodes[1].inputs[1].type.weak


def test_fuse_is_idempotent():
    x = RNG.standard_normal((3, 4))
    g = _lower(lambda x: np.exp(x - x.max(1, keepdims=True)).sum(1) * np.sin(x).sum(), x)
    g2, changes = fuse(g)
    assert g2 is g and not changes


def test_changes_name_nodes():
    x = RNG.standard_normal(8)
    f = ef.function(lambda x: np.sqrt(np.abs(x) + 1.0) * 2.0, backend="interpreter")
    rec = {r.name: r for r in f.lower(x).passes}
    assert rec["fuse"].changes == ["fuse: %0, %1, %2, %3 -> fused.elementwise {shape=(8,)}"]


def test_siblings_reading_one_array_are_one_node():
    x, s = RNG.standard_normal(16), 3.0
    g = _lower(lambda x, s: (np.sin(x) * 0.75 + np.exp(x * 0.01) / s, np.cos(x) - s), x, s)
    assert _ops(g) == ["fused.elementwise"] and len(g.nodes[0].outputs) == 2


def test_siblings_feeding_reductions_stay_apart():
    """Each is absorbed by its own reduction, which stores nothing; merged, one would store."""
    x = RNG.standard_normal((4, 6))
    g = _lower(lambda x: (np.sin(x).sum(axis=1), np.cos(x).max(axis=1)), x)
    assert _ops(g) == ["fused.reduce", "fused.reduce"]
    assert all(len(n.outputs) == 1 for n in g.nodes)


def test_sibling_of_a_matmul_epilogue_stays_apart():
    x, w, y = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5)), RNG.standard_normal((4, 5))
    g = _lower(lambda x, w, y: (np.maximum(x @ w + y, 0.0), y * 2.0 + 1.0), x, w, y)
    assert sorted(_ops(g)) == ["fused.elementwise", "fused.matmul"]


def test_effects_keep_program_order():
    # print('a', x*2); print('b'); print('c', x+1): x*2 and x+1 may fuse, but the group must
    # run before print('a'), not after print('b').
    g, _, _ = run_pass(fuse, """
        func @f(%x: f64[3]) -> f64[3] {
          %0 = mul(%x, 2) : f64[3]
          print(%0) {end='\\n', parts=('a', None), sep=' '} : ()
          print() {end='\\n', parts=('b',), sep=' '} : ()
          %1 = add(%x, 1) : f64[3]
          print(%1) {end='\\n', parts=('c', None), sep=' '} : ()
          return %x
        }""")
    prints = [n.attrs["parts"][0] for n in g.nodes if n.op == "print"]
    assert prints == ["a", "b", "c"]
    assert _ops(g) == ["fused.elementwise", "print", "print", "print"]


def test_group_does_not_span_effects_that_order_it():
    # %0 feeds a print before the check; %2 needs the check's result. One group holding both
    # would have to run before the print and after the check: the pass keeps them apart.
    g, _, _ = run_pass(fuse, """
        func @f(%x: f64[3], %ok: bool[]) -> f64[3] {
          %0 = mul(%x, 2) : f64[3]
          print(%0) {end='\\n', parts=('a', None), sep=' '} : ()
          %1 = check(%ok, %x) {what='range_step'} : f64[3]
          %2 = add(%1, 1) : f64[3]
          %3 = add(%0, %2) : f64[3]
          return %3
        }""")
    assert _ops(g) == ["mul", "print", "check", "fused.elementwise"]


def test_prints_run_in_program_order(capfd):
    @ef.function
    def f(x):
        ef.print("a", x * 2)
        ef.print("b")
        ef.print("c", x + 1)
        return x
    capfd.readouterr()
    f(np.arange(3.0))
    assert capfd.readouterr().out == "a [0. 2. 4.]\nb\nc [1. 2. 3.]\n"
