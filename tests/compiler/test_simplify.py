"""Golden before/after IR for every simplification rule, and the cases each rule must refuse."""
from __future__ import annotations

import numpy as np
import pytest

from eagerflow.compiler.passes import simplify
from eagerflow.runtime.interpret import interpret
from eagerflow.testing import assert_same

from _passtest import check_rewrite, run_pass


def _unary(t, body, rt=None):
    return f"""
    func @f(%x: {t}) -> {rt or t} {{
      {body}
    }}"""


# (name, before body, after body); x's type is f64[3] unless given.
REWRITES = [
    ("mul_one", "%0 = mul(%x, 1.0) : f64[3]\n return %0", "return %x"),
    ("one_mul", "%0 = mul(1, %x) : f64[3]\n return %0", "return %x"),
    ("mul_strong_one", "%0 = mul(%x, 1.0:f32) : f64[3]\n return %0", "return %x"),
    ("div_one", "%0 = div(%x, 1) : f64[3]\n return %0", "return %x"),
    ("sub_pos_zero", "%0 = sub(%x, 0.0) : f64[3]\n return %0", "return %x"),
    ("add_neg_zero", "%0 = add(%x, -0.0) : f64[3]\n return %0", "return %x"),
    ("neg_zero_add", "%0 = add(-0.0, %x) : f64[3]\n return %0", "return %x"),
    ("neg_neg", "%0 = neg(%x) : f64[3]\n %1 = neg(%0) : f64[3]\n return %1",
     "%0 = neg(%x) : f64[3]\n return %x"),
    ("pos", "%0 = pos(%x) : f64[3]\n return %0", "return %x"),
    ("astype_same", "%0 = astype(%x) {dtype='float64'} : f64[3]\n return %0", "return %x"),
    ("broadcast_same", "%0 = broadcast_to(%x) {shape=(3,)} : f64[3]\n return %0", "return %x"),
    ("reshape_same", "%0 = reshape(%x) {shape=(3,)} : f64[3]\n return %0", "return %x"),
    ("where_same", "%0 = gt(%x, 0.0) : bool[3]\n %1 = where(%0, %x, %x) : f64[3]\n return %1",
     "%0 = gt(%x, 0.0) : bool[3]\n return %x"),
]


def _wrap(body, t="f64[3]"):
    lines = "\n".join("  " + ln.strip() for ln in body.split("\n"))
    return f"func @f(%x: {t}) -> {t} {{\n{lines}\n}}"


@pytest.mark.parametrize("name, before, after", REWRITES, ids=[r[0] for r in REWRITES])
def test_rewrite(name, before, after):
    _, changes = check_rewrite(simplify, _wrap(before), _wrap(after))
    assert all(c.startswith("simplify: ") for c in changes)


INT_REWRITES = [
    ("add_int_zero", "%0 = add(%x, 0) : i32[3]\n return %0"),
    ("zero_add_int", "%0 = add(0:i32, %x) : i32[3]\n return %0"),
    ("sub_int_zero", "%0 = sub(%x, 0) : i32[3]\n return %0"),
    ("mul_int_one", "%0 = mul(%x, 1) : i32[3]\n return %0"),
    ("mul_true", "%0 = mul(%x, True:bool) : i32[3]\n return %0"),
]


@pytest.mark.parametrize("name, before", INT_REWRITES, ids=[r[0] for r in INT_REWRITES])
def test_integer_rewrite(name, before):
    check_rewrite(simplify, _wrap(before, "i32[3]"), _wrap("return %x", "i32[3]"))


# Each must NOT rewrite: the identity is not exact, or the type would change.
REFUSED = [
    ("add_pos_zero_float", "f64[3]", "%0 = add(%x, 0.0) : f64[3]"),       # -0.0 + 0.0 = +0.0
    ("sub_neg_zero_float", "f64[3]", "%0 = sub(%x, -0.0) : f64[3]"),      # x - (-0.0) = x + 0.0
    ("add_int_zero_float", "f64[3]", "%0 = add(%x, 0) : f64[3]"),         # still +0.0
    ("mul_zero", "f64[3]", "%0 = mul(%x, 0.0) : f64[3]"),                 # nan*0, inf*0, -x*0
    ("sub_self", "f64[3]", "%0 = sub(%x, %x) : f64[3]"),                  # inf - inf = nan
    ("div_self", "f64[3]", "%0 = div(%x, %x) : f64[3]"),                  # 0/0 = nan
    ("mul_one_promotes", "i32[3]", "%0 = mul(%x, 1.0) : f64[3]"),        # int * 1.0 -> float
    ("div_one_int", "i32[3]", "%0 = div(%x, 1) : f64[3]"),               # true division
    ("mul_one_broadcasts", "f64[3]", "%0 = mul(%x, 1.0:f64) : f64[3]"),   # (same shape: fires)
    ("mul_ones_bigger", "f64[3]", "%0 = mul(%x, const<f64[2,3]> sha0) : f64[2,3]"),
    ("mul_f32_one_f64", "f32[3]", "%0 = mul(%x, 1.0:f64) : f64[3]"),      # promotes
    ("neg_once", "f64[3]", "%0 = neg(%x) : f64[3]"),
    ("astype_other", "f32[3]", "%0 = astype(%x) {dtype='float64'} : f64[3]"),
    ("transpose_other", "f64[2,3]", "%0 = transpose(%x) {axes=(1, 0)} : f64[3,2]"),
]


