"""ef.testing for users: arrays(signature) and assert_matches_eager."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.testing import Args, arrays, assert_matches_eager, parse_signature


def test_reachable_and_import_stays_light():
    import eagerflow.testing
    assert ef.testing is eagerflow.testing
    code = "import sys, eagerflow; print('hypothesis' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


def test_parse_signature():
    assert parse_signature("f64[n,3], i64[], int, ~f64[], float32[2], bool[m]") == [
        ("array", np.dtype("f8"), ("n", 3)), ("array", np.dtype("i8"), ()), ("python", int),
        ("python", float), ("array", np.dtype("f4"), (2,)), ("array", np.dtype(bool), ("m",))]
    for bad in ("f16[3]", "c128[2]", "f64[3", "f64(3)", "", "f64[3],,i64[]", "f64[-2]",
                "~f64[3]", "str", 3):
        with pytest.raises(ValueError):
            parse_signature(bad)
    with pytest.raises(ValueError, match="bad dimension 'n'"):
        parse_signature("f64[n]", allow_names=False)


def test_bad_signature_fails_at_once():
    with pytest.raises(ValueError, match="bad type 'f65\\[3\\]'"):
        arrays("f64[n], f65[3]")


@settings(max_examples=30)
@given(arrays("f64[n,3], i32[n], f32[], int, float, bool", max_side=4))
def test_arrays_draws_the_signature(args):
    assert isinstance(args, Args) and len(args) == 6
    x, i, s, k, f, b = args
    assert x.dtype == np.float64 and x.shape[1] == 3 and 1 <= x.shape[0] <= 4
    assert i.dtype == np.int32 and i.shape == (x.shape[0],)       # shared dimension
    assert s.dtype == np.float32 and s.shape == ()
    assert type(k) is int and type(f) is float and type(b) is bool


@settings(max_examples=20)
@given(arrays("f32[n], i8[2,n]", sizes={"n": 7}, min_value=-3, max_value=3))
def test_arrays_sizes_and_bounds(args):
    x, i = args
    assert x.shape == (7,) and i.shape == (2, 7)
    assert np.all(np.abs(x) <= 3) and np.all(np.abs(i.astype(int)) <= 3)


@settings(max_examples=40)
@given(arrays("f64[n]", min_side=0, max_side=2))
def test_arrays_empty_and_specials(args):
    assert args[0].shape[0] in (0, 1, 2)


def test_finite():
    @settings(max_examples=30)
    @given(arrays("f64[n], float", finite=True))
    def check(args):
        x, f = args
        assert np.all(np.isfinite(x)) and np.isfinite(f)
    check()


def test_matches_eager_passes_for_a_correct_function():
    f = ef.function(lambda x, w, s: np.tanh(x @ w + s).sum(axis=0), backend="interpreter")
    assert_matches_eager(f, arrays("f64[n,3], f64[3,2]", min_value=-10, max_value=10), 0.5)
    assert_matches_eager(f, np.ones((2, 3)), np.ones((3, 2)), 1.0)       # concrete arguments


def test_matches_eager_mixes_strategies_and_values():
    def g(x, pair, k):
        return x * pair[0] + pair[1] * k
    assert_matches_eager(g, arrays("f32[n]"), st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
                         3, backend="interpreter", examples=10)


def test_matches_eager_catches_a_wrong_function():
    scale = [1.0]

    def wrong(x):
        return x * scale[0]          # a Python scalar read at trace time is baked in

    f = ef.function(wrong, backend="interpreter")
    f(np.ones(2))
    scale[0] = 2.0
    # the traced shape: a new one would retrace and read the new scale
    with pytest.raises(AssertionError, match="differs from its eager run"):
        assert_matches_eager(f, arrays("f64[2]", finite=True), examples=25)
    with pytest.raises(AssertionError, match="differs"):
        assert_matches_eager(f, np.array([1.0, 3.0]))


def two_faced(eager_impl, traced_impl):
    """A deliberately wrong function: one thing when run eagerly, another when traced."""
    def f(*args):
        if all(isinstance(a, np.ndarray) for a in args):
            return eager_impl(*args)
        return traced_impl(*args)
    return ef.function(f, backend="interpreter")


def test_matches_eager_checks_dtype_scalar_kind_and_writes():
    f = two_faced(lambda x: x.sum().astype(np.float32), lambda x: x.sum())
    with pytest.raises(AssertionError, match="dtype"):
        assert_matches_eager(f, np.ones(3))
    g = two_faced(lambda x: np.asarray(np.sum(x)), lambda x: np.sum(x))
    with pytest.raises(AssertionError, match="0-d kind"):
        assert_matches_eager(g, np.ones(3))
    assert_matches_eager(g, np.ones(3), check_scalar_kind=False)

    def bump(x):
        x += 1
        return x.sum()
    assert_matches_eager(ef.function(bump, backend="interpreter"),
                         arrays("i64[n]", min_value=-5, max_value=5), examples=5)
    h = two_faced(lambda x: (x + 1).sum(), bump)      # eager does not update x in place
    with pytest.raises(AssertionError, match="in-place"):
        assert_matches_eager(h, np.zeros(3, np.int64))


def test_matches_eager_requires_the_compiled_function_to_fail_too():
    def first(x):
        return x.max()               # ValueError on an empty array, compiled and eager
    assert_matches_eager(first, np.zeros(0), backend="interpreter")
    f = two_faced(lambda x: x.max(), lambda x: x + 1)
    with pytest.raises(AssertionError, match="compiled function returned a result"):
        assert_matches_eager(f, np.zeros(0))


def test_matches_eager_tolerance_for_reassociated_sums():
    f = two_faced(lambda x: np.sum(x[::-1]), lambda x: x.sum())   # another summation order
    x = np.random.default_rng(1).standard_normal(1000)
    assert_matches_eager(f, x)
    with pytest.raises(AssertionError):
        assert_matches_eager(f, x, ulp=0, rtol=0, atol=0)


def test_matches_eager_numba():
    def step(x, b):
        return np.maximum(x + b, 0.0) * 2.0
    assert_matches_eager(step, arrays("f64[n,4], f64[4]"), examples=8)
