"""Reverse-mode autodiff as a graph transformation (vjp.py), the functional API (api.py: grad,
value_and_grad) and GradientTape for eager code (tape.py). docs/autodiff.md is the reference."""
from .api import grad, value_and_grad
from .tape import GradientTape
from .vjp import NON_DIFFERENTIABLE, backward, grad_graph

__all__ = ["grad", "value_and_grad", "GradientTape", "NON_DIFFERENTIABLE", "backward",
           "grad_graph"]
