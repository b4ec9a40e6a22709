"""Every differentiable registry op against central finite differences (JAX's check_grads).

Each case draws float64 inputs in a well-conditioned domain (away from ties, kinks and poles),
projects the op's output to a scalar with fixed random weights, and compares the gradient
from `ef.grad` (traced, optimized, verified after every pass, interpreted) with a central
difference of the eager NumPy function along one random direction. The gradient graph is also
run before and after optimization (the passes must preserve it).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import eagerflow as ef
from eagerflow.autodiff.vjp import NON_DIFFERENTIABLE, NOT_IN_TRACED_GRAPHS
from eagerflow.ops import REGISTRY, Kind
from eagerflow.runtime.interpret import interpret
from eagerflow.runtime.lowering import lower_traced

DOMAIN = {   # (low, high) for each input of an elementwise op; default (-2, 2)
    "log": [(0.3, 3)], "log2": [(0.3, 3)], "log10": [(0.3, 3)], "sqrt": [(0.3, 3)],
    "reciprocal": [(0.3, 3)], "log1p": [(-0.5, 2)], "arcsin": [(-0.8, 0.8)],
    "arccos": [(-0.8, 0.8)], "arctanh": [(-0.8, 0.8)], "arccosh": [(1.2, 3)],
    "tan": [(-1.2, 1.2)], "pow": [(0.4, 2), (-2, 2)], "div": [(-2, 2), (0.4, 2)],
    "mod": [(0.1, 5), (1, 2)], "exp": [(-2, 1)], "exp2": [(-2, 1)], "expm1": [(-2, 1)],
}


def _floats(draw, shape, lo=-2.0, hi=2.0):
    return draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)))


def _away(a, b, gap=1e-3):
    """No near-ties between broadcast a and b (kinks of max/min/abs/clip)."""
    return bool(np.all(np.abs(np.subtract(a, b)) > gap))


def _distinct(x, gap=1e-3):
    s = np.sort(np.ravel(x))
    return bool(np.all(np.diff(s) > gap))


# -- case generators: draw -> (fn, args). fn is called with NumPy arrays eagerly, Tracers traced ----

def gen_elementwise(name):
    def gen(draw):
        op = REGISTRY[name]
        shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=op.nin, max_dims=3, max_side=4))
        dom = DOMAIN.get(name, [(-2, 2)] * op.nin)
        args = [_floats(draw, s, *d) for s, d in zip(shapes.input_shapes, dom)]
        if name in ("maximum", "minimum", "fmax", "fmin", "copysign"):
            assume(_away(args[0], args[1]) and _away(args[1], 0))
        if name in ("abs", "copysign", "hypot", "arctan2"):
            assume(_away(args[0], 0))
        if name == "mod":
            q = args[0] / args[1]
            assume(_away(q, np.round(q), 1e-3))
        return op.numpy[0], args
    return gen


def gen_where(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4))
    c = draw(hnp.arrays(np.bool_, shapes.input_shapes[0]))
    return (lambda x, y, c: np.where(c, x, y)), [_floats(draw, s) for s in shapes.input_shapes[1:]] + [c]


def gen_clip(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2, max_side=4))
    x, lo, hi = (_floats(draw, s) for s in shapes.input_shapes)
    assume(_away(x, lo) and _away(x, hi) and _away(lo, hi))
    return np.clip, [x, lo, hi]


def gen_astype(draw):
    x = _floats(draw, draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)))
    return (lambda x: x.astype(np.float32).astype(np.float64) * 1.0), [x.astype(np.float32)
                                                                        .astype(np.float64)]


def _axis(draw, ndim):
    if ndim == 0 or draw(st.booleans()):
        return None
    axes = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                         unique_by=lambda a: a % ndim))
    return axes[0] if len(axes) == 1 and draw(st.booleans()) else tuple(axes)


def gen_reduction(name):
    def gen(draw):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
        lo, hi = (0.5, 1.5) if name == "prod" else (-2, 2)
        x = _floats(draw, shape, lo, hi)
        if name in ("max", "min"):
            assume(_distinct(x))
        axis, keepdims = _axis(draw, x.ndim), draw(st.booleans())
        fn = REGISTRY[name].numpy[0]
        return (lambda x: fn(x, axis=axis, keepdims=keepdims)), [x]
    return gen


def gen_reshape(draw):
    x = _floats(draw, draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
    shape = draw(st.sampled_from([(-1,), (x.size, 1), (1, -1, 1)]))
    return (lambda x: x.reshape(shape)), [x]


def gen_transpose(draw):
    x = _floats(draw, draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=3)))
    perm = tuple(draw(st.permutations(range(x.ndim))))
    return (lambda x: np.transpose(x, perm)), [x]


def gen_broadcast_to(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    target = draw(hnp.broadcastable_shapes(shape, min_dims=len(shape), max_dims=4, max_side=4))
    target = np.broadcast_shapes(shape, target)
    return (lambda x: np.broadcast_to(x, target)), [_floats(draw, shape)]


def gen_concatenate(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = draw(st.integers(1, 3))
    xs = []
    for _ in range(n):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        xs.append(_floats(draw, tuple(s)))
    return (lambda *xs: np.concatenate(xs, axis=axis)), xs


def gen_getitem(draw):
    x = _floats(draw, draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    if draw(st.booleans()):
        idx = draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    else:   # gathers, repeated indices included (scatter_add adds them up)
        idx = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(
            min_dims=0, max_dims=2, max_side=5)))
    return (lambda x: x[idx]), [x]


def gen_setitem(draw):
    x = _floats(draw, draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)))
    idx = draw(hnp.basic_indices(x.shape, allow_newaxis=False, allow_ellipsis=True))
    target = x[idx].shape
    vshape = target[draw(st.integers(0, len(target))):]   # a suffix, some axes of size 1
    vshape = tuple(1 if draw(st.booleans()) else d for d in vshape)
    v = _floats(draw, vshape)

    def f(x, v):
        y = x * 1.0
        y[idx] = v * 2.0
        return y
    return f, [x, v]


def gen_scatter_add(draw):
    from eagerflow.tracer.context import apply
    from eagerflow.tracer.tracer import Tracer
    x = _floats(draw, draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4)))
    idx = draw(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(max_dims=2)))
    v = _floats(draw, x[idx].shape)

    def f(x, v):
        if isinstance(x, Tracer):
            return apply("scatter_add", x, v, *idx, index=("idx",) * len(idx))
        y = x.copy()
        np.add.at(y, idx, v)
        return y
    return f, [x, v]


def gen_matmul(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched", "broadcast"]))
    a_shape = {"mm": (n, k), "mv": (n, k), "vm": (k,), "vv": (k,), "batched": (2, n, k),
               "broadcast": (n, k)}[kind]
    b_shape = {"mm": (k, m), "mv": (k,), "vm": (k, m), "vv": (k,), "batched": (2, k, m),
               "broadcast": (3, k, m)}[kind]
    return np.matmul, [_floats(draw, a_shape), _floats(draw, b_shape)]


def gen_cond(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=4))
    x, y = (_floats(draw, s) for s in shapes.input_shapes)
    flag = draw(st.booleans())

    def f(x, y, flag):
        pred = (flag > 0.5) if not isinstance(flag, (bool, np.bool_)) else flag
        return ef.cond(pred, lambda x, y: np.sin(x) * y, lambda x, y: x * y ** 2, x, y)
    return f, [x, y, np.array(1.0 if flag else 0.0)]


def gen_while(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=4))
    x, w = (_floats(draw, s) for s in shapes.input_shapes)
    n = draw(st.integers(0, 4))

    def f(x, w):
        x = x + 0.0 * w
        return ef.fori_loop(0, n, lambda i, x: np.sin(x) * w + 0.5 * x, x)
    return f, [x, w]


CASES = {
    "cond": gen_cond, "while": gen_while,
    "where": gen_where, "clip": gen_clip, "astype": gen_astype, "reshape": gen_reshape,
    "transpose": gen_transpose, "broadcast_to": gen_broadcast_to, "concatenate": gen_concatenate,
    "getitem": gen_getitem, "setitem": gen_setitem, "scatter_add": gen_scatter_add,
    "matmul": gen_matmul,
}
for _n, _op in REGISTRY.items():
    if _op.vjp is not None and _n not in CASES:
        if _op.kind is Kind.ELEMENTWISE:
            CASES[_n] = gen_elementwise(_n)
        elif _op.kind is Kind.REDUCTION:
            CASES[_n] = gen_reduction(_n)

# NumPy functions that lower to several ops: checked the same way (their rules come from parts).
COMPOSITES = {
    "mean": lambda x: np.mean(x, axis=-1), "var": lambda x: np.var(x, axis=0, keepdims=True),
    "std": lambda x: np.std(np.stack([x, 2.0 * x + 5.0])), "stack": lambda x: np.stack([x, 2 * x], axis=1),
    "moveaxis": lambda x: np.moveaxis(x, 0, -1), "squeeze": lambda x: np.squeeze(x[None]),
    "softmax": lambda x: np.exp(x - x.max(axis=-1, keepdims=True)) /
    np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True),
    "dot": lambda x: np.dot(x, x.T), "inplace": lambda x: _inplace(x),
}


def _inplace(x):
    y = x * 1.0
    y += x ** 2
    y[0] = y[-1] * 3.0
    return y


# -- the check ----------------------------------------------------------------------------------------

def check_grads(fn, args, data, eps=1e-6, rtol=1e-5):
    float_args = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    out = np.asarray(fn(*args))
    r = data.draw(hnp.arrays(np.float64, out.shape, elements=st.floats(-1, 1)), label="weights")

    def loss(*a):
        *xs, r = a
        return (fn(*xs) * r).sum()

    gfun = ef.grad(loss, argnums=tuple(float_args))
    grads = gfun(*args, r)
    dirs = [data.draw(hnp.arrays(np.float64, args[i].shape, elements=st.floats(-1, 1)),
                      label=f"direction {i}") for i in float_args]

    def shifted(s):
        xs = [a.copy() for a in args]
        for i, d in zip(float_args, dirs):
            xs[i] = xs[i] + s * d
        return float(loss(*xs, r))

    numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
    analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
    scale = 1.0 + sum(float(np.sum(np.abs(g * d))) for g, d in zip(grads, dirs))
    assert abs(numeric - analytic) <= rtol * scale, (numeric, analytic)
    for g, i in zip(grads, float_args):
        assert g.shape == args[i].shape and g.dtype == args[i].dtype
    # the gradient graph: verified after every pass (conftest), same values before and after
    f = ef.function(gfun, backend="interpreter")
    key, leaves, treedef, statics = f._split((*args, r), {})
    traced = f._trace(leaves, treedef, statics, key)
    low = lower_traced(traced, f)
    leaves += [c.get() for c in traced.captures]   # index arrays the case's closure holds
    before = interpret(low.traced, leaves)
    after = interpret(low.optimized, leaves)
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_op_gradient_matches_finite_differences(name, data):
    fn, args = CASES[name](data.draw)
    if name == "astype":   # a float32 round trip: a wide step keeps rounding out of the difference
        check_grads(fn, args, data, eps=1e-2, rtol=1e-4)
    else:
        check_grads(fn, args, data)


@pytest.mark.parametrize("name", sorted(COMPOSITES))
@given(data=st.data())
def test_composite_gradient_matches_finite_differences(name, data):
    x = _floats(data.draw, data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                                      max_side=4)))
    check_grads(COMPOSITES[name], [x], data)


# Known gaps, documented in docs/autodiff.md ("Control flow"): remove an entry with its rule.
# `while` has a rule (autodiff/loops.py) for loops with a trip-count bound known at trace time
# (fori_loop with Python-int bounds, while_loop(max_iters=N)); other loops raise UnsupportedError
# from the rule, naming max_iters (tests/autodiff/test_loops.py).
MISSING_RULES: set = set()


def test_every_op_has_a_gradient_rule():
    """A new op fails here until its entry has a `vjp` rule or it is listed, with a reason, in
    NON_DIFFERENTIABLE (eagerflow/autodiff/vjp.py)."""
    missing = {n for n, op in REGISTRY.items()
               if op.vjp is None and n not in NON_DIFFERENTIABLE
               and op.kind not in NOT_IN_TRACED_GRAPHS}
    assert missing == MISSING_RULES, f"ops without a gradient rule: {missing - MISSING_RULES}; " \
        f"rules now present (drop from MISSING_RULES): {MISSING_RULES - missing}"
    both = [n for n in NON_DIFFERENTIABLE if REGISTRY.get(n) is not None and REGISTRY[n].vjp]
    assert not both, f"ops with a rule listed as non-differentiable: {both}"


def test_every_rule_has_a_finite_difference_case():
    rules = {n for n, op in REGISTRY.items() if op.vjp is not None}
    assert rules <= set(CASES), f"rules without a finite-difference case: {rules - set(CASES)}"


@pytest.mark.parametrize("name", sorted(n for n in NON_DIFFERENTIABLE
                                         if REGISTRY.get(n) is not None and REGISTRY[n].numpy))
def test_non_differentiable_ops_stop_gradients(name):
    """Their outputs carry no gradient: the gradient through them is zero."""
    op = REGISTRY[name]
    x = np.array([0.3, 1.7, -2.2])

    def f(x):
        if op.kind is Kind.REDUCTION:
            y = op.numpy[0](x)
        elif op.dtypes and "float64" not in op.dtypes:
            y = op.numpy[0](*([x.astype(np.int64)] * op.nin))
        else:
            y = op.numpy[0](*([x] * op.nin))
        return np.sum(np.asarray(y, dtype=np.float64) if not isinstance(y, np.ndarray) and
                      not hasattr(y, "value") else y.astype(np.float64)) + 0.0 * x.sum()

    np.testing.assert_array_equal(ef.grad(f)(x), np.zeros(3))


def test_prod_with_zeros_is_exact():
    g = ef.grad(lambda x: np.prod(x))
    np.testing.assert_allclose(g(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_allclose(g(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g(np.array([2.0, 5.0, 3.0])), [15.0, 6.0, 10.0])


@pytest.mark.parametrize("fn,x,expected", [
    (lambda x: np.maximum(x, 1.0).sum(), [1.0, 2.0], [0.5, 1.0]),          # tie: split evenly
    (lambda x: np.minimum(x, x).sum(), [1.0, 2.0], [1.0, 1.0]),            # both halves -> x
    (lambda x: np.max(x), [3.0, 1.0, 3.0], [0.5, 0.0, 0.5]),              # max ties share g
    (lambda x: np.clip(x, 0.0, 1.0).sum(), [0.0, 1.0, 2.0, -1.0], [1.0, 1.0, 0.0, 0.0]),
    (lambda x: np.abs(x).sum(), [0.0, -2.0], [0.0, -1.0]),                 # sign(0) = 0
    (lambda x: (x ** 0.0).sum() + (x ** 2).sum(), [0.0], [0.0]),
    (lambda x: np.where(x > 0, x, 2 * x).sum(), [1.0, -1.0], [1.0, 2.0]),
])
def test_documented_subgradients(fn, x, expected):
    np.testing.assert_allclose(ef.grad(fn)(np.array(x)), expected)
