"""ef.cond, ef.while_loop, ef.fori_loop, ef.print: traced (interpreter) against plain Python."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.errors import TracingError

vals = st.floats(-50, 50, allow_nan=False, allow_subnormal=False)


def jit(f, **kw):
    return ef.function(f, backend="interpreter", autograph=False, **kw)


def cond_fn(x, t):
    return ef.cond(x.sum() > t, lambda a: (a * 2, a.max()), lambda a: (-a, a.min()), x)


def while_fn(x, limit):
    def body(s):
        i, acc, v = s
        return i + 1, acc + v[i % v.shape[0]], v * 0.5
    return ef.while_loop(lambda s: (s[0] < limit) & (np.abs(s[1]) < 1e6), body, (0, 0.0, x))


def fori_fn(x, n):
    return ef.fori_loop(0, n, lambda i, acc: acc + x[i] * i, np.zeros((), x.dtype))


@given(st.lists(vals, min_size=1, max_size=6), vals)
def test_cond(v, t):
    x = np.array(v)
    got, want = jit(cond_fn)(x, t), cond_fn(x, t)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@given(st.lists(vals, min_size=1, max_size=6), st.integers(0, 12))
def test_while_loop_with_a_pytree(v, limit):
    x = np.array(v)
    got, want = jit(while_fn)(x, limit), while_fn(x, limit)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@given(st.lists(vals, min_size=4, max_size=6), st.integers(0, 4))
def test_fori_loop(v, n):
    x = np.array(v)
    np.testing.assert_array_equal(jit(fori_fn)(x, n), fori_fn(x, n))
    assert sum(n.op == "while" for n in jit(fori_fn).lower(x, n).optimized.walk()) == 1


def test_fori_loop_with_static_bounds_unrolls():
    x = np.arange(4.0)
    low = jit(lambda x: ef.fori_loop(0, 3, lambda i, a: a + x[i], 0.0)).lower(x)
    assert not any(n.op == "while" for n in low.traced.walk())


def test_python_predicate_is_a_plain_if():
    assert ef.cond(True, lambda: 1, lambda: 2) == 1
    assert ef.while_loop(lambda v: v < 5, lambda v: v + 2, 0) == 6
    assert ef.fori_loop(0, 4, lambda i, a: a + i, 0) == 6


def test_cond_branch_type_mismatch_is_an_error():
    with pytest.raises(TracingError, match="the result has type f64\\[3\\] in the true branch "
                                           "and f64\\[2\\] in the false branch of the ef.cond"):
        jit(lambda x: ef.cond(x.sum() > 0, lambda: x, lambda: x[:2]))(np.ones(3))


def test_while_loop_shape_change_is_an_error():
    with pytest.raises(TracingError, match="the loop value changes from f64\\[2\\] to f64\\[4\\]"):
        jit(lambda x: ef.while_loop(lambda v: v.sum() < 100, lambda v: np.concatenate([v, v]),
                                    x))(np.ones(2))


def test_print_eagerly_is_python_print(capsys):
    ef.print("a", np.arange(2.0), 3)
    assert capsys.readouterr().out == "a [0. 1.] 3\n"


def test_print_sep_end(capfd):
    jit(lambda x: ef.print("v", x.sum(), sep="=", end="!\n") or x)(np.ones(2))
    assert capfd.readouterr().out == "v=2.0!\n"
