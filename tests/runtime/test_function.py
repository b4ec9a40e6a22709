"""ef.function's runtime: trace cache, LRU bound, threads, retrace warning, eager mode, 0-d results."""
from __future__ import annotations

import re
import threading
import warnings

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.runtime import config
from eagerflow.runtime.function import RetraceWarning
from eagerflow.testing import assert_same


class Counted:
    """A traced function that counts how often Python runs it (i.e. how often it is traced)."""

    def __init__(self, body=lambda x: x * 2 + 1):
        self.body = body
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.body(*args, **kwargs)


def jit(fn, **kw):
    return ef.function(fn, backend="interpreter", **kw)


# ---- trace cache ---------------------------------------------------------------------------------

def test_second_call_does_not_trace():
    body = Counted()
    f = jit(lambda x: body(x))
    x = np.arange(3.0)
    assert_same(f(x), x * 2 + 1)
    assert_same(f(x + 1), (x + 1) * 2 + 1)
    assert body.calls == 1
    info = f.cache_info()
    assert (info.hits, info.misses, info.currsize, info.maxsize) == (1, 1, 1, 64)


@pytest.mark.filterwarnings("ignore::eagerflow.runtime.function.RetraceWarning")
def test_signature_parts_that_retrace():
    body = Counted(lambda x, s=1.0: x * s)
    f = jit(lambda *a, **k: body(*a, **k))
    f(np.ones(3))
    f(np.ones(3, np.float32))          # dtype
    f(np.ones(4))                      # shape
    f(np.ones(4), 2.0)                 # structure
    f(np.ones(4), 3.0)                 # a new Python float: same trace
    f(np.ones(4), 3)                   # Python int instead of float
    f(np.ones(4), s=3)                 # keyword instead of positional
    assert body.calls == 6 and f.cache_info().hits == 1


def test_cache_clear_and_lower_do_not_disturb_calls():
    body = Counted()
    f = jit(lambda x: body(x))
    low = f.lower(np.ones(2))
    assert low.traced is not None and low.optimized is not None and isinstance(low.passes, list)
    assert f.cache_info().currsize == 0
    f(np.ones(2))
    f.cache_clear()
    f(np.ones(2))
    assert f.cache_info().currsize == 1 and body.calls == 3


@pytest.mark.filterwarnings("ignore::eagerflow.runtime.function.RetraceWarning")
def test_bounded_lru():
    body = Counted()
    f = jit(lambda x: body(x), cache_size=2)
    a, b, c = np.ones(1), np.ones(2), np.ones(3)
    f(a), f(b), f(a)            # a is now the most recently used
    f(c)                        # evicts b
    assert f.cache_info().currsize == 2 and body.calls == 3
    f(a), f(c)
    assert body.calls == 3
    f(b)
    assert body.calls == 4


def test_thread_safety_smoke():
    body = Counted(lambda x: (x * 2).sum(axis=-1))
    f = jit(lambda x: body(x))
    inputs = [np.arange(n, dtype=dt) for n in (1, 2, 3) for dt in (np.float64, np.int64)]
    errors = []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait()
            for i in range(40):
                x = inputs[(i + k) % len(inputs)]
                assert_same(f(x), (x * 2).sum(axis=-1))
        except Exception as e:   # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert body.calls == len(inputs)   # each signature traced exactly once
    info = f.cache_info()
    assert info.misses == len(inputs) and info.hits + info.misses == 8 * 40


def test_method_decorator():
    class Model:
        def __init__(self, k):
            self.k = k

        @ef.function(backend="interpreter")
        def apply(self, x):
            return x * self.k
    assert_same(Model(3.0).apply(np.ones(2)), np.full(2, 3.0))
    assert_same(Model(4.0).apply(np.ones(2)), np.full(2, 4.0))


# ---- retrace warning ---------------------------------------------------------------------------

def _retrace_messages(f, calls):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for args in calls:
            f(*args)
    return [str(x.message) for x in w if issubclass(x.category, RetraceWarning)]


