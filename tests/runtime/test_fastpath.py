"""The per-signature dispatch (runtime/fastpath.py): calls after the first take a generated
path; results, types and retracing must be those of the full path (NumPy is the oracle)."""
import threading

import numpy as np
import pytest

import eagerflow as ef


def sgd(w, b, x, y):
    r = w * x + b - y
    return w - 0.1 * np.mean(r * x), b - 0.1 * np.mean(r)


def _calls(f, *args, n=3):
    return [f(*args) for _ in range(n)]   # the first traces; later ones use the fast path


@pytest.mark.parametrize("w", [0.5, np.float64(0.5), np.array(0.5), np.float32(0.5)])
def test_scalar_inputs_and_outputs_keep_numpy_types(w):
    x = np.linspace(-1, 1, 50)
    y = 3 * x + 2
    f = ef.function(sgd)
    want = sgd(w, w, x, y)
    for got in _calls(f, w, w, x, y):
        assert type(got) is tuple
        for g, e in zip(got, want):
            assert type(g) is type(e) and g.dtype == e.dtype
            np.testing.assert_allclose(g, e, rtol=1e-6 if e.dtype == np.float32 else 1e-14)


def test_zero_d_array_results_stay_arrays():
    def f(x):
        return x, x + 1, x.sum()   # a 0-d array, then NumPy scalars, as eager NumPy gives them
    g = ef.function(f)
    x = np.array(1.5)
    want = f(x)
    for got in _calls(g, x):
        assert [type(v) for v in got] == [type(v) for v in want]
        assert got[0] is not x and got == want


def test_new_shape_and_dtype_retrace():
    f = ef.function(lambda x: (x * 2).sum(axis=0))
    x = np.arange(6.0).reshape(2, 3)
    _calls(f, x)
    misses = f.cache_info().misses
    np.testing.assert_array_equal(f(x.reshape(3, 2)), x.reshape(3, 2).sum(axis=0) * 2)
    r = f(x.astype(np.float32))
    assert r.dtype == np.float32
    r = f(x.astype(np.int64))
    assert r.dtype == np.int64
    assert f.cache_info().misses == misses + 3
    np.testing.assert_array_equal(f(x), (x * 2).sum(axis=0))


def test_layouts_readonly_and_kinds_of_numbers():
    f = ef.function(lambda x, k: x * k + 1)
    x = np.arange(12.0)
    _calls(f, x, 2.0)
    np.testing.assert_array_equal(f(x[::2], 2.0)[:3], x[::2][:3] * 2 + 1)   # other shape
    y = np.arange(24.0)[::2]                                                # same shape, strided
    np.testing.assert_array_equal(f(y, 2.0), y * 2 + 1)
    ro = x.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(f(ro, 3.0), ro * 3 + 1)
    for k in (3, True, np.float32(2.0), np.int64(4)):
        got, want = f(x, k), x * k + 1
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_int_arguments_do_not_retrace_and_overflow_like_numpy():
    f = ef.function(lambda x, k: x + k)
    x = np.arange(4, dtype=np.int8)
    _calls(f, x, 3)
    misses = f.cache_info().misses
    np.testing.assert_array_equal(f(x, 5), x + 5)
    assert f.cache_info().misses == misses
    with pytest.raises(OverflowError):
        f(x, 1000)


def test_argument_count_and_structure_changes():
    def f(x, y=None):
        return x * 2 if y is None else x * y
    g = ef.function(f)
    x = np.arange(3.0)
    _calls(g, x)
    np.testing.assert_array_equal(g(x, x), x * x)
    np.testing.assert_array_equal(g(x), x * 2)
    np.testing.assert_array_equal(g((x)), x * 2)


def test_captured_arrays_are_read_each_call():
    w = np.ones(3)

    def f(x):
        return x * w
    g = ef.function(f)
    x = np.arange(3.0)
    _calls(g, x)
    w[:] = 2.0
    np.testing.assert_array_equal(g(x), x * 2)


def test_hits_are_counted():
    f = ef.function(lambda x: x + 1)
    x = np.arange(3.0)
    _calls(f, x, n=5)
    info = f.cache_info()
    assert info.misses == 1 and info.hits == 4


def test_threads_share_the_fast_path():
    f = ef.function(sgd)
    x = np.linspace(-1, 1, 100)
    y = 2 * x
    want = sgd(np.float64(0.25), np.float64(0.5), x, y)
    f(0.25, 0.5, x, y)
    errors = []

    def work():
        for _ in range(200):
            got = f(np.float64(0.25), np.float64(0.5), x, y)
            if got != want:
                errors.append(got)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_calls_leave_no_reference_cycles():
    """Every call path (fast, keyword, pytree results, Variables, grad) frees its inputs and
    results by reference counting: a result held in a cycle until the garbage collector runs
    cannot be recycled as the next call's output buffer."""
    import gc
    x = np.ones((100, 10))
    v = ef.Variable(np.ones(10))

    @ef.function
    def tree(x, y):
        return {"a": (np.sin(x) * y + 1.0).sum(axis=0), "b": [x * 2]}

    @ef.function
    def update(x):
        v.assign_add(x.sum(axis=0))
        return v * 2

    grad = ef.function(ef.grad(lambda w, x: ((x @ w) ** 2).sum()))
    calls = [(tree, (x, x), {}), (tree, (x,), {"y": x}), (update, (x,), {}),
             (grad, (np.ones(10), x), {})]
    for f, args, kwargs in calls:
        for _ in range(3):
            f(*args, **kwargs)   # trace, compile, build the fast path
        gc.collect()
        gc.disable()
        try:
            for _ in range(3):
                f(*args, **kwargs)
            assert gc.collect() == 0, f
        finally:
            gc.enable()


def test_large_results_are_recycled_from_the_second_call():
    """A large output the caller dropped is the next call's output buffer (no new 32 MB array
    and page faults per call), on the full path as on the fast one."""
    f = ef.function(lambda x: x * 2.0 + 1.0)
    x = np.ones((512, 512))
    addr = f(x).ctypes.data
    for _ in range(3):
        r = f(x)
        assert r.ctypes.data == addr
        np.testing.assert_array_equal(r, x * 2.0 + 1.0)
        del r
