"""One differential test over the whole op registry: eager NumPy vs `ef.function` (interpreter).

Every registered op needs a case generator here, found by name (GENERATORS) or, for ufuncs and
reductions, by kind. An op without one FAILS `test_op_matches_numpy`, so a newly registered op is
never silently untested. Only FUSED, CONTROL and STATE ops are excluded, by kind: the fuse pass
makes FUSED ops (tests/compiler covers them), and CONTROL/STATE ops have their own tests.

The interpreter runs NumPy itself, so results must be exact: value, dtype, shape, NaN positions,
the sign of zero, and whether a 0-d result is a NumPy scalar or a 0-d array. When eager NumPy
raises for an input, eagerflow must raise an exception of the same class (at trace or call time).

Documented exceptions: `np.empty`/`np.empty_like` have unspecified contents eagerly, so only their
dtype and shape are compared.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.ops import REGISTRY, Kind
from eagerflow.testing import (DTYPES, array_of, assert_same, broadcastable_arrays,
                               reduction_tolerance, shapes)

EXCLUDED_KINDS = (Kind.FUSED, Kind.CONTROL, Kind.STATE)
UNSPECIFIED_VALUES = {"empty", "empty_like"}


def _dtypes(op):
    return tuple(op.dtypes) or DTYPES


def _array(draw, op, min_dims=0, max_dims=3, min_side=0, dtypes=None):
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side))
    return draw(array_of(draw(st.sampled_from(dtypes or _dtypes(op))), shape))


def _weak_scalar(draw, dtypes):
    """A Python scalar (weakly typed, NEP 50) of a kind among the op's dtypes."""
    kinds = {"bool": "bool", "int32": "int", "int64": "int", "float32": "float", "float64": "float"}
    kind = draw(st.sampled_from(sorted({kinds[d] for d in dtypes})))
    if kind == "bool":
        return draw(st.booleans())
    if kind == "int":   # includes values that overflow narrow dtypes: NumPy raises OverflowError
        return draw(st.sampled_from([0, 1, -1, 2, 3, 127, 300, -129, 2**31, 2**40]))
    return draw(st.sampled_from([0.0, -0.0, 0.5, 2.0, -1.5, float("inf"), float("nan"), 1e300]))


# ---- generators by kind ----------------------------------------------------------------------------

def gen_ufunc(op, draw):
    ufunc = op.numpy[0]
    args = draw(broadcastable_arrays(op.nin, _dtypes(op)))
    if draw(st.integers(0, 3)) == 0:   # one operand a Python scalar (weak)
        i = draw(st.integers(0, op.nin - 1))
        args[i] = _weak_scalar(draw, _dtypes(op))
    if draw(st.booleans()) and op.nin == 2 and _OPERATORS.get(ufunc):
        return _OPERATORS[ufunc], args
    return (lambda *a: ufunc(*a)), args


_OPERATORS = {np.add: lambda a, b: a + b, np.subtract: lambda a, b: a - b,
              np.multiply: lambda a, b: a * b, np.true_divide: lambda a, b: a / b,
              np.floor_divide: lambda a, b: a // b, np.remainder: lambda a, b: a % b,
              np.power: lambda a, b: a ** b, np.less: lambda a, b: a < b,
              np.greater_equal: lambda a, b: a >= b, np.equal: lambda a, b: a == b,
              np.bitwise_and: lambda a, b: a & b, np.left_shift: lambda a, b: a << b}


def _axis(draw, ndim, allow_tuple=True):
    choice = draw(st.sampled_from(["none", "int", "tuple"] if allow_tuple and ndim else
                                  ["none", "int"] if ndim else ["none"]))
    if choice == "none":
        return None
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def gen_reduction(op, draw):
    fn = op.numpy[0]
    x = _array(draw, op)
    index = bool(op.extra.get("index"))
    axis = _axis(draw, x.ndim, allow_tuple=not index)
    keepdims = draw(st.booleans())
    kw = {"axis": axis, "keepdims": keepdims}
    if op.name in ("var", "std") and draw(st.booleans()):
        kw["ddof"] = draw(st.integers(0, 2))
    if draw(st.booleans()) and hasattr(np.ndarray, fn.__name__):
        name = fn.__name__
        return (lambda a: getattr(a, name)(**kw)), [x]
    return (lambda a: fn(a, **kw)), [x]


