"""`ef.grad` and `ef.value_and_grad`: functional reverse mode.

Inside a trace (an `ef.function` body, another `grad`, a GradientTape), differentiating `f` traces
`f` into the current graph and appends its backward nodes there, so the whole step — forward and
backward — is one graph that is optimized and fused together. Called on concrete arrays, it does
the same inside a cached `ef.function(..., backend="interpreter")`: traced once per input
signature, then run by the reference interpreter. Wrap it in `ef.function` to compile it.
"""
from __future__ import annotations

import functools

import numpy as np

from ..tracer.context import apply, current
from ..tracer.tracer import Tracer, as_tracer
from ..tree import flatten, unflatten
from .vjp import backward


def value_and_grad(f, argnums=0, has_aux=False):
    """`f`'s value and its gradient with respect to the arguments `argnums` (an int or a tuple).

    `f` must return a float scalar (or `(scalar, aux)` with `has_aux=True`); the differentiated
    arguments may be pytrees (tuples, lists, dicts) of float arrays and Python floats, and each
    gradient has the structure and dtypes of its argument.

    >>> import numpy as np, eagerflow as ef
    >>> loss, g = ef.value_and_grad(lambda w: (w ** 2).sum())(np.array([1.0, 2.0]))
    >>> float(loss), g
    (5.0, array([2., 4.]))
    """
    return _Differentiated(f, argnums, has_aux, with_value=True)


def grad(f, argnums=0, has_aux=False):
    """The gradient of scalar-valued `f` with respect to the arguments `argnums`.

    Returns `grad_f` with the gradient's structure following `argnums`: one pytree for an int,
    a tuple of them for a tuple; with `has_aux=True`, `(gradient, aux)`. Composes with itself
    (grad of grad) and with `ef.function`:

    >>> import numpy as np, eagerflow as ef
    >>> df = ef.grad(lambda x: np.sin(x).sum())
    >>> bool(np.allclose(df(np.zeros(3)), 1.0))
    True
    >>> step = ef.function(lambda w, x: w - 0.1 * ef.grad(lambda w: ((x @ w) ** 2).sum())(w))
    """
    return _Differentiated(f, argnums, has_aux, with_value=False)


class _Differentiated:
    def __init__(self, f, argnums, has_aux, with_value):
        from ..runtime.function import Function
        self.fn = f.fn if isinstance(f, Function) else f   # grad(ef.function(f)) differentiates f
        self.argnums = argnums
        self.has_aux = has_aux
        self.with_value = with_value
        self._eager = None
        # name, docstring and __wrapped__ only: the default also copies self.fn's __dict__, and
        # for grad(grad(f)) that replaced this object's fn/argnums with the inner one's
        functools.update_wrapper(self, self.fn, updated=())

    def __call__(self, *args, **kwargs):
        from .tape import tape_context_of
        if current() is not None:
            return self._traced(args, kwargs)
        ctx = tape_context_of((args, kwargs))   # arguments recorded on an eager GradientTape
        if ctx is not None:
            with ctx:
                return ctx.wrap_outputs(self._traced(args, kwargs))
        from ..runtime import config
        if config.functions_run_eagerly():
            return self._on_tape(args, kwargs)
        return self._compiled()(*args, **kwargs)

    def _compiled(self):
        if self._eager is None:
            from ..runtime.function import Function

            @functools.wraps(self.fn)   # signature and captured arrays are f's
            def run(*args, **kwargs):
                return self._traced(args, kwargs)
            self._eager = Function(run, backend="interpreter", autograph=False,
                                   name=getattr(self.fn, "__name__", "f") + "_grad")
        return self._eager

    def _on_tape(self, args, kwargs):
        """`ef.config.run_functions_eagerly(True)`: no trace cache, an eager tape."""
        from .tape import GradientTape
        with GradientTape() as tape:
            args = list(args)
            wrt, trees = [], []
            for i in _argnums(self.argnums, len(args)):
                leaves, tree, statics = flatten(args[i], _is_leaf)
                watched = [tape.watch(leaf) for leaf in leaves]
                wrt.append(watched)
                trees.append((tree, statics, leaves))
                args[i] = unflatten(tree, watched, statics)
            out = self.fn(*args, **kwargs)
            loss, aux = _split_aux(out, self.has_aux)
        flat = tape.gradient(loss, [w for ws in wrt for w in ws])
        grads, it = [], iter(flat)
        for ws, (tree, statics, leaves) in zip(wrt, trees):
            grads.append(unflatten(tree, [_np_or_zeros(next(it), w, leaf)
                                          for w, leaf in zip(ws, leaves)], statics))
        return self._package(tape.concrete(loss), tape.concrete(aux), grads)

    def _traced(self, args, kwargs):
        args = list(args)
        wrt, trees = [], []
        for i in _argnums(self.argnums, len(args)):
            leaves, tree, statics = flatten(args[i], _is_leaf)
            seeds = [_seed(leaf, i) for leaf in leaves]
            wrt.append(seeds)
            trees.append((tree, statics))
            args[i] = unflatten(tree, seeds, statics)
        ctx = current()
        start = len(ctx.nodes)
        out = _autograph(self.fn)(*args, **kwargs)
        loss, aux = _split_aux(out, self.has_aux)
        loss = _check_loss(loss)
        flat = [s.value for ws in wrt for s in ws]
        one = apply("fill", value=1.0, shape=(), dtype=str(loss.dtype))
        cts = backward(ctx.nodes[start:], {loss.value.id: one}, flat)
        grads, it = [], iter(cts)
        for ws, (tree, statics) in zip(wrt, trees):
            grads.append(unflatten(tree, [_kind_of(_or_zeros(next(it), s), s) for s in ws],
                                   statics))
        return self._package(loss, aux, grads)

    def _package(self, loss, aux, grads):
        g = grads[0] if isinstance(self.argnums, int) else tuple(grads)
        value = (loss, aux) if self.has_aux else loss
        if self.with_value:
            return value, g
        return (g, aux) if self.has_aux else g


