"""Arrays reached through attributes, dict items and list/tuple items of globals, closure cells and
static arguments (`self`) are implicit inputs read on every call, as eager NumPy reads them."""
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.runtime.fastpath import never
from eagerflow.runtime.function import RetraceWarning


def ones(n=2):
    return np.ones(n)


def model_class():
    class M:   # a new class per test: each test counts its own traces
        def __init__(self, w):
            self.w = w

        @ef.function
        def fwd(self, x):
            return x * self.w
    return M


def test_method_sees_mutation_and_rebinding_of_self_attribute():
    M = model_class()
    m = M(ones())
    np.testing.assert_array_equal(m.fwd(ones()), [1.0, 1.0])
    m.w[0] = 5.0
    np.testing.assert_array_equal(m.fwd(ones()), [5.0, 1.0])
    m.w = np.array([2.0, 3.0])
    np.testing.assert_array_equal(m.fwd(ones()), [2.0, 3.0])
    other = M(np.array([7.0, 8.0]))   # another instance: its own array
    np.testing.assert_array_equal(other.fwd(ones()), [7.0, 8.0])
    np.testing.assert_array_equal(m.fwd(ones()), [2.0, 3.0])


CFG = types.SimpleNamespace(arr=ones())
D = {"k": ones()}
L = [ones()]


def test_global_object_attribute():
    f = ef.function(lambda x: x + CFG.arr)
    np.testing.assert_array_equal(f(ones()), [2.0, 2.0])
    CFG.arr[1] = 10.0
    np.testing.assert_array_equal(f(ones()), [2.0, 11.0])
    CFG.arr = np.array([3.0, 4.0])
    np.testing.assert_array_equal(f(ones()), [4.0, 5.0])
    assert f.cache_info().misses == 1
    assert "const" not in str(f.lower(ones()).optimized)


def test_global_dict_entry():
    f = ef.function(lambda x: x * D["k"])
    f(ones())
    D["k"][0] = 4.0
    np.testing.assert_array_equal(f(ones()), [4.0, 1.0])
    D["k"] = np.array([6.0, 7.0])
    np.testing.assert_array_equal(f(ones()), [6.0, 7.0])


def test_global_list_entry():
    f = ef.function(lambda x: x - L[0])
    f(ones())
    L[0][1] = 3.0
    np.testing.assert_array_equal(f(ones()), [0.0, -2.0])
    L[0] = np.array([0.5, 0.5])
    np.testing.assert_array_equal(f(ones()), [0.5, 0.5])


def test_closure_variable_attribute_is_a_named_parameter():
    q = types.SimpleNamespace(w=ones())
    f = ef.function(lambda x: x + q.w)
    assert any(p.name == "q_w" for p in f.lower(ones()).optimized.params)
    f(ones())
    q.w *= 3.0
    np.testing.assert_array_equal(f(ones()), [4.0, 4.0])


def test_nested_path_through_dict_list_and_attributes():
    model = {"layers": [types.SimpleNamespace(w=ones(3))]}
    f = ef.function(lambda x: x @ model["layers"][0].w)
    f(ones(3))
    model["layers"][0].w = np.arange(3.0)
    assert f(ones(3)) == 3.0


def test_new_dtype_or_shape_retraces():
    M = model_class()
    m = M(ones())
    m.fwd(ones())
    m.w = np.array([2, 3], dtype=np.int32)
    got = m.fwd(ones())
    np.testing.assert_array_equal(got, [2.0, 3.0])
    assert got.dtype == np.float64
    m.w = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(m.fwd(ones()), np.arange(6.0).reshape(3, 2))
    g = ef.function(lambda x: x + CFG.arr)
    old = CFG.arr
    try:
        g(ones())
        CFG.arr = np.float32([1, 2, 3])
        got = g(np.ones(3, np.float32))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, [2.0, 3.0, 4.0])
        assert g.cache_info().misses == 2
    finally:
        CFG.arr = old


def test_path_that_no_longer_holds_an_array_retraces():
    q = types.SimpleNamespace(w=ones())
    f = ef.function(lambda x: x + q.w)
    f(ones())
    del q.w
    with pytest.raises(AttributeError):
        f(ones())
    q.w = 2.0   # a Python number now: a constant of the new trace, as closure scalars are
    np.testing.assert_array_equal(f(ones()), [3.0, 3.0])


def test_rebound_global_of_new_shape_is_still_captured():
    glob = {"W": ones()}
    f = ef.function(eval("lambda x: x + W", glob))
    f(ones())
    glob["W"] = ones(3)
    f(ones(3))
    glob["W"][0] = 7.0
    np.testing.assert_array_equal(f(ones(3)), [8.0, 2.0, 2.0])


