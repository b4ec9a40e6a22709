"""The threaded variant: same results as NumPy and as the serial code, for any thread count; small
inputs stay serial. Smoke tests (DESIGN.md "Testing tiers"): a few compile classes."""
from __future__ import annotations

import os
import threading

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.ops import REGISTRY, Kind
from eagerflow.runtime import config
from eagerflow.testing import array_of, assert_same, reduction_tolerance

pytestmark = pytest.mark.numba


@pytest.fixture
def threaded(monkeypatch):
    """Every size takes the threaded variant."""
    monkeypatch.setattr(config, "parallel_threshold", 0)


def _unary_float_ops():
    return [op for op in REGISTRY.values() if op.kind is Kind.ELEMENTWISE and op.nin == 1 and
            op.numpy and isinstance(op.numpy[0], np.ufunc) and "float64" in (op.dtypes or
                                                                             ("float64",))]


def _both_thread_counts(fn, *args):
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fn(*args)
        numba.set_num_threads(max(2, old))
        many = fn(*args)
    finally:
        numba.set_num_threads(old)
    assert_same(one, many)   # bit-identical: fixed chunks, partials combined serially
    return many


_FNS: dict = {}


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_registry_elementwise_on_threads(threaded, data):
    ops = _unary_float_ops()
    if "unary" not in _FNS:
        _FNS["unary"] = ef.function(lambda x: tuple(op.numpy[0](x) for op in ops), parallel=True)
    fn = _FNS["unary"]
    x = data.draw(array_of("float64", (data.draw(st.sampled_from([1, 3, 40])), 7)))
    with np.errstate(all="ignore"):
        want = tuple(op.numpy[0](x) for op in ops)
    got = _both_thread_counts(fn, x)
    for op, g, w in zip(ops, got, want):
        assert_same(g, w, ulp=4)


@pytest.mark.parametrize("axis", [None, 0, 1])
@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.sampled_from([3, 70, 300]), m=st.sampled_from([5, 300]))
def test_reductions_on_threads(threaded, axis, n, m):
    key = ("red", axis)
    if key not in _FNS:
        _FNS[key] = ef.function(lambda x: (x.sum(axis=axis), (x * x).max(axis=axis),
                                           x.argmax(axis=axis), x.var(axis=axis)), parallel=True)
    x = np.random.default_rng(n * m).standard_normal((n, m))
    got = _both_thread_counts(_FNS[key], x)
    tol = reduction_tolerance(x)
    assert_same(got[0], x.sum(axis=axis), atol=tol, rtol=1e-12)
    assert_same(got[1], (x * x).max(axis=axis))
    assert_same(got[2], x.argmax(axis=axis))
    assert_same(got[3], x.var(axis=axis), atol=tol * 10, rtol=1e-12)


def test_long_vector_sum_is_thread_count_independent(threaded):
    x = np.random.default_rng(1).standard_normal(300_001)
    fn = ef.function(lambda x: (x * 1.5).sum(), parallel=True)
    got = _both_thread_counts(fn, x)
    assert_same(got, (x * 1.5).sum(), atol=reduction_tolerance(x * 1.5))
    serial = ef.function(lambda x: (x * 1.5).sum(), parallel=False)(x)
    assert_same(got, serial)   # the serial code combines the same fixed chunks in the same order


def test_fused_programs_on_threads(threaded):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 50))

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    got = _both_thread_counts(ef.function(softmax, parallel=True), x)
    assert_same(got, softmax(x), ulp=8, atol=1e-15)


def test_small_inputs_stay_serial():
    fn = ef.function(lambda x: np.sin(x) * 2, parallel=True)
    small = np.ones(10)
    fn(small)
    low = fn.lower(small)
    assert low.parallel_source is None   # no kernel reaches the threshold: no threaded variant
    assert "prange(" not in low.source
    from eagerflow.compiler.codegen import generate
    src, _ = generate(low.optimized, parallel=True).variant()
    assert "prange(" not in src and "parallel=True" not in src   # below the threshold: serial
    big = np.ones(config.parallel_threshold)
    src, _ = generate(fn.lower(big).optimized, parallel=True).variant()
    assert "prange(" in src


def test_threads_calling_threaded_code_at_once(threaded):
    fn = ef.function(lambda x: (x * 2).sum(axis=1), parallel=True)
    xs = [np.full((50, 40), float(i)) for i in range(6)]
    fn(xs[0])
    results = {}

    def work(i):
        for _ in range(20):
            results[i] = fn(xs[i])

    ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i, x in enumerate(xs):
        assert_same(results[i], (x * 2).sum(axis=1))


