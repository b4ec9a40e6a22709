"""The IR text format: golden printouts, and print∘parse∘print == print on traced random graphs."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.errors import ParseError
from eagerflow.ir import Const, Graph, Node, TensorType, Value, parse_graph, print_graph, verify
from eagerflow.ir.types import parse_type
from eagerflow.runtime.interpret import interpret
from eagerflow.testing import array_of, assert_same


def lower(fn, *args, **kw):
    return ef.function(fn, backend="interpreter", **kw).lower(*args)


def assert_ir(graph, expected):
    assert print_graph(graph, locations=False) == textwrap.dedent(expected).strip()


# ---- goldens ---------------------------------------------------------------------------------------

def test_golden_design_example():
    def f(x, y):
        return (np.sin(x) * y + 1.0).sum()
    assert_ir(lower(f, np.ones(1000), np.ones(1000)).traced, """
        # in: ('tuple', (('tuple', ('*', '*')), ('dict', (), ())))  out: '*'
        func @f(%x: f64[1000], %y: f64[1000]) -> f64[] {
          %0 = sin(%x) : f64[1000]
          %1 = mul(%0, %y) : f64[1000]
          %2 = add(%1, 1.0) : f64[1000]
          %3 = sum(%2) {axis=None, keepdims=False} : f64[]
          return %3
        }""")


def test_golden_weak_and_strong_scalars():
    def f(x, s):
        return x * 2.0 + np.float32(0.5), s + 1
    assert_ir(lower(f, np.ones(3, np.float32), 2.0).traced, """
        # in: ('tuple', (('tuple', ('*', '*')), ('dict', (), ())))  out: ('tuple', ('*', '*'))
        func @f(%x: f32[3], %s: ~f64[]) -> (f32[3], ~f64[]) {
          %0 = mul(%x, 2.0) : f32[3]
          %1 = add(%0, 0.5:f32) : f32[3]
          %2 = add(%s, 1) : ~f64[]
          return %1, %2
        }""")


def test_golden_array_constant_pytree_and_indexing():
    w = np.arange(6.0).reshape(2, 3)

    def f(params, x):
        y = x[::-1, None] @ np.ones((1, 2))
        return {"out": y + params["b"], "t": (x.T,)}, w   # w is captured: an implicit input
    g = lower(f, {"b": np.zeros(2)}, np.ones(3)).traced
    assert_ir(g, """
        # in: ('tuple', (('tuple', (('dict', ('b',), ('*',)), '*')), ('dict', (), ())))  out: ('tuple', (('dict', ('out', 't'), ('*', ('tuple', ('*',)))), '*'))
        func @f(%params_b: f64[2], %x: f64[3], %w: f64[2,3]) -> (f64[3,2], f64[3], f64[2,3]) {
          %0 = getitem(%x) {index=((2, None, -1), None)} : f64[3,1]
          %1 = matmul(%0, const<f64[1,2]> sha790486e2eca42314) : f64[3,2]
          %2 = add(%1, %params_b) : f64[3,2]
          %3 = transpose(%x) {axes=(0,)} : f64[3]
          return %2, %3, %w
        }""")
    assert set(g.constants()) == {"790486e2eca42314"}


def test_golden_in_place_update_is_functional():
    def f(x):
        x[0] += 1
        return x.sum()
    assert_ir(lower(f, np.zeros(3, np.int32)).traced, """
        # in: ('tuple', (('tuple', ('*',)), ('dict', (), ())))  out: '*'
        func @f(%x: i32[3]) -> (i64[], i32[3]) {
          %0 = getitem(%x) {index=(0,)} : i32[]
          %1 = add(%0, 1) : i32[]
          %2 = setitem(%x, %1) {index=(0,)} : i32[3]
          %3 = sum(%2) {axis=None, keepdims=False} : i64[]
          return %3, %2
        }""")


def test_golden_region_and_multiple_results():
    a = Value(TensorType(np.float64, ()), "a")
    b = Value(TensorType(np.float64, ()), "b")
    n1 = Node("mul", [a, b], {}, [TensorType(np.float64, ())])
    n2 = Node("exp", [n1.output], {}, [TensorType(np.float64, ())])
    region = Graph("region", [a, b], [n1, n2], [n2.output, n1.output])
    x = Value(TensorType(np.float64, (4,)), "x")
    fused = Node("fused.reduce", [x, Const(2.0)], {"shape": (4,), "axis": None, "keepdims": False,
                                                   "reduce": "sum"},
                 [TensorType(np.float64, ()), TensorType(np.float64, (4,))], loc=("m.py", 3),
                 regions=[region])
    g = Graph("k", [x], [fused], list(fused.outputs))
    verify(g)
    text = print_graph(g)
    assert text == textwrap.dedent("""\
        func @k(%x: f64[4]) -> (f64[], f64[4]) {
          %0, %1 = fused.reduce(%x, 2.0) {axis=None, keepdims=False, reduce='sum', shape=(4,)} : f64[], f64[4] {  # m.py:3
            ^(%a: f64[], %b: f64[]):
              %2 = mul(%a, %b) : f64[]
              %3 = exp(%2) : f64[]
              yield %3, %2
          }
          return %0, %1
        }""")
    assert print_graph(parse_graph(text)) == text


def test_locations_name_the_users_file_and_line():
    def f(x):
        y = x + 1   # line A
        return y
    text = print_graph(lower(f, np.ones(2)).traced)
    import inspect
    line = inspect.getsourcelines(f)[1] + 1
    assert f"# test_printer.py:{line}" in text


def test_special_float_literals_round_trip():
    for v in (float("inf"), float("-inf"), float("nan"), -0.0, 1e-300, 0.1):
        x = Value(TensorType(np.float64, (2,)), "x")
        n = Node("add", [x, Const(v)], {}, [TensorType(np.float64, (2,))])
        n2 = Node("mul", [n.output, Const(np.float32(v))], {}, [TensorType(np.float64, (2,))])
        g = Graph("f", [x], [n, n2], [n2.output])
        text = print_graph(g)
        g2 = parse_graph(text)
        assert print_graph(g2) == text
        arg = np.array([1.0, -2.0])
        assert_same(interpret(g2, [arg])[0], interpret(g, [arg])[0])


def test_types_print_and_parse():
    for text in ("f64[]", "~f64[]", "i32[3,4]", "bool[0]", "u8[1,2,3]", "~i64[]"):
        assert str(parse_type(text)) == text
    with pytest.raises(ValueError):
        parse_type("f16[2]")


@pytest.mark.parametrize("text,what", [
    ("func @f(%x: f64[2]) -> f64[2] {\n  return %y\n}", "undefined value %y"),
    ("func @f(%x: f64[2]) -> f64[2] {\n  %0 = add(%x, %x) : f64[2]\n", "unexpected end"),
    ("func @f(%x: f64[2]) -> f64[2] {\n  %0 = add(%x, %x) f64[2]\n  return %0\n}", "': types'"),
    ("func @f(%x: f64[2]) -> f64[2] {\n  %0 = add(%x, const<f64[2]> sha00) : f64[2]\n"
     "  return %0\n}", "no data for constant"),
    ("func @f(%x: f64[2]) -> f64[2] {\n  %0 = add(%x, __import__('os')) : f64[2]\n"
     "  return %0\n}", "bad literal"),
    ("garbage", "expected 'func"),
])
def test_parse_errors(text, what):
    with pytest.raises(ParseError, match=what):
        parse_graph(text)


# ---- round-trip on traced random functions ------------------------------------------------------

UNARY = [np.sin, np.exp, np.negative, np.abs, np.sqrt, np.floor, np.isnan, np.tanh]
BINARY = [np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.less, np.arctan2,
          np.logical_and]
STEPS = ["unary", "binary", "weak", "strong", "reduce", "reshape", "transpose", "getitem",
         "setitem", "astype", "where", "matmul", "const"]


@st.composite
def programs(draw):
    """A random straight-line NumPy function over two (2, 3) float arguments."""
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(STEPS))
        i, j = draw(st.integers(0, 50)), draw(st.integers(0, 50))
        arg = {"unary": st.sampled_from(UNARY), "binary": st.sampled_from(BINARY),
               "weak": st.sampled_from([2, 0.5, -0.0, float("inf"), True]),
               "strong": st.sampled_from([np.float32(1.5), np.int32(3), np.float64(np.nan)]),
               "reduce": st.tuples(st.sampled_from(["sum", "max", "mean", "argmin"]),
                                   st.sampled_from([None, 0, -1]), st.booleans()),
               "astype": st.sampled_from(["float32", "int64", "bool"]),
               "getitem": st.sampled_from([0, (slice(None), 1), (slice(None, None, -1),),
                                           (None, Ellipsis), ([1, 0],)]),
               }.get(kind, st.none())
        steps.append((kind, i, j, draw(arg)))
    return steps


def run_program(steps, x, y):
    pool = [x, y]

    def pick(k):
        return pool[k % len(pool)]
    for kind, i, j, arg in steps:
        a, b = pick(i), pick(j)
        if kind == "unary":   # (transcendentals of bool give float16, which eagerflow refuses)
            r = arg(a.astype(np.float64) if getattr(a, "dtype", None) == np.bool_ else a)
        elif kind == "binary":
            r = arg(a, b) if np.shape(a) == np.shape(b) or np.ndim(a) == 0 or np.ndim(b) == 0 \
                else arg(a, a)
        elif kind == "weak":
            r = a * arg
        elif kind == "strong":
            r = a + arg
        elif kind == "reduce":
            name, axis, keep = arg
            r = getattr(np, name)(a, axis=axis if np.ndim(a) else None, keepdims=keep) \
                if np.size(a) else a
        elif kind == "reshape":
            r = np.reshape(a, (-1,))
        elif kind == "transpose":
            r = np.transpose(a)
        elif kind == "getitem":
            r = a[arg] if np.ndim(a) == 2 else a
        elif kind == "setitem":
            r = np.zeros_like(x)
            r[0] = 1.0
            r[:, 1] = x[:, 2] * 2
        elif kind == "astype":
            r = a.astype(arg) if hasattr(a, "astype") else a
        elif kind == "where":
            r = np.where(x > 0, x, y)
        elif kind == "matmul":
            r = x @ y.T
        else:
            r = x + np.arange(6.0).reshape(2, 3)
        pool.append(r)
    return tuple(pool[2:])


@given(steps=programs(), data=st.data())
def test_print_parse_print_round_trip(steps, data):
    args = [data.draw(array_of("float64", (2, 3))) for _ in range(2)]
    low = lower(lambda x, y: run_program(steps, x, y), *args)
    for g in (low.traced, low.optimized):
        text = print_graph(g)
        g2 = parse_graph(text, g.constants())
        verify(g2)
        assert print_graph(g2) == text
        assert print_graph(g2, locations=False) == print_graph(g, locations=False)
        with np.errstate(all="ignore"):
            expected, actual = interpret(g, args), interpret(g2, args)
        for a, e in zip(actual, expected):
            assert_same(a, e)
