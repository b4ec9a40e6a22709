"""Golden before/after IR for common-subexpression elimination."""
from __future__ import annotations

from eagerflow.compiler.passes import eliminate_common_subexpressions as cse

from _passtest import check_rewrite


def test_duplicate_merged():
    _, changes = check_rewrite(cse, """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = mul(%x, %y) : f64[3]
          %1 = mul(%x, %y) : f64[3]
          %2 = add(%0, %1) : f64[3]
          return %2
        }""", """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = mul(%x, %y) : f64[3]
          %1 = add(%0, %0) : f64[3]
          return %1
        }""")
    assert changes == ["cse: %1 = mul(%x, %y) -> %0"]


def test_commutative_operands_swapped():
    check_rewrite(cse, """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = mul(%x, %y) : f64[3]
          %1 = mul(%y, %x) : f64[3]
          %2 = sub(%0, %1) : f64[3]
          return %2
        }""", """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = mul(%x, %y) : f64[3]
          %1 = sub(%0, %0) : f64[3]
          return %1
        }""")


def test_non_commutative_operands_not_merged():
    check_rewrite(cse, """
        func @f(%x: f64[3], %y: f64[3]) -> (f64[3], f64[3]) {
          %0 = sub(%x, %y) : f64[3]
          %1 = sub(%y, %x) : f64[3]
          return %0, %1
        }""", None)


def test_constants_compare_by_content_sign_and_weakness():
    """0.0 vs -0.0, weak 1.0 vs strong 1.0:f64, attrs differing: all distinct."""
    check_rewrite(cse, """
        func @f(%x: f64[3]) -> (f64[3], f64[3], f64[3], f64[3], f64[3], f64[]) {
          %0 = add(%x, 0.0) : f64[3]
          %1 = add(%x, -0.0) : f64[3]
          %2 = mul(%x, 1.0) : f64[3]
          %3 = mul(%x, 1.0:f64) : f64[3]
          %4 = fill() {dtype='float64', shape=(3,), value=0.0} : f64[3]
          %5 = fill() {dtype='float64', shape=(3,), value=-0.0} : f64[3]
          %6 = sum(%x) {axis=None, keepdims=False} : f64[]
          return %0, %1, %2, %3, %4, %6
        }""", None)


def test_equal_constants_merge():
    check_rewrite(cse, """
        func @f(%x: f64[3]) -> (f64[3], f64[3]) {
          %0 = add(%x, 2.5) : f64[3]
          %1 = add(2.5, %x) : f64[3]
          return %0, %1
        }""", """
        func @f(%x: f64[3]) -> (f64[3], f64[3]) {
          %0 = add(%x, 2.5) : f64[3]
          return %0, %0
        }""")


def test_attributes_part_of_key():
    check_rewrite(cse, """
        func @f(%x: f64[2,3]) -> (f64[3], f64[2], f64[3]) {
          %0 = sum(%x) {axis=(0,), keepdims=False} : f64[3]
          %1 = sum(%x) {axis=(1,), keepdims=False} : f64[2]
          %2 = sum(%x) {axis=(0,), keepdims=False} : f64[3]
          return %0, %1, %2
        }""", """
        func @f(%x: f64[2,3]) -> (f64[3], f64[2], f64[3]) {
          %0 = sum(%x) {axis=(0,), keepdims=False} : f64[3]
          %1 = sum(%x) {axis=(1,), keepdims=False} : f64[2]
          return %0, %1, %0
        }""")


def test_chains_merge_transitively_and_inside_regions():
    check_rewrite(cse, """
        func @f(%x: f64[3]) -> (f64[3], f64[3]) {
          %0 = exp(%x) : f64[3]
          %1 = sin(%0) : f64[3]
          %2 = exp(%x) : f64[3]
          %3 = sin(%2) : f64[3]
          %4 = fused.elementwise(%x) {shape=(3,)} : f64[3] {
            ^(%a: f64[]):
              %5 = cos(%a) : f64[]
              %6 = cos(%a) : f64[]
              %7 = add(%5, %6) : f64[]
              yield %7
          }
          %8 = add(%3, %4) : f64[3]
          return %1, %8
        }""", """
        func @f(%x: f64[3]) -> (f64[3], f64[3]) {
          %0 = exp(%x) : f64[3]
          %1 = sin(%0) : f64[3]
          %2 = fused.elementwise(%x) {shape=(3,)} : f64[3] {
            ^(%a: f64[]):
              %3 = cos(%a) : f64[]
              %4 = add(%3, %3) : f64[]
              yield %4
          }
          %5 = add(%1, %2) : f64[3]
          return %1, %5
        }""")
