"""Golden before/after IR for dead-code elimination."""
from __future__ import annotations

from eagerflow.compiler.passes import eliminate_dead_code as dce

from _passtest import check_rewrite


def test_unused_dropped():
    _, changes = check_rewrite(dce, """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = sin(%y) : f64[3]
          %1 = exp(%0) : f64[3]
          %2 = cos(%x) : f64[3]
          return %2
        }""", """
        func @f(%x: f64[3], %y: f64[3]) -> f64[3] {
          %0 = cos(%x) : f64[3]
          return %0
        }""")
    assert changes == ["dce: %0 = sin(%y) (unused)", "dce: %1 = exp(%0) (unused)"]


def test_nothing_dead():
    check_rewrite(dce, """
        func @f(%x: f64[3]) -> (f64[3], f64[3]) {
          %0 = sin(%x) : f64[3]
          %1 = cos(%0) : f64[3]
          return %0, %1
        }""", None)


def test_inside_regions_and_unused_fused_outputs_kept_with_node():
    check_rewrite(dce, """
        func @f(%x: f64[3]) -> f64[3] {
          %0 = fused.elementwise(%x) {shape=(3,)} : f64[3] {
            ^(%a: f64[]):
              %1 = sin(%a) : f64[]
              %2 = cos(%a) : f64[]
              yield %2
          }
          return %0
        }""", """
        func @f(%x: f64[3]) -> f64[3] {
          %0 = fused.elementwise(%x) {shape=(3,)} : f64[3] {
            ^(%a: f64[]):
              %1 = cos(%a) : f64[]
              yield %1
          }
          return %0
        }""")


def test_impure_kept(monkeypatch):
    """A node whose registry entry is impure survives even with no users."""
    import dataclasses

    from eagerflow.ops import registry
    monkeypatch.setitem(registry.REGISTRY, "sin",
                        dataclasses.replace(registry.REGISTRY["sin"], pure=False))
    check_rewrite(dce, """
        func @f(%x: f64[3]) -> f64[3] {
          %0 = sin(%x) : f64[3]
          return %x
        }""", None)
