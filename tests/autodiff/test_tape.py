"""ef.GradientTape: eager recording, watch, Variables, persistence, nesting, inside ef.function."""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef


def test_watch_array_and_concrete_values():
    x = np.array([0.5, 1.5, -1.0])
    with ef.GradientTape() as tape:
        t = tape.watch(x)
        y = np.sin(t) * t
        loss = y.sum()
        assert isinstance(float(loss), float)            # values are concrete inside the block
        assert f"{loss:.3f}" == f"{float(np.sum(np.sin(x) * x)):.3f}"
        if loss > 0:                                       # Python control flow on values works
            loss = loss * 2.0
    g = tape.gradient(loss, t)
    np.testing.assert_allclose(g, 2 * (np.cos(x) * x + np.sin(x)))
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(np.asarray(y), np.sin(x) * x)


def test_variables_are_watched_when_trainable():
    w = ef.Variable(np.array([1.0, 2.0]), name="w")
    b = ef.Variable(0.5, name="b")
    frozen = ef.Variable(np.array([3.0, 4.0]), trainable=False)
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    with ef.GradientTape() as tape:
        loss = np.sum((x @ w + b) * 2.0) + np.sum(frozen * w)
    gw, gb, gf = tape.gradient(loss, [w, b, frozen])
    np.testing.assert_allclose(gw, 2.0 * x.sum(axis=0) + frozen.numpy())
    assert gb == 4.0 and gf is None                        # not watched: None, as TF does
    with ef.GradientTape() as tape:
        tape.watch(frozen)
        loss = np.sum(frozen * w)
    np.testing.assert_allclose(tape.gradient(loss, frozen), w.numpy())


def test_sgd_with_tape_fits_a_line():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    y = 3 * x + 2 + 0.01 * rng.normal(size=200)
    w, b = ef.Variable(0.0), ef.Variable(0.0)
    for _ in range(300):
        with ef.GradientTape() as tape:
            loss = np.mean((w * x + b - y) ** 2)
        gw, gb = tape.gradient(loss, [w, b])
        w.assign_sub(0.3 * gw)
        b.assign_sub(0.3 * gb)
    assert abs(w.numpy() - 3) < 0.02 and abs(b.numpy() - 2) < 0.02


def test_persistent_and_non_persistent():
    x = np.array([1.0, 2.0])
    with ef.GradientTape() as tape:
        t = tape.watch(x)
        y = (t ** 2).sum()
        z = (t ** 3).sum()
    tape.gradient(y, t)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(z, t)
    with ef.GradientTape(persistent=True) as tape:
        t = tape.watch(x)
        y = (t ** 2).sum()
        z = (t ** 3).sum()
    np.testing.assert_allclose(tape.gradient(y, t), 2 * x)
    np.testing.assert_allclose(tape.gradient(z, t), 3 * x ** 2)
    np.testing.assert_allclose(tape.gradient([y, z], t), 2 * x + 3 * x ** 2)   # targets add up


def test_after_the_block_values_compute_with_numpy():
    with ef.GradientTape() as tape:
        t = tape.watch(np.array([1.0, 2.0]))
        y = t * 2.0
    z = y + 1.0                                            # not recorded: a plain ndarray
    assert type(z) is np.ndarray
    np.testing.assert_allclose(z, [3.0, 5.0])
    assert tape.gradient(y.sum() if False else y, t) is not None


def test_nested_tapes_give_second_derivatives():
    x = np.array([0.3, 1.2])
    with ef.GradientTape() as outer:
        t = outer.watch(x)
        with ef.GradientTape() as inner:
            y = np.sum(t ** 3)
        dy = inner.gradient(y, t)
        s = np.sum(dy)
    np.testing.assert_allclose(dy, 3 * x ** 2)
    np.testing.assert_allclose(outer.gradient(s, t), 6 * x)


def test_grad_inside_a_tape():
    with ef.GradientTape() as tape:
        t = tape.watch(np.array([0.5, 1.0]))
        g = ef.grad(lambda v: np.sum(np.sin(v)))(t)
        s = np.sum(g)
    np.testing.assert_allclose(tape.gradient(s, t), -np.sin([0.5, 1.0]))


def test_tape_inside_function():
    w = ef.Variable(np.array([1.0, -1.0]))
    x = np.array([[1.0, 2.0], [0.5, 0.25]])

    @ef.function(backend="interpreter")
    def step(x):
        with ef.GradientTape() as tape:
            loss = np.sum((x @ w) ** 2)
        (g,) = tape.gradient(loss, [w])
        w.assign_sub(0.1 * g)
        return loss

    w0 = w.numpy()
    loss = step(x)
    assert np.isclose(loss, np.sum((x @ w0) ** 2))
    np.testing.assert_allclose(w.numpy(), w0 - 0.1 * 2 * x.T @ (x @ w0))


def test_watch_in_function_of_array_argument():
    @ef.function(backend="interpreter")
    def f(x):
        with ef.GradientTape() as tape:
            t = tape.watch(x)
            y = np.sum(np.exp(t))
        return tape.gradient(y, t)
    np.testing.assert_allclose(f(np.array([0.0, 1.0])), np.exp([0.0, 1.0]))


def test_watch_rejects_integers_and_unwatched_sources():
    with ef.GradientTape() as tape:
        with pytest.raises(TypeError, match="floating-point"):
            tape.watch(np.arange(3))
        y = np.ones(3) * 2.0
    with pytest.raises(TypeError, match="watch"):
        tape.gradient(y, np.ones(3))


@pytest.mark.parametrize("source", [np.float64(2.0), 2.0, np.float32(1.0)])
def test_unwatched_scalar_sources_are_rejected(source):
    """A NumPy scalar or a number as a source raises, as an unwatched array does; it once came
    back unchanged in place of its gradient."""
    with ef.GradientTape() as tape:
        y = np.float64(2.0) * 3.0
    with pytest.raises(TypeError, match="watch"):
        tape.gradient(y, [source])


@pytest.mark.parametrize("x0, want", [(2.0, 3.0), (0.5, 5.0)])
def test_control_flow_on_tape_values_runs_the_taken_branch(x0, want):
    """ef.cond / while_loop / fori_loop on an eager tape's values are plain Python (the values
    are concrete); the gradient follows the branch taken."""
    with ef.GradientTape(persistent=True) as tape:
        x = tape.watch(np.float64(x0))
        y = ef.cond(x > 1.0, lambda v: v * 3.0, lambda v: v * 5.0, x)
        z = ef.fori_loop(0, 3, lambda i, v: v * 2.0, x)
        w = ef.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x)
    assert float(tape.gradient(y, x)) == want
    assert float(tape.gradient(z, x)) == 8.0
    assert float(tape.gradient(w, x)) == float(w) / x0
    ef.config.run_functions_eagerly(True)
    try:
        g = ef.grad(lambda a: ef.cond(a > 1.0, lambda v: v * v, lambda v: -v, a))(x0)
    finally:
        ef.config.run_functions_eagerly(False)
    assert float(g) == (2 * x0 if x0 > 1.0 else -1.0)
