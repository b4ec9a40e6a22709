"""backend="cuda" against eager NumPy, on Numba's CUDA simulator (CI) or a GPU.

As in tests/compiler/test_numba_backend.py, each test builds one function per compile class
(dtypes, ranks, broadcast pattern) and hypothesis varies sizes and values inside it. The simulator
runs kernels as Python threads, so inputs stay small. Tests marked `gpu` run on a real GPU only.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.ops import REGISTRY, Kind
from eagerflow.testing import array_of, assert_same, reduction_tolerance

SIMULATOR = __import__("os").environ.get("NUMBA_ENABLE_CUDASIM") == "1"   # set by conftest.py


def real_gpu() -> bool:
    if SIMULATOR:
        return False
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:
        return False


ULP = 4
INEXACT = {"exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin",
           "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
           "pow", "hypot", "logaddexp", "floordiv", "mod", "sqrt", "reciprocal"}
ZERO_SIGN_FREE = {"maximum", "minimum", "fmax", "fmin", "clip", "max", "min"}
gpu = pytest.mark.skipif(not real_gpu(), reason="needs a CUDA GPU (runs on the simulator's "
                                                "side only the simulator tests)")

_FNS: dict = {}


def _compiled(f, key):
    if key not in _FNS:
        _FNS[key] = ef.function(f, backend="cuda")
    return _FNS[key]


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


def _compare(names, got, want):
    for name, g, w in zip(names, got, want):
        ulp = ULP if name in INEXACT else 1 if name in ZERO_SIGN_FREE else 0
        try:
            assert_same(g, w, ulp=ulp)
        except AssertionError as e:
            raise AssertionError(f"op {name}: {e}") from None


# -- elementwise -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool"])
@settings(max_examples=4)
@given(data=st.data())
def test_unary_ops(dtype, data):
    ops = [op for op in _ops(Kind.ELEMENTWISE, 1) if _supports(op, [dtype])]
    names = [op.name for op in ops]

    def f(x):
        return tuple(op.numpy[0](x) for op in ops)

    fn = _compiled(f, ("unary", dtype))
    x = data.draw(array_of(dtype, (data.draw(st.sampled_from([0, 3, 7])),)))
    with np.errstate(all="ignore"):
        want = f(x)
    _compare(names, fn(x), want)


PATTERNS = {"same": ("nm", "nm"), "row": ("nm", "m"), "col": ("n1", "1m"), "scalar": ("nm", "")}
BINARY_CLASSES = [("float64", "same"), ("float64", "col"), ("int64", "row"), ("bool", "scalar"),
                  ("float32", "row"), ("int32/float64", "col")]


def _shape(spec, n, m):
    return tuple({"n": n, "m": m, "1": 1}[c] for c in spec)


@pytest.mark.parametrize("dtype,pattern", BINARY_CLASSES)
@settings(max_examples=3)
@given(data=st.data())
def test_binary_ops(dtype, pattern, data):
    da, _, db = dtype.partition("/")
    db = db or da
    ops = [op for op in _ops(Kind.ELEMENTWISE, 2) if _supports(op, [da, db])]
    names = [op.name for op in ops]

    def f(a, b):
        return tuple(op.numpy[0](a, b) for op in ops)

    fn = _compiled(f, ("binary", dtype, pattern))
    n, m = data.draw(st.sampled_from([0, 2, 3])), data.draw(st.sampled_from([2, 5]))
    sa, sb = PATTERNS[pattern]
    a = data.draw(array_of(da, _shape(sa, n, m)))
    b = data.draw(array_of(db, _shape(sb, n, m)))
    if np.dtype(db).kind in "iu":   # integer powers and shifts: small exponents >= 0
        b = np.abs(b % 70) if b.ndim else np.abs(b % 70)[()]
    with np.errstate(all="ignore"):
        want = f(a, b)
    _compare(names, fn(a, b), want)


@settings(max_examples=4)
@given(data=st.data())
def test_ternary_casts_and_weak_scalars(data):
    def f(c, x, y, s):
        return (np.where(c, x, y), np.clip(x, y, x + 1), x.astype(np.float32),
                np.clip(x, -1000, 1000).astype(np.int16), x.astype(bool), np.where(c, x, 0.5),
                -x * 2 + 1, x * s, s * 2.0)

    fn = _compiled(f, "ternary")
    n = data.draw(st.sampled_from([0, 3, 11]))
    c = data.draw(array_of("bool", (n,)))
    x = data.draw(array_of("float64", (n,), finite=True))
    y = data.draw(array_of("float64", (n,), finite=True))
    s = data.draw(st.sampled_from([0.5, -2.0, 3.0]))
    with np.errstate(all="ignore"):
        want = f(c, x, y, s)
    got = fn(c, x, y, s)
    _compare(["where", "clip", "astype_f32", "astype_i16", "astype_bool", "where_weak", "chain",
              "weak_mul", "weak_scalar"], got, want)


# -- reductions ------------------------------------------------------------------------------------

RED_CLASSES = [("float64", None, False), ("float64", 1, True), ("float32", 1, False),
               ("int64", 0, False), ("bool", None, True), ("float64", (0, 2), False),
               ("int32", -1, False)]


@pytest.mark.parametrize("dtype,axis,keepdims", RED_CLASSES)
@settings(max_examples=3)
@given(data=st.data())
def test_reductions(dtype, axis, keepdims, data):
    ndim = 3 if axis == (0, 2) else 2
    one = axis is None or isinstance(axis, int)
    red = [op for op in REGISTRY.values() if op.kind is Kind.REDUCTION and
           (one or not op.extra.get("index")) and dtype in (op.dtypes or (dtype,))]
    names = [op.name for op in red] + ["mean", "var"]

    def f(x):
        out = [op.numpy[0](x, axis=axis, keepdims=keepdims) for op in red]
        if dtype != "bool":
            out += [x.mean(axis=axis, keepdims=keepdims), x.var(axis=axis, keepdims=keepdims)]
        return tuple(out)

    fn = _compiled(f, ("reduce", dtype, axis, keepdims))
    shape = tuple(data.draw(st.sampled_from([1, 3, 6, 37])) for _ in range(ndim))
    if dtype.startswith("float"):
        x = data.draw(hnp.arrays(dtype, shape, elements=st.one_of(
            st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5] + [np.nan, np.inf] *
                            data.draw(st.booleans())),
            st.floats(-3, 3, width=32 if dtype == "float32" else 64))))
    else:
        x = data.draw(array_of(dtype, shape))
    with np.errstate(all="ignore"):
        want = f(x)
    tol = reduction_tolerance(x if dtype.startswith("float") else x.astype(np.float64)) \
        if dtype != "bool" else None
    got = fn(x)
    for name, g, w in zip(names, got, want):
        if name in ("var", "mean") and tol is not None:
            tol2 = reduction_tolerance(np.abs(x) ** 2) + tol * 4
            assert_same(g, w, atol=tol2, rtol=1e-5 if dtype == "float32" else 1e-12, ulp=ULP)
        elif name in ("sum", "prod") and tol is not None and dtype.startswith("float"):
            assert_same(g, w, atol=tol, rtol=1e-5 if dtype == "float32" else 1e-12, ulp=ULP)
        else:
            try:
                assert_same(g, w, ulp=1 if name in ZERO_SIGN_FREE else 0)
            except AssertionError as e:
                raise AssertionError(f"{name}: {e}") from None


# -- programs: row kernels, matmul, host round trips -----------------------------------------------

def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2


def chain(a, b, c, d):
    return a * b + c * np.sin(d) - np.exp(-a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=3)
@given(n=st.sampled_from([1, 3, 9]), m=st.sampled_from([1, 5, 70]))
def test_workloads(dtype, n, m):
    rng = np.random.default_rng(n * 1000 + m)
    x = rng.standard_normal((n, m)).astype(dtype)
    g, b = rng.standard_normal(m).astype(dtype), rng.standard_normal(m).astype(dtype)
    w1, b1 = rng.standard_normal((m, 4)).astype(dtype), rng.standard_normal(4).astype(dtype)
    w2, b2 = rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal(3).astype(dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for f, args in ((softmax, (x,)), (layernorm, (x, g, b)), (mlp, (x, w1, b1, w2, b2)),
                    (chain, (x, x * 2, x + 1, x - 1))):
        got = _compiled(f, (f.__name__, dtype))(*args)
        want = f(*args)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=f.__name__)


def test_row_program_is_one_kernel_and_falls_back_when_rows_are_large():
    from eagerflow.compiler import cuda as cb
    x = np.random.default_rng(1).standard_normal((4, 9))
    fn = ef.function(softmax, backend="cuda")
    src = fn.lower(x).source
    assert "row program over (4, 9): max, fused.reduce/sum, div" in src
    assert src.count("@cuda.jit") == 4      # the row program, and the fallback's three kernels
    want = fn(x)
    np.testing.assert_allclose(want, softmax(x), rtol=1e-12)
    gen = cb.generate(fn.lower(x).optimized)
    mod = cb.load(gen.canonical, gen.key)
    old = mod.EF_SHMAX
    try:
        mod.EF_SHMAX = 0                     # force one kernel per node
        got = fn(x)
    finally:
        mod.EF_SHMAX = old
    assert_same(got, want)                   # same combine order: bit-identical


def test_unrolled_loops_and_tails():
    # sizes past one unrolled step (grid * block * unroll on the simulator: 4 * 32 * 2), with tails
    for n in (255, 256, 1000, 1031):
        x = np.random.default_rng(n).standard_normal(n)
        got = _compiled(chain, "chain-1d")(x, x + 1, x * 3, x - 2)
        np.testing.assert_allclose(got, chain(x, x + 1, x * 3, x - 2), rtol=1e-13, atol=1e-13)
        y = x[: n // 5 * 5].reshape(5, -1)
        np.testing.assert_allclose(_compiled(softmax, "softmax-rows")(y), softmax(y),
                                   rtol=1e-13)


def test_deterministic_reductions():
    x = np.random.default_rng(2).standard_normal(1000)
    fn = ef.function(lambda x: (x.sum(), (x * x).sum()), backend="cuda")
    a, b = fn(x), fn(x)
    assert_same(a, b)
    assert abs(a[0] - x.sum()) <= reduction_tolerance(x)


def test_source_shows_kernels_and_host_round_trips():
    def f(x, s):
        return (x.T * s).sum(axis=0), x.reshape(-1)[::2]
    x = np.arange(12.0).reshape(3, 4)
    low = ef.function(f, backend="cuda").lower(x, 2.0)
    assert "@cuda.jit" in low.source and "ef_host('transpose'" in low.source
    assert "cuda.grid(1)" in low.source
    got = ef.function(f, backend="cuda")(x, 2.0)
    _compare(["sum", "slice"], got, f(x, 2.0))


def test_zero_d_inputs_results_and_weak_scalars():
    def f(x, s, t):
        return x.sum() * s, s + t, np.float32(2) * t, x.max()
    fn = ef.function(f, backend="cuda")
    x = np.arange(5, dtype=np.float32)
    got = fn(x, 3.0, np.float32(1.5))
    want = f(x, 3.0, np.float32(1.5))
    for g, w in zip(got, want):
        assert type(g) is type(w) and g == w, (got, want)


def test_sizes_share_one_module():
    from eagerflow.compiler import cuda as cb
    fn = ef.function(chain, backend="cuda")
    a = [np.ones(n) for n in (3, 3, 3, 3)]
    b = [np.ones(n) for n in (8, 8, 8, 8)]
    assert cb.generate(fn.lower(*a).optimized).key == cb.generate(fn.lower(*b).optimized).key
    np.testing.assert_allclose(fn(*b), chain(*b))


def test_device_inputs_stay_on_the_device():
    from numba import cuda
    x = np.random.default_rng(3).standard_normal((3, 5))
    fn = ef.function(lambda x, y: (softmax(x), x + y), backend="cuda")
    dx = cuda.to_device(x)
    got = fn(dx, dx)
    assert all(hasattr(g, "copy_to_host") for g in got)
    np.testing.assert_allclose(got[0].copy_to_host(), softmax(x), rtol=1e-12)
    np.testing.assert_allclose(got[1].copy_to_host(), 2 * x)
    host = fn(x, x)                          # the same trace serves NumPy inputs
    assert isinstance(host[0], np.ndarray)


def test_in_place_update_of_a_device_argument():
    from numba import cuda

    def f(x):
        x += 1.0
        return x.sum()
    fn = ef.function(f, backend="cuda")
    dx = cuda.to_device(np.arange(4.0))
    assert fn(dx).copy_to_host()[0] == 10.0
    np.testing.assert_array_equal(dx.copy_to_host(), [1.0, 2.0, 3.0, 4.0])


def test_integer_matmul_and_bool_fallback():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    b = np.arange(12, dtype=np.int64).reshape(3, 4)
    fn = ef.function(lambda a, b, c: (a @ b, c @ c.T, a[0] @ b), backend="cuda")
    c = np.array([[True, False], [False, False]])
    _compare(["mm", "bool", "vec"], fn(a, b, c), (a @ b, c @ c.T, a[0] @ b))


# -- GPU only ----------------------------------------------------------------------------------------

@gpu
def test_torch_and_cupy_inputs_come_back_as_their_kind():
    torch = pytest.importorskip("torch")
    x = torch.randn(64, 128, device="cuda", dtype=torch.float32)
    fn = ef.function(softmax, backend="cuda")
    out = fn(x)
    assert isinstance(out, torch.Tensor) and out.is_cuda
    torch.testing.assert_close(out, torch.softmax(x, dim=1), rtol=1e-5, atol=1e-6)
    try:
        import cupy
    except ImportError:
        return
    c = cupy.asarray(x)
    outc = fn(c)
    assert isinstance(outc, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(outc), out.cpu().numpy(), rtol=1e-6)


@gpu
def test_large_sizes_on_the_gpu():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3000, 4096)).astype(np.float32)    # rows too big for f64 caches
    for dt in (np.float32, np.float64):
        xx = x.astype(dt)
        np.testing.assert_allclose(ef.function(softmax, backend="cuda")(xx), softmax(xx),
                                   rtol=1e-5, atol=1e-7)
        v = xx.reshape(-1)
        s = ef.function(lambda v: v.sum(), backend="cuda")(v)
        assert abs(s - v.sum(dtype=np.float64)) <= reduction_tolerance(v)


@pytest.mark.skipif(not SIMULATOR, reason="simulator check")
def test_simulator_is_used_in_ci():
    from eagerflow.compiler.cuda import rt
    assert rt.SIMULATOR and rt.EF_B == 32
