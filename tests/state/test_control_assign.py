"""Variable assignment inside traced control flow: ef.cond branches, ef.while_loop / ef.fori_loop
bodies and autograph `if` / `while` / `for` on traced values (docs/state.md, "Control flow").

Each Variable assigned in a region is an extra cond output / loop-carried value; the results are
compared with the same code run eagerly (ef.config.run_functions_eagerly)."""
import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import StateError

control = pytest.importorskip("eagerflow.control")
cond = getattr(ef, "cond", control.cond)
while_loop = getattr(ef, "while_loop", control.while_loop)
fori_loop = getattr(ef, "fori_loop", control.fori_loop)
INTERP = dict(backend="interpreter", autograph=False)


@pytest.fixture
def eager_reset():
    yield
    ef.config.run_functions_eagerly(False)


def check_against_eager(make, calls, **fopts):
    """make() -> (fn, variables); run `calls` (argument tuples) compiled and eagerly on fresh
    Variables; results and Variables must agree after every call."""
    fc, vc = make()
    fe, ve = make()
    cf = ef.function(fc, **fopts)
    for args in calls:
        got = cf(*args)
        ef.config.run_functions_eagerly(True)
        try:
            want = fe(*args)
        finally:
            ef.config.run_functions_eagerly(False)
        if want is not None:
            np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float))
        for a, b in zip(vc, ve):
            np.testing.assert_allclose(a.numpy(), b.numpy())
            assert a.numpy().dtype == b.numpy().dtype
    return cf


def test_cond_both_branches_assign(eager_reset):
    def make():
        v = ef.Variable(np.zeros(3), name="v")

        def t(x):
            v.assign_add(x)
            return v.sum()          # a read after the assignment sees the new value

        def f_(x):
            v.assign(x * 2.0)
            return v.sum() + 1.0

        def fn(x, p):
            return cond(p > 0, lambda: t(x), lambda: f_(x))
        return fn, [v]

    x = np.arange(3.0)
    cf = check_against_eager(make, [(x, 1.0), (x, 1.0), (x, -1.0), (x, 1.0)], **INTERP)
    assert cf.cache_info().misses == 1


def test_cond_one_branch_assigns(eager_reset):
    def make():
        v = ef.Variable(np.ones(2), name="v")
        n = ef.Variable(np.int64(0), name="n")

        def bump(x):
            v.assign_add(x)
            n.assign_add(1)
            return x

        def fn(x, p):
            r = cond(p > 0, lambda: bump(x), lambda: x * 3.0)
            return r + v            # the value after the cond
        return fn, [v, n]

    x = np.array([1.0, 2.0])
    check_against_eager(make, [(x, 1.0), (x, -1.0), (x, 2.0), (x, -5.0)], **INTERP)


def test_cond_without_results_only_assigns(eager_reset):
    def make():
        v = ef.Variable(np.float32(0.0), name="v")

        def fn(p):
            cond(p > 0, lambda: v.assign_sub(1.5), lambda: v.assign_add(2.0))
        return fn, [v]

    check_against_eager(make, [(1.0,), (-1.0,), (-1.0,), (3.0,)], **INTERP)


def test_fori_loop_accumulates(eager_reset):
    def make():
        v = ef.Variable(np.float64(0.0), name="v")
        count = ef.Variable(np.int64(0), name="count")

        def fn(x, n):
            def body(i, acc):
                v.assign_add(x[i])
                count.assign_add(1)
                return acc + v      # reads the updated value
            return fori_loop(0, n, body, 0.0)
        return fn, [v, count]

    x = np.arange(1.0, 6.0)
    check_against_eager(make, [(x, np.int64(5)), (x, np.int64(2)), (x, np.int64(0))], **INTERP)


def test_while_loop_assigns_and_condition_reads(eager_reset):
    def make():
        v = ef.Variable(np.ones(2), name="v")
        steps = ef.Variable(np.int64(0), name="steps")

        def body(s):
            v.assign(v * 2.0)
            steps.assign_add(1)
            return s + 1

        def fn(limit):
            return while_loop(lambda s: v.sum() < limit, body, np.int64(0))
        return fn, [v, steps]

    check_against_eager(make, [(10.0,), (100.0,), (1.0,)], **INTERP)


