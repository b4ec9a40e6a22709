"""Hypothesis strategies and comparison helpers, for users' tests and eagerflow's own.

    from eagerflow.testing import arrays, assert_matches_eager, assert_same
"""
from __future__ import annotations

import math
import re

import numpy as np

DTYPES = ("bool", "int32", "int64", "float32", "float64")

# Documented tolerance (docs/architecture.md, "Tolerance"): elementwise results within 4 ulp;
# +, -, *, / and comparisons bit-equal; reductions within c*log2(n)*eps*sum(|x|).
ULP = 4


def special_values(dtype) -> list:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        fi = np.finfo(dt)
        return [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, float(fi.max), float(-fi.max),
                float(fi.tiny), float(fi.smallest_subnormal), 0.5, 2.0]
    if dt.kind in "iu":
        ii = np.iinfo(dt)
        return [0, 1, -1 if dt.kind == "i" else 2, int(ii.min), int(ii.max), 2, 3]
    return [True, False]


def elements(dtype, finite=False):
    """Values of `dtype` biased towards NaN, ±inf, ±0 and integer extremes."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
    dt = np.dtype(dtype)
    specials = [v for v in special_values(dt)
                if not (finite and isinstance(v, float) and not math.isfinite(v))]
    base = hnp.from_dtype(dt, allow_nan=not finite, allow_infinity=not finite) \
        if dt.kind == "f" else hnp.from_dtype(dt)
    return st.one_of(st.sampled_from(specials), base, base)


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=5):
    from hypothesis.extra import numpy as hnp
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def array_of(dtype, shape, finite=False):
    from hypothesis.extra import numpy as hnp
    return hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, finite))


def broadcastable_arrays(n, dtypes=DTYPES, max_dims=3, max_side=5, finite=False, same_dtype=False):
    """n arrays with mutually broadcastable shapes (0-d and empty included)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    @st.composite
    def draw(draw):
        bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=max_dims,
                                                     min_side=0, max_side=max_side))
        first = draw(st.sampled_from(dtypes))
        return [draw(array_of(first if same_dtype else draw(st.sampled_from(dtypes)), s, finite))
                for s in bs.input_shapes]
    return draw()


_SIG = re.compile(r"\s*(~?)([A-Za-z]\w*)\[([^\]]*)\]\s*")
_PY_KINDS = {"int": int, "float": float, "bool": bool}


def _dtype_names() -> dict:
    from .ir.types import SHORT_NAMES
    names = dict(SHORT_NAMES)
    names.update({dt.name: dt for dt in SHORT_NAMES.values()})   # float64, int32, bool, ...
    return names


def parse_signature(signature: str, allow_names: bool = True) -> list[tuple]:
    """Parse a type string such as "f64[n,3], i64[], int" into one spec per argument.

    Each spec is ("array", dtype, dims) — dims a tuple of ints and, with `allow_names`, dimension
    names shared across the signature — or ("python", int | float | bool) for a Python scalar
    (spelled `int`, `float`, `bool`, or the weak types `~i64[]`, `~f64[]`). `f64[]` is a 0-d
    array. dtypes: bool, i8..i64, u8..u64, f32, f64 (or NumPy's names: float64, int32, ...).
    Raises ValueError naming the bad part.
    """
    if not isinstance(signature, str):
        raise ValueError(f"a signature is a string such as 'f64[n,3], i64[]', not {signature!r}")
    names = _dtype_names()
    specs = []
    parts = _split_sig(signature)
    if not parts:
        raise ValueError(f"empty signature {signature!r}: expected e.g. 'f64[n,3], i64[]'")
    for p in parts:
        text = p.strip()
        if text in _PY_KINDS:
            specs.append(("python", _PY_KINDS[text]))
            continue
        m = _SIG.fullmatch(p)
        if not m or m.group(2) not in names:
            named = ", f32[n,3]" if allow_names else ""
            raise ValueError(f"bad type {text!r} in {signature!r}: expected a dtype and a shape "
                             f"such as f64[1000,3], i64[] (0-d){named} or a Python scalar "
                             "int/float/bool; dtypes: bool, i8, i16, i32, i64, u8, u16, u32, "
                             "u64, f32, f64")
        dt = names[m.group(2)]
        dims = []
        raw = m.group(3).strip()
        for d in (x.strip() for x in raw.split(",")) if raw else ():
            if d.isdigit():
                dims.append(int(d))
            elif allow_names and d.isidentifier():
                dims.append(d)
            else:
                what = "a size (an int >= 0)" if not allow_names else \
                    "a size (an int >= 0) or a dimension name"
                raise ValueError(f"bad dimension {d!r} in {text!r}: expected {what}")
        if m.group(1):   # weak: a Python scalar
            if dims or dt.kind not in "iuf" and dt.kind != "b":
                raise ValueError(f"bad type {text!r}: a weak type (~) is 0-d, e.g. ~f64[]")
            specs.append(("python", {"b": bool, "i": int, "u": int, "f": float}[dt.kind]))
            continue
        specs.append(("array", dt, tuple(dims)))
    return specs


