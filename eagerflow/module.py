"""`ef.Module`: a base class that collects the Variables of a model.

    class Dense(ef.Module):
        def __init__(self, n_in, n_out):
            self.w = ef.Variable(np.zeros((n_in, n_out)))
            self.b = ef.Variable(np.zeros(n_out))

        @ef.function
        def __call__(self, x):
            return x @ self.w + self.b

Variables are found in attributes, nested Modules, lists, tuples and dict values, in attribute
(insertion) order, each once (the first path that reaches it names it): `named_variables()` gives
`[("layer1.w", v), ...]`, `variables` / `trainable_variables` the Variables. A Variable assigned to
an attribute without a name takes the attribute's name.
"""
from __future__ import annotations

import numpy as np

from .runtime.variables import Variable, _walk, path_name


class Module:
    """Base class for objects that own Variables (layers, models, optimizers' state)."""

    _ef_module = True

    def __setattr__(self, name, value):
        if isinstance(value, Variable) and value.name is None:
            value.name = name
        object.__setattr__(self, name, value)

    def _ef_children(self):
        """(attribute name, value) pairs that may hold Variables, in attribute order."""
        return [(k, v) for k, v in vars(self).items()
                if isinstance(v, (Variable, Module, list, tuple, dict))]

    def named_variables(self) -> list[tuple[str, Variable]]:
        """[(path, Variable)]: "layer1.w", "blocks.0.b", "table.key"; each Variable once."""
        out, seen = [], set()

        def visit(v, path):
            if v.uid not in seen:
                seen.add(v.uid)
                out.append((path_name(path), v))
        _walk(self, (), visit, set())
        return out

    @property
    def variables(self) -> list[Variable]:
        return [v for _, v in self.named_variables()]

    @property
    def trainable_variables(self) -> list[Variable]:
        return [v for _, v in self.named_variables() if v.trainable]

    def __repr__(self):
        named = self.named_variables()
        n = sum(v.size for _, v in named)
        lines = [f"{type(self).__name__}({len(named)} variables, {n:,} parameters)"]
        width = max((len(p) for p, _ in named), default=0)
        for p, v in named:
            flag = "" if v.trainable else "  (non-trainable)"
            lines.append(f"  {p.ljust(width)}  {np.dtype(v.dtype).name}{list(v.shape)}{flag}")
        return "\n".join(lines)
