"""Code-generation choices that must not change results: the trigonometric fast path with its
fix-up loop, one-row buffers for values a row group uses up, per-block slices in blocked
reductions, and recycled output arrays."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.compiler import mathlib

pytestmark = pytest.mark.numba

BIG = mathlib.TRIG_FAST_LIMIT


def _ulps(a, b):
    """Distance in units of the last place of b's dtype."""
    dt = np.asarray(b).dtype
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    scale = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(dt)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(same, 0.0, np.abs(a - b) / scale)


trig_values = st.one_of(
    st.floats(-50, 50),
    st.floats(-800, 800),
    st.floats(-2 * BIG, 2 * BIG),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, BIG, -BIG, np.nextafter(BIG, 0),
                     1e300, 5e-324, math.pi / 2, 1e22, 708.0, -708.0, 709.7, -745.0, 88.7,
                     -103.9]))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([np.sin, np.cos, np.tan, np.exp]), st.sampled_from(["float64", "float32"]),
       st.lists(trig_values, min_size=1, max_size=70))
def test_guarded_fast_paths_with_fixup_match_numpy(fn, dtype, values):
    x = np.array(values, np.float64).astype(dtype)
    f = ef.function(lambda x: fn(x))
    got = f(x)
    with np.errstate(all="ignore"):
        want = fn(x)
    assert got.dtype == want.dtype
    assert np.all(np.isnan(got) == np.isnan(want))
    assert np.all(np.signbit(got[got == 0]) == np.signbit(want[got == 0]))
    assert np.all(_ulps(got, want) <= 4)


def test_trig_result_does_not_depend_on_other_lanes():
    """A lane gets the fast or the full function by its own argument only."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-100, 100, 999)
    f = ef.function(lambda x: np.sin(x))
    alone = f(x)
    mixed = x.copy()
    mixed[::7] = 1e20                   # huge lanes force the fix-up loop
    got = f(mixed)
    keep = np.ones(x.size, bool)
    keep[::7] = False
    np.testing.assert_array_equal(got[keep], alone[keep])
    np.testing.assert_allclose(got[~keep], np.sin(mixed[~keep]), rtol=1e-15)


def test_trig_in_reductions_and_rows_uses_fixup():
    rng = np.random.default_rng(4)
    x = rng.uniform(-10, 10, (5, 700))
    x[2, 300] = 3e17
    x[4, :] = 1e30
    f = ef.function(lambda x: np.cos(x).sum(axis=1))
    np.testing.assert_allclose(f(x), np.cos(x).sum(axis=1), rtol=1e-12, atol=1e-11)
    g = ef.function(lambda x: np.sin(x) - np.sin(x).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(g(x), np.sin(x) - np.sin(x).mean(axis=1, keepdims=True),
                               rtol=1e-12, atol=1e-12)
    full = ef.function(lambda x: np.sin(x).sum())
    np.testing.assert_allclose(full(x.ravel()), np.sin(x.ravel()).sum(), rtol=1e-11, atol=1e-10)


def test_fast_trig_is_used_and_guarded_in_source():
    f = ef.function(lambda x: np.sin(x) + 1)
    src = f.lower(np.ones(10)).source
    assert "ef_sin_fast_f64" in src and "ef_trig_big_f64" in src and "ef_sin_f64(" in src


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _layernorm(x):
    m = x.mean(axis=-1, keepdims=True)
    v = ((x - m) ** 2).mean(axis=-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.float32]),
                  hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=300),
                  elements=st.floats(-30, 30, width=32)),
       st.booleans())
def test_row_groups_with_row_buffers(x, parallel):
    for fn in (_softmax, _layernorm):
        f = ef.function(fn, parallel=parallel)
        # layernorm of a near-constant row divides the mean's rounding noise (a few float32 ulp
        # of |x| <= 30, ~1e-5) by sqrt(1e-5)
        rtol, atol = (1e-4, 2e-2) if x.dtype == np.float32 else (1e-10, 1e-10)
        np.testing.assert_allclose(f(x), fn(x), rtol=rtol, atol=atol)


def test_row_buffer_only_for_values_used_up_in_the_group():
    def two(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), e     # e is a result: a whole array
    x = np.random.default_rng(1).standard_normal((40, 300))
    p, e = ef.function(two)(x)
    np.testing.assert_allclose(e, np.exp(x - x.max(axis=1, keepdims=True)), rtol=1e-14)
    np.testing.assert_allclose(p, _softmax(x), rtol=1e-14)
    src = ef.function(_softmax).lower(x).source
    assert "np.empty((d" in src and ", d" not in src.split("np.empty((d")[1].split(")")[0]


def test_row_groups_threaded_row_buffers_are_private():
    x = np.random.default_rng(2).standard_normal((300, 1500))
    f = ef.function(_softmax, parallel=True)
    for _ in range(3):
        np.testing.assert_allclose(f(x), _softmax(x), rtol=1e-13)


def test_recycled_outputs_never_overwrite_live_arrays():
    f = ef.function(lambda x: x * 2.0, parallel=False)
    a = np.arange(300_000, dtype=np.float64)     # 2.4 MB: large enough to be recycled
    r1 = f(a)
    view = f(a + 1)[::2]                         # only a view survives: its base is live
    r3 = f(a + 2)
    np.testing.assert_array_equal(r1, a * 2)
    np.testing.assert_array_equal(view, ((a + 1) * 2)[::2])
    np.testing.assert_array_equal(r3, (a + 2) * 2)
    del r3
    r4 = f(a + 3)                                # may reuse r3's memory: r3 is gone
    np.testing.assert_array_equal(r4, (a + 3) * 2)
    np.testing.assert_array_equal(r1, a * 2)


def test_recycled_outputs_from_threads():
    import threading
    f = ef.function(lambda x: x + 1.0, parallel=False)
    a = np.arange(200_000, dtype=np.float64)
    errors = []

    def work(k):
        for i in range(20):
            r = f(a + k)
            if not np.array_equal(r, a + k + 1):
                errors.append((k, i))
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


special = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1e-310, 2.0 ** -400,
                           2.0 ** 400, 1.7e308, -1e-300, 1.0, -3.0, 1e-120, 7e150])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), special),
                min_size=1, max_size=80),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True), special))
def test_division_by_invariant_is_correctly_rounded(xs, y):
    """x / y with y fixed for the loop goes through a reciprocal and an fma correction: the
    result must be NumPy's, bit for bit, including signs of zero and every special value."""
    x = np.array(xs, np.float64)
    with np.errstate(all="ignore"):
        want = x / y
        got = ef.function(lambda x, y: x / y)(x, y)
        got_rows = ef.function(lambda x, y: x / y[:, None])(np.stack([x, x]), np.array([y, 2.0]))
        want_rows = np.stack([x, x]) / np.array([y, 2.0])[:, None]
    for g, w in ((got, want), (got_rows, want_rows)):
        np.testing.assert_array_equal(g, w)
        assert np.array_equal(np.signbit(g), np.signbit(w))