class Args(tuple):
    """The arguments drawn by `arrays(...)`: a tuple that assert_matches_eager spreads into
    several positional arguments (any other drawn tuple is one argument)."""
    __slots__ = ()


def _python_scalar(kind, finite, min_value, max_value):
    from hypothesis import strategies as st
    if kind is bool:
        return st.booleans()
    if kind is int:
        lo = -2**31 if min_value is None else int(min_value)
        hi = 2**31 - 1 if max_value is None else int(max_value)
        return st.one_of(st.integers(max(lo, -10), min(hi, 10)) if lo <= 10 and hi >= -10
                         else st.nothing(), st.integers(lo, hi))
    if min_value is not None or max_value is not None:
        return st.floats(min_value, max_value, allow_nan=False)
    return st.floats(allow_nan=not finite, allow_infinity=not finite)


def _bounded_elements(dt, finite, min_value, max_value):
    from hypothesis import strategies as st
    if min_value is None and max_value is None:
        return elements(dt, finite)
    if dt.kind == "b":
        return st.booleans()
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo = info.min if min_value is None else max(int(np.ceil(min_value)), info.min)
        hi = info.max if max_value is None else min(int(np.floor(max_value)), info.max)
        return st.integers(lo, hi)
    width = 32 if dt == np.float32 else 64
    lo = None if min_value is None else float(np.array(min_value, dt))
    hi = None if max_value is None else float(np.array(max_value, dt))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)


def arrays(signature: str, sizes: dict | None = None, finite: bool = False, *,
           min_side: int = 1, max_side: int = 6, min_value=None, max_value=None):
    """Hypothesis strategy for the arguments of a signature such as "f64[n,3], i64[], float".

    Draws an `Args` tuple, one value per type: arrays of that dtype and shape (`f64[]` a 0-d
    array), Python scalars for `int`/`float`/`bool` (or `~f64[]`). A named dimension (`n`) takes
    one drawn size in [min_side, max_side] shared by every argument of this signature (fix it
    with `sizes={"n": 100}`); digits are fixed sizes. Values lean towards the hard cases: NaN,
    ±inf, ±0, subnormals, integer extremes; `finite=True` leaves out NaN and inf, and
    `min_value`/`max_value` bound every value (handy for reductions, whose reassociated results
    can overflow differently near the float maximum). The string is checked now: a bad type
    raises ValueError here, not when drawing.

        @given(ef.testing.arrays("f64[n,3], f64[3]"))
        def test_step(args):
            x, w = args
            ...
    """
    from hypothesis import strategies as st
    specs = parse_signature(signature)
    fixed = dict(sizes or {})
    for k, v in fixed.items():
        if not (isinstance(v, int) and v >= 0):
            raise ValueError(f"sizes[{k!r}] must be an int >= 0, got {v!r}")
    if not 0 <= min_side <= max_side:
        raise ValueError(f"need 0 <= min_side <= max_side, got {min_side}, {max_side}")

    @st.composite
    def draw(draw):
        dims = dict(fixed)
        out = []
        for spec in specs:
            if spec[0] == "python":
                out.append(draw(_python_scalar(spec[1], finite, min_value, max_value)))
                continue
            _, dt, ds = spec
            shape = []
            for d in ds:
                if isinstance(d, str) and d not in dims:
                    dims[d] = draw(st.integers(min_side, max_side))
                shape.append(dims[d] if isinstance(d, str) else d)
            if min_value is None and max_value is None:
                out.append(draw(array_of(dt, tuple(shape), finite)))
            else:
                from hypothesis.extra import numpy as hnp
                out.append(draw(hnp.arrays(dt, tuple(shape),
                                           elements=_bounded_elements(dt, finite, min_value,
                                                                      max_value))))
        return Args(out)
    return draw()


