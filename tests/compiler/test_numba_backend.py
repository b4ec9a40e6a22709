"""The registry on the Numba backend: eager NumPy vs compiled code, organised in compile classes.

DESIGN.md "Testing tiers": each test compiles one function per class (dtypes, ranks, broadcast
pattern) drawn from a fixed parametrized list; hypothesis varies only sizes and values inside it,
which also proves the generated code is size-generic. Many ops share one compiled function (all
unary float ops of a class in one fused kernel), so the whole registry costs few compiles.
"""
from __future__ import annotations

import re
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.ops import REGISTRY, Kind
from eagerflow.testing import array_of, assert_same, reduction_tolerance

pytestmark = pytest.mark.numba

# Transcendentals may differ from NumPy's own SIMD results by a few ulp (docs/mathlib.md).
ULP = 4
INEXACT = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
           "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
           "pow", "hypot", "logaddexp", "floordiv", "mod"}


# NumPy's own sign of zero for max/min of +0.0 and -0.0 depends on its SIMD path (array length):
# compared without the sign of zero (docs/numba_backend.md).
ZERO_SIGN_FREE = {"maximum", "minimum", "fmax", "fmin", "clip", "max", "min"}


def _ops(kind, nin):
    return [op for op in REGISTRY.values() if op.kind is kind and op.nin == nin and
            op.numpy and isinstance(op.numpy[0], np.ufunc)]


def _supports(op, dtypes):
    try:
        with np.errstate(all="ignore"):
            op.numpy[0](*[np.zeros(1, d) for d in dtypes])
        return np.dtype(dtypes[0]).name in (op.dtypes or (np.dtype(dtypes[0]).name,))
    except TypeError:
        return False


def _compare(names, got, want, tol=None):
    for name, g, w in zip(names, got, want):
        ulp = ULP if name in INEXACT else 1 if name in ZERO_SIGN_FREE else 0
        try:
            if tol is not None:
                assert_same(g, w, atol=tol, ulp=ULP)
            else:
                assert_same(g, w, ulp=ulp)
        except AssertionError as e:
            raise AssertionError(f"op {name}: {e}") from None


def _sizes(draw, n):
    return tuple(draw(st.sampled_from([0, 2, 3, 5, 17])) for _ in range(n))


# -- elementwise -----------------------------------------------------------------------------------

UNARY_CLASSES = ["float64", "float32", "int64", "int32", "bool"]


@pytest.mark.parametrize("dtype", UNARY_CLASSES)
@settings(max_examples=8)
@given(data=st.data())
def test_unary_ops(dtype, data):
    ops = [op for op in _ops(Kind.ELEMENTWISE, 1) if _supports(op, [dtype])]
    names = [op.name for op in ops]

    def f(x):
        return tuple(op.numpy[0](x) for op in ops)

    fn = _compiled(f, ("unary", dtype))
    x = data.draw(array_of(dtype, _sizes(data.draw, 2)))
    with np.errstate(all="ignore"):
        want = f(x)
    _compare(names, fn(x), want)


# (shape of a, shape of b) patterns: same, row broadcast, column broadcast, 0-d scalar
PATTERNS = {"same": ("nm", "nm"), "row": ("nm", "m"), "col": ("n1", "1m"), "scalar": ("nm", "")}
BINARY_CLASSES = [(d, p) for d in ("float64", "int64", "bool") for p in PATTERNS] + \
    [("float32", "row"), ("int32", "same"), ("float32/int32", "same"), ("int32/float64", "col")]


def _shape(spec, n, m):
    return tuple({"n": n, "m": m, "1": 1}[c] for c in spec)


