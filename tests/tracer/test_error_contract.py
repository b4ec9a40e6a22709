"""The error contract of DESIGN.md for concrete values, aliasing, ndarray methods and int overflow:
each error is an eagerflow error of the documented class that names the user's line, says what to
do, and keeps eagerflow's frames out of the traceback."""
from __future__ import annotations

import copy
import inspect
import os
import traceback

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import (AliasingError, ConcretizationError, EagerflowError,
                              UnsupportedError)

HERE = os.path.abspath(__file__)
EF_DIR = os.path.dirname(os.path.abspath(ef.__file__))


def jit(fn, **kw):
    kw.setdefault("backend", "interpreter")
    return ef.function(fn, **kw)


def raised(fn, *args, exc, **kw):
    with pytest.raises(exc) as info:
        jit(fn, **kw)(*args)
    return info.value


def assert_points_here(err, fn, needle="# <- here"):
    src, start = inspect.getsourcelines(fn)
    line = start + next(i for i, text in enumerate(src) if needle in text)
    assert err.loc == (HERE, line), f"{err.loc} != {(HERE, line)}"
    assert str(err).startswith(f"{HERE}:{line}: "), str(err)
    inside = [f.name for f in traceback.extract_tb(err.__traceback__)
              if os.path.abspath(f.filename).startswith(EF_DIR + os.sep)]
    assert inside == ["__call__"], f"eagerflow frames in the traceback: {inside}"


# ---- a traced value where Python needs a concrete one ---------------------------------------------

def _zeros(x, n):
    return np.zeros(n) + x   # <- here


def _ones(x, n):
    return np.ones(n) + x   # <- here


def _empty(x, n):
    return np.empty(n) + x   # <- here


def _full(x, n):
    return np.full(n, 2.0) + x   # <- here


def _zeros_tuple(x, n):
    return np.zeros((n, 2)) + x   # <- here


def _full_tuple(x, n):
    return np.full((2, n), 2.0) + x   # <- here


@pytest.mark.parametrize("autograph", [True, False])
@pytest.mark.parametrize("fn", [_zeros, _ones, _empty, _full, _zeros_tuple, _full_tuple])
def test_traced_size_of_creation_function_names_the_argument(fn, autograph):
    err = raised(fn, 1.0, 3, exc=ConcretizationError, autograph=autograph)
    assert isinstance(err, TypeError)
    assert_points_here(err, fn)
    assert "argument n" in str(err) and "static_argnames" in str(err)
    # with n static, the same function traces and matches eager NumPy
    got = jit(fn, static_argnames=("n",), autograph=autograph)(1.0, 3)
    np.testing.assert_array_equal(got, fn(1.0, 3))


def test_repr_of_a_traced_value_is_unchanged_after_a_failed_int():
    seen = []

    def f(x, n):
        try:
            int(n)
        except ConcretizationError:
            pass
        seen.append(repr(n))
        return x + n
    jit(f, autograph=False)(1.0, 3)
    assert seen == ["Tracer<~i64[]>"]


@pytest.mark.parametrize("index", [
    lambda x, n: x[:n], lambda x, n: x[n:], lambda x, n: x[::n], lambda x, n: x[1, :n],
])
def test_traced_slice_bound_names_the_argument(index):
    def f(x, n):
        return index(x, n) * 2   # <- here
    err = raised(f, np.ones((3, 4)), 2, exc=ConcretizationError)
    assert "argument n" in str(err) and "static_argnames" in str(err) and "slice" in str(err)
    assert err.loc[0] == HERE   # the lambda's line: the innermost user frame
    got = jit(f, static_argnames=("n",))(np.ones((3, 4)), 2)
    np.testing.assert_array_equal(got, f(np.ones((3, 4)), 2))


# ---- writing through a gather's copy --------------------------------------------------------------

def _write_item(x):
    c = x[[0, 1]]
    c[0] = 5.0   # <- here
    return x, c


def _write_inplace(x):
    c = x[[0, 1]]
    c += 1.0   # <- here
    return x, c


def _write_2d(x):
    c = x[:, [0, 2]]
    c[...] = 0.0   # <- here
    return c


def _write_out(x):
    c = x[np.array([2, 0])]
    np.multiply(c, 2.0, out=c)   # <- here
    return c


@pytest.mark.parametrize("autograph", [True, False])
@pytest.mark.parametrize("fn", [_write_item, _write_inplace, _write_2d, _write_out])
def test_writing_into_a_fancy_indexed_copy_raises(fn, autograph):
    err = raised(fn, np.zeros((4, 3)), exc=AliasingError, autograph=autograph)
    assert_points_here(err, fn)
    assert "copy" in str(err) and ".copy()" in str(err) and "x[[0, 1]] = " in str(err)