def _split_sig(sig):
    parts, depth, cur = [], 0, ""
    for ch in sig:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _ulp_diff(a, b):
    """Distance in units in the last place between same-dtype float arrays (NaN-free)."""
    it = np.int64 if a.dtype == np.float64 else np.int32
    ai = a.view(it).astype(np.int64)
    bi = b.view(it).astype(np.int64)
    big = np.int64(np.iinfo(it).min)
    ai = np.where(ai < 0, big - ai, ai)
    bi = np.where(bi < 0, big - bi, bi)
    return np.abs(ai - bi)


def assert_same(actual, expected, ulp: int = 0, rtol: float = 0.0, atol: float = 0.0,
                check_scalar_kind: bool = False):
    """Value, dtype, shape, NaN positions and the sign of zero must agree.

    `ulp` allows that many units in the last place for floats; `rtol`/`atol` a tolerance for
    reassociated reductions. Pytrees (tuples, lists, dicts) are compared leaf by leaf.
    """
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), \
            f"structure differs: {type(actual).__name__} vs {type(expected).__name__}"
        for a, e in zip(actual, expected):
            assert_same(a, e, ulp, rtol, atol, check_scalar_kind)
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys()
        for k in expected:
            assert_same(actual[k], expected[k], ulp, rtol, atol, check_scalar_kind)
        return
    a, e = np.asarray(actual), np.asarray(expected)
    if check_scalar_kind:
        assert isinstance(actual, np.ndarray) == isinstance(expected, np.ndarray), \
            f"0-d kind differs: {type(actual).__name__} vs {type(expected).__name__}"
    assert a.dtype == e.dtype, f"dtype {a.dtype} != expected {e.dtype}"
    assert a.shape == e.shape, f"shape {a.shape} != expected {e.shape}"
    if a.dtype.kind != "f":
        assert np.array_equal(a, e), f"values differ:\n{a}\nexpected\n{e}"
        return
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert np.array_equal(nan_a, nan_e), f"NaN positions differ:\n{a}\nexpected\n{e}"
    a, e = a[~nan_a], e[~nan_e]
    exact = a == e
    if ulp == 0 and rtol == 0 and atol == 0:
        assert exact.all(), f"values differ:\n{a}\nexpected\n{e}"
        zeros = e == 0
        assert np.array_equal(np.signbit(a[zeros]), np.signbit(e[zeros])), "sign of zero differs"
        return
    inf = np.isinf(e) | np.isinf(a)
    assert np.array_equal(a[inf], e[inf]), f"infinities differ:\n{a}\nexpected\n{e}"
    a, e = a[~inf], e[~inf]
    ok = (a == e) | (_ulp_diff(a, e) <= ulp) | (np.abs(a - e) <= atol + rtol * np.abs(e))
    assert ok.all(), (f"values differ beyond {ulp} ulp / rtol={rtol} atol={atol}:\n"
                      f"{a[~ok]}\nexpected\n{e[~ok]}")


def reduction_tolerance(x: np.ndarray, c: float = 4.0) -> float:
    """The documented bound for a reassociated sum: c * log2(n) * eps * sum(|x|)."""
    x = np.asarray(x)
    if x.dtype.kind != "f" or x.size == 0:
        return 0.0
    finite = x[np.isfinite(x)]
    return c * max(math.log2(max(x.size, 2)), 1.0) * float(np.finfo(x.dtype).eps) * \
        float(np.sum(np.abs(finite.astype(np.float64))))


def _float_leaves(obj):
    from .tree import flatten
    leaves, _, _ = flatten(obj, lambda x: isinstance(x, (np.ndarray, np.generic, float)))
    return [np.asarray(x) for x in leaves if np.asarray(x).dtype.kind == "f"]


def _default_atol(args) -> float:
    """The documented reduction bound c*log2(n)*eps*sum(|x|) over the float inputs (finite
    values only), in the widest float dtype among them; 0 when there are none."""
    floats = _float_leaves(args)
    if not floats:
        return 0.0
    n = max(max(a.size for a in floats), 2)
    eps = max(float(np.finfo(a.dtype).eps) for a in floats)
    total = sum(float(np.sum(np.abs(a[np.isfinite(a)].astype(np.float64)))) for a in floats)
    return 4.0 * math.log2(n) * eps * total