@pytest.mark.parametrize("dtype,pattern", BINARY_CLASSES)
@settings(max_examples=8)
@given(data=st.data())
def test_binary_ops(dtype, pattern, data):
    da, _, db = dtype.partition("/")
    db = db or da
    ops = [op for op in _ops(Kind.ELEMENTWISE, 2) if _supports(op, [da, db])]
    names = [op.name for op in ops]

    def f(a, b):
        return tuple(op.numpy[0](a, b) for op in ops)

    fn = _compiled(f, ("binary", dtype, pattern))
    n, m = data.draw(st.sampled_from([0, 2, 3, 7])), data.draw(st.sampled_from([2, 3, 9]))
    sa, sb = PATTERNS[pattern]
    a = data.draw(array_of(da, _shape(sa, n, m)))
    b = data.draw(array_of(db, _shape(sb, n, m)))
    if np.dtype(db).kind in "iu":   # integer powers and shifts: keep exponents small, >= 0
        b = np.abs(b % 70) if b.ndim else np.abs(b % 70)[()]
    with np.errstate(all="ignore"):
        want = f(a, b)
    got = fn(a, b)
    if "pow" in names and np.dtype(da).kind == "f":
        # pow(-inf or -0.0, non-integer y): mathlib follows C99 (+inf / +0.0); NumPy's AVX-512
        # loop differs from its own scalar path there (docs/mathlib.md). Compared elsewhere.
        k = names.index("pow")
        odd = np.broadcast_to(((np.isneginf(a)) | ((a == 0) & np.signbit(a))) &
                              (np.asarray(b) != np.floor(b)), np.shape(want[k]))
        got, want = list(got), list(want)
        got[k], want[k] = np.where(odd, 0.0, got[k]), np.where(odd, 0.0, want[k])
    _compare(names, got, want)


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@settings(max_examples=6)
@given(data=st.data())
def test_ternary_and_casts(dtype, data):
    def f(c, x, y):
        # float -> int casts of out-of-range values are undefined in NumPy too: clip first
        return (np.where(c, x, y), np.clip(x, y, x + 1), x.astype(np.float32),
                np.clip(x, -1000, 1000).astype(np.int16), x.astype(bool), np.where(c, x, 0.5),
                -x * 2 + 1)

    fn = _compiled(f, ("ternary", dtype))
    n = data.draw(st.sampled_from([0, 3, 11]))
    c = data.draw(array_of("bool", (n,)))
    x = data.draw(array_of(dtype, (n,), finite=True))
    y = data.draw(array_of(dtype, (n,), finite=True))
    with np.errstate(all="ignore"):
        want = f(c, x, y)
    _compare(["where", "clip", "astype_f32", "astype_i16", "astype_bool", "where_weak", "chain"],
             fn(c, x, y), want)


def test_weak_scalar_params_and_overflow():
    fn = ef.function(lambda x, s: x * s + 1)
    x = np.arange(5, dtype=np.float32)
    assert_same(fn(x, 2.5), x * 2.5 + 1)
    xi = np.arange(5, dtype=np.int8)
    assert_same(fn(xi, 3), xi * 3 + 1)
    with pytest.raises(OverflowError):
        fn(xi, 300)


# -- reductions ------------------------------------------------------------------------------------

RED_CLASSES = [(d, ax, kd) for d in ("float64", "float32", "int64", "bool")
               for ax in (None, 0, 1, (0, 1)) for kd in (False, True)] + \
    [("int32", -1, False), ("float64", (0, 2), False), ("float64", 1, True)]


