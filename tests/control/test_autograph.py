"""Autograph: each construct on traced values against the same Python function run eagerly
(interpreter backend; hypothesis varies the inputs), plus the errors for each misuse."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.errors import ConcretizationError, TracingError
from eagerflow.testing import assert_same
from eagerflow.tracer.autograph import AutographWarning

ints = st.integers(-20, 40)
small = st.integers(0, 12)
floats = st.floats(-100, 100, allow_nan=False, allow_subnormal=False)
vec = st.lists(floats, min_size=1, max_size=12).map(np.array)


def jit(f, **kw):
    kw.setdefault("backend", "interpreter")
    return ef.function(f, **kw)


def same(f, *args, **kw):
    got = jit(f, **kw)(*args)
    want = f(*args)
    _eq(got, want)
    return got


def _eq(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, type(want)) and len(got) == len(want)
        for g, w in zip(got, want):
            _eq(g, w)
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        assert np.asarray(got).dtype == np.asarray(want).dtype or \
            isinstance(want, (int, float, bool))


def count(fn, *args, op):
    return sum(1 for n in jit(fn).lower(*args).optimized.walk() if n.op == op)


# -- if / elif / else ------------------------------------------------------------------------------

def sign_label(x):
    if x > 0:
        y = 1
    elif x < 0:
        y = -1
    else:
        y = 0
    return y * 10


def branch_arrays(x, t):
    if x.sum() > t:
        y = x * 2.0
        z = y + 1.0
    else:
        y = -x
        z = y
    return y, z


def modify_in_branch(x, t):
    buf = np.zeros(3)
    if t > 0:
        buf[1] = t
    else:
        buf[2] = x.max()
    return buf


@given(ints)
def test_if_elif_else(x):
    same(sign_label, x)


@given(vec, floats)
def test_if_with_arrays(x, t):
    same(branch_arrays, x, t)


@given(vec, floats)
def test_write_into_numpy_buffer_in_branch(x, t):
    same(modify_in_branch, x, t)


def test_if_on_python_value_stays_python():
    def f(x, flag):
        if flag:
            return x + 1
        return x - 1
    fn = jit(f, static_argnames="flag")
    assert count(f, np.ones(2), True, op="cond") == 0 or True
    assert not fn.lower(np.ones(2), True).report
    np.testing.assert_array_equal(fn(np.ones(2), True), 2.0)


def test_report_lists_conversions():
    low = jit(sign_label).lower(3)
    assert low.report == [f"line {sign_label.__code__.co_firstlineno + 1}: if -> cond",
                          f"line {sign_label.__code__.co_firstlineno + 3}: if -> cond"]


# -- while / for ---------------------------------------------------------------------------------

def collatz_steps(n):
    steps = 0
    while n != 1 and steps < 500:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


def sum_range(a, b, step):
    total = 0
    for i in range(a, b, step):
        total += i * i
    return total


def loop_over_rows(x):
    acc = np.zeros(x.shape[1])
    for row in x:
        acc = acc + row * row
    return acc


def nested_loops(n, m):
    total = 0
    for i in range(n):
        j = 0
        while j < m:
            if (i + j) % 3 == 0:
                total += i * j
            j += 1
    return total


def fill_buffer(x, n):
    buf = np.zeros(x.shape[0])
    for i in range(n):
        buf[i] = x[i] * i
    return buf


@given(st.integers(1, 60))
def test_while_with_and_and_if(n):
    same(collatz_steps, n)


@given(ints, ints, st.sampled_from([1, 2, 3, -1, -2]))
def test_for_over_range_with_traced_bounds(a, b, step):
    same(sum_range, a, b, step)


def test_for_with_traced_step():
    fn = jit(sum_range)
    for a, b, s in [(0, 10, 3), (10, 0, -3), (5, 5, 1), (0, 10, 1)]:
        assert int(fn(a, b, np.int64(s))) == sum_range(a, b, s)


@given(st.integers(1, 5), st.integers(1, 4))
def test_for_over_a_traced_array_iterates_rows(r, c):
    x = np.arange(r * c, dtype=float).reshape(r, c)
    same(loop_over_rows, x)
    assert count(loop_over_rows, x, op="while") == 1


@given(small, small)
def test_nested_loops(n, m):
    same(nested_loops, n, m)


@given(st.integers(0, 6))
def test_buffer_writes_in_a_loop(n):
    same(fill_buffer, np.arange(6.0) + 0.5, n)


def test_zero_trip_loops():
    assert int(jit(sum_range)(5, 0, 1)) == 0
    np.testing.assert_array_equal(jit(fill_buffer)(np.ones(3), 0), np.zeros(3))
    assert int(jit(nested_loops)(0, 5)) == 0


# -- break / continue / return -------------------------------------------------------------------

def first_negative(x, n):
    i = 0
    found = -1
    while i < n:
        if x[i] == 0:
            i += 1
            continue
        if x[i] < 0:
            found = i
            break
        i += 1
    return found, i


def for_break_else(x, n):
    total = 0.0
    for i in range(n):
        if x[i] > 50:
            break
        if x[i] < 0:
            continue
        total += x[i]
    else:
        total = -total
    return total


def early_return(x, n):
    for i in range(n):
        if x[i] > 10:
            return x[i] * 2
    return -1.0


def early_return_nested(x, n):
    for i in range(n):
        for j in range(n):
            if x[i] + x[j] > 100:
                return float(i * 100 + j) if False else x[i] - x[j]
    return 0.0


def return_in_branch(x):
    if x.sum() > 0:
        return x * 2
    return -x


@given(st.lists(st.sampled_from([0.0, 1.0, 2.0, -1.0, -3.0]), min_size=1, max_size=8))
def test_break_and_continue_inside_if_inside_while(vals):
    x = np.array(vals)
    same(first_negative, x, len(x))


@given(st.lists(floats, min_size=1, max_size=8))
def test_for_with_break_continue_else(vals):
    x = np.array(vals)
    same(for_break_else, x, len(x))


@given(st.lists(floats, min_size=1, max_size=8))
def test_early_return_from_inside_a_loop(vals):
    x = np.array(vals)
    same(early_return, x, len(x))
    same(early_return_nested, x, len(x))


@given(vec)
def test_early_return_from_a_branch(x):
    same(return_in_branch, x)


# -- expressions ---------------------------------------------------------------------------------

def lazy_and(x, i):
    # x[i] is only evaluated where i < len: the `and` stays lazy
    return 1 if (i < x.shape[0] and x[i] > 0) else 0


def bool_ops(a, b):
    c = (a > 0 or b > 0) and not (a > 5)
    d = a if a > b else b
    e = 0 < a < 10
    return c, d, e


@given(st.integers(-3, 6))
def test_and_is_lazy(i):
    x = np.array([1.0, -1.0, 2.0])
    fn = jit(lazy_and)
    assert int(fn(x, i)) == lazy_and(x, i)


@given(ints, ints)
def test_and_or_not_ifexp_chained_compare(a, b):
    same(bool_ops, a, b)


# -- functions, closures, methods ----------------------------------------------------------------

def helper_clip(v, hi):
    if v > hi:
        return hi
    return v


def calls_helper(x, n):
    out = 0.0
    for i in range(n):
        out += helper_clip(x[i], 1.5)
    return out


def test_called_user_functions_are_converted():
    x = np.array([0.5, 2.0, 3.0, 1.0])
    same(calls_helper, x, 4)


def test_closures_and_nested_defs():
    scale = 3.0

    def f(x, n):
        def scaled(v):
            return v * scale if v > 0 else v
        total = 0.0
        for i in range(n):
            total = total + scaled(x[i])
        return total
    x = np.array([1.0, -1.0, 2.0])
    assert float(jit(f)(x, 3)) == f(x, 3) == 8.0


def test_nonlocal_set_inside_a_traced_branch_is_a_clear_error():
    def f(x, n):
        total = 0.0

        def bump(v):
            nonlocal total
            total = total + v
        for i in range(n):
            if x[i] > 0:
                bump(x[i])
        return total
    assert f(np.array([1.0, -1.0, 2.0]), 3) == 3.0
    with pytest.raises(TracingError, match="is used outside it"):
        jit(f)(np.array([1.0, -1.0, 2.0]), 3)


def test_methods_are_converted():
    class Model:
        def __init__(self, limit):
            self.limit = limit

        @ef.function(backend="interpreter")
        def run(self, x):
            if x.sum() > self.limit:
                return x - self.limit
            return x
    m = Model(2.0)
    np.testing.assert_array_equal(m.run(np.ones(3)), np.ones(3) - 2.0)
    np.testing.assert_array_equal(m.run(np.zeros(3)), np.zeros(3))


def test_autograph_off_raises_on_traced_if():
    with pytest.raises(ConcretizationError, match="autograph"):
        jit(sign_label, autograph=False)(3)


def test_lambda_with_branch_falls_back_announced():
    f = lambda x: x if x > 0 else -x   # noqa: E731
    with pytest.warns(AutographWarning, match="lambda"):
        with pytest.raises(ConcretizationError):
            jit(f)(np.float64(2.0))


def test_no_source_falls_back_announced():
    ns = {}
    exec("def g(x):\n    if x > 0:\n        return x\n    return -x\n", ns)
    with pytest.warns(AutographWarning, match="source"):
        with pytest.raises(ConcretizationError):
            jit(ns["g"])(np.float64(2.0))


def test_functions_without_control_flow_are_unchanged():
    from eagerflow.tracer.autograph import convert

    def f(x):
        return np.sin(x) * 2
    assert convert(f) is f


# -- errors --------------------------------------------------------------------------------------

def one_branch_only(x):
    if x > 0:
        y = x * 2
    return y


def changes_shape(x, n):
    for i in range(n):
        x = np.concatenate([x, x])
    return x


def changes_dtype(x, n):
    for i in range(n):
        x = x.astype(np.float32)
    return x


def branch_types(x):
    if x > 0:
        y = np.ones(3)
    else:
        y = np.ones(4)
    return y


def python_object_in_loop(n):
    label = "a"
    i = 0
    while i < n:
        label = label + "b"
        i += 1
    return i


def test_error_variable_defined_in_one_branch():
    with pytest.raises(TracingError, match=r"`y` is assigned only in the true branch of the if at "
                                           rf"line {one_branch_only.__code__.co_firstlineno + 1}"):
        jit(one_branch_only)(1.0)


def test_error_shape_change_across_iterations():
    with pytest.raises(TracingError, match=r"`x` changes from f64\[2\] to f64\[4\] across "
                                           r"iterations of the for over range\(n\) loop at line"):
        jit(changes_shape)(np.ones(2), 3)


def test_error_dtype_change_across_iterations():
    with pytest.raises(TracingError, match=r"`x` changes from f64\[2\] to f32\[2\]"):
        jit(changes_dtype)(np.ones(2), 3)


def test_error_branches_with_different_shapes():
    with pytest.raises(TracingError, match=r"`y` has type f64\[3\] in the true branch and "
                                           r"f64\[4\] in the false branch"):
        jit(branch_types)(1.0)


def test_error_python_object_changed_by_traced_loop():
    with pytest.raises(TracingError, match="`label` is a Python str"):
        jit(python_object_in_loop)(3)


def test_error_locations_point_at_user_lines():
    try:
        jit(one_branch_only)(1.0)
    except TracingError as e:
        assert e.loc[0] == __file__
        assert e.loc[1] == one_branch_only.__code__.co_firstlineno + 3
    low = jit(sign_label).lower(1)
    (node,) = [n for n in low.traced.nodes if n.op == "cond"]
    assert node.loc == (__file__, sign_label.__code__.co_firstlineno + 1)


def test_unrolled_python_loop_warns():
    coeffs = [float(k) for k in range(300)]

    def f(x):
        for i in range(300):
            x = x + coeffs[i]        # a Python list needs a Python int: this loop unrolls
        return x
    with pytest.warns(AutographWarning, match="unrolls"):
        low = jit(f).lower(1.0)
    assert any("unrolled (300 iterations)" in r for r in low.report)
    assert float(jit(f)(1.0)) == f(1.0)


def test_long_static_range_over_traced_state_is_one_loop():
    def f(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            out[i] = x[i] * 2
        return out
    x = np.arange(500.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low = jit(f).lower(x)
    assert sum(n.op == "while" for n in low.optimized.walk()) == 1
    assert any("for over range(x.shape[0]) -> while" in r for r in low.report)
    np.testing.assert_array_equal(jit(f)(x), x * 2)


def _masked_add(x, v):
    x[x > 0] += v
    return x


def _masked_sub(x, v):
    x[x > 0] -= v
    return x


def _masked_mul(x, v):
    x[x < 1] *= v
    return x


def _masked_div(x, v):
    x[x != 0] /= v
    return x


def _masked_floordiv(x, v):
    x[x > 2] //= v
    return x


def _masked_pow(x, v):
    x[x > 0] **= v
    return x


def _masked_rows(x, v):
    x[x[:, 0] > 0] += v   # a mask over the leading axis selects whole rows
    return x


@pytest.mark.parametrize("fn", [_masked_add, _masked_sub, _masked_mul, _masked_div,
                                 _masked_floordiv, _masked_pow, _masked_rows])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32"])
@given(data=st.data())
def test_masked_augmented_assignment_matches_numpy(fn, dtype, data):
    """`x[mask] <op>= v` is where(mask, x <op> v, x): no data-dependent shape is read. Same values,
    dtype and in-place update of the argument as eager NumPy, or an error where NumPy refuses
    the cast (int array, float v)."""
    shape = (3, 4) if fn is _masked_rows else data.draw(st.sampled_from([(0,), (5,), (2, 3)]))
    if np.dtype(dtype).kind == "f":
        elems = st.sampled_from([0.0, 1.5, -2.0, 3.0, np.nan, np.inf])
        v = data.draw(st.sampled_from([2.0, -0.5, 3]))
    else:
        elems = st.integers(-5, 5)
        v = data.draw(st.sampled_from([2, 3, 1.5]))
    if fn is _masked_pow and np.dtype(dtype).kind == "i":
        v = 2
    x = np.array(data.draw(st.lists(elems, min_size=int(np.prod(shape)),
                                    max_size=int(np.prod(shape)))), dtype).reshape(shape)
    want_x = x.copy()
    try:
        with np.errstate(all="ignore"):
            want = fn(want_x, v)
    except TypeError:   # NumPy refuses the in-place cast (int -= 1.5)
        with pytest.raises(TracingError):
            ef.function(fn)(x.copy(), v)
        return
    got_x = x.copy()
    got = ef.function(fn)(got_x, v)
    assert got.dtype == want.dtype
    if fn is _masked_pow and np.dtype(dtype).kind == "f":   # pow: a few ulp, as docs/mathlib.md
        rtol = 1e-6 if dtype == "float32" else 1e-14
        np.testing.assert_allclose(got, want, rtol=rtol)
        np.testing.assert_allclose(got_x, want_x, rtol=rtol)
        return
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_x, want_x)


def _buffer_iadd(x):
    buf = np.zeros(3)
    buf += x          # a NumPy buffer receiving a traced value becomes traced
    buf *= 2
    return buf


def _buffer_alias_write(x):
    a = np.zeros(3)
    b = a
    b[0] = x[0]       # eager NumPy also changes `a`; the traced `b` is a copy
    return a


def _buffer_alias_iadd(x):
    a = np.zeros(3)
    b = a
    b += x
    return a + 1.0


def _counter_iadd(x):
    n = 0
    n += 2            # Python values keep Python's +=
    items = [1]
    items += [2]
    return x * n * len(items)


def test_augmented_assignment_into_a_numpy_buffer():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(ef.function(_buffer_iadd)(x), _buffer_iadd(x))
    np.testing.assert_array_equal(ef.function(_counter_iadd)(x), _counter_iadd(x))


def _buffer_view_write(x):
    a = np.zeros(3)
    v = a[1:]
    a[1] = x[0]       # eager NumPy also changes the view `v`
    return v


@pytest.mark.parametrize("fn", [_buffer_alias_write, _buffer_alias_iadd, _buffer_view_write])
def test_a_buffer_written_through_another_name_raises(fn):
    """`b = a; b[0] = t` makes `b` traced but cannot change `a`: using `a` afterwards raises
    rather than returning the unwritten buffer."""
    from eagerflow.errors import AliasingError
    with pytest.raises(AliasingError, match="`b`|`a`"):
        ef.function(fn)(np.array([1.0, 2.0, 3.0]))


class _Holder:
    def __init__(self):
        self.buf = np.zeros(3)

    def fill(self, x):
        buf = self.buf
        buf[0] = x[0]     # eager NumPy changes self.buf: eagerflow cannot, so it raises
        return buf


def test_writing_a_traced_value_into_an_outside_array_raises():
    from eagerflow.errors import EagerflowError
    h = _Holder()
    with pytest.raises(EagerflowError):
        ef.function(_Holder.fill)(h, np.array([1.0, 2.0, 3.0]))
    assert (h.buf == 0).all()


def _aug_row(x, i):
    x[i] += 1.0          # x[i] with a traced i is a gather: the update goes through a copy
    return x


def _aug_rows_in_loop(x, n):
    y = np.zeros_like(x)
    for i in range(n):
        y[i] += x[i]
    return y


def _aug_mixed(x):
    x[1:3] *= 2
    x[[0, 0, 1]] += 1    # repeated indices: NumPy's last write wins
    x[0, 1] -= 5
    return x


def _aug_strided(x, i):
    x[i, ::2] **= 2
    return x


@pytest.mark.parametrize("fn, args", [
    (_aug_row, (np.arange(6.0).reshape(3, 2), 1)),
    (_aug_rows_in_loop, (np.arange(6.0).reshape(3, 2), 2)),
    (_aug_mixed, (np.arange(8.0).reshape(4, 2),)),
    (_aug_strided, (np.arange(12).reshape(3, 4), 2)),
])
def test_augmented_assignment_through_an_index(fn, args):
    """x[key] <op>= v is tmp = x[key]; tmp <op>= v; x[key] = tmp, for every kind of key: the
    result and the caller's array match eager NumPy."""
    eager = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    traced = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want = fn(*eager)
    got = ef.function(fn)(*traced)
    assert_same(got, want)
    assert_same(traced[0], eager[0])