def _arg_arrays(obj):
    from .tree import flatten
    leaves, _, _ = flatten(obj, lambda x: isinstance(x, np.ndarray))
    return [x for x in leaves if isinstance(x, np.ndarray)]


def assert_matches_eager(fn, *args, ulp: int = ULP, rtol: float | None = None,
                         atol: float | None = None, examples: int = 25,
                         check_scalar_kind: bool = True, backend: str = "numba"):
    """Check a compiled function against its own eager run: value, dtype, shape, NaN positions,
    sign of zero, NumPy-scalar-vs-0-d-array kind, and the arguments it updates in place.

    `fn` is an `ef.function` (its backend and options are used; the eager run calls the Python
    function it wraps) or a plain function (compiled with `backend`). `args` are concrete
    arguments or hypothesis strategies; an `arrays("f64[n], i64[]")` strategy supplies several
    positional arguments, any other strategy one. With strategies, hypothesis draws `examples`
    cases and shrinks a failure to a minimal one; without, the check runs once.

    Tolerance (docs/architecture.md): floats may differ by `ulp` units in the last place (4),
    or by `atol + rtol*|expected|`. By default rtol is 4*log2(n)*eps and atol the documented
    reduction bound 4*log2(n)*eps*sum(|x|) over the float inputs (n the largest input size),
    which covers reassociated sums of the inputs; pass atol/rtol for functions that reduce
    products or cancel large terms. `ulp=0, rtol=0, atol=0` demands bit-equality.
    If the eager function raises, the compiled one must raise too.
    """
    import copy
    import warnings

    from .runtime.function import Function, RetraceWarning
    if isinstance(fn, Function):
        eager, compiled = fn.fn, fn
    elif callable(fn):
        eager, compiled = fn, Function(fn, backend=backend)
    else:
        raise TypeError(f"assert_matches_eager needs a function, got {type(fn).__name__}")

    def check(*concrete):
        a_eager, a_comp = copy.deepcopy(concrete), copy.deepcopy(concrete)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", RetraceWarning)   # expected: hypothesis varies sizes
            try:
                expected = eager(*a_eager)
            except Exception as e:   # the compiled function must fail as well
                try:
                    compiled(*a_comp)
                except Exception:
                    return
                raise AssertionError(f"eager {getattr(eager, '__name__', 'fn')} raised "
                                     f"{type(e).__name__}: {e}, but the compiled function "
                                     "returned a result") from e
            actual = compiled(*a_comp)
        with np.errstate(all="ignore"):
            tol_a = _default_atol(concrete) if atol is None else atol
        if rtol is None:
            floats = _float_leaves(concrete) + _float_leaves(expected)
            n = max([a.size for a in floats] + [2])
            eps = max([float(np.finfo(a.dtype).eps) for a in floats] + [0.0])
            tol_r = 4.0 * math.log2(n) * eps
        else:
            tol_r = rtol
        try:
            with np.errstate(all="ignore"):
                assert_same(actual, expected, ulp=ulp, rtol=tol_r, atol=tol_a,
                            check_scalar_kind=check_scalar_kind)
            for i, (w_c, w_e) in enumerate(zip(_arg_arrays(a_comp), _arg_arrays(a_eager))):
                try:
                    assert_same(w_c, w_e, ulp=ulp, rtol=tol_r, atol=tol_a)
                except AssertionError as e:
                    raise AssertionError(f"array argument {i} after the call (in-place "
                                         f"update): {e}") from None
        except AssertionError as e:
            raise AssertionError(f"compiled {getattr(eager, '__name__', 'fn')} differs from its "
                                 f"eager run: {e}\narguments: {concrete!r}") from None

    from hypothesis.strategies import SearchStrategy
    if not any(isinstance(a, SearchStrategy) for a in args):
        return check(*args)
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    strats = [a if isinstance(a, SearchStrategy) else st.just(a) for a in args]

    @settings(max_examples=examples, deadline=None, database=None, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(st.tuples(*strats))
    def run(drawn):
        flat = []
        for d in drawn:
            flat.extend(d if isinstance(d, Args) else [d])
        check(*flat)
    run()


# ---- random programs (for the optimizer's property tests) ----------------------------------------

_PROGRAM_DTYPES = ("bool", "int32", "int64", "float32", "float64")
_WEAK_CONSTS = (0, 1, 2, -1, 0.0, -0.0, 1.0, 0.5, -2.5, float("nan"), float("inf"))
_STRONG_CONSTS = (("float32", 1.0), ("float64", -0.0), ("float64", 0.0), ("int32", 1),
                  ("int64", 0), ("bool", True), ("float32", 0.5))


def programs(max_params: int = 3, max_ops: int = 10, max_side: int = 4, finite: bool = False):
    """Random well-typed graphs built from the op registry, with arguments: (graph, args).

    Drawn: parameters (arrays of mutually broadcastable shapes, and weak Python-scalar params),
    elementwise ops of any arity on any of the values so far, constants (weak and strong scalars,
    small arrays, `fill`s of more than 64 elements), reductions with random axis/keepdims, shape
    ops (reshape, transpose, broadcast_to, concatenate), matmul; repeats of earlier nodes (for
    CSE) and chains that invite the simplifier (x*1, x+(-0.0), neg(neg x), transpose pairs). Every
    node is type-checked by its registry entry; ops that reject their operands are redrawn.
    """
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    from .errors import EagerflowError
    from .ir.graph import Const, Graph, Node, Value
    from .ir.types import TensorType
    from .ops.registry import REGISTRY, Kind

    elementwise = sorted(o.name for o in REGISTRY.values()
                         if o.kind is Kind.ELEMENTWISE and o.nin and o.name not in ("pow",))
    reductions = sorted(o.name for o in REGISTRY.values() if o.kind is Kind.REDUCTION)

    @st.composite
    def draw(draw):
        base = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=max_side))
        if draw(st.integers(0, 9)) == 0:      # now and then an empty array
            base = base[:-1] + (0,) if base else base
        params, args, values, nodes = [], [], [], []

        def new_param(t: TensorType, name):
            p = Value(t, name)
            params.append(p)
            if t.weak:
                args.append(draw(st.sampled_from([0.0, -0.0, 1.5, -3.0, float("nan")])
                                 if t.dtype.kind == "f" else st.integers(-3, 3)))
            else:
                args.append(draw(array_of(t.dtype, t.shape, finite)))
            values.append(p)
            return p

        for i in range(draw(st.integers(1, max_params))):
            keep = draw(st.integers(0, len(base)))
            shape = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else s
                          for s in base[len(base) - keep:])
            new_param(TensorType(draw(st.sampled_from(_PROGRAM_DTYPES)), shape), f"p{i}")
        if draw(st.booleans()):
            new_param(TensorType(draw(st.sampled_from(["float64", "int64"])), (), True), "s")

        def const():
            kind = draw(st.integers(0, 3))
            if kind == 0:
                return Const(draw(st.sampled_from(_WEAK_CONSTS)))
            if kind == 1:
                dt, v = draw(st.sampled_from(_STRONG_CONSTS))
                return Const(np.array(v, dtype=dt))
            proto = draw(st.sampled_from(values))
            dt = proto.dtype if draw(st.booleans()) else np.dtype(draw(st.sampled_from(DTYPES)))
            if kind == 2:
                return Const(np.full(proto.shape, draw(st.sampled_from([1, 0, 2])), dtype=dt))
            return Const(draw(array_of(dt, proto.shape, finite=True)))

        def operand():
            if draw(st.integers(0, 4)) == 0:
                return const()
            # prefer recent values: chains
            k = draw(st.integers(0, min(len(values), 4) - 1))
            return values[-1 - k] if draw(st.booleans()) else draw(st.sampled_from(values))

        def add(op, inputs, attrs):
            try:
                types = REGISTRY[op].infer_types([v.type for v in inputs], attrs)
            except (EagerflowError, ValueError, TypeError):
                return None
            node = Node(op, inputs, attrs, types)
            nodes.append(node)
            values.extend(node.outputs)
            return node

        def shape_op(x):
            which = draw(st.integers(0, 3))
            if which == 0:
                if draw(st.booleans()) or x.type.ndim == 0:
                    shape = (x.type.size,)
                else:
                    shape = (1,) + x.type.shape
                return add("reshape", [x], {"shape": shape})
            if which == 1:
                perm = tuple(draw(st.permutations(range(x.type.ndim))))
                return add("transpose", [x], {"axes": perm})
            if which == 2:
                shape = tuple(draw(st.sampled_from([2, 3])) if s == 1 and draw(st.booleans())
                              else s for s in x.type.shape)
                if draw(st.booleans()):
                    shape = (2,) + shape
                return add("broadcast_to", [x], {"shape": shape})
            if x.type.ndim == 0:
                return None
            return add("concatenate", [x, operand()], {"axis": draw(st.integers(0, x.type.ndim - 1))})

        def step():
            family = draw(st.sampled_from(["elementwise"] * 6 + ["reduction", "shape", "matmul",
                                                                 "repeat", "identity", "fill"]))
            if family == "elementwise":
                op = draw(st.sampled_from(elementwise))
                ins = [operand() for _ in range(REGISTRY[op].nin)]
                attrs = {"dtype": draw(st.sampled_from(DTYPES))} if op == "astype" else {}
                return add(op, ins, attrs)
            if family == "reduction":
                op = draw(st.sampled_from(reductions))
                x = operand()
                nd = x.type.ndim
                if REGISTRY[op].extra.get("index"):
                    axis = None if nd == 0 or draw(st.booleans()) else (draw(st.integers(0, nd - 1)),)
                else:
                    axis = None if draw(st.booleans()) else \
                        tuple(sorted(draw(st.sets(st.integers(0, max(nd - 1, 0)), max_size=nd))))
                return add(op, [x], {"axis": axis, "keepdims": draw(st.booleans())})
            if family == "shape":
                return shape_op(operand())
            if family == "matmul":
                a = operand()
                if a.type.ndim < 1:
                    return None
                k = a.type.shape[-1]
                dt = a.dtype if a.dtype.kind != "b" else np.dtype(np.float64)
                b = new_param(TensorType(dt, (k, draw(st.integers(1, 3)))), f"w{len(params)}")
                return add("matmul", [a, b], {})
            if family == "repeat" and nodes:
                old = draw(st.sampled_from(nodes))
                ins = list(old.inputs)
                if REGISTRY[old.op].commutative and draw(st.booleans()):
                    ins.reverse()
                return add(old.op, ins, dict(old.attrs))
            if family == "identity":
                x = operand()
                op, c = draw(st.sampled_from([("mul", 1), ("mul", 1.0), ("add", -0.0),
                                              ("add", 0), ("sub", 0.0), ("div", 1.0),
                                              ("neg", None), ("transpose", None),
                                              ("astype", None), ("reshape", None)]))
                if op in ("neg",):
                    n = add("neg", [x], {})
                    return n and add("neg", [n.output], {})
                if op == "transpose":
                    p = tuple(draw(st.permutations(range(x.type.ndim))))
                    n = add("transpose", [x], {"axes": p})
                    q = tuple(draw(st.permutations(range(x.type.ndim))))
                    return n and add("transpose", [n.output], {"axes": q})
                if op == "astype":
                    return add("astype", [x], {"dtype": str(x.dtype)})
                if op == "reshape":
                    n = add("reshape", [x], {"shape": (x.type.size,)})
                    return n and add("reshape", [n.output], {"shape": x.type.shape})
                ins = [x, Const(c)] if draw(st.booleans()) or op in ("sub", "div") else [Const(c), x]
                return add(op, ins, {})
            if family == "fill":
                shape = draw(st.sampled_from([(), (3,), (9, 8), base]))
                dt = draw(st.sampled_from(DTYPES))
                value = draw(st.sampled_from([0, 1, 2]))
                return add("fill", [], {"value": value, "shape": shape, "dtype": dt})
            return None

        n_ops = draw(st.integers(1, max_ops))
        for _ in range(n_ops * 2):
            if len(nodes) >= n_ops:
                break
            step()
        candidates = [v for v in values if not isinstance(v, Const)]
        k = draw(st.integers(1, min(3, len(candidates))))
        results = [candidates[-1]] + draw(st.lists(st.sampled_from(candidates), min_size=k - 1,
                                                   max_size=k - 1))
        return Graph("program", params, nodes, results), args
    return draw()