@pytest.mark.parametrize("dtype,axis,keepdims", RED_CLASSES)
@settings(max_examples=5)
@given(data=st.data())
def test_reductions(dtype, axis, keepdims, data):
    ndim = 3 if axis == (0, 2) or (axis == 1 and keepdims and dtype == "float64") else 2
    one = axis is None or isinstance(axis, int)
    red = [op for op in REGISTRY.values() if op.kind is Kind.REDUCTION and
           (one or not op.extra.get("index")) and dtype in (op.dtypes or (dtype,))]
    names = [op.name for op in red] + ["mean", "var", "std"]

    def f(x):
        out = [op.numpy[0](x, axis=axis, keepdims=keepdims) for op in red]
        if dtype != "bool":
            out += [x.mean(axis=axis, keepdims=keepdims), x.var(axis=axis, keepdims=keepdims),
                    np.std(x, axis=axis, keepdims=keepdims)]
        return tuple(out)

    fn = _compiled(f, ("reduce", dtype, axis, keepdims, ndim))
    shape = tuple(data.draw(st.sampled_from([2, 3, 6, 33])) for _ in range(ndim))
    if dtype.startswith("float"):
        # moderate magnitudes: where a product or sum overflows depends on the (documented)
        # combine order, so huge values would test NumPy's order rather than eagerflow
        x = data.draw(hnp.arrays(dtype, shape, elements=st.one_of(
            st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5] + [np.nan, np.inf, -np.inf] *
                            data.draw(st.booleans())),
            # no tiny magnitudes either: inf * tiny * tiny is inf or NaN by combine order
            st.floats(-3, 3, width=32 if dtype == "float32" else 64).map(
                lambda v: v if abs(v) > 1e-30 else 0.0))))
    else:
        x = data.draw(array_of(dtype, shape))
    with np.errstate(all="ignore"):
        want = f(x)
    tol = reduction_tolerance(x if dtype.startswith("float") else x.astype(np.float64)) \
        if dtype != "bool" else None
    got = fn(x)
    for name, g, w in zip(names, got, want):
        if name in ("var", "std", "mean") and tol is not None:
            tol2 = reduction_tolerance(np.abs(x) ** 2) + tol * 4
            assert_same(g, w, atol=tol2, rtol=1e-5 if dtype == "float32" else 1e-12, ulp=ULP)
        elif name in ("sum", "prod") and tol is not None and dtype.startswith("float"):
            assert_same(g, w, atol=tol, rtol=1e-5 if dtype == "float32" else 1e-12, ulp=ULP)
        else:
            try:
                assert_same(g, w, ulp=1 if name in ZERO_SIGN_FREE else 0)
            except AssertionError as e:
                raise AssertionError(f"{name}: {e}") from None


# -- fused programs, broadcasting, structured ops ---------------------------------------------------

def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2


def bcast(a, b, c, s):
    return (a * b + c) * s - np.minimum(a, c), (a[None, :] - c).sum(axis=0)


def shapes_and_index(x, i):
    y = x.T.reshape(-1)
    z = x.copy()
    z[1:, ::2] = 7.0
    z[0, 1] = -1.0
    return (y[::3], x[1:4, -1], x[::-1, 1:], np.concatenate([x, x * 2], axis=0),
            np.stack([x[0], x[1]], axis=1), np.broadcast_to(x[:, :1], x.shape), z, x[i],
            np.swapaxes(x[None], 0, 2), np.zeros_like(x) + 3, np.expand_dims(x, 1).squeeze(1))


@settings(max_examples=6)
@given(n=st.sampled_from([2, 5, 40]), m=st.sampled_from([2, 3, 300]))
def test_fused_programs(n, m):
    rng = np.random.default_rng(n * 1000 + m)
    x = rng.standard_normal((n, m))
    g, b = rng.standard_normal(m), rng.standard_normal(m)
    for fn, args in ((softmax, (x,)), (layernorm, (x, g, b)),
                     (mlp, (x, rng.standard_normal((m, 7)), rng.standard_normal(7),
                            rng.standard_normal((7, 4)), rng.standard_normal(4)))):
        got = _compiled(fn, fn.__name__)(*args)
        assert_same(got, fn(*args), ulp=8, atol=1e-12 * m)


@settings(max_examples=6)
@given(data=st.data())
def test_broadcast_patterns(data):
    n, m = data.draw(st.sampled_from([2, 4])), data.draw(st.sampled_from([3, 8]))
    a = data.draw(array_of("float64", (n,)))
    b = data.draw(array_of("float64", (m, n)))
    c = data.draw(array_of("float64", (m, 1)))
    s = data.draw(array_of("float64", ()))
    with np.errstate(all="ignore"):
        want = bcast(a, b, c, s)
    got = _compiled(bcast, "bcast")(a, b, c, s)
    assert_same(got[0], want[0])
    assert_same(got[1], want[1], atol=reduction_tolerance(a[None, :] - c))


