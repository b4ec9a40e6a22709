"""The tracer: NumPy protocols, weak scalars, captures, statics, in-place updates, pytrees."""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import AliasingError, ConcretizationError, UnsupportedError
from eagerflow.testing import assert_same


def jit(fn=None, **kw):
    kw.setdefault("backend", "interpreter")
    return ef.function(fn, **kw) if fn is not None else (lambda f: ef.function(f, **kw))


def check(fn, *args, **kw):
    """fn traced == fn eager, on copies of args; the args are updated alike."""
    import copy
    ea, ta = copy.deepcopy(args), copy.deepcopy(args)
    with np.errstate(all="ignore"):
        expected = fn(*ea)
    actual = jit(fn, **kw)(*ta)
    assert_same(actual, expected, check_scalar_kind=True)
    assert_same(list(ta), list(ea))   # in-place updates of arguments match eager NumPy
    return actual


X = np.arange(12.0).reshape(3, 4) - 5.5
I = np.arange(12, dtype=np.int32).reshape(3, 4) - 6


# ---- operators and methods -----------------------------------------------------------------------

@pytest.mark.parametrize("fn", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
    lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a ** 2, lambda a, b: 2.0 ** a,
    lambda a, b: -a, lambda a, b: +a, lambda a, b: abs(a), lambda a, b: a < b, lambda a, b: a <= b,
    lambda a, b: a > b, lambda a, b: a >= b, lambda a, b: a == b, lambda a, b: a != b,
    lambda a, b: 1 - a, lambda a, b: 3 / a, lambda a, b: 7 // b, lambda a, b: 5 % b,
    lambda a, b: divmod(a, b), lambda a, b: a @ b.T, lambda a, b: b.T.__rmatmul__(a),
], ids=lambda f: f.__code__.co_positions().__next__().__repr__())
def test_float_operators(fn):
    check(fn, X, X[::-1] + 0.25)


@pytest.mark.parametrize("fn", [
    lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b, lambda a, b: ~a,
    lambda a, b: a << 2, lambda a, b: a >> 1, lambda a, b: 3 & a, lambda a, b: a // b,
    lambda a, b: a % b, lambda a, b: a ** 2,
])
def test_int_operators(fn):
    check(fn, I, np.abs(I[::-1]) + 1)


@pytest.mark.parametrize("fn", [
    lambda a: a.sum(), lambda a: a.sum(axis=0), lambda a: a.mean(axis=-1, keepdims=True),
    lambda a: a.var(ddof=1), lambda a: a.std(axis=(0, 1)), lambda a: a.max(0), lambda a: a.min(),
    lambda a: a.argmax(), lambda a: a.argmin(axis=1), lambda a: a.prod(axis=1), lambda a: a.any(),
    lambda a: a.all(axis=0), lambda a: a.reshape(4, 3), lambda a: a.reshape((2, -1)),
    lambda a: a.transpose(), lambda a: a.transpose(1, 0), lambda a: a.T, lambda a: a.mT,
    lambda a: a.ravel(), lambda a: a.flatten(), lambda a: a.copy(), lambda a: a.squeeze(),
    lambda a: a.swapaxes(0, 1), lambda a: a.astype(np.int32), lambda a: a.clip(-1, 1),
    lambda a: a.dot(a.T), lambda a: a[None].squeeze(0), lambda a: len(a) * a,
    lambda a: a.shape[0] * a.ndim * a.size * a, lambda a: [r for r in a],
    lambda a: np.float32(2) * a, lambda a: a.dtype.type(3) + a,
])
def test_methods_and_properties(fn):
    check(fn, X)


def test_numpy_functions_dispatch():
    def f(x, y):
        z = np.concatenate([x, y], axis=0)
        s = np.stack([x, y], axis=-1)
        return np.where(z > 0, z, 0.0), np.moveaxis(s, -1, 0), np.expand_dims(x, (0, 2)), \
            np.broadcast_to(x[0], (2, 4)), np.dot(x[0], y[0]), np.maximum(x, 0.5)
    check(f, X, X * 2)


# ---- weak scalars (NEP 50) ---------------------------------------------------------------------

def test_weak_float_keeps_float32():
    x = np.ones(3, np.float32)
    out = check(lambda a: a * 2.0 + 1, x)
    assert out.dtype == np.float32


def test_weak_python_scalar_argument_keeps_float32():
    f = jit(lambda a, s: a * s)
    assert f(np.ones(3, np.float32), 2.5).dtype == np.float32
    assert f(np.ones(3, np.float32), 3.5).dtype == np.float32
    assert f.cache_info().misses == 1   # a new Python float does not retrace


