"""eagerflow: write NumPy, get a compiled graph.

    import numpy as np, eagerflow as ef

    @ef.function
    def step(x, w, b):
        return np.maximum(x @ w + b, 0.0).sum(axis=1)
"""
from . import errors, ops as _ops  # noqa: F401  (registers every op)
from .runtime import config
from .runtime.function import Function, function
from . import testing  # noqa: E402  (hypothesis is imported lazily, inside its functions)
from .export import load, save  # noqa: E402

__version__ = "0.1.0"

__all__ = ["function", "Function", "config", "errors", "__version__", "testing", "save", "load"]
from .runtime.variables import Variable  # noqa: E402  (state: docs/state.md)
from .module import Module  # noqa: E402
__all__ += ["Variable", "Module"]
from . import optimizers  # noqa: E402
from .checkpoint import restore_variables, save_variables  # noqa: E402
__all__ += ["optimizers", "save_variables", "restore_variables"]
from .autodiff import GradientTape, grad, value_and_grad  # noqa: E402  (docs/autodiff.md)
__all__ += ["grad", "value_and_grad", "GradientTape"]
from .control import cond, fori_loop, print_ as print, while_loop  # noqa: E402,A001  (docs/control_flow.md)
__all__ += ["cond", "while_loop", "fori_loop"]   # and ef.print (not in __all__: it would shadow print)