@settings(max_examples=5)
@given(n=st.sampled_from([4, 6]), m=st.sampled_from([3, 5]), i=st.integers(-4, 3))
def test_shape_and_index_ops(n, m, i):
    x = np.arange(n * m, dtype=np.float64).reshape(n, m) - 3.5
    idx = np.array([i, 0, n - 1])
    assert_same(_compiled(shapes_and_index, "shapes")(x, idx), shapes_and_index(x, idx),
                check_scalar_kind=False)


def test_integer_and_batched_matmul():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    b = np.arange(8, dtype=np.int32).reshape(4, 2)
    fn = ef.function(lambda a, b: (a @ b, np.dot(a.astype(np.float32), b.astype(np.float32))))
    assert_same(fn(a, b), (a @ b, np.dot(a.astype(np.float32), b.astype(np.float32))))
    t = np.random.default_rng(0).standard_normal((2, 3, 4))
    fb = ef.function(lambda t: t @ t.transpose(0, 2, 1))
    assert_same(fb(t), t @ t.transpose(0, 2, 1), ulp=4)


def test_gather_out_of_bounds_raises():
    fn = ef.function(lambda x, i: x[i] * 2)
    x = np.arange(5.0)
    assert_same(fn(x, np.array([0, -1, 3])), x[np.array([0, -1, 3])] * 2)
    with pytest.raises(IndexError):
        fn(x, np.array([7]))


def test_zero_d_results_and_inputs():
    fn = ef.function(lambda x, y: (x.sum(), y * 2, np.float32(3) * y, x[0]))
    x = np.arange(3.0)
    got = fn(x, np.array(2.0))
    want = (x.sum(), np.array(2.0) * 2, np.float32(3) * np.array(2.0), x[0])
    assert_same(got, want, check_scalar_kind=True)


def test_every_registry_op_has_a_numba_path():
    """A new op fails here until it compiles natively or is covered by the objmode path."""
    from eagerflow.compiler.codegen.structured import EMITTERS
    for op in REGISTRY.values():
        if op.kind in (Kind.COMPOSITE, Kind.CONTROL, Kind.STATE):
            continue
        native = op.kind in (Kind.ELEMENTWISE, Kind.REDUCTION) or op.name in EMITTERS
        assert native or op.impl is not None, op.name
        if op.kind is Kind.ELEMENTWISE:
            assert op.emit.get("numba"), f"{op.name} has no Numba template"
        if op.kind is Kind.REDUCTION:
            assert "combine" in op.extra or op.extra.get("index"), op.name


# one compiled function per class, shared by the examples hypothesis draws
_CACHE: dict = {}


def _compiled(f, key):
    if key not in _CACHE:
        _CACHE[key] = ef.function(f)
    return _CACHE[key]


_RNG = np.random.default_rng(11)


@pytest.mark.parametrize("f, a, b", [
    (lambda a, b: (a @ b).astype(np.float64) * 2.0, _RNG.integers(-5, 5, (3,)),
     _RNG.integers(-5, 5, (3, 4))),
    (lambda a, b: (a @ b) + 1, _RNG.integers(-5, 5, (2, 3, 4)), _RNG.integers(-5, 5, (2, 4, 5))),
    (lambda a, b: np.logical_not(a @ b), _RNG.random((3, 4)) > 0.5, _RNG.random((4, 2)) > 0.5),
    (lambda a, b: (a @ b) * 3, _RNG.integers(-5, 5, (4,)), _RNG.integers(-5, 5, (4,))),
    (lambda a, b: np.maximum(a @ b, 0.0), _RNG.standard_normal((2, 3, 4)),
     _RNG.standard_normal((2, 4, 5))),
])
def test_matmul_epilogue_over_a_numpy_product(f, a, b):
    """A fused.matmul whose product has no compiled loop (1-d integer, batched, boolean): the
    product runs through NumPy, the epilogue in the compiled code (it used to raise)."""
    got, want = ef.function(f)(a, b), f(a, b)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=1e-12)