def test_weak_int_overflow_constant_raises_like_numpy():
    x = np.ones(3, np.int8)
    with pytest.raises(OverflowError):
        x + 300
    with pytest.raises(OverflowError):
        jit(lambda a: a + 300)(x)


def test_weak_int_overflow_argument_raises_at_call_time():
    f = jit(lambda a, k: a + k)
    x = np.ones(3, np.int8)
    assert_same(f(x, 100), x + 100)
    with pytest.raises(OverflowError):
        f(x, 300)
    assert f.cache_info().misses == 1
    assert_same(f(x, -128), x + -128)   # the cache survived the error


def test_weak_int_in_comparison_does_not_overflow():
    check(lambda a: a < 300, np.arange(3, dtype=np.int8))


def test_numpy_scalar_argument_is_strong():
    x = np.ones(3, np.float32)
    out = check(lambda a, s: a * s, x, np.float64(2.0))
    assert out.dtype == np.float64


def test_python_scalar_results():
    out = check(lambda s: s * 2 + 1, 3.0)
    assert isinstance(out, np.float64)
    out = check(lambda s: np.sin(s), 1.0)
    assert isinstance(out, np.float64)


# ---- captured arrays and Python scalars ----------------------------------------------------------

G = np.arange(4.0)


def test_captured_global_is_read_by_reference():
    global G
    f = jit(lambda x: x + G)
    assert_same(f(np.zeros(4)), np.arange(4.0))
    G[0] = 100.0
    assert f(np.zeros(4))[0] == 100.0
    G = np.full(4, 7.0)   # rebinding the global to a new array is seen too
    assert_same(f(np.zeros(4)), np.full(4, 7.0))
    assert f.cache_info().misses == 1
    G = np.arange(4.0)


def test_captured_closure_array_mutation_seen_without_retracing():
    w = np.ones(3)
    calls = []

    def f(x):
        calls.append(1)
        return x * w

    g = jit(f)
    assert_same(g(np.arange(3.0)), np.arange(3.0))
    w[:] = 2.0
    assert_same(g(np.arange(3.0)), np.arange(3.0) * 2)
    assert len(calls) == 1
    assert any(p.name == "w" for p in g.lower(np.arange(3.0)).traced.params)


def test_captured_array_new_shape_retraces():
    w = [np.ones(3)]
    cell = np.ones(3)

    def f(x):
        return x + cell
    g = jit(f)
    g(np.zeros(3))
    f.__closure__[0].cell_contents = np.ones((2, 3))
    assert g(np.zeros(3)).shape == (2, 3)
    del w


def test_closure_python_scalar_is_a_constant():
    k = 2.0
    g = jit(lambda x: x * k)
    assert "mul(%x, 2.0)" in str(g.lower(np.ones(2)).traced)


# ---- static arguments ----------------------------------------------------------------------------

def test_static_argnames():
    calls = []

    def f(x, n, mode="add"):
        calls.append(n)
        y = x[:n]
        return y + 1 if mode == "add" else y * 2

    g = jit(f, static_argnames=("n", "mode"))
    x = np.arange(5.0)
    assert_same(g(x, 3), x[:3] + 1)
    assert_same(g(x, 3), x[:3] + 1)
    assert_same(g(x, 2, mode="mul"), x[:2] * 2)
    assert calls == [3, 2]


def test_static_argnums():
    g = jit(lambda x, n: np.reshape(x, (n, -1)), static_argnums=1)
    assert g(np.arange(6.0), 2).shape == (2, 3)


def test_str_and_none_leaves_are_static():
    def f(x, how, extra=None):
        return x.sum() if how == "sum" else x.max()
    check(f, X, "sum")
    check(f, X, "max", None)


def test_traced_python_int_as_size_names_the_argument():
    g = jit(lambda x, n: x[:n])
    with pytest.raises(ConcretizationError, match="argument n.*static_argnames"):
        g(np.arange(5.0), 3)
    h = jit(lambda x, n: np.reshape(x, (n, -1)))
    with pytest.raises(ConcretizationError, match="argument n.*static_argnames"):
        h(np.arange(6.0), 2)


# ---- in-place updates ----------------------------------------------------------------------------

def test_setitem_on_argument_updates_caller_array():
    def f(x, v):
        x[1] = v
        x[:, 0] = -1.0
        x[0, 1:3] += 10
        return x.sum()
    check(f, X.copy(), 7.0)


def test_augmented_assignment_updates_argument():
    def f(x, y):
        x += y
        x *= 2
        return None
    x = X.copy()
    check(f, x, X * 0 + 1)


