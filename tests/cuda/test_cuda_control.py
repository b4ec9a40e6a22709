"""Control flow (`cond`, `while`) on backend="cuda": host-driven, regions launch their kernels.

Each program is compared with eager NumPy (the function run as written) and with the Numba
backend. Inputs are small: the simulator runs every launch as Python threads, and every loop
iteration launches kernels and reads its predicate back.
"""
from __future__ import annotations

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.testing import assert_same

from test_cuda_backend import gpu   # tests/cuda is on sys.path (pytest's rootdir-less import)

_FNS: dict = {}


def _both(f):
    if f not in _FNS:
        _FNS[f] = (ef.function(f, backend="cuda"), ef.function(f))
    return _FNS[f]


def check(f, *args, ulp=0):
    """f on cuda == f on numba == f eagerly (leaf by leaf)."""
    want = f(*args)
    on_gpu, on_cpu = _both(f)
    got, cpu = on_gpu(*args), on_cpu(*args)
    ws, gs, cs = (x if isinstance(x, tuple) else (x,) for x in (want, got, cpu))
    assert len(ws) == len(gs) == len(cs)
    for w, g, c in zip(ws, gs, cs):
        assert_same(np.asarray(g), np.asarray(w), ulp=ulp)
        assert_same(np.asarray(g), np.asarray(c), ulp=ulp)
    return got


# -- the programs --------------------------------------------------------------------------------

def fizzbuzz(n):
    fizz = buzz = fb = 0
    total = 0.0
    for i in range(1, n + 1):
        if i % 15 == 0:
            fb += 1
        elif i % 3 == 0:
            fizz += 1
            total += i * 0.5
        elif i % 5 == 0:
            buzz += 1
    return fizz, buzz, fb, total


def newton_cbrt(a):
    def cond(s):
        x, it = s
        tol = 16 * np.finfo(a.dtype).eps * np.max(np.abs(a))
        return np.logical_and(np.max(np.abs(x * x * x - a)) > tol, it < 60)

    def body(s):
        x, it = s
        return x - (x * x * x - a) / (3.0 * x * x), it + 1
    return ef.while_loop(cond, body, (np.maximum(np.abs(a), 1.0), 0))


def fori_reduce(x, n):
    def body(i, s):
        acc, y = s
        y = 0.5 * y + x.sum(axis=1, keepdims=True) * i        # a row program in the body
        return acc + np.sum(y * x) - np.max(x) * i, y          # whole-array reductions
    return ef.fori_loop(0, n, body, (0.0, np.zeros_like(x)))


def if_on_reduced(x):
    if x.sum() > 0:
        y = np.exp(x - x.max(axis=1, keepdims=True))
        y = y / y.sum(axis=1, keepdims=True)
    else:
        y = -x
    return y


def nested(x, n):
    acc = np.zeros_like(x)
    count = 0
    for i in range(n):
        for j in range(i):
            acc = acc + x * j
            count += 1
        acc = acc * 0.5
    return acc, count


def compatible_branches(x, s):
    # the true branch yields the operand and a Python number, the false one computed values
    r = ef.cond(x.sum() > s, lambda a: (a, 0.0), lambda a: (a * 2.0 + 1.0, a.mean()), x)
    y = 0.0 if x.max() > s else x.min()           # a Python number and a traced f64
    return r[0], r[1], y


def loop_on_scalar_params(n, step):
    # every carried value starts as a host scalar: copied to the device once
    i, t = 0, 0.0
    while i < n:
        t += step
        i += 1
    return i, t


# -- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 16])
def test_fizzbuzz(n):
    got = check(fizzbuzz, n)
    assert [int(g) for g in got[:3]] == list(fizzbuzz(n)[:3])


def test_fizzbuzz_lowers_to_host_loop():
    src = _both(fizzbuzz)[0].lower(16).source
    assert "while True:" in src and "ef_pred(" in src and "@cuda.jit" in src


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_newton_while_loop(dtype):
    a = np.array([0.5, 2.0, 27.0, -8.0, 100.0, 1e-3, 7.0], dtype)
    x, it = check(newton_cbrt, a)
    np.testing.assert_allclose(x, np.cbrt(a), rtol=1e-6 if dtype == "float32" else 1e-12)
    assert 0 < int(it) <= 60