# ---- generators by name ------------------------------------------------------------------------

def gen_where(op, draw):
    c, x, y = draw(broadcastable_arrays(3, DTYPES))
    return (lambda c, x, y: np.where(c, x, y)), [c.astype(bool), x, y]


def gen_clip(op, draw):
    x, lo, hi = draw(broadcastable_arrays(3, _dtypes(op)))
    form = draw(st.sampled_from(["both", "lo", "hi", "method"]))
    if form == "lo":
        return (lambda x, lo: np.clip(x, lo, None)), [x, lo]
    if form == "hi":
        return (lambda x, hi: np.clip(x, None, hi)), [x, hi]
    if form == "method":
        return (lambda x, lo, hi: x.clip(lo, hi)), [x, lo, hi]
    return (lambda x, lo, hi: np.clip(x, lo, hi)), [x, lo, hi]


def gen_astype(op, draw):
    x = _array(draw, op)
    if draw(st.integers(0, 4)) == 0:
        x = x[()] if x.ndim == 0 else x   # a NumPy scalar stays a scalar
    dt = draw(st.sampled_from(DTYPES + ("int8", "uint8", "uint64")))
    return (lambda a: a.astype(dt)), [x]


def _reshape_target(draw, shape):
    size = int(np.prod(shape))
    cands = [(size,), (1, size), (size, 1), tuple(reversed(shape)), tuple(shape) + (1,), ()]
    cands = [c for c in cands if int(np.prod(c)) == size]
    new = list(draw(st.sampled_from(cands)))
    if new and size and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return tuple(new)


def gen_reshape(op, draw):
    x = _array(draw, op)
    new = _reshape_target(draw, x.shape)
    if draw(st.booleans()):
        return (lambda a: a.reshape(new)), [x]
    return (lambda a: np.reshape(a, new)), [x]


def gen_transpose(op, draw):
    x = _array(draw, op)
    perm = draw(st.permutations(range(x.ndim)))
    form = draw(st.sampled_from(["none", "perm", "T", "method"]))
    if form == "perm":
        perm = tuple(p - x.ndim if draw(st.booleans()) else p for p in perm)
        return (lambda a: np.transpose(a, perm)), [x]
    if form == "T":
        return (lambda a: a.T), [x]
    if form == "method":
        return (lambda a: a.transpose(*perm)), [x]
    return (lambda a: np.transpose(a)), [x]


def gen_broadcast_to(op, draw):
    x = _array(draw, op)
    target = draw(hnp.broadcastable_shapes(x.shape, min_dims=x.ndim, max_dims=4, min_side=0))
    target = np.broadcast_shapes(x.shape, target)
    return (lambda a: np.broadcast_to(a, target)), [x]


def _same_but_axis(draw, op, n, min_dims=1):
    shape = draw(shapes(min_dims=min_dims))
    dtypes = _dtypes(op)
    return shape, [draw(array_of(draw(st.sampled_from(dtypes)), shape)) for _ in range(n)]