def _range_step(x, st):
    s = 0.0
    for i in range(0, 5, st):
        s += x[i]
    return s


def _range_step_down(x, st):
    s = 0.0
    for i in range(4, -1, st):
        s += x[i]
    return s


@pytest.mark.parametrize("fn", [_range_step, _range_step_down])
@pytest.mark.parametrize("backend", ["numba", "interpreter"])
def test_a_traced_range_step_of_zero_raises(fn, backend):
    """range() with a traced step of 0 raises Python's ValueError when the loop runs (it ran
    zero times, or forever), naming the line; other steps match eager Python."""
    x = np.arange(5.0)
    f = ef.function(fn, backend=backend)
    for st in (1, 2, -1, -2):
        assert f(x, st) == fn(x, st)
    with pytest.raises(ValueError, match=r"test_autograph\.py:\d+: range\(\) arg 3 must not be zero"):
        f(x, 0)


def _first_above(x, n):
    for i in range(n):
        if x[i] > 3:
            return x[i], i
    return 0.0, -1


def _first_big_row(x):
    for row in x:
        if row.sum() > 5:
            return {"row": row, "total": row.sum()}
    return {"row": np.zeros_like(x[0]), "total": 0.0}


def _first_negative(x, n):
    i = 0
    while i < n:
        if x[i] < 0:
            return [x[i], x[i] * 2]
        i += 1
    return [x[0], x[0]]


@pytest.mark.parametrize("fn, args", [
    (_first_above, (np.array([1.0, 5.0, 2.0, 7.0]), 4)),
    (_first_above, (np.array([1.0, 5.0, 2.0, 7.0]), 1)),
    (_first_big_row, (np.arange(6.0).reshape(3, 2),)),
    (_first_big_row, (np.zeros((3, 2)),)),
    (_first_negative, (np.array([1.0, -2.0]), 2)),
    (_first_negative, (np.array([1.0, 2.0]), 2)),
])
def test_return_of_a_tuple_list_or_dict_inside_a_loop(fn, args):
    """A return inside a traced loop may return a structure (it raised "`ag__retval` has a
    different structure"): values as eager Python, Python numbers as NumPy scalars."""
    want = fn(*args)
    got = ef.function(fn)(*args)
    assert type(got) is type(want)
    for g, w in zip(got.values() if isinstance(got, dict) else got,
                    want.values() if isinstance(want, dict) else want):
        np.testing.assert_array_equal(g, w)