def test_division_by_invariant_in_source_and_fixup_rows():
    f = ef.function(_softmax)
    x = np.random.default_rng(5).standard_normal((6, 400))
    assert "ef_div_by_f64" in f.lower(x).source
    x[3, :200] = -900.0                  # exp underflows to subnormals and zeros in that row
    np.testing.assert_allclose(f(x), _softmax(x), rtol=1e-13, atol=1e-300)
    x32 = x.astype(np.float32)           # float32 keeps plain division
    src = ef.function(_softmax).lower(x32).source
    assert "ef_div_by" not in src


def test_loop_variables_never_shadow_constants():
    """A full reduction's chunk loop was once named like the sixth scalar constant (`c5`): every
    use of that constant after the loop saw the chunk index instead (a silent wrong answer)."""
    def f(x):
        s = x.sum()
        return x * 1.5 + s * 2.5 - 3.5 + x * 4.5 * 5.5 + 6.5 * x + 7.5

    x = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(ef.function(f)(x), f(x), rtol=1e-14)

    def loss(x):
        if x.sum() > 0:
            y = np.sin(x) * x
        else:
            y = x * x
        return ef.while_loop(lambda v: v.sum() < 10.0, lambda v: v * 1.5, y + 1.0,
                             max_iters=8).sum()
    x = np.array([0.3, 0.7, -0.2])
    want = ef.function(ef.grad(loss), backend="interpreter")(x)
    np.testing.assert_allclose(ef.function(ef.grad(loss))(x), want, rtol=1e-14)


def test_1d_kernels_are_not_a_row_group():
    """Sibling 1-d kernels keep their own vectorized loops (with the fast paths' guards): a row
    group over dim 0 would make each row one element (3x slower measured on 1e7 elements)."""
    x = np.linspace(-30, 30, 5000)

    def f(x, s):
        return np.sin(x) * 0.75 + np.exp(x * 0.01) / s, np.cos(x) - s

    fn = ef.function(f, parallel=False)
    src = fn.lower(x, 3.0).source
    assert "row group" not in src and "if big" in src
    got = fn(x, 3.0)
    for g, w in zip(got, f(x, 3.0)):
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-15)
