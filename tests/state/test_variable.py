"""ef.Variable eagerly: construction, reads through NumPy's protocols, checked assignment."""
import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import ConcretizationError, StateError


def test_holds_own_copy_with_fixed_shape_and_dtype():
    a = np.arange(3.0)
    v = ef.Variable(a, name="w")
    a[0] = 99
    assert v.numpy().tolist() == [0.0, 1.0, 2.0]
    assert v.shape == (3,) and v.dtype == np.float64 and v.ndim == 1 and v.size == 3
    assert v.name == "w" and v.trainable
    snap = v.numpy()
    snap[0] = 5
    assert v.numpy()[0] == 0.0, "numpy() is a copy"
    assert ef.Variable(1, dtype=np.float32).dtype == np.float32
    assert ef.Variable(2.5).shape == ()


def test_unsupported_dtype():
    with pytest.raises(StateError, match="float16"):
        ef.Variable(np.zeros(2, np.float16))


def test_value_is_a_live_read_only_view():
    v = ef.Variable(np.zeros(2))
    val = v.value
    with pytest.raises(ValueError):
        val[0] = 1.0
    v.assign([1.0, 2.0])
    assert val.tolist() == [1.0, 2.0]
    assert np.asarray(v).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        v[0:1][0] = 3.0   # reads by indexing are read-only views too


def test_eager_arithmetic_like_arrays():
    x = np.array([1.0, -2.0, 3.0])
    v = ef.Variable(x)
    w = ef.Variable(np.ones((3, 2)))
    np.testing.assert_array_equal(v + 1, x + 1)
    np.testing.assert_array_equal(1 - v, 1 - x)
    np.testing.assert_array_equal(x * v, x * x)
    np.testing.assert_array_equal(v * v, x * x)
    np.testing.assert_array_equal(v @ w, x @ np.ones((3, 2)))
    np.testing.assert_array_equal(np.sin(v), np.sin(x))
    np.testing.assert_array_equal(np.maximum(v, 0), np.maximum(x, 0))
    np.testing.assert_array_equal(np.concatenate([v, x]), np.concatenate([x, x]))
    assert np.sum(v) == x.sum() and v.sum() == x.sum() and v.max() == 3.0
    np.testing.assert_array_equal(v == 1.0, x == 1.0)
    np.testing.assert_array_equal(-v, -x)
    np.testing.assert_array_equal(abs(v), abs(x))
    np.testing.assert_array_equal(w.T, np.ones((2, 3)))
    assert v[1] == -2.0 and len(v) == 3 and [float(e) for e in v] == x.tolist()
    assert np.shape(v) == (3,)
    s = ef.Variable(2.0)
    assert float(s) == 2.0 and bool(s) and int(ef.Variable(3)) == 3
    assert hash(v) != hash(ef.Variable(x)), "hashable by identity"


def test_assign_family_in_place():
    v = ef.Variable(np.zeros(3))
    buf = v.value
    assert v.assign([1.0, 2.0, 3.0]) is v
    v.assign_add(1.0)
    v.assign_sub(np.array([1.0, 1.0, 1.0]))
    assert v.numpy().tolist() == [1.0, 2.0, 3.0]
    v += 1
    v -= np.ones(3)
    v *= 2
    assert v.numpy().tolist() == [2.0, 4.0, 6.0]
    v[1] = 0.0
    assert v.numpy().tolist() == [2.0, 0.0, 6.0]
    v.assign(7.0)   # a scalar fills
    assert v.numpy().tolist() == [7.0] * 3
    assert np.shares_memory(buf, v.value), "updates are in place"
    np.add(v, 1, out=v)
    assert v.numpy().tolist() == [8.0] * 3


def test_assign_errors_leave_value():
    v = ef.Variable(np.zeros(3, np.float32), name="w")
    with pytest.raises(StateError, match=r"shape \(4,\).*'w'.*\(3,\)"):
        v.assign(np.zeros(4))
    with pytest.raises(StateError, match="unsafe cast"):
        v.assign(np.zeros(3, np.float64))
    with pytest.raises(StateError, match="unsafe cast"):
        v.assign_add(np.ones(3, np.float64))
    v.assign(np.ones(3, np.int16))   # safe
    v.assign_add(0.5)                # Python float into float32: fine (NEP 50)
    i = ef.Variable(np.zeros(2, np.int32))
    with pytest.raises(StateError, match="Python float"):
        i.assign(1.5)
    with pytest.raises(StateError):
        i.assign_add(0.5)
    with pytest.raises(OverflowError):
        ef.Variable(np.zeros(2, np.int8)).assign(300)
    with pytest.raises(StateError):
        v.assign("abc")
    assert v.numpy().tolist() == [1.5, 1.5, 1.5]
    assert i.numpy().tolist() == [0, 0]


def test_repr():
    v = ef.Variable(np.arange(3.0), name="w", trainable=False)
    r = repr(v)
    assert "'w'" in r and "shape=(3,)" in r and "float64" in r and "trainable=False" in r


def test_created_inside_trace_is_an_error():
    @ef.function(backend="interpreter")
    def f(x):
        v = ef.Variable(np.zeros(3))
        return x + v

    with pytest.raises(StateError, match="create it outside"):
        f(np.ones(3))


def test_concrete_reads_inside_trace_raise():
    v = ef.Variable(np.zeros(3))

    @ef.function(backend="interpreter")
    def f(x):
        return x + np.asarray(v)

    @ef.function(backend="interpreter")
    def g(x):
        return x + v.numpy()

    with pytest.raises(ConcretizationError, match="would bake"):
        f(np.ones(3))
    with pytest.raises(ConcretizationError):
        g(np.ones(3))


def test_out_variable_with_a_traced_first_operand():
    """np.add(x, 1.0, out=v) with a traced x: the Tracer's ufunc override runs first and must
    write into the Variable (it refused: "out= must be a traced array")."""
    buf = ef.Variable(np.zeros(5))

    def step(x):
        r = np.add(x, 1.0, out=buf)
        np.multiply(buf, x, out=buf)
        return buf.sum(), r is buf

    x = np.arange(1.0, 6.0)
    total, same = ef.function(step)(x)
    assert same and total == 70.0
    np.testing.assert_array_equal(buf.numpy(), (x + 1.0) * x)
    ints = ef.Variable(np.zeros(3, np.int64))

    def bad(x):
        np.add(x, 0.5, out=ints)   # float into int64: NumPy's same_kind rule refuses
        return ints.sum()

    with pytest.raises(TypeError, match="same_kind"):
        ef.function(bad)(np.ones(3, np.int64))
    np.testing.assert_array_equal(ints.numpy(), np.zeros(3, np.int64))