def test_constants_made_inside_fold_and_arguments_stay_arguments():
    M = model_class()
    m = M(ones(3))
    f = ef.function(lambda x, w: x + w + np.arange(3.0))
    text = str(f.lower(ones(3), m.w).optimized)
    assert "const<f64[3]>" in text and "%w" in text
    assert [p.name for p in f.lower(ones(3), m.w).optimized.params] == ["x", "w"]


class Key:
    """Equal to every other Key: one trace serves both, but each holds its own array."""

    def __init__(self, w):
        self.w = w

    def __eq__(self, other):
        return isinstance(other, Key)

    def __hash__(self):
        return 0


def test_equal_static_arguments_read_their_own_arrays():
    f = ef.function(lambda k, x: x * k.w, static_argnums=0)
    a, b = Key(ones()), Key(np.array([2.0, 3.0]))
    np.testing.assert_array_equal(f(a, ones()), [1.0, 1.0])
    np.testing.assert_array_equal(f(b, ones()), [2.0, 3.0])
    np.testing.assert_array_equal(f(a, ones()), [1.0, 1.0])


def test_functions_without_path_captures_keep_the_direct_fast_path():
    f = ef.function(lambda x: x * 2.0 + np.arange(3.0))
    x = ones(3)
    f(x)
    f(x)
    assert f._last is not never and "generic" not in f._last.__code__.co_names
    full = []
    f._call = lambda *a: full.append(a)
    for _ in range(3):
        np.testing.assert_array_equal(f(x), x * 2 + np.arange(3.0))
    assert not full


def test_path_captures_use_the_generic_fast_path():
    q = types.SimpleNamespace(w=ones())
    f = ef.function(lambda x: x + q.w)
    f(ones())
    f(ones())
    f._call = None   # a call that left the fast path would fail
    q.w = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(ones()), [2.0, 3.0])


def test_threads():
    M = model_class()
    m = M(np.arange(100.0))
    x = np.ones(100)
    m.fwd(x)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: m.fwd(x), range(400)))
    assert all(np.array_equal(o, np.arange(100.0)) for o in outs)


def test_retrace_warning_names_a_captured_array():
    q = types.SimpleNamespace(w=ones())
    f = ef.function(lambda x: x + q.w)
    with pytest.warns(RetraceWarning, match="changed dtype or shape"):
        for dt in [np.float32, np.float64] * 4:
            q.w = ones().astype(dt)
            f(ones())


def test_views_made_before_the_trace_follow_their_array():
    M = model_class()
    m = M(np.arange(6.0).reshape(2, 3))
    W = np.arange(6.0).reshape(3, 2)
    f = ef.function(lambda self, x: x @ self.w.T + x @ W[:, ::-1], static_argnums=0)
    x = ones(3)
    want = lambda: x @ m.w.T + x @ W[:, ::-1]   # noqa: E731
    np.testing.assert_array_equal(f(m, x), want())
    m.w[0, 0] = 10.0
    W[2, 1] = -4.0
    np.testing.assert_array_equal(f(m, x), want())
    m.w = np.ones((2, 3))   # a new array: the old view is stale, so the call retraces
    np.testing.assert_array_equal(f(m, x), want())
    assert f.cache_info().misses == 2


class _Scaled:
    def __init__(self):
        self.w = np.ones(3)

    def method(self, x):
        return x * self.w

    def __call__(self, x):
        return x - self.w


def test_arrays_held_by_partials_bound_methods_and_callable_objects_are_inputs():
    """ef.function(partial), ef.function(obj.method) and ef.function(obj) read the arrays those
    callables hold on every call (they were baked in at trace time)."""
    import functools
    w = np.zeros(3)
    p = ef.function(functools.partial(lambda w, x: x + w, w))
    q = ef.function(functools.partial(lambda x, *, k: x * k, k=np.full(3, 2.0)))
    obj = _Scaled()
    m, c = ef.function(obj.method), ef.function(obj)
    x = np.ones(3)
    for f in (p, q, m, c):
        f(x)
    w += 10
    q.fn.keywords["k"][:] = 5.0
    obj.w += 5
    np.testing.assert_array_equal(p(x), np.full(3, 11.0))
    np.testing.assert_array_equal(q(x), np.full(3, 5.0))
    np.testing.assert_array_equal(m(x), np.full(3, 6.0))
    np.testing.assert_array_equal(c(x), np.full(3, -5.0))
    obj.w = np.full(3, -1.0)   # rebinding: the path leads to the new array
    np.testing.assert_array_equal(m(x), np.full(3, -1.0))
    np.testing.assert_array_equal(c(x), np.full(3, 2.0))