def test_retrace_warning_for_size_changes():
    f = jit(lambda x, y: x + y)
    msgs = _retrace_messages(f, [(np.ones(n), 1.0) for n in range(1, 8)])
    assert len(msgs) == 1
    m = msgs[0]
    assert "`x`" in m and "float64[4]" in m and "float64[5]" in m
    assert "compiled code is reused" in m and "trac" in m


def test_retrace_warning_for_python_number_kinds():
    f = jit(lambda x, n: x * n)
    msgs = _retrace_messages(f, [(np.ones(2), v) for v in (1, 2.0, True)] +
                             [(np.ones(3), v) for v in (1, 2.0, True)])
    assert msgs and "`n`" in msgs[0] and "Python" in msgs[0] and "static_argnames" in msgs[0]


def test_retrace_warning_for_static_python_values():
    f = jit(lambda x, mode: x * 2 if mode == "a" else x)
    msgs = _retrace_messages(f, [(np.ones(2), m) for m in "abcdefgh"])
    assert msgs and "`mode`" in msgs[0] and "static" in msgs[0] and "'d'" in msgs[0]


def test_retrace_warning_for_static_argnames():
    f = jit(lambda x, n: x[:n], static_argnames="n")
    msgs = _retrace_messages(f, [(np.ones(9), n) for n in range(1, 9)])
    assert msgs and "`n`" in msgs[0] and "static_argnames" in msgs[0]


def test_retrace_warning_for_dtype_changes():
    f = jit(lambda x: x + 1)
    dts = (np.float32, np.float64, np.int32, np.int64, np.int8, np.uint8, np.bool_)
    msgs = _retrace_messages(f, [(np.ones(2, dt),) for dt in dts])
    assert msgs and "`x`" in msgs[0] and "int64[2]" in msgs[0] and "int8[2]" in msgs[0]


def test_no_warning_for_a_stable_signature():
    f = jit(lambda x: x + 1)
    assert not _retrace_messages(f, [(np.ones(3),)] * 20 + [(np.ones(4),)])


def test_warning_points_at_the_callers_line():
    f = jit(lambda x: x + 1)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for n in range(1, 8):
            f(np.ones(n))
    (rec,) = [x for x in w if issubclass(x.category, RetraceWarning)]
    assert rec.filename == __file__


# ---- eager mode ----------------------------------------------------------------------------------

@pytest.fixture
def eager_reset(monkeypatch):
    monkeypatch.setattr(config, "_eager", None)
    yield
    config._eager = None


def test_run_functions_eagerly(eager_reset):
    body = Counted(lambda x: np.asarray(x) * 2)   # np.asarray would fail while tracing
    f = jit(lambda x: body(x))
    ef.config.run_functions_eagerly(True)
    f(np.ones(2))
    f(np.ones(2))
    assert body.calls == 2 and f.cache_info().misses == 0
    ef.config.run_functions_eagerly(False)
    with pytest.raises(ef.errors.ConcretizationError):
        f(np.ones(2))


def test_eagerflow_eager_env(eager_reset, monkeypatch):
    body = Counted()
    f = jit(lambda x: body(x))
    monkeypatch.setenv("EAGERFLOW_EAGER", "1")
    f(np.ones(2)), f(np.ones(2))
    assert body.calls == 2 and f.cache_info().misses == 0
    monkeypatch.setenv("EAGERFLOW_EAGER", "0")
    f(np.ones(2)), f(np.ones(2))
    assert body.calls == 3


# ---- 0-d results ---------------------------------------------------------------------------------

