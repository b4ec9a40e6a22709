"""Golden before/after IR for constant folding; dtype and weak bit are kept exactly."""
from __future__ import annotations

import numpy as np

from eagerflow.compiler.passes import fold_constants
from eagerflow.compiler.passes.fold import FOLD_LIMIT
from eagerflow.ir.graph import Const
from eagerflow.runtime.interpret import interpret
from eagerflow.testing import assert_same

from _passtest import check_rewrite, run_pass


def test_scalar_fold_strong():
    _, changes = check_rewrite(fold_constants, """
        func @f(%x: f64[4]) -> f64[4] {
          %0 = add(1.0:f64, 2.0:f64) : f64[]
          %1 = mul(%x, %0) : f64[4]
          return %1
        }""", """
        func @f(%x: f64[4]) -> f64[4] {
          %0 = mul(%x, 3.0:f64) : f64[4]
          return %0
        }""")
    assert changes == ["fold: %0 = add(1.0:f64, 2.0:f64) -> 3.0:f64"]


def test_weak_stays_weak():
    """1.0 + 0.1 folds to the weak Python float 1.1: x_f32 * 1.1 keeps computing in float32."""
    g, _ = check_rewrite(fold_constants, """
        func @f(%x: f32[3]) -> f32[3] {
          %0 = add(1.0, 0.1) : ~f64[]
          %1 = mul(%x, %0) : f32[3]
          return %1
        }""", """
        func @f(%x: f32[3]) -> f32[3] {
          %0 = mul(%x, 1.1) : f32[3]
          return %0
        }""")
    (n,) = g.nodes
    c = n.inputs[1]
    assert c.type.weak and isinstance(c.data, float)
    x = np.array([1.1, 2.2, 3.3], np.float32)
    assert_same(interpret(g, [x]), [x * (1.0 + 0.1)])


def test_dtype_kept_for_integer_wraparound():
    check_rewrite(fold_constants, """
        func @f() -> i32[] {
          %0 = add(2147483647:i32, 1:i32) : i32[]
          return %0
        }""", """
        func @f() -> i32[] {
          return -2147483648:i32
        }""")


def test_small_array_folds_to_const():
    g, _, _ = run_pass(fold_constants, """
        func @f(%x: f64[3]) -> f64[3] {
          %0 = fill() {dtype='float64', shape=(3,), value=2.0} : f64[3]
          %1 = exp(%0) : f64[3]
          %2 = add(%x, %1) : f64[3]
          return %2
        }""")
    (n,) = g.nodes
    assert n.op == "add" and isinstance(n.inputs[1], Const)
    assert_same(n.inputs[1].data, np.exp(np.full(3, 2.0)))


def test_large_uniform_result_becomes_fill():
    _, changes = check_rewrite(fold_constants, """
        func @f() -> f32[100] {
          %0 = fill() {dtype='float32', shape=(100,), value=1.0} : f32[100]
          %1 = add(%0, 2.0) : f32[100]
          %2 = neg(%1) : f32[100]
          return %2
        }""", """
        func @f() -> f32[100] {
          %0 = fill() {dtype='float32', shape=(100,), value=1.0} : f32[100]
          %1 = fill() {dtype='float32', shape=(100,), value=3.0} : f32[100]
          %2 = fill() {dtype='float32', shape=(100,), value=-3.0} : f32[100]
          return %2
        }""")
    assert changes[0] == "fold: %1 = add(%0, 2.0) -> fill 3.0"


def test_large_nonuniform_not_baked_in():
    arange = Const(np.arange(FOLD_LIMIT + 1, dtype=np.float64))
    text = f"""
        func @f() -> f64[{FOLD_LIMIT + 1}] {{
          %0 = exp(const<f64[{FOLD_LIMIT + 1}]> sha{arange.digest}) : f64[{FOLD_LIMIT + 1}]
          return %0
        }}"""
    g, changes, before = run_pass(fold_constants, text, {arange.digest: arange.data})
    assert not changes and g is before


def test_reduction_of_const_folds():
    c = Const(np.arange(6, dtype=np.int64).reshape(2, 3))
    g, changes, _ = run_pass(fold_constants, f"""
        func @f() -> i64[2] {{
          %0 = sum(const<i64[2,3]> sha{c.digest}) {{axis=(1,), keepdims=False}} : i64[2]
          return %0
        }}""", {c.digest: c.data})
    assert not g.nodes and changes
    assert_same(g.results[0].data, np.array([3, 12]))


def test_overflowing_weak_int_left_for_run_time():
    """int8 + 300 raises OverflowError in NumPy: folding leaves the node, the error stays."""
    check_rewrite(fold_constants, """
        func @f() -> i8[] {
          %0 = add(1:i8, 300) : i8[]
          return %0
        }""", None)


def test_region_node_kept_its_body_folded():
    check_rewrite(fold_constants, """
        func @f() -> f64[2] {
          %0 = fused.elementwise() {shape=(2,)} : f64[2] {
            ^():
              %1 = add(1.0:f64, 2.0:f64) : f64[]
              yield %1
          }
          return %0
        }""", """
        func @f() -> f64[2] {
          %0 = fused.elementwise() {shape=(2,)} : f64[2] {
            ^():
              yield 3.0:f64
          }
          return %0
        }""")


def test_negative_zero_and_nan_kept():
    g, _, _ = run_pass(fold_constants, """
        func @f() -> (f64[], f32[]) {
          %0 = neg(0.0:f64) : f64[]
          %1 = sqrt(-1.0:f32) : f32[]
          return %0, %1
        }""")
    assert_same(interpret(g, []), [np.float64(-0.0), np.float32(np.nan)])