@pytest.mark.parametrize("name, t, line", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name, t, line):
    rt = line.rsplit(": ", 1)[1]
    text = f"func @f(%x: {t}) -> {rt} {{\n  {line}\n  return %0\n}}"
    consts = {}
    if "sha0" in line:
        from eagerflow.ir.graph import Const
        c = Const(np.ones((2, 3)))
        consts = {c.digest: c.data}
        text = text.replace("sha0", "sha" + c.digest)
    g, changes, before = run_pass(simplify, text, consts)
    if name == "mul_one_broadcasts":
        assert changes                     # control: the same-type case does fire
        return
    assert not changes and g is before, changes


def test_weak_astype_not_removed():
    """astype of a weak scalar makes it strong: not an identity (the type guard refuses)."""
    check_rewrite(simplify, """
        func @f(%s: ~f64[]) -> f64[] {
          %0 = astype(%s) {dtype='float64'} : f64[]
          return %0
        }""", None)


def test_weak_times_strong_one_not_removed():
    """~f64[] * 1.0:f64 is strong f64: replacing it by the weak value would retype the graph."""
    check_rewrite(simplify, """
        func @f(%s: ~f64[]) -> f64[] {
          %0 = mul(%s, 1.0:f64) : f64[]
          return %0
        }""", None)


def test_transpose_pair_composes():
    check_rewrite(simplify, """
        func @f(%x: f64[2,3,4]) -> f64[3,4,2] {
          %0 = transpose(%x) {axes=(2, 0, 1)} : f64[4,2,3]
          %1 = transpose(%0) {axes=(2, 0, 1)} : f64[3,4,2]
          return %1
        }""", """
        func @f(%x: f64[2,3,4]) -> f64[3,4,2] {
          %0 = transpose(%x) {axes=(2, 0, 1)} : f64[4,2,3]
          %1 = transpose(%x) {axes=(1, 2, 0)} : f64[3,4,2]
          return %1
        }""")


def test_transpose_pair_cancels():
    check_rewrite(simplify, """
        func @f(%x: f64[2,3]) -> f64[2,3] {
          %0 = transpose(%x) {axes=(1, 0)} : f64[3,2]
          %1 = transpose(%0) {axes=(1, 0)} : f64[2,3]
          return %1
        }""", """
        func @f(%x: f64[2,3]) -> f64[2,3] {
          %0 = transpose(%x) {axes=(1, 0)} : f64[3,2]
          return %x
        }""")


def test_reshape_pair():
    check_rewrite(simplify, """
        func @f(%x: f64[2,3]) -> f64[3,2] {
          %0 = reshape(%x) {shape=(6,)} : f64[6]
          %1 = reshape(%0) {shape=(3, 2)} : f64[3,2]
          return %1
        }""", """
        func @f(%x: f64[2,3]) -> f64[3,2] {
          %0 = reshape(%x) {shape=(6,)} : f64[6]
          %1 = reshape(%x) {shape=(3, 2)} : f64[3,2]
          return %1
        }""")


def test_broadcast_pair():
    check_rewrite(simplify, """
        func @f(%x: f64[]) -> f64[2,3] {
          %0 = broadcast_to(%x) {shape=(3,)} : f64[3]
          %1 = broadcast_to(%0) {shape=(2, 3)} : f64[2,3]
          return %1
        }""", """
        func @f(%x: f64[]) -> f64[2,3] {
          %0 = broadcast_to(%x) {shape=(3,)} : f64[3]
          %1 = broadcast_to(%x) {shape=(2, 3)} : f64[2,3]
          return %1
        }""")


def test_neg_neg_wraps_for_integers():
    g, _, before = run_pass(simplify, """
        func @f(%x: i32[2]) -> i32[2] {
          %0 = neg(%x) : i32[2]
          %1 = neg(%0) : i32[2]
          return %1
        }""")
    x = np.array([np.iinfo(np.int32).min, 5], np.int32)
    assert_same(interpret(g, [x]), interpret(before, [x]))


@pytest.mark.parametrize("text", [
    "%0 = add(%x, -0.0) : f64[6]", "%0 = sub(%x, 0.0) : f64[6]", "%0 = mul(%x, 1.0) : f64[6]",
    "%0 = div(%x, 1.0) : f64[6]", "%0 = mul(1.0, %x) : f64[6]"])
def test_identities_exact_on_special_values(text):
    """The rewritten identities hold bit for bit on ±0.0, ±inf, nan and subnormals."""
    g, changes, before = run_pass(simplify, f"func @f(%x: f64[6]) -> f64[6] {{\n  {text}\n"
                                            f"  return %0\n}}")
    assert changes
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324])
    assert_same(interpret(g, [x]), interpret(before, [x]))


def test_one_element_array_constant_becomes_a_scalar():
    import eagerflow as ef
    from eagerflow.ir.graph import Const
    c = np.array([0.25])
    f = ef.function(lambda x: x * np.array([0.25]) + np.array([0.25]))   # constants, not captures
    low = f.lower(np.ones((2, 3)))
    consts = [v for n in low.optimized.walk() for v in n.inputs if isinstance(v, Const)]
    assert consts and all(v.type.ndim == 0 for v in consts)
    x = np.arange(6.0).reshape(2, 3)
    assert_same(f(x), x * c + c)
    # where the constant gives the result its shape, it stays an array
    s = ef.function(lambda s: s * c)(np.float64(2.0))
    assert_same(s, np.float64(2.0) * c)
    assert_same(ef.function(lambda x: x * np.array([2.0], np.float32))(np.ones(3, np.float32)),
                np.ones(3, np.float32) * np.array([2.0], np.float32))