def gen_concatenate(op, draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        xs.append(draw(array_of(draw(st.sampled_from(_dtypes(op))), tuple(s))))
    if draw(st.integers(0, 4)) == 0:
        return (lambda *a: np.concatenate(a, axis=None)), xs
    return (lambda *a: np.concatenate(a, axis=axis)), xs


def gen_stack(op, draw):
    shape, xs = _same_but_axis(draw, op, draw(st.integers(1, 3)), min_dims=0)
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return (lambda *a: np.stack(a, axis=axis)), xs


def gen_ravel(op, draw):
    x = _array(draw, op)
    return ((lambda a: a.ravel()) if draw(st.booleans()) else (lambda a: np.ravel(a))), [x]


def gen_expand_dims(op, draw):
    x = _array(draw, op)
    n = draw(st.integers(1, 2))
    nd = x.ndim + n
    axes = tuple(draw(st.lists(st.integers(-nd, nd - 1), min_size=n, max_size=n,
                               unique_by=lambda a: a % nd)))
    axis = axes[0] if n == 1 and draw(st.booleans()) else axes
    return (lambda a: np.expand_dims(a, axis)), [x]


def gen_squeeze(op, draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    x = draw(array_of(draw(st.sampled_from(_dtypes(op))), shape))
    ones = [i for i, s in enumerate(shape) if s == 1]
    axis = None
    if ones and draw(st.booleans()):
        axis = tuple(draw(st.lists(st.sampled_from(ones), unique=True, min_size=1)))
    return (lambda a: np.squeeze(a, axis=axis)), [x]


def gen_swapaxes(op, draw):
    x = _array(draw, op, min_dims=1)
    i, j = (draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    return ((lambda a: a.swapaxes(i, j)) if draw(st.booleans()) else
            (lambda a: np.swapaxes(a, i, j))), [x]


def gen_moveaxis(op, draw):
    x = _array(draw, op, min_dims=1)
    n = draw(st.integers(1, x.ndim))
    src = draw(st.lists(st.integers(0, x.ndim - 1), min_size=n, max_size=n, unique=True))
    dst = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=n, max_size=n,
                        unique_by=lambda a: a % x.ndim))
    if n == 1 and draw(st.booleans()):
        src, dst = src[0], dst[0]
    return (lambda a: np.moveaxis(a, src, dst)), [x]


def _matmul_shapes(draw, allow_batch=True):
    k, m, n = (draw(st.integers(0, 4)) for _ in range(3))
    form = draw(st.sampled_from(["vv", "mv", "vm", "mm"] + (["bmm"] if allow_batch else [])))
    if form == "vv":
        return (k,), (k,)
    if form == "mv":
        return (m, k), (k,)
    if form == "vm":
        return (k,), (k, n)
    if form == "mm":
        return (m, k), (k, n)
    b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    return b.input_shapes[0] + (m, k), b.input_shapes[1] + (k, n)


def gen_matmul(op, draw):
    sa, sb = _matmul_shapes(draw)
    dts = _dtypes(op)
    a = draw(array_of(draw(st.sampled_from(dts)), sa))
    b = draw(array_of(draw(st.sampled_from(dts)), sb))
    return ((lambda a, b: a @ b) if draw(st.booleans()) else (lambda a, b: np.matmul(a, b))), [a, b]


def gen_dot(op, draw):
    dts = _dtypes(op)
    if draw(st.integers(0, 4)) == 0:   # a scalar operand: traced as multiplication
        a = draw(array_of(draw(st.sampled_from(dts)), draw(shapes())))
        b = draw(array_of(draw(st.sampled_from(dts)), ()))
        if b == 0 and a.dtype.kind == "f":
            # BLAS scaling by 0 gives 0 for NaN and inf, multiplication gives NaN
            # (docs/architecture.md, "Tolerance")
            a = np.where(np.isfinite(a), a, 1).astype(a.dtype)
        a, b = (a, b) if draw(st.booleans()) else (b, a)
        # NumPy's BLAS path gives +0.0 where multiply gives -0.0 (and is itself inconsistent
        # about it): the sign of zero is documented as unspecified for np.dot with a 0-d operand.
        return (lambda a, b: np.dot(a, b)), [a, b], {"zero_sign": False}
    else:
        sa, sb = _matmul_shapes(draw, allow_batch=False)
        a = draw(array_of(draw(st.sampled_from(dts)), sa))
        b = draw(array_of(draw(st.sampled_from(dts)), sb))
        if (b == 0).any() or (a == 0).any():
            # BLAS gemv skips a column whose coefficient is 0 (NaN * 0 gives 0 through np.dot,
            # NaN through np.matmul): non-finite values meeting a zero are unspecified
            a, b = (np.where(np.isfinite(x), x, 1).astype(x.dtype) if x.dtype.kind == "f" else x
                    for x in (a, b))
    # np.dot's BLAS/vector paths and np.matmul disagree on the sign of a zero sum of products
    # (0 * -0.0): documented as unspecified for dot (docs/numba_backend.md, "Tolerances").
    return (((lambda a, b: a.dot(b)) if draw(st.booleans()) else (lambda a, b: np.dot(a, b))),
            [a, b], {"zero_sign": False})


_FILL_DTYPES = (None,) + DTYPES


def gen_like(op, draw):
    fn = op.numpy[0]
    x = _array(draw, op)
    kw = {}
    dt = draw(st.sampled_from(_FILL_DTYPES))
    if dt is not None:
        kw["dtype"] = dt
    if draw(st.booleans()):
        kw["shape"] = draw(shapes(max_dims=2))
    if op.name == "full_like":
        value = draw(st.sampled_from([0, 1, -2, 2.5, -0.0, True]))
        return (lambda a: fn(a, value, **kw)), [x]
    return (lambda a: fn(a, **kw)), [x]


def gen_creation_like(op, draw):
    """np.zeros(shape, dtype, like=x) and friends (NEP 35): traced as `fill`."""
    fn = op.numpy[0]
    x = _array(draw, op)
    shape = draw(st.one_of(shapes(max_dims=2), st.integers(0, 4)))
    kw = {}
    dt = draw(st.sampled_from(_FILL_DTYPES))
    if dt is not None:
        kw["dtype"] = dt
    if op.name == "full":
        value = draw(st.sampled_from([0, 1, -2, 2.5, -0.0, True]))
        return (lambda a: fn(shape, value, like=a, **kw)), [x]
    return (lambda a: fn(shape, like=a, **kw)), [x]


def gen_fill(op, draw):
    x = _array(draw, op)
    value = draw(st.sampled_from([0, 1, -3, 0.5, -0.0, float("inf"), True]))
    return (lambda a: np.full_like(a, value)), [x]


def _index(draw, shape):
    kind = draw(st.sampled_from(["basic", "basic", "array"]))
    if kind == "basic" or not shape:
        return draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(min_dims=0,
                                                                                max_dims=2)))


