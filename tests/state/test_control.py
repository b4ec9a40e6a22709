"""Variables and control flow (ef.cond / ef.while_loop, from eagerflow.control).

Reading Variables inside branches and loop bodies works, and so does assigning them there (more
in tests/state/test_control_assign.py); returning the new value and assigning after works too.
"""
import numpy as np
import pytest

import eagerflow as ef

control = pytest.importorskip("eagerflow.control")
cond = getattr(ef, "cond", control.cond)
while_loop = getattr(ef, "while_loop", control.while_loop)
INTERP = dict(backend="interpreter", autograph=False)


def test_read_in_cond_branches_sees_current_value():
    v = ef.Variable(np.ones(3), name="v")

    @ef.function(**INTERP)
    def f(x, p):
        return cond(p > 0, lambda: x + v, lambda: x - v * 2)

    x = np.zeros(3)
    np.testing.assert_array_equal(f(x, 1.0), [1.0] * 3)
    np.testing.assert_array_equal(f(x, -1.0), [-2.0] * 3)
    v.assign(5.0)
    np.testing.assert_array_equal(f(x, 1.0), [5.0] * 3)
    assert f.cache_info().misses == 1


def test_assign_after_cond_and_loop():
    v = ef.Variable(np.zeros(2), name="v")
    steps = ef.Variable(np.int64(0), name="steps")

    @ef.function(**INTERP)
    def f(x, p, n):
        new = cond(p > 0, lambda: v + x, lambda: v - x)
        i, acc = while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] + v), (0, new))
        v.assign(acc)
        steps.assign_add(i)

    def eager(v0, x, p, n):
        new = v0 + x if p > 0 else v0 - x
        for _ in range(n):
            new = new + v0
        return new

    ref = np.zeros(2)
    for p, n in [(1.0, 2), (-1.0, 3), (1.0, 0)]:
        ref = eager(ref, np.ones(2), p, n)
        f(np.ones(2), p, n)
        np.testing.assert_array_equal(v.numpy(), ref)
    assert int(steps.numpy()) == 5


def test_assign_inside_branch_and_loop_body():
    v = ef.Variable(np.zeros(2), name="v")

    def bump(x):
        v.assign_add(x)
        return x

    @ef.function(**INTERP)
    def f(x, p):
        return cond(p > 0, lambda: bump(x), lambda: x)

    f(np.ones(2), 1.0)
    f(np.ones(2), -1.0)
    assert v.numpy().tolist() == [1.0, 1.0]

    @ef.function(**INTERP)
    def g(x, n):
        return while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, bump(s[1])), (0, x))

    g(np.ones(2), 3)
    assert v.numpy().tolist() == [4.0, 4.0]
