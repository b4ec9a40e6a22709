"""The blocked reduction helpers of compiler/rt.py: the vector versions (float, C layout) give
the same bits as the scalar lanes they replace, in a fixed order."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit

from eagerflow.compiler.rt import ef_max_block, ef_min_block, ef_sum_block


def lane_sum(buf, zero):
    """ef_sum_block's order, spelled out: 16 lanes over the multiple-of-16 prefix, lane k + 8
    folded into lane k, a fixed tree, then the tail."""
    m = len(buf)
    n16 = m - m % 16
    lanes = [zero] * 16
    for j in range(0, n16, 16):
        for k in range(16):
            lanes[k] = lanes[k] + buf[j + k]
    t = zero
    for j in range(n16, m):
        t = t + buf[j]
    s = [lanes[k] + lanes[k + 8] for k in range(8)]
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t


@njit
def _contig(f, buf, zero):
    return f(buf, buf.shape[0], zero)


@njit
def _strided(f, buf, zero):   # an 'A'-layout view: the scalar path
    return f(buf[::-1][::-1], buf.shape[0], zero)


def same(a, b):
    return (a == b and np.signbit(a) == np.signbit(b)) or (np.isnan(a) and np.isnan(b))


floats = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: hnp.arrays(dt, st.integers(0, 90), elements=hnp.from_dtype(np.dtype(dt))))


@settings(max_examples=200, deadline=None)
@given(floats)
def test_sum_block_bits(buf):
    zero = buf.dtype.type(0)
    with np.errstate(all="ignore"):
        ref = lane_sum(buf, zero)
    for got in (_contig(ef_sum_block, buf, zero), _strided(ef_sum_block, buf, zero)):
        assert same(got, ref), (got, ref)
        assert type(got) is type(ref) or isinstance(got, float)


@settings(max_examples=200, deadline=None)
@given(floats)
def test_max_min_block_match_numpy(buf):
    if buf.size == 0:
        return
    for f, ref, init in ((ef_max_block, np.max, -np.inf), (ef_min_block, np.min, np.inf)):
        start = buf.dtype.type(init)
        for got in (_contig(f, buf, start), _strided(f, buf, start)):
            assert same(got, ref(buf)) or (got == ref(buf)), (f, got, ref(buf))