def gen_getitem(op, draw):
    x = _array(draw, op, min_side=1)
    idx = _index(draw, x.shape)
    return (lambda a: a[idx]), [x]


def gen_setitem(op, draw):
    x = _array(draw, op, min_side=1)
    idx = _index(draw, x.shape)
    target = x[idx].shape
    vshape = draw(hnp.broadcastable_shapes(target, max_dims=len(target), min_side=0))
    v = draw(array_of(draw(st.sampled_from(_dtypes(op))), vshape))

    def f(a, v):
        a = a.copy()
        a[idx] = v
        return a
    if draw(st.booleans()):   # an in-place update of the argument itself
        def f(a, v):  # noqa: F811
            a[idx] = v
            return a * 1
    return f, [x, v]


def gen_scatter_add(op, draw):
    """No NumPy function traces to scatter_add (autodiff makes it): the case calls np.add.at on
    a copy eagerly and applies the op while tracing."""
    from eagerflow.tracer.context import apply
    from eagerflow.tracer.tracer import Tracer
    x = _array(draw, op, min_dims=1, min_side=1)
    idx = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(min_dims=0,
                                                                                 max_dims=2)))
    v = draw(array_of(x.dtype, x[idx].shape))

    def f(a, v):
        if isinstance(a, Tracer):
            return apply("scatter_add", a, v, *idx, index=("idx",) * len(idx))
        a = a.copy()
        np.add.at(a, idx, v)
        return a
    return f, [x, v]