def test_augmented_assignment_cast_errors_like_numpy():
    def f(x):
        x += 1.5
        return x
    with pytest.raises(TypeError, match="same_kind"):
        f(I.copy())
    with pytest.raises(TypeError, match="same_kind"):
        jit(f)(I.copy())


def test_out_argument():
    def f(x, y):
        np.add(x, y, out=x)
        np.multiply(x, 2, out=y)
        return np.sum(x, axis=0, out=None)
    check(f, X.copy(), X.copy() + 1)


def test_out_into_a_view():
    def f(x):
        np.negative(x[0], out=x[1])
        return x
    check(f, X.copy())


def test_view_through_basic_slice_updates_base():
    def f(x):
        row = x[1]
        row[2] = 100.0
        col = x[:, ::2]
        col *= -1
        sub = col[1:]
        sub += 1000
        return x, row, col
    check(f, X.copy())


def test_reading_a_view_after_its_base_changed():
    def f(x):
        v = x[0]
        x[0, 0] = 42.0
        return v * 1
    check(f, X.copy())


def test_scalar_element_is_not_a_view():
    def f(x):
        s = x[0, 0]
        s += 1
        return x, s
    check(f, X.copy())


def test_writing_through_reshape_raises_aliasing_error():
    def f(x):
        y = x.reshape(-1)
        y[0] = 1.0
        return x
    with pytest.raises(AliasingError, match="reshape"):
        jit(f)(X.copy())


def test_overlapping_written_arguments_raise():
    def f(a, b):
        a += 1
        return b
    x = np.zeros(4)
    with pytest.raises(AliasingError):
        jit(f)(x, x[1:])
    assert (x == 0).all()


def test_gather_and_scatter():
    def f(x, idx):
        g = x[idx]
        x[idx, 0] = 5.0
        return g, x[[2, 0], 1:]
    check(f, X.copy(), np.array([2, 0]))


# ---- boolean masks -----------------------------------------------------------------------------

def test_mask_write():
    def f(x):
        x[x < 0] = 0.0
        y = x.copy()
        y[np.isnan(y)] = -1
        return y
    check(f, X.copy())


def test_mask_write_on_rows():
    def f(x, m):
        x[m] = 9.0
        return x
    check(f, X.copy(), np.array([True, False, True]))


def test_mask_read_raises():
    with pytest.raises(UnsupportedError, match="np.where"):
        jit(lambda x: x[x > 0])(X)


# ---- creation ----------------------------------------------------------------------------------

def test_creation_like_forms():
    def f(x):
        return (np.zeros_like(x), np.ones_like(x, dtype=np.int32), np.full_like(x, 2.5),
                np.zeros(3, like=x), np.ones((2, 2), dtype=np.int64, like=x),
                np.full((2,), 7, like=x), np.empty_like(x).shape)
    check(f, X)


def test_buffer_from_zeros_like_accepts_traced_values():
    def f(x):
        buf = np.zeros_like(x)
        buf[0] = x[1] * 2
        return buf
    check(f, X)


def test_plain_creation_is_a_constant():
    def f(x):
        return x + np.arange(4.0) + np.zeros(4) + np.linspace(0, 1, 4) + np.eye(4)[0]
    check(f, X)


def test_writing_traced_value_into_plain_buffer_raises():
    def f(x):
        buf = np.zeros(4)
        buf[0] = x[0, 0]
        return buf
    with pytest.raises(ConcretizationError, match="zeros_like"):
        jit(f, autograph=False)(X)     # autograph (the default) makes np.zeros(n) traced


# ---- pytrees -----------------------------------------------------------------------------------

def test_pytrees_in_and_out():
    def f(params, batch):
        w, b = params["w"], params["b"]
        (x, y), extra = batch
        pred = x @ w + b
        return {"loss": ((pred - y) ** 2).mean(), "pred": [pred, (extra,)]}
    params = {"w": np.ones((4, 2)), "b": np.zeros(2)}
    batch = ((X, np.ones((3, 2))), 3)
    out = check(f, params, batch)
    assert isinstance(out["pred"], list) and isinstance(out["pred"][1], tuple)


def test_output_static_leaves_and_passthrough():
    def f(x, n):
        return x, "label", None, n
    out = jit(f)(X, 3)
    assert out[1:3] == ("label", None)
    assert isinstance(out[3], np.int64) or out[3] == 3
    assert out[0] is not X and np.array_equal(out[0], X)   # outputs never alias inputs


def test_namedtuple_argument():
    import collections
    P = collections.namedtuple("P", "a b")
    with pytest.raises(UnsupportedError):
        jit(lambda p: p.a + p.b)(P(X, X))