@pytest.mark.parametrize("n", [0, 3])
def test_fori_loop_with_reductions(n):
    x = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    check(fori_reduce, x, n, ulp=4)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_autograph_if_on_reduced_value(sign):
    x = sign * np.linspace(0.1, 1.2, 12).reshape(3, 4).astype(np.float32)
    check(if_on_reduced, x, ulp=4)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_nested_loops(n):
    x = np.arange(5.0)
    check(nested, x, n)


@pytest.mark.parametrize("s", [-100.0, 100.0])
def test_cond_compatible_branches(s):
    x = np.array([[1.0, 2.5], [3.0, -1.0]])
    got = check(compatible_branches, x, s)
    assert got[1].dtype == np.float64


def test_loop_on_scalar_params():
    check(loop_on_scalar_params, 5, 0.25)
    check(loop_on_scalar_params, 0, 0.25)


def test_variables_assigned_in_control_flow():
    v = ef.Variable(np.zeros(3))
    cnt = ef.Variable(np.int64(0))

    def f(x, n):
        for _ in range(n):
            if x.sum() + v.value.sum() > 2.0:
                v.assign_add(x)
                cnt.assign_add(1)
            else:
                v.assign(v.value * 2.0 + 1.0)
        return v.value.sum()

    x = np.array([0.5, 0.25, 1.0])
    results = []
    for fn in (f, ef.function(f), ef.function(f, backend="cuda")):
        v.assign(np.zeros(3))
        cnt.assign(np.int64(0))
        results.append((fn(x, 5), v.numpy().copy(), cnt.numpy().copy()))
    for r in results[1:]:
        for got, want in zip(r, results[0]):
            assert_same(np.asarray(got), np.asarray(want))


def test_print_in_loop(capfd):
    def f(n):
        i = 0
        while i < n:
            ef.print("i =", i)
            i += 1
        return i

    g = ef.function(f, backend="cuda")
    assert int(g(3)) == 3
    assert capfd.readouterr().out.splitlines() == ["i = 0", "i = 1", "i = 2"]


def test_device_inputs_stay_on_device():
    from numba import cuda
    x = np.array([1.0, -2.0, 3.0])
    d = cuda.to_device(x)
    f = ef.function(nested, backend="cuda")
    acc, count = f(d, 3)
    want, wcount = nested(x, 3)
    assert hasattr(acc, "copy_to_host")
    assert_same(acc.copy_to_host(), want)
    assert int(np.asarray(count.copy_to_host()).reshape(-1)[0]) == wcount


def test_zero_trip_result_is_a_copy():
    from numba import cuda

    def f(x):
        return ef.while_loop(lambda a: a.sum() < 0.0, lambda a: a - 1.0, x)

    d = cuda.to_device(np.array([1.0, 2.0]))
    out = ef.function(f, backend="cuda")(d)
    assert out is not d
    out[0] = 5.0        # writing the result leaves the input alone
    assert_same(d.copy_to_host(), np.array([1.0, 2.0]))


@gpu
def test_newton_on_gpu_large():
    a = np.random.default_rng(0).uniform(0.1, 100.0, 1 << 20)
    x, _ = _both(newton_cbrt)[0](a)
    np.testing.assert_allclose(x, np.cbrt(a), rtol=1e-12)


def test_grad_through_cond_and_loop():
    # backward graphs hold cond and while nodes too; compared with the interpreter (the
    # reference backend) and with finite differences
    def loss(x):
        if x.sum() > 0:
            y = np.sin(x) * x
        else:
            y = x * x
        v = ef.while_loop(lambda v: v.sum() < 10.0, lambda v: v * 1.5, y + 1.0, max_iters=8)
        return v.sum()

    on_gpu = ef.function(ef.grad(loss), backend="cuda")
    ref = ef.function(ef.grad(loss), backend="interpreter")
    for x in (np.array([0.3, 0.7, -0.2]), np.array([-0.3, -0.7, 0.2])):
        g = on_gpu(x)
        assert_same(g, ref(x), ulp=4)
        eps = 1e-6
        fd = [(loss(x + eps * e) - loss(x - eps * e)) / (2 * eps) for e in np.eye(3)]
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_array_constants_do_not_shadow_kernels():
    # array constants are host arguments k0, k1, ...; kernels are named apart from them
    def f(x):
        a = x * np.arange(1.0, 4.0) + np.array([0.5, 0.25, 2.0])
        return a.sum() + (a * np.array([3.0, 1.0, 2.0])).max()
    check(f, np.array([1.0, -2.0, 0.5]))
