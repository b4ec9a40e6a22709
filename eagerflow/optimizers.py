"""`ef.optimizers`: SGD (with momentum) and Adam, updating Variables in place.

    opt = ef.optimizers.Adam(1e-3)
    opt.apply(grads, model.trainable_variables)     # eagerly, or inside an @ef.function step

`apply(grads, variables)` is the same code eagerly and while tracing: inside a compiled step it
records the updates, which the runtime writes back after the call. An optimizer's own state (the
step count `iterations`, and per Variable the momentum buffer or Adam's `m` and `v`) lives in
Variables. They are created on the first `apply` for a Variable — also when that first `apply` runs
inside a traced step: their initial values are zeros, not traced values, so eagerflow creates them
outside the graph (`build(variables)` does it up front). A compiled step then reads and updates
them like any captured Variable.

Hyperparameters that are Python numbers are constants of a compiled step (as every Python scalar a
traced function reads is); to change the learning rate between calls without tracing again, pass
an `ef.Variable` as `lr` and `.assign` it.
"""
from __future__ import annotations

import numpy as np

from .errors import StateError
from .runtime.variables import Variable, allow_creation

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: slot bookkeeping and `apply`. Subclasses define `_slot_names` and `_update`."""

    _slot_names: tuple[str, ...] = ()

    def __init__(self, lr):
        self.lr = lr
        self._slots: dict[int, dict[str, Variable]] = {}   # Variable uid -> {slot name: Variable}
        self._order: list[tuple[Variable, dict]] = []       # (variable, slots) in build order
        with allow_creation():
            self.iterations = Variable(np.int64(0), name="iterations", trainable=False)

    def build(self, variables) -> None:
        """Create the slots of `variables` now (apply does it on first use)."""
        for v in variables:
            if not isinstance(v, Variable):
                raise StateError(f"{type(self).__name__}.apply updates ef.Variables; got a "
                                 f"{type(v).__name__}")
            if v.uid in self._slots or not self._slot_names:
                continue
            base = v.name or f"var{len(self._order)}"
            with allow_creation():   # zeros, not traced values: created outside any graph
                slots = {s: Variable(np.zeros(v.shape, v.dtype), name=f"{base}/{s}",
                                     trainable=False) for s in self._slot_names}
            self._slots[v.uid] = slots
            self._order.append((v, slots))

    def apply(self, grads, variables) -> None:
        """Update each Variable with its gradient (a None gradient skips that Variable)."""
        grads, variables = list(grads), list(variables)
        if len(grads) != len(variables):
            raise StateError(f"{type(self).__name__}.apply: {len(grads)} gradients for "
                             f"{len(variables)} variables")
        self.build(variables)
        t = self.iterations + 1   # the step number of this update, 1-based
        for g, v in zip(grads, variables):
            if g is None:
                continue
            if isinstance(g, Variable):
                g = g.read()
            if tuple(np.shape(g)) != tuple(v.shape):
                raise StateError(f"gradient of shape {tuple(np.shape(g))} for Variable "
                                 f"{v._label()} of shape {v.shape}")
            self._update(v, g, self._slots.get(v.uid, {}), t)
        self.iterations.assign(t)

    def _lr(self, dtype):
        lr = self.lr
        if isinstance(lr, Variable):
            return lr.read().astype(dtype)
        return lr

    def _update(self, var, grad, slots, t):
        """Abstract: each optimizer (SGD, Adam) writes its update rule here."""
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def named_variables(self) -> list[tuple[str, Variable]]:
        """The optimizer's state, for checkpoints: "iterations", then "<var name>/<slot>" in the
        order Variables were first seen (a Variable without a name is "var<i>"; a repeated name gets
        a suffix: "w_1")."""
        out, used = [("iterations", self.iterations)], set()
        for i, (v, slots) in enumerate(self._order):
            base = v.name or f"var{i}"
            name, k = base, 1
            while name in used:   # two Variables with one name: "w", "w_1", ...
                name, k = f"{base}_{k}", k + 1
            used.add(name)
            out += [(f"{name}/{s}", sv) for s, sv in slots.items()]
        return out

    @property
    def variables(self) -> list[Variable]:
        return [v for _, v in self.named_variables()]

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr!r}, {len(self._order)} variables)"


class SGD(Optimizer):
    """Stochastic gradient descent; with momentum (PyTorch's form):
    `buf = momentum * buf + grad; var -= lr * buf` (without: `var -= lr * grad`)."""

    def __init__(self, lr, momentum=0.0):
        if momentum < 0:
            raise ValueError("momentum must be >= 0")
        self.momentum = momentum
        self._slot_names = ("momentum",) if momentum else ()
        super().__init__(lr)

    def _update(self, var, grad, slots, t):
        lr = self._lr(var.dtype)
        if self.momentum:
            buf = slots["momentum"]
            buf.assign(_cast(self.momentum * buf + grad, var.dtype))
            var.assign_sub(_cast(lr * buf, var.dtype))
        else:
            var.assign_sub(_cast(lr * grad, var.dtype))

    def __repr__(self):
        return f"SGD(lr={self.lr!r}, momentum={self.momentum!r})"


class Adam(Optimizer):
    """Adam (Kingma & Ba), in PyTorch's arithmetic:

        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
        var -= (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    _slot_names = ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError("beta1 and beta2 must be in [0, 1)")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        super().__init__(lr)

    def _update(self, var, grad, slots, t):
        dt = var.dtype
        b1, b2 = self.beta1, self.beta2
        m, v = slots["m"], slots["v"]
        m.assign(_cast(b1 * m + (1 - b1) * grad, dt))
        v.assign(_cast(b2 * v + (1 - b2) * (grad * grad), dt))
        bias1 = 1 - b1 ** t
        bias2 = 1 - b2 ** t
        step = _cast(self._lr(np.float64) / bias1, dt)
        denom = _cast(np.sqrt(bias2), dt)
        var.assign_sub(_cast(step * m / (np.sqrt(v) / denom + self.eps), dt))

    def __repr__(self):
        return (f"Adam(lr={self.lr!r}, beta1={self.beta1!r}, beta2={self.beta2!r}, "
                f"eps={self.eps!r})")


def _cast(x, dtype):
    """x in `dtype` (NumPy arrays and scalars and traced values alike)."""
    if isinstance(x, (int, float)):
        return x
    return x if x.dtype == dtype else x.astype(dtype)