def test_nested_cond_in_loop_and_setitem(eager_reset):
    def make():
        v = ef.Variable(np.zeros(4), name="v")
        hits = ef.Variable(np.int64(0), name="hits")

        def fn(x, n):
            def body(i, acc):
                def hit():
                    v[i % 4] = v[i % 4] + x[i]
                    hits.assign_add(1)
                    return acc + 1.0
                return cond(x[i] > 0, hit, lambda: acc)
            return fori_loop(0, n, body, 0.0)
        return fn, [v, hits]

    x = np.array([1.0, -2.0, 3.0, 4.0, -1.0, 5.0])
    check_against_eager(make, [(x, np.int64(6)), (x, np.int64(3))], **INTERP)


def test_autograph_if_and_for(eager_reset):
    def make():
        v = ef.Variable(np.zeros(3), name="v")
        total = ef.Variable(np.float64(0.0), name="total")

        def fn(x, n):
            if x.sum() > 0:
                v.assign_add(x)
            else:
                v.assign_sub(1.0)
            for i in range(n):
                total.assign_add(x[i])
                if total > 2.0:
                    v.assign(v * 0.5)
            return v.sum() + total
        return fn, [v, total]

    x = np.array([1.0, 2.0, 0.5])
    check_against_eager(make, [(x, np.int64(3)), (-x, np.int64(2)), (x, np.int64(1))],
                        backend="interpreter")


def test_autograph_while(eager_reset):
    def make():
        v = ef.Variable(np.int64(1), name="v")

        def fn(limit):
            k = 0
            while v < limit:
                v.assign(v * 3)
                k += 1
            return k
        return fn, [v]

    check_against_eager(make, [(np.int64(50),), (np.int64(10),), (np.int64(1000),)],
                        backend="interpreter")


def test_failing_call_leaves_variables_untouched():
    v = ef.Variable(np.zeros(()), name="v")
    w = ef.Variable(np.ones(2), name="w")

    @ef.function(**INTERP)
    def f(x, n, p):
        cond(p > 0, lambda: w.assign_add(1.0), lambda: w)
        return fori_loop(0, n, lambda i, acc: (v.assign_add(x[i]), acc + 1)[1], 0)

    x = np.ones(3)
    assert f(x, np.int64(3), 1.0) == 3
    assert v.numpy() == 3.0 and w.numpy().tolist() == [2.0, 2.0]
    with pytest.raises(Exception):
        f(x, np.int64(5), 1.0)     # x[3] is out of bounds after three assignments
    assert v.numpy() == 3.0 and w.numpy().tolist() == [2.0, 2.0]


def test_assign_type_rules_still_apply_in_regions():
    v = ef.Variable(np.zeros(2, np.int64), name="v")

    @ef.function(**INTERP)
    def f(x, p):
        return cond(p > 0, lambda: (v.assign(x), x)[1], lambda: x)

    with pytest.raises(StateError, match="unsafe cast"):
        f(np.ones(2), 1.0)
    assert v.numpy().tolist() == [0, 0]


def test_assign_in_loop_condition_is_a_clear_error():
    v = ef.Variable(np.int64(0), name="v")

    def test_fn(s):
        v.assign_add(1)
        return s < 3

    @ef.function(**INTERP)
    def f(n):
        return while_loop(test_fn, lambda s: s + 1, n)

    with pytest.raises(StateError, match="condition of a loop"):
        f(np.int64(0))
    assert int(v.numpy()) == 0


def test_numba_fori_and_cond(eager_reset, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("EAGERFLOW_CACHE_DIR", "/tmp/ef_vca")

    def make():
        v = ef.Variable(np.zeros(3), name="v")
        c = ef.Variable(np.int64(0), name="c")

        def fn(x, n, p):
            def body(i, acc):
                v.assign_add(x[i])
                return acc + v.sum()
            s = fori_loop(0, n, body, 0.0)
            cond(p > 0, lambda: c.assign_add(n), lambda: c.assign_sub(1))
            return s
        return fn, [v, c]

    x = np.random.default_rng(0).standard_normal((5, 3))
    check_against_eager(make, [(x, np.int64(5), 1.0), (x, np.int64(2), -1.0),
                               (x, np.int64(0), 1.0)], backend="numba", autograph=False)