def test_large_outputs_on_threads(threaded):
    """Outputs of 1 MiB or more: new ones are pre-faulted by all threads (rt.ef_touch_pages)."""
    x = np.linspace(-50, 50, 300_000).reshape(3, -1)
    fn = ef.function(lambda x: (np.sin(x) * 2 + 1, (x * x).sum(axis=1)), parallel=True)
    low = fn.lower(x)
    assert "prange(" in low.parallel_source
    got = _both_thread_counts(fn, x)
    assert_same(got[0], np.sin(x) * 2 + 1, ulp=4, atol=1e-14)   # 2*sin+1 cancels near -0.5
    assert_same(got[1], (x * x).sum(axis=1), atol=reduction_tolerance(x * x))


def test_long_1d_kernels_in_chunks_with_fixups(threaded):
    """A threaded 1-d kernel runs in CHUNK-element chunks over per-chunk slices: several chunks
    and a partial one, a broadcast size-1 input and a scalar, the fast paths' fix-up loops in some
    chunks only (huge arguments), two outputs. Same bits as the serial code."""
    from eagerflow.compiler.rt import CHUNK
    n = 2 * CHUNK + 12_345
    rng = np.random.default_rng(3)
    x = rng.uniform(-30, 30, n)
    x[[5, CHUNK + 7, n - 1]] = [1e30, -3e25, np.inf]   # the fix-up in three chunks
    x[CHUNK + 9] = np.nan
    y = np.array([0.75])

    def f(x, y, s):
        return np.sin(x) * y + np.exp(x * 0.01) / s, np.cos(x) - s

    fn = ef.function(f, parallel=True)
    low = fn.lower(x, y, 3.0)
    assert "CHUNK - 1) // CHUNK):" in low.parallel_source and "if big" in low.parallel_source
    got = _both_thread_counts(fn, x, y, 3.0)
    with np.errstate(invalid="ignore"):
        want = f(x, y, 3.0)
    assert_same(got[0], want[0], ulp=4, atol=1e-15)
    assert_same(got[1], want[1], ulp=4, atol=1e-15)
    serial = ef.function(f, parallel=False)(x, y, 3.0)
    assert_same(got, serial)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n,k", [(1, 8), (2500, 20), (3000, 256)])
def test_narrow_matrix_vector_products_on_threads(threaded, dtype, n, k):
    """vector @ M and M @ vector with 8-256 columns run as row blocks in threaded code, not BLAS:
    the vector @ M partials (MATROWS rows each) are added in order, so any thread count gives the
    same bits; an epilogue runs over the product."""
    rng = np.random.default_rng(n + k)
    m = rng.normal(size=(n, k)).astype(dtype)
    v, w = rng.normal(size=n).astype(dtype), rng.normal(size=k).astype(dtype)

    def f(m, v, w):
        return np.tanh(v @ m) - w, m @ w * 2.0

    fn = ef.function(f, parallel=True)
    src = fn.lower(m, v, w).parallel_source
    assert "MATROWS" in src and "np.dot" not in src
    got = _both_thread_counts(fn, m, v, w)
    want = f(m.astype(np.float64), v.astype(np.float64), w.astype(np.float64))
    tol = 1e-4 if dtype == "float32" else 1e-11
    np.testing.assert_allclose(got[0], want[0], rtol=tol, atol=tol * np.sqrt(n))
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol * np.sqrt(k))
    assert got[0].dtype == got[1].dtype == np.dtype(dtype)


def test_wide_or_very_narrow_matrices_keep_blas(threaded):
    fn = ef.function(lambda m, v: (v @ m, m @ v[:4]), parallel=True)
    m, v = np.ones((300, 4)), np.ones(300)
    assert "MATROWS" not in (fn.lower(m, v).parallel_source or "")   # 4 columns: BLAS
    np.testing.assert_allclose(fn(m, v)[0], v @ m)


def test_threads_weigh_transcendental_work():
    """A kernel's size counts each element 1 + the registry cost of its ops: np.exp on 60,000
    elements threads at the 200,000 threshold, plain arithmetic on as many does not, and one
    CHUNK or less never threads (a single task)."""
    from eagerflow.compiler.rt import CHUNK
    assert config.parallel_threshold == 200_000
    x = np.linspace(-3, 3, 60_000)
    heavy = ef.function(lambda x: np.exp(x) + 1.0, parallel=True)
    light = ef.function(lambda x: x * 2.0 + 1.0, parallel=True)
    assert "prange(" in heavy.lower(x).parallel_source
    assert light.lower(x).parallel_source is None
    small = x[:CHUNK]
    assert heavy.lower(small).parallel_source is None
    assert_same(heavy(x), np.exp(x) + 1.0, ulp=2)
    costly = [op.name for op in REGISTRY.values() if op.extra.get("cost")]
    assert {"exp", "sin", "tanh", "log1p", "logaddexp"} <= set(costly)
    assert not {"add", "mul", "sqrt", "maximum"} & set(costly)


