"""The cond / while / print ops: IR text round trip, verifier, interpreter, passes in regions."""
import numpy as np
import pytest

import eagerflow as ef
from eagerflow.compiler.pipeline import optimize
from eagerflow.errors import VerificationError
from eagerflow.ir import parse_graph, print_graph, verify
from eagerflow.runtime.interpret import interpret


def lower(f, *args, **kw):
    return ef.function(f, backend="interpreter", **kw).lower(*args)


def count(graph, op):
    return sum(1 for n in graph.walk() if n.op == op)


def loop_sum(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            s += x[i]
        else:
            s -= 1.0
    return s


def test_round_trip_and_verify_regions():
    low = lower(loop_sum, np.arange(4.0) - 1, 3)
    for g in (low.traced, low.optimized):
        verify(g)
        text = print_graph(g)
        g2 = parse_graph(text, g.constants())
        verify(g2)
        assert print_graph(g2) == text
        args = [np.arange(4.0) - 1, 3]
        assert interpret(g2, args) == interpret(g, args)
    assert count(low.optimized, "while") == 1 and count(low.optimized, "cond") == 1


def test_golden_text():
    low = lower(lambda x: ef.cond(x.sum() > 0, lambda: x * 2.0, lambda: -x), np.ones(3))
    assert print_graph(low.traced, locations=False).splitlines()[1:] == """\
func @_lambda_(%x: f64[3]) -> f64[3] {
  %0 = sum(%x) {axis=None, keepdims=False} : f64[]
  %1 = gt(%0, 0) : bool[]
  %2 = cond(%1, %x) : f64[3] {
    ^(%a3_0: f64[3]):
      %3 = mul(%a3_0, 2.0) : f64[3]
      yield %3
  } {
    ^(%a4_0: f64[3]):
      %4 = neg(%a4_0) : f64[3]
      yield %4
  }
  return %2
}""".splitlines()


def test_verifier_rejects_mismatched_block_arguments():
    text = """func @f(%x: f64[], %p: bool[]) -> f64[] {
  %0 = cond(%p, %x) : f64[] {
    ^(%a: f32[]):
      yield %a
  } {
    ^(%b: f64[]):
      yield %b
  }
  return %0
}"""
    with pytest.raises(VerificationError):
        verify(parse_graph(text))


def test_verifier_rejects_body_changing_types():
    text = """func @f(%x: f64[]) -> f64[] {
  %0 = while(%x) {carried=1} : f64[] {
    ^(%a: f64[]):
      %1 = lt(%a, 10.0) : bool[]
      yield %1
  } {
    ^(%b: f64[]):
      %2 = astype(%b) {dtype='float32'} : f32[]
      yield %2
  }
  return %0
}"""
    with pytest.raises(VerificationError, match="carries|body yields"):
        verify(parse_graph(text))


def test_fold_inlines_cond_on_constant_predicate():
    def f(x):
        flag = np.ones_like(x).sum() > 0     # traced, but folds to a constant
        return ef.cond(flag, lambda: x + 1.0, lambda: x - 1.0)
    low = lower(f, np.ones(3))
    assert count(low.traced, "cond") == 1
    assert count(low.optimized, "cond") == 0
    assert any("fold:" in c and "then region" in c for p in low.passes for c in p.changes)
    np.testing.assert_array_equal(ef.function(f, backend="interpreter")(np.ones(3)), 2.0)


def test_fusion_inside_a_loop_body():
    def f(x, n):
        for _ in range(n):
            x = np.sin(x) * 2.0 + 1.0
        return x
    low = lower(f, np.ones(8), 3)
    (loop,) = [n for n in low.optimized.walk() if n.op == "while"]
    assert any(n.op == "fused.elementwise" for n in loop.regions[1].nodes)
    assert any(c.startswith("fuse:") for p in low.passes for c in p.changes)


def test_dce_keeps_loops_that_print_and_cse_does_not_merge_them(capfd):
    def f(n):
        i = 0
        while i < n:
            ef.print("tick", i)
            i += 1
        j = 0
        while j < n:
            ef.print("tick", j)
            j += 1
        return 0
    fn = ef.function(f, backend="interpreter")
    assert count(fn.lower(2).optimized, "while") == 2
    fn(2)
    assert capfd.readouterr().out == "tick 0\ntick 1\ntick 0\ntick 1\n"


def test_print_op_prints_at_run_time_in_order(capfd):
    def f(x):
        ef.print("x =", x)
        y = x * 2
        ef.print("y =", y, "sum", y.sum())
        return y
    fn = ef.function(f, backend="interpreter")
    fn.lower(np.arange(3.0))
    assert capfd.readouterr().out == ""          # nothing at trace time
    fn(np.arange(3.0))
    assert capfd.readouterr().out == "x = [0. 1. 2.]\ny = [0. 2. 4.] sum 6.0\n"
    fn(np.ones(3))
    assert capfd.readouterr().out == "x = [1. 1. 1.]\ny = [2. 2. 2.] sum 6.0\n"


@pytest.mark.parametrize("backend", ["numba", "interpreter"])
def test_print_of_literals_only_with_sep_and_end(capfd, backend):
    # With no traced parts the generated call has no positional arguments: `f(end='')`.
    def f(x):
        ef.print("no newline", end="")
        ef.print("a", "b", sep="-")
        ef.print("p", x, sep="|", end="!\n")
        return x
    fn = ef.function(f, backend=backend)
    x = np.ones(3)
    capfd.readouterr()
    fn(x)
    got = capfd.readouterr().out
    print("no newline", end="")
    print("a", "b", sep="-")
    print("p", x, sep="|", end="!\n")
    assert got == capfd.readouterr().out