X = np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("fn", [
    lambda x: x.sum(), lambda x: x.sum(keepdims=True), lambda x: x[0, 1], lambda x: x[0][1],
    lambda x: x[..., 0, 1], lambda x: x.reshape(6)[2], lambda x: x.sum().reshape(()),
    lambda x: np.reshape(x[0, 0], ()), lambda x: np.where(x[0, 0] > 0, 1.0, 2.0),
    lambda x: np.sin(x[0, 0]), lambda x: x[0, 0] * 2, lambda x: x[0] @ x[1],
    lambda x: np.dot(x[0], x[1]), lambda x: x.max(axis=(0, 1)), lambda x: x.argmax(),
    lambda x: x[0, 0].astype(np.float32), lambda x: x.sum(axis=None, keepdims=False) + x[0, 0],
    lambda x: np.zeros_like(x[0, 0]), lambda x: np.full((), 3.0, like=x),
    lambda x: np.broadcast_to(x[0, 0], ()), lambda x: x[0, 0].copy(), lambda x: np.squeeze(x[:1, :1]),
    lambda x: np.clip(x[0, 0], 0, 1), lambda x: x.mean(), lambda x: x.std(axis=(0, 1)),
    lambda x: np.transpose(x[0, 0]), lambda x: np.expand_dims(x[0, 0], 0)[0],
], ids=range(27))
def test_zero_d_results_match_eager_kind(fn):
    expected = fn(X)
    actual = jit(fn)(X)
    assert_same(actual, expected, check_scalar_kind=True)


@pytest.mark.parametrize("arg", [np.array(2.0), np.float32(2.0), np.int64(3)])
def test_zero_d_arguments_keep_their_kind(arg):
    for fn in (lambda a: a, lambda a: a + 1, lambda a: -a, lambda a: a[()], lambda a: a[...]):
        assert_same(jit(fn)(arg), fn(arg), check_scalar_kind=True)


def test_retrace_warning_names_the_class_of_a_module_argument():
    class Counter(ef.Module):
        def __init__(self):
            self.total = ef.Variable(np.zeros(2))

        @ef.function
        def add(self, x):
            self.total.assign_add(x)

    calls = [(Counter(), np.ones(2)) for _ in range(8)]
    msgs = _retrace_messages(lambda m, x: m.add(x), calls)
    assert msgs and "`self` is a Python Counter" in msgs[0], msgs


def _negative_power(a, b):
    c = a * 2
    return c ** b + 1   # the line a run-time error must name


def _loop_index(x, n):
    s = 0.0
    for i in range(n):
        s += x[i]       # the line a run-time error must name
    return s


def test_errors_raised_by_compiled_code_name_the_users_line():
    """Data errors raised while compiled code runs keep NumPy's type and message and name the
    user's line (the IR comment of the generated line that raised), on every call."""
    import inspect
    import os
    here = os.path.abspath(__file__)
    line = inspect.getsourcelines(_negative_power)[1] + 2
    f = ef.function(_negative_power)
    b = np.ones(10, np.int64)
    b[3] = -1
    for _ in range(2):
        with pytest.raises(ValueError, match=f"{re.escape(here)}:{line}: Integers to negative"):
            f(np.full(10, 2), b)
    line = inspect.getsourcelines(_loop_index)[1] + 3
    g = ef.function(_loop_index)
    for _ in range(2):
        with pytest.raises(IndexError, match=f"{re.escape(here)}:{line}: index out of bounds"):
            g(np.ones(3), 5)
    assert g(np.ones(3), 3) == 3.0


@ef.function
def _inner_positive_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s += x[i]
    return x * 2 + s


@ef.function
def _outer_calls_inner(x):
    return _inner_positive_sum(x) + 1


def test_a_compiled_function_called_while_tracing_is_inlined():
    """An ef.function called from another (a Module calling its layers) is traced into the
    caller's graph, control flow and Variables included (it raised KeyError)."""
    x = np.array([1.0, -2.0, 3.0])
    assert_same(_outer_calls_inner(x), _inner_positive_sum.fn(x) + 1)
    assert_same(ef.grad(lambda x: _outer_calls_inner(x).sum())(x), np.array([5.0, 2.0, 5.0]))

    class Layer(ef.Module):
        def __init__(self, n):
            self.w = ef.Variable(np.full(n, float(n)))

        @ef.function
        def __call__(self, x):
            return x * self.w

    class Net(ef.Module):
        def __init__(self):
            self.l1, self.l2 = Layer(3), Layer(3)

        @ef.function
        def __call__(self, x):
            return self.l2(self.l1(x))

    net = Net()
    assert_same(net(np.ones(3)), np.full(3, 9.0))
    net.l1.w.assign(np.full(3, 2.0))
    assert_same(net(np.ones(3)), np.full(3, 6.0))
