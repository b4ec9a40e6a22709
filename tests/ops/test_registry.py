"""Meta-tests over the op registry: every entry carries what the rest of eagerflow relies on."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from eagerflow.ir.types import TensorType, type_of
from eagerflow.ops import NUMPY_MAP, REGISTRY, Kind
from eagerflow.testing import DTYPES, broadcastable_arrays

OPS = sorted(REGISTRY)
ELEMENTWISE = sorted(n for n, op in REGISTRY.items() if op.kind is Kind.ELEMENTWISE)
REDUCTIONS = sorted(n for n, op in REGISTRY.items() if op.kind is Kind.REDUCTION)


@pytest.mark.parametrize("name", OPS)
def test_entry_is_complete(name):
    op = REGISTRY[name]
    assert op.name == name
    assert op.doc, f"{name}: no doc (docs/ops.md is generated from it)"
    if op.kind is Kind.COMPOSITE:
        assert op.trace is not None, f"{name}: a composite op needs a trace function"
        assert op.numpy, f"{name}: a composite op is reached only through its NumPy callables"
    else:
        assert op.infer is not None, f"{name}: no type rule"
        assert op.impl is not None, f"{name}: no NumPy reference implementation"
    assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?", name), name
    if op.kind is Kind.FUSED:
        assert name.startswith("fused."), "compiler-made ops live in a dotted namespace"
    for d in op.dtypes:
        np.dtype(d)   # a real dtype name


@pytest.mark.parametrize("name", OPS)
def test_numpy_callables_map_back(name):
    op = REGISTRY[name]
    for f in op.numpy:
        assert NUMPY_MAP[f] is op, f"{f} maps to {NUMPY_MAP[f]}, not {op}"


def test_numpy_map_has_no_strays():
    for f, op in NUMPY_MAP.items():
        assert REGISTRY[op.name] is op and f in op.numpy


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_ufunc_arity(name):
    op = REGISTRY[name]
    if op.numpy and isinstance(op.numpy[0], np.ufunc):
        assert op.nin == op.numpy[0].nin


def _attrs_for(op):
    return {"dtype": "float32"} if op.name == "astype" else {}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_declared_dtypes_are_supported(name):
    """Every combination of the dtypes an op declares has a supported result (no float16)."""
    op = REGISTRY[name]
    for combo in itertools.product(op.dtypes or DTYPES, repeat=op.nin):
        types = [TensorType(np.dtype(d), (2,)) for d in combo]
        if name == "where":
            types[0] = TensorType(np.dtype(bool), (2,))
        op.infer_types(types, _attrs_for(op))


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(data=st.data())
def test_elementwise_infer_matches_impl(name, data):
    op = REGISTRY[name]
    args = data.draw(broadcastable_arrays(op.nin, op.dtypes or DTYPES))
    if name == "where":
        args[0] = args[0].astype(bool)
    attrs = _attrs_for(op)
    expected = op.infer_types([type_of(a) for a in args], attrs)
    try:
        out = op.impl(*args, **attrs)
    except ValueError:   # NumPy rejects the values (int ** negative int): test_differential's job
        assume(False)
    outs = out if isinstance(out, tuple) else (out,)
    assert tuple(type_of(np.asarray(o)) for o in outs) == expected


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data())
def test_reduction_infer_matches_impl(name, data):
    from eagerflow.ops.registry import normalize_axis
    from eagerflow.testing import array_of, shapes
    op = REGISTRY[name]
    x = data.draw(array_of(data.draw(st.sampled_from(op.dtypes or DTYPES)),
                           data.draw(shapes(min_side=1))))
    if op.extra.get("index"):
        axis = data.draw(st.sampled_from([None] + list(range(x.ndim))))
        axis = None if axis is None else (axis,)
    else:
        axis = data.draw(st.sampled_from([None, tuple(range(x.ndim))] +
                                         [(a,) for a in range(x.ndim)]))
    attrs = {"axis": normalize_axis(axis, x.ndim), "keepdims": data.draw(st.booleans())}
    expected = op.infer_types([type_of(x)], attrs)
    assert (type_of(np.asarray(op.impl(x, **attrs))),) == expected
    assert "identity" in op.extra, "the code generator reads each reduction's identity"


def test_weak_operands_promote_like_numpy():
    """NEP 50 in the type rules: a Python float does not widen float32; two weak stay weak."""
    f32 = TensorType(np.dtype(np.float32), (3,))
    weak_f = type_of(2.0)
    assert REGISTRY["mul"].infer(f32, weak_f) == f32
    assert REGISTRY["add"].infer(weak_f, type_of(1)) == TensorType(np.dtype(np.float64), (), True)
    assert REGISTRY["lt"].infer(weak_f, weak_f).weak is False   # bool results are never weak


def test_ops_doc_is_up_to_date():
    """docs/ops.md is generated from the registry: regenerate it when an entry changes."""
    from eagerflow.ops import doc
    with open(doc.default_path()) as f:
        assert f.read() == doc.render(), "docs/ops.md is stale: run `python -m eagerflow.ops.doc`"