def _argnums(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError("argnums must name at least one argument")
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"argnums {argnums!r} out of range for {nargs} positional argument(s)")
    return [n % nargs for n in nums]


def _is_leaf(x) -> bool:
    return isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float)) or \
        getattr(type(x), "_ef_variable", False)


def _seed(leaf, argnum) -> Tracer:
    """A fresh value for a differentiated leaf, so that only its uses inside f are seen (the same
    array passed twice, or also read from a closure, is one value per use as in JAX)."""
    t = as_tracer(leaf.read() if getattr(type(leaf), "_ef_variable", False) else leaf)
    if t.dtype.kind != "f":
        raise TypeError(f"grad: argument {argnum} has a leaf of dtype {t.dtype}; gradients are "
                        "defined for floating-point inputs only (cast with .astype(float), or "
                        "leave it out of argnums)")
    s = apply("astype", t, dtype=str(t.dtype))
    s._scalar = t._scalar
    return s


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("has_aux=True needs f to return a pair (scalar output, auxiliary data)")
    return out[0], out[1]


def _check_loss(loss) -> Tracer:
    t = as_tracer(loss)
    if t.shape != () or t.dtype.kind != "f":
        raise TypeError(f"grad needs f to return a float scalar, got {t.dtype}{list(t.shape)}; "
                        "reduce it (e.g. .sum()) or differentiate each output separately")
    return t


def _or_zeros(g, like):
    if g is not None:
        return g
    t = as_tracer(like)
    return apply("fill", value=0.0, shape=t.shape, dtype=str(t.dtype))


def _kind_of(g, seed) -> Tracer:
    """`g` holding its argument's kind: a 0-d gradient is a NumPy scalar exactly when the
    argument was a scalar. The backward of a cond or while yields 0-d arrays whatever the
    argument; a fresh Tracer, as a cotangent may be shared by several gradients."""
    if g.ndim != 0 or g._scalar == seed._scalar:
        return g
    t = Tracer(g.value)
    t._scalar = seed._scalar
    return t


def _np_or_zeros(g, like, leaf):
    g = np.asarray(g) if g is not None else np.zeros(like.shape, like.dtype)
    if g.ndim == 0 and isinstance(leaf, (float, np.generic)):   # a scalar argument
        return g[()]
    return g


def _autograph(f):
    """f with autograph's conversion (traced `if`/`while`/`for` become cond/while), as ef.function
    would trace it."""
    try:
        from ..tracer.autograph import convert_if_user
    except ImportError:   # autograph not available: plain tracing
        return f
    return convert_if_user(f)
