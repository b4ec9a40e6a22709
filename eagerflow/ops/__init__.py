"""The op registry and every op family. Importing this package registers all ops."""
from . import control, creation, elementwise, fused, index, linalg, reduction, shape  # noqa: F401  (registers)
from . import state  # noqa: F401  (Variables: assign_variable)
from .registry import NUMPY_MAP, REGISTRY, Kind, OpDef, get, register

__all__ = ["REGISTRY", "NUMPY_MAP", "Kind", "OpDef", "get", "register"]
