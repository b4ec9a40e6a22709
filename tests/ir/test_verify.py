"""The verifier: one failing graph per invariant documented in eagerflow/ir/verify.py."""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import VerificationError
from eagerflow.ir import Const, Graph, Node, TensorType, Value, verify

F3 = TensorType(np.float64, (3,))
F0 = TensorType(np.float64, ())


def param(name="x", t=F3):
    return Value(t, name)


def node(op, inputs, out=F3, attrs=None, regions=()):
    return Node(op, inputs, attrs or {}, [out] if isinstance(out, TensorType) else out,
                loc=("model.py", 7), regions=regions)


def test_a_good_graph_verifies():
    x = param()
    n = node("add", [x, Const(1.0)])
    g = Graph("f", [x], [n], [n.output])
    assert verify(g) is g


def test_traced_graphs_verify():
    def f(x, y):
        z = x @ y
        z[0] = 1.0
        return np.maximum(z, 0).sum(axis=1), z.T.reshape(-1)
    low = ef.function(f, backend="interpreter").lower(np.ones((2, 3)), np.ones((3, 2)))
    verify(low.traced)
    verify(low.optimized)


# 1. SSA -------------------------------------------------------------------------------------------

def test_use_before_definition():
    x = param()
    a = node("neg", [x])
    b = node("add", [a.output, x])
    g = Graph("f", [x], [b, a], [b.output])
    with pytest.raises(VerificationError, match="before it is defined") as e:
        verify(g)
    assert e.value.loc == ("model.py", 7)


def test_value_from_another_graph():
    x, stranger = param(), param("y")
    n = node("add", [x, stranger])
    with pytest.raises(VerificationError, match="before it is defined"):
        verify(Graph("f", [x], [n], [n.output]))


def test_value_defined_twice():
    x = param()
    n = node("neg", [x])
    with pytest.raises(VerificationError, match="defined twice"):
        verify(Graph("f", [x], [n, n], [n.output]))
    with pytest.raises(VerificationError, match="defined twice"):
        verify(Graph("f", [x, x], [], [x]))


def test_region_is_closed():
    x = param()
    a = Value(F0, "a")
    inner = node("mul", [a, x], out=F3)   # uses the outer %x: regions see only their params
    region = Graph("region", [a], [inner], [inner.output])
    fused = node("fused.elementwise", [x], attrs={"shape": (3,)}, regions=[region])
    with pytest.raises(VerificationError, match="before it is defined"):
        verify(Graph("f", [x], [fused], [fused.output]))


# 2. ops and attributes ---------------------------------------------------------------------------

def test_unknown_op():
    x = param()
    n = node("frobnicate", [x])
    with pytest.raises(VerificationError, match="unknown op 'frobnicate'"):
        verify(Graph("f", [x], [n], [n.output]))


def test_wrong_attributes():
    x = param()
    n = node("sum", [x], out=F0, attrs={"axis": None})   # keepdims missing
    with pytest.raises(VerificationError, match="attributes"):
        verify(Graph("f", [x], [n], [n.output]))
    n = node("sum", [x], out=F0, attrs={"axis": None, "keepdims": False, "dtype": "f"})
    with pytest.raises(VerificationError, match="attributes"):
        verify(Graph("f", [x], [n], [n.output]))
    n = node("add", [x, x], attrs={"axis": 0})   # an op that declares no attributes
    with pytest.raises(VerificationError, match="attributes"):
        verify(Graph("f", [x], [n], [n.output]))


def test_malformed_node_is_a_verification_error():
    x = param()
    n = node("add", [x])   # one input for a binary op
    with pytest.raises(VerificationError, match="type rule"):
        verify(Graph("f", [x], [n], [n.output]))


# 3. type rules ---------------------------------------------------------------------------------

def test_output_type_disagrees_with_type_rule():
    x = param()
    n = node("add", [x, Const(1.0)], out=TensorType(np.float32, (3,)))
    with pytest.raises(VerificationError, match=r"type rule gives \['f64\[3\]'\]"):
        verify(Graph("f", [x], [n], [n.output]))


def test_weak_bit_is_part_of_the_type():
    s = param("s", TensorType(np.float64, (), weak=True))
    n = node("add", [s, Const(1.0)], out=F0)   # weak + weak is weak
    with pytest.raises(VerificationError, match="type rule"):
        verify(Graph("f", [s], [n], [n.output]))


def test_type_rule_rejects_inputs():
    x, y = param(), param("y", TensorType(np.float64, (4,)))
    n = node("add", [x, y])
    with pytest.raises(VerificationError, match="type rule rejects.*broadcast"):
        verify(Graph("f", [x, y], [n], [n.output]))


def test_wrong_number_of_outputs():
    x = param()
    n = node("neg", [x], out=[F3, F3])
    with pytest.raises(VerificationError, match="type rule"):
        verify(Graph("f", [x], [n], [n.outputs[0]]))


# 4. region checks --------------------------------------------------------------------------------

def test_fused_region_block_arguments_must_match_inputs():
    x = param()
    a = Value(TensorType(np.float32, ()), "a")   # f32 block argument for an f64 input
    inner = node("neg", [a], out=TensorType(np.float32, ()))
    region = Graph("region", [a], [inner], [inner.output])
    fused = node("fused.elementwise", [x], out=TensorType(np.float32, (3,)),
                 attrs={"shape": (3,)}, regions=[region])
    with pytest.raises(VerificationError, match="block argument"):
        verify(Graph("f", [x], [fused], [fused.output]))


def test_fused_region_arity():
    x = param()
    a, b = Value(F0, "a"), Value(F0, "b")
    inner = node("add", [a, b], out=F0)
    region = Graph("region", [a, b], [inner], [inner.output])
    fused = node("fused.elementwise", [x], attrs={"shape": (3,)}, regions=[region])
    with pytest.raises(VerificationError, match="2 block arguments for 1 inputs"):
        verify(Graph("f", [x], [fused], [fused.output]))


# 5. results ------------------------------------------------------------------------------------

def test_undefined_result():
    x = param()
    n = node("neg", [x])
    with pytest.raises(VerificationError, match="result .* is not defined"):
        verify(Graph("f", [x], [], [n.output]))


def test_after_pass_is_named():
    x = param()
    n = node("frobnicate", [x])
    with pytest.raises(VerificationError, match=r"\(after pass fuse\)"):
        verify(Graph("f", [x], [n], [n.output]), after="fuse")