def test_writing_into_an_explicit_copy_of_a_gather_works():
    def f(x):
        c = x[[0, 1]].copy()
        c[0] = 5.0
        c += 1.0
        x[[2, 3]] = 7.0   # writing into x directly is the other spelling
        return x * 1, c
    for autograph in (True, False):
        x = np.arange(4.0)
        got = jit(f, autograph=autograph)(x.copy())
        want = f(x.copy())
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_reading_a_gather_is_unchanged():
    def f(x, i):
        return x[[2, 0]] * 2, x[i] + 1
    x = np.arange(4.0)
    got = jit(f)(x, 1)
    np.testing.assert_array_equal(got[0], x[[2, 0]] * 2)
    assert got[1] == x[1] + 1


def test_writing_into_a_row_picked_by_a_traced_int_raises():
    def f(x, i):
        row = x[i]
        row[0] = 5.0   # <- here
        return x
    err = raised(f, np.zeros((3, 2)), 1, exc=AliasingError)
    assert_points_here(err, f)
    assert "view" in str(err) and "x[i, j] = v" in str(err)


# ---- ndarray methods and attributes that do not trace ---------------------------------------------

@pytest.mark.parametrize("name", ["cumsum", "round", "sort", "argsort", "repeat", "view",
                                  "nonzero", "conj", "real", "flat", "strides", "nbytes",
                                  "itemsize"])
def test_unsupported_ndarray_attribute_is_named(name):
    def f(x):
        return getattr(x, name)   # <- here
    err = raised(f, np.ones(3), exc=UnsupportedError)
    assert isinstance(err, AttributeError) and err.name == name
    assert f"ndarray.{name}" in str(err) and "docs/ops.md" in str(err)
    assert_points_here(err, f)


def test_method_call_error_points_at_the_call():
    def f(x):
        return x.cumsum() * 2   # <- here
    err = raised(f, np.ones(3), exc=AttributeError)
    assert isinstance(err, UnsupportedError)
    assert_points_here(err, f)


def test_attribute_probes_still_answer():
    seen = {}

    def f(x):
        seen["hasattr"] = [hasattr(x, n) for n in ("cumsum", "__array_interface__",
                                                   "__array_struct__", "nope", "shape")]
        seen["getattr"] = getattr(x, "strides", None)
        y = copy.copy(x)
        return y + 1
    np.testing.assert_array_equal(jit(f)(np.ones(2)), np.full(2, 2.0))
    assert seen == {"hasattr": [False, False, False, False, True], "getattr": None}


def test_unknown_attribute_is_a_plain_attribute_error():
    err = raised(lambda x: x.nope, np.ones(3), exc=AttributeError)
    assert not isinstance(err, EagerflowError)
    assert "nope" in str(err)


def test_unsupported_function_in_a_submodule_has_its_qualified_name():
    def f(x):
        return np.linalg.norm(x)   # <- here
    err = raised(f, np.ones(3), exc=UnsupportedError)
    assert "np.linalg.norm is not supported" in str(err)
    assert_points_here(err, f)


# ---- a Python int that does not fit -----------------------------------------------------------------

@pytest.mark.parametrize("k", [2**70, -2**70, 2**63])
def test_python_int_too_large_is_numpy_overflow_error_on_the_first_call(k):
    x = np.ones(2, np.int64)
    with pytest.raises(OverflowError):
        x + k   # eager NumPy
    f = jit(lambda a, b: a + b)
    with pytest.raises(OverflowError) as info:
        f(x, k)   # <- call
    err = info.value
    assert isinstance(err, EagerflowError) and "int64" in str(err)
    assert err.loc[0] == HERE
    np.testing.assert_array_equal(f(x, 3), x + 3)   # the failed call cached nothing


@pytest.mark.parametrize("fn, x", [
    (lambda x: x + 1000, np.arange(3, dtype=np.int8)),
    (lambda x: x + (-1), np.arange(3, dtype=np.uint8)),
    (lambda x: np.where(x > 0, x, 1000), np.arange(3, dtype=np.int8)),
])
def test_a_constant_int_that_does_not_fit_raises_overflow_at_the_line(fn, x):
    """NEP 50: a Python int constant meeting a narrower integer dtype raises NumPy's
    OverflowError; eagerflow's names the line."""
    from eagerflow.errors import IntOverflowError
    with pytest.raises(IntOverflowError, match=r"test_error_contract\.py:\d+") as info:
        ef.function(fn)(x)
    assert isinstance(info.value, OverflowError)
    np.testing.assert_array_equal(ef.function(lambda x: x + 100)(x), x + 100)
