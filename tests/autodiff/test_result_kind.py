"""A gradient has its argument's kind and dtype (scalar -> NumPy scalar, 0-d array -> 0-d array,
array -> array), with or without control flow in f, eager or inside ef.function."""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef


def plain(a):
    return (a * 8.0).sum()


def fori(a):
    return ef.fori_loop(0, 3, lambda i, v: v * 2.0, a).sum()


def while_(a):
    return ef.while_loop(lambda v: v.sum() < 1e9, lambda v: v * 2.0, a, max_iters=3).sum()


def cond(a):
    return ef.cond(a.sum() > 0, lambda v: v * 8.0, lambda v: v, a).sum()


FORMS = [plain, fori, while_, cond]
ARGS = {"float": 3.0, "f64": np.float64(3.0), "f32": np.float32(3.0),
        "0d": np.array(3.0), "0d-f32": np.array(3.0, np.float32), "1d": np.array([3.0, 1.0])}


def _check_like(g, arg):
    if isinstance(arg, np.ndarray):
        assert type(g) is np.ndarray and g.shape == arg.shape, repr(g)
        assert g.dtype == arg.dtype
    else:
        assert isinstance(g, np.generic), repr(g)
        assert g.dtype == np.asarray(arg).dtype
    np.testing.assert_allclose(g, np.full(np.shape(arg), 8.0))


def _runs(f):
    """grad_f as called: eager (its own cached trace) and inside an ef.function."""
    return {"eager": f, "interpreter": ef.function(f, backend="interpreter")}


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("arg", ARGS.values(), ids=ARGS.keys())
@pytest.mark.parametrize("mode", ["eager", "interpreter"])
def test_grad_kind(form, arg, mode):
    _check_like(_runs(ef.grad(form))[mode](arg), arg)


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["eager", "interpreter"])
def test_value_and_grad_argnums_tuple_kind(form, mode):
    def f(a, b, c):
        return form(a) + form(b) + form(c)
    args = (3.0, np.array(3.0), np.array([3.0, 1.0], np.float32))
    value, grads = _runs(ef.value_and_grad(f, argnums=(0, 1, 2)))[mode](*args)
    assert isinstance(value, np.generic)
    for g, a in zip(grads, args):
        _check_like(g, a)


# (ef.cond on an eager GradientTape's value fails on its own: not part of this check)
@pytest.mark.parametrize("form", [plain, fori, while_], ids=lambda f: f.__name__)
def test_grad_kind_when_functions_run_eagerly(form):
    ef.config.run_functions_eagerly(True)
    try:
        for arg in (3.0, np.float32(3.0), np.array(3.0)):
            _check_like(ef.grad(form)(arg), arg)
    finally:
        ef.config.run_functions_eagerly(False)


def test_grad_kind_numba_compiled():
    step = ef.function(ef.grad(lambda a, b: fori(a) + cond(b), argnums=(0, 1)))
    ga, gb = step(3.0, np.array(3.0))
    _check_like(ga, 3.0)
    _check_like(gb, np.array(3.0))
