"""Control flow compiled by Numba: a few compile classes; hypothesis varies values and sizes
inside each (the generated code is size-generic)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eagerflow as ef
from eagerflow.bench.control import fizzbuzz, newton_cbrt

pytestmark = pytest.mark.numba

_fizz = ef.function(fizzbuzz)
_newton = ef.function(newton_cbrt)


def scan(x, n):
    """break/continue inside if inside while, writes into a NumPy buffer, early exit."""
    out = np.zeros(x.shape[0])
    i = 0
    count = 0
    while i < n:
        if x[i] == 0:
            i += 1
            continue
        if x[i] < -50:
            break
        out[i] = x[i] * 2 if x[i] > 0 else -x[i]
        count += 1
        i += 1
    return out, count


_scan = ef.function(scan)


def branches(x, t):
    if x.sum() > t:
        y = np.sin(x) * 2.0
    else:
        y = x - t
    return y


_branches = ef.function(branches)


@given(st.integers(0, 3000))
@settings(max_examples=15)
def test_fizzbuzz_compiled_matches_eager(n):
    assert tuple(int(v) for v in _fizz(n)) == fizzbuzz(n)


@given(st.integers(33, 300), st.integers(0, 2**32))   # > AUTO_LOOP: one compiled loop
@settings(max_examples=10)
def test_newton_compiled_matches_eager(m, seed):
    c = np.random.default_rng(seed).uniform(1e-3, 1e3, m)
    np.testing.assert_array_equal(_newton(c, 1e-12), newton_cbrt(c, 1e-12))


@given(st.lists(st.sampled_from([0.0, 1.5, -2.0, 3.0, -100.0]), min_size=1, max_size=20))
@settings(max_examples=20)
def test_break_continue_buffer_compiled(vals):
    x = np.array(vals)
    for n in (0, len(x) // 2, len(x)):
        got, want = _scan(x, n), scan(x, n)
        np.testing.assert_array_equal(got[0], want[0])
        assert int(got[1]) == want[1]


@given(st.integers(1, 30), st.floats(-5, 5))
@settings(max_examples=10)
def test_cond_with_arrays_compiled(m, t):
    x = np.linspace(-1, 2, m)
    np.testing.assert_allclose(_branches(x, t), branches(x, t), rtol=4e-16, atol=0)


def test_generated_code_is_a_real_loop():
    src = _fizz.lower(10).source
    assert "while True:" in src and "with objmode" not in src
    src = _scan.lower(np.ones(4), 4).source
    assert "while True:" in src and "with objmode" not in src
    assert ".copy()" in src.split("while True:")[0]       # the buffer is copied once, before


def test_print_inside_compiled_loop(capfd):
    def f(n):
        i = 0
        while i < n:
            ef.print("i =", i, "sq", i * i)
            i += 1
        return i
    fn = ef.function(f)
    assert int(fn(3)) == 3
    assert capfd.readouterr().out == "i = 0 sq 0\ni = 1 sq 1\ni = 2 sq 4\n"


def test_traced_index_out_of_bounds_raises():
    def f(x, i):
        return x[i] * 2
    fn = ef.function(f)
    assert float(fn(np.arange(4.0), -1)) == 6.0
    with pytest.raises(IndexError):
        fn(np.arange(4.0), 7)