# -- Numba's notes about generated code stay hidden (codegen._quiet_numba) ------------------------

def _text(w) -> str:
    return re.sub(r"\x1b\[\d+m", "", str(w.message))   # Numba's warnings carry ANSI bold


def test_first_compile_shows_no_numba_warnings(monkeypatch, tmp_path):
    from numba.core.errors import NumbaWarning

    from eagerflow.compiler import codegen
    monkeypatch.setenv("EAGERFLOW_CACHE_DIR", str(tmp_path))   # Numba compiles anew
    monkeypatch.setattr(codegen, "_compiled", {})

    def with_out(x, y):   # out= on an argument: an objmode block
        np.add(x, y, out=x)
        return x * 2

    def strided_dot(a, b):   # a.T is not contiguous: Numba's np.dot performance hint
        return a.T @ b

    step = ef.grad(lambda w, x: ((x @ w.T) ** 2).sum())
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ef.function(with_out)(np.ones(3), np.ones(3))
        ef.function(strided_dot)(np.ones((3, 3)), np.ones((3, 3)))
        ef.function(step)(np.ones((3, 3)), np.ones((4, 3)))
        warnings.warn("the user's own", NumbaWarning)
    assert [_text(w) for w in record] == ["the user's own"]
    assert warnings.filters == before   # nothing left behind


def test_quiet_numba_hides_only_numba_notes():
    from numba.core.errors import NumbaPerformanceWarning, NumbaWarning

    from eagerflow.compiler.codegen import _quiet_numba
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with _quiet_numba():
            warnings.warn("np.dot() is faster on contiguous arrays", NumbaPerformanceWarning)
            warnings.warn("Code running in object mode won't allow parallel execution despite "
                          "nogil=True.", NumbaWarning)
            warnings.warn("another Numba warning", NumbaWarning)
            warnings.warn("overflow encountered in multiply", RuntimeWarning)
        warnings.warn("np.dot() is faster on contiguous arrays", NumbaPerformanceWarning)
    assert [_text(w) for w in record] == ["another Numba warning",
                                          "overflow encountered in multiply",
                                          "np.dot() is faster on contiguous arrays"]


def test_quiet_numba_in_threads_leaves_no_filter():
    from eagerflow.compiler.codegen import _quiet_numba
    before = list(warnings.filters)
    start = threading.Barrier(4)

    def worker():
        start.wait()
        for _ in range(200):
            with _quiet_numba():
                pass
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert warnings.filters == before


_FASTMATH_CHECKS = [
    lambda x: np.isnan(x), lambda x: np.isinf(x), lambda x: np.isfinite(x), lambda x: x != x,
    lambda x: x.max(), lambda x: np.maximum(x, 0.0), lambda x: x.argmax(),
    lambda x: np.where(np.isnan(x), 0.0, x).sum(), lambda x: 1.0 / (x - x),
]


@pytest.mark.parametrize("k", range(len(_FASTMATH_CHECKS)))
def test_fastmath_keeps_nan_and_inf(k):
    """fastmath=True trades rounding (reassociation, fma, reciprocals), never NaN/inf semantics:
    with LLVM's nnan/ninf flags isnan folded to False and 1/0 gave garbage."""
    fn = _FASTMATH_CHECKS[k]
    x = np.linspace(-3, 3, 1000)
    x[3], x[5], x[7] = np.nan, np.inf, -np.inf
    with np.errstate(all="ignore"):
        want = fn(x)
    got = ef.function(fn, fastmath=True)(x)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_fastmath_source_names_its_flags():
    low = ef.function(lambda x: (x * 2.0).sum(), fastmath=True).lower(np.ones(4))
    assert "nnan" not in low.source and "reassoc" in low.source