GENERATORS = {
    "scatter_add": gen_scatter_add,
    "where": gen_where, "clip": gen_clip, "astype": gen_astype,
    "reshape": gen_reshape, "transpose": gen_transpose, "broadcast_to": gen_broadcast_to,
    "concatenate": gen_concatenate, "stack": gen_stack, "ravel": gen_ravel,
    "expand_dims": gen_expand_dims, "squeeze": gen_squeeze, "swapaxes": gen_swapaxes,
    "moveaxis": gen_moveaxis, "matmul": gen_matmul, "dot": gen_dot,
    "zeros_like": gen_like, "ones_like": gen_like, "empty_like": gen_like, "full_like": gen_like,
    "zeros": gen_creation_like, "ones": gen_creation_like, "empty": gen_creation_like,
    "full": gen_creation_like, "fill": gen_fill,
    "getitem": gen_getitem, "setitem": gen_setitem,
    "mean": gen_reduction, "var": gen_reduction, "std": gen_reduction,
}


def generator_for(op):
    if op.name in GENERATORS:
        return GENERATORS[op.name]
    if op.kind is Kind.ELEMENTWISE and op.numpy and isinstance(op.numpy[0], np.ufunc):
        return gen_ufunc
    if op.kind is Kind.REDUCTION and op.numpy:
        return gen_reduction
    return None


TESTED = sorted(n for n, op in REGISTRY.items() if op.kind not in EXCLUDED_KINDS)