def test_threaded_1d_kernel_body_is_a_function_of_its_own():
    """The prange body of a 1-d kernel calls a serial function (docs/numba_backend.md, "Threads":
    cached, the copy Numba links into threaded code ran 15-20% slower)."""
    f = ef.function(lambda x, y, s: np.exp(x * s) + y[::2], parallel=True)
    x, y = np.linspace(-3, 3, 300_000), np.arange(600_000.0)
    src = f.lower(x, y, 2.0).parallel_source
    assert "_chunk0(" in src.split("parallel=True")[0]
    body = src.split("prange(", 1)[1].splitlines()[1].strip()
    assert "_chunk0(" in body
    assert_same(f(x, y, 2.0), np.exp(x * 2.0) + y[::2], ulp=2)


_PRELOAD = """
import sys, numpy as np, eagerflow as ef
x = np.linspace(-700.0, 720.0, 400_000)    # exp overflows at the top: the fix-up path runs too
f = ef.function(lambda x: np.exp(x) * 2.0 + 1.0, parallel=True)
got = f(x)
with np.errstate(over="ignore"):
    want = np.exp(x) * 2.0 + 1.0
assert np.array_equal(got, want) or np.allclose(got, want, rtol=1e-15, equal_nan=True)
mod = next(m for n, m in sys.modules.items() if n.startswith("eagerflow_generated_") and
           any(k.endswith("_chunk0") for k in vars(m)))
chunk = next(v for k, v in vars(mod).items() if k.endswith("_chunk0"))
print(sum(chunk.stats.cache_hits.values()))
"""


def test_chunk_functions_preloaded_from_the_types_an_earlier_process_recorded(tmp_path):
    import glob
    import subprocess
    import sys
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=str(tmp_path))

    def run():
        out = subprocess.run([sys.executable, "-c", _PRELOAD], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return int(out.stdout.split()[-1])

    assert run() == 0                                 # compiled: its chunk function too
    recorded = glob.glob(str(tmp_path / "ef_*.chunks"))
    assert len(recorded) == 1
    assert run() == 1                                 # loaded from the cache before the kernel
    with open(recorded[0], "wb") as f:
        f.write(b"not a pickle")
    assert run() == 0                                 # speed only: still correct without it


def _int_pow(a, b):
    return a ** b


def _int_pow_chain(a, b):
    return a ** b + 1


def _int_pow_rows(x, e):
    return (x ** e).sum(axis=1) + x.max(axis=1)


@pytest.mark.parametrize("fn, shape", [(_int_pow, (400_000,)), (_int_pow_chain, (400_000,)),
                                       (_int_pow_rows, (700, 700))])
def test_errors_in_large_kernels_are_raised_on_every_call(fn, shape):
    """Integers to a negative power raise ValueError as in NumPy, at any size: Numba loses an
    exception raised on a worker thread (the result was silently wrong and the next call failed
    with SystemError), so kernels that can raise stay serial."""
    a = np.full(shape, 2)
    b = np.ones(shape, np.int64)
    b.reshape(-1)[b.size * 7 // 9] = -1
    f = ef.function(fn)
    for _ in range(2):
        with pytest.raises(ValueError, match="negative integer powers"):
            f(a, b)
    b.reshape(-1)[b.size * 7 // 9] = 3
    assert_same(f(a, b), fn(a, b))


def test_a_constant_non_negative_power_keeps_threads():
    x = np.full((1000, 1000), 3)
    low = ef.function(lambda x: (x ** 3 + 1) * 2).lower(x)
    assert "prange" in low.parallel_source


def test_ops_whose_code_can_raise_say_so():
    """Every op whose generated code calls a runtime helper that raises declares it
    (extra["raises"]), so the threaded variant keeps such kernels serial."""
    import inspect
    from eagerflow.compiler import rt
    raising = {name for name in dir(rt) if name.startswith("ef_") and
               "raise " in inspect.getsource(getattr(getattr(rt, name), "py_func",
                                                     getattr(rt, name)))}
    assert "ef_pow_i" in raising
    for op in REGISTRY.values():
        tmpl = op.emit.get("numba")
        texts = tmpl.values() if isinstance(tmpl, dict) else [tmpl] if isinstance(tmpl, str) else []
        if any(h + "(" in t for t in texts for h in raising):
            assert callable(op.extra.get("raises")), op.name
