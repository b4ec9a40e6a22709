"""Tracing errors name the user's own file:line, say what to do, and hide eagerflow's frames."""
from __future__ import annotations

import inspect
import os
import traceback

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import (ConcretizationError, EagerflowError, ShapeError, TracingError,
                              UnsupportedError)

EF_DIR = os.path.dirname(os.path.abspath(ef.__file__))
HERE = os.path.abspath(__file__)


def _line_of(fn, needle):
    src, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(src) if needle in l)


def assert_only_entry_frame(frames):
    """eagerflow's frames are stripped; CPython always records the frame that raises, so the
    public entry point (`Function.__call__`) is the one eagerflow frame left."""
    inside = [(os.path.basename(f.filename), f.name) for f in frames
              if os.path.abspath(f.filename).startswith(EF_DIR + os.sep)]
    assert inside == [("function.py", "__call__")], f"eagerflow frames in the traceback: {inside}"


def raised(fn, *args, exc=EagerflowError):
    with pytest.raises(exc) as info:
        ef.function(fn, backend="interpreter", autograph=False)(*args)
    return info.value


def assert_points_here(err, fn, needle):
    line = _line_of(fn, needle)
    assert err.loc == (HERE, line), f"{err.loc} != {(HERE, line)}"
    assert str(err).startswith(f"{HERE}:{line}: "), str(err)
    frames = traceback.extract_tb(err.__traceback__)
    assert_only_entry_frame(frames)
    assert any(f.filename == HERE and f.lineno == line for f in frames), \
        "the user's line is not in the traceback"


def test_traced_value_as_python_bool():
    def f(x):
        if x.sum() > 0:   # <- here
            return x
        return -x
    err = raised(f, np.ones(3), exc=ConcretizationError)
    assert isinstance(err, TypeError)
    assert_points_here(err, f, "# <- here")
    assert "truth value" in str(err) and "np.where" in str(err) and "argument x" in str(err)


def test_np_asarray_of_tracer():
    def f(x):
        y = np.asarray(x)   # <- here
        return y
    err = raised(f, np.ones(3), exc=ConcretizationError)
    assert_points_here(err, f, "# <- here")
    assert "np.asarray" in str(err) and "np.stack" in str(err)


def test_np_array_of_tracers_is_never_an_object_array():
    def f(x):
        return np.array([x[0], x[1]])   # <- here
    err = raised(f, np.ones(3), exc=ConcretizationError)
    assert_points_here(err, f, "# <- here")


@pytest.mark.parametrize("call,name", [
    (lambda x: np.sort(x), "np.sort"),
    (lambda x: np.fft.fft(x), "np.fft.fft"),
    (lambda x: np.cumsum(x), "np.cumsum"),
])
def test_unsupported_numpy_function_is_named(call, name):
    def f(x):
        return call(x) * 2   # <- here
    err = raised(f, np.ones(4), exc=UnsupportedError)
    assert name.split(".")[-1] in str(err) and "registry" in str(err) and "docs/ops.md" in str(err)
    # the location is the innermost user frame: the lambda's line in this file
    assert err.loc[0] == HERE
    assert_only_entry_frame(traceback.extract_tb(err.__traceback__))


def test_unsupported_ufunc_method():
    def f(x):
        return np.add.accumulate(x)   # <- here
    err = raised(f, np.ones(4), exc=UnsupportedError)
    assert_points_here(err, f, "# <- here")
    assert "accumulate" in str(err)


def test_shapes_that_do_not_broadcast():
    def f(x, y):
        z = x * 2
        return z + y   # <- here
    err = raised(f, np.ones(3), np.ones(4), exc=ShapeError)
    assert isinstance(err, ValueError)
    assert_points_here(err, f, "# <- here")
    assert "(3,)" in str(err) and "(4,)" in str(err) and "broadcast" in str(err)


def test_bad_reshape():
    def f(x):
        return x.reshape(4, 4)   # <- here
    err = raised(f, np.ones(6), exc=ShapeError)
    assert_points_here(err, f, "# <- here")


def test_unsupported_dtype():
    def f(x):
        return x + 1
    err = raised(lambda x: f(x), np.ones(3, np.float16), exc=UnsupportedError)
    assert "float16" in str(err)


def test_traced_bound_names_argument_and_static_argnames():
    def f(x, n):
        return np.reshape(x, (n, -1))   # <- here
    err = raised(f, np.ones(6), 2, exc=ConcretizationError)
    assert_points_here(err, f, "# <- here")
    assert "argument n" in str(err) and "static_argnames" in str(err)


def test_python_int_value_does_not_fit_is_overflow_error():
    with pytest.raises(OverflowError):
        ef.function(lambda x: x + 1000, backend="interpreter")(np.ones(2, np.uint8))


def test_error_does_not_poison_the_cache():
    calls = []

    def f(x, flag):
        calls.append(flag)
        if flag == "bad":
            return x + np.ones(5)
        return x * 2
    g = ef.function(f, backend="interpreter")
    with pytest.raises(ShapeError):
        g(np.ones(3), "bad")
    assert g.cache_info().currsize == 0
    np.testing.assert_array_equal(g(np.ones(3), "good"), np.full(3, 2.0))


def test_hierarchy():
    for cls in (ConcretizationError, UnsupportedError, ShapeError):
        assert issubclass(cls, TracingError) and issubclass(cls, EagerflowError)
    assert issubclass(ef.errors.AliasingError, ValueError)
    assert issubclass(ef.errors.ParseError, ValueError)