def run_both(fn, args):
    """-> (expected, actual); either may be an exception instance."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # "Mean of empty slice" & co.
            expected = fn(*copy.deepcopy(args))
    except Exception as e:   # noqa: BLE001 - NumPy's own error is the oracle
        expected = e
    traced = ef.function(fn, backend="interpreter")
    try:
        actual = traced(*copy.deepcopy(args))
    except Exception as e:   # noqa: BLE001
        actual = e
    return expected, actual


@pytest.mark.parametrize("name", TESTED)
@given(data=st.data())
def test_op_matches_numpy(name, data):
    op = REGISTRY[name]
    gen = generator_for(op)
    if gen is None:
        pytest.fail(f"op {name!r} ({op.kind.value}) has no generator in tests/ops/"
                    "test_differential.py: add one to GENERATORS so the new op is tested")
    fn, args, *opts = gen(op, data.draw)
    opts = opts[0] if opts else {}
    expected, actual = run_both(fn, args)
    if isinstance(expected, Exception):
        assert isinstance(actual, type(expected)), \
            f"NumPy raised {expected!r}, eagerflow gave {actual!r}"
        return
    if isinstance(actual, Exception):
        raise actual
    if name in UNSPECIFIED_VALUES:
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        return
    if not opts.get("zero_sign", True):
        assert type(actual) is type(expected)
        actual, expected = _unsigned_zero(actual), _unsigned_zero(expected)
    assert_same(actual, expected, check_scalar_kind=True)


def _unsigned_zero(x):
    return x + x.dtype.type(0) if x.dtype.kind == "f" else x


def test_every_op_is_covered():
    """Documents the exclusions: only FUSED/CONTROL/STATE ops lack a generator."""
    missing = [n for n in TESTED if generator_for(REGISTRY[n]) is None]
    assert not missing, f"ops without a differential-test generator: {missing}"


@pytest.mark.parametrize("reduce", [np.sum, np.prod])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "int32", "int64",
                                   "float32", "float64"])
@given(data=st.data())
def test_reduction_dtype_argument_is_the_result_dtype(reduce, dtype, data):
    """np.sum/np.prod(x, dtype=d) accumulate in d, as NumPy: small ints wrap, a bool sum is
    "any" (the default promotion to int64 must not win), on the interpreter and in Numba code."""
    x = data.draw(array_of(data.draw(st.sampled_from(["bool", "int32", "int64", "float64"])),
                           shape=data.draw(st.sampled_from([(0,), (7,), (3, 4)])), finite=True))
    if x.dtype.kind in "if":
        # float -> int casts of NaN, inf or out-of-range values are undefined in NumPy, and where
        # a float product overflows depends on the combine order (docs/numba_backend.md,
        # "Tolerances"): values in [-100, 100], whose products of at most 12 fit float32
        x = np.clip(x, -100, 100)
    axis = data.draw(st.sampled_from([None, 0, -1]))

    def fn(x):
        return reduce(x, axis=axis, dtype=dtype)

    with np.errstate(all="ignore"):
        want = fn(x)
    acc = x.astype(dtype) if np.dtype(dtype).kind == "f" else x
    atol = reduction_tolerance(acc) if reduce is np.sum else 0.0
    for backend in ("interpreter", "numba"):
        got = ef.function(fn, backend=backend)(x)
        assert_same(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=atol,
                    check_scalar_kind=True)


_ZERO_D_REDUCTIONS = {
    "sum axis 0": lambda x: np.sum(x, axis=0), "sum axis -1": lambda x: np.sum(x, axis=-1),
    "sum axis (0,)": lambda x: np.sum(x, axis=(0,)), "max axis 0": lambda x: np.max(x, axis=0),
    "argmax axis 0": lambda x: x.argmax(axis=0), "argmin axis -1": lambda x: np.argmin(x, axis=-1),
    "mean axis 0": lambda x: x.mean(axis=0), "var axis 0": lambda x: x.var(axis=0),
    "std axis ()": lambda x: x.std(axis=()), "any axis 0": lambda x: np.any(x, axis=0),
    "sum axis 1": lambda x: np.sum(x, axis=1), "prod keepdims": lambda x: np.prod(x, axis=0,
                                                                                 keepdims=True),
}


@pytest.mark.parametrize("name", sorted(_ZERO_D_REDUCTIONS))
@pytest.mark.parametrize("x", [np.array(3.0), np.float32(-2.0), np.array(2, np.int32)],
                         ids=["f64 0-d", "f32 scalar", "i32 0-d"])
def test_reductions_of_0d_inputs_follow_numpy_axis_rules(name, x):
    """NumPy's ufunc reductions accept axis 0 or -1 on a 0-d array (reducing over nothing);
    mean/var, a tuple naming an axis and other axes raise AxisError."""
    fn = _ZERO_D_REDUCTIONS[name]
    for backend in ("interpreter", "numba"):
        expected, actual = run_both(fn, (x,)) if backend == "interpreter" else \
            (run_both(fn, (x,))[0], _call_numba(fn, x))
        if isinstance(expected, Exception):
            assert isinstance(actual, np.exceptions.AxisError), (backend, actual)
        else:
            assert_same(actual, expected, check_scalar_kind=True)


def _call_numba(fn, x):
    try:
        return ef.function(fn)(x)
    except Exception as e:   # noqa: BLE001
        return e


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint64"])
def test_integer_reciprocal_truncates_as_c(dtype):
    """np.reciprocal of an integer is C's 1 / x: 0 for |x| >= 2, also for negative x (floor
    division gave -1). 1 / 0 is undefined in NumPy and left out."""
    info = np.iinfo(dtype)
    x = np.array([v for v in (-7, -5, -2, -1, 1, 2, 7, info.max, info.min)
                  if v and info.min <= v <= info.max], dtype)
    assert_same(ef.function(lambda x: np.reciprocal(x))(x), np.reciprocal(x))


@pytest.mark.parametrize("dtype", ["uint64", "int64", "uint32", "uint8", "int8"])
def test_right_shift_keeps_every_bit(dtype):
    """x >> y at the extremes of the dtype and with counts past its width (uint64 went through
    float64 and lost the low bits above 2**53)."""
    info = np.iinfo(dtype)
    bits = np.dtype(dtype).itemsize * 8
    x = np.array([info.max, info.max - 1, info.min, 5, info.max // 3, info.max - 2], dtype)
    y = np.array([1, 0, bits - 1, bits, 3, bits + 5], dtype)
    assert_same(ef.function(lambda x, y: x >> y)(x, y), x >> y)
