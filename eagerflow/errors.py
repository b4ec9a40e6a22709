"""The eagerflow error hierarchy.

Every error raised while tracing carries the user's own file and line (`loc`) in its message,
and `Function` strips eagerflow's frames from the traceback before it reaches the user.
"""
from __future__ import annotations

import os
import sys
import types

import numpy as np

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_DIR = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))


class EagerflowError(Exception):
    """Base of every error eagerflow raises on purpose."""

    def __init__(self, message: str, loc: tuple[str, int] | None = None):
        self.loc = loc if loc is not None else user_location()
        self.message = message
        where = f"{self.loc[0]}:{self.loc[1]}: " if self.loc else ""
        super().__init__(where + message)


class TracingError(EagerflowError):
    """The function cannot be traced as written."""


class ConcretizationError(TracingError, TypeError):
    """A traced value was used where Python needs a concrete one (bool, int, shape, np.asarray)."""


class UnsupportedError(TracingError, TypeError):
    """An op, dtype or argument kind eagerflow does not handle (yet)."""


class UnsupportedAttributeError(UnsupportedError, AttributeError):
    """An ndarray method or attribute that traced values do not have (hasattr() still works)."""


class ShapeError(TracingError, ValueError):
    """Shapes that do not fit together (broadcasting, reshape, concatenate...)."""


class AxisError(ShapeError, np.exceptions.AxisError):
    """An axis out of bounds for the array's rank: also NumPy's AxisError (ValueError and
    IndexError), so code that catches NumPy's catches it."""


class AliasingError(TracingError, ValueError):
    """An in-place update whose effect on other arrays eagerflow cannot represent exactly."""


class IntOverflowError(EagerflowError, OverflowError):
    """A Python int that does not fit the integer dtype it meets, as NumPy's OverflowError."""


class VerificationError(EagerflowError):
    """An IR graph breaks an invariant (ir/verify.py lists them)."""


class ParseError(EagerflowError, ValueError):
    """IR text that does not parse."""


class CompileError(EagerflowError):
    """Code generation or Numba compilation failed."""


class StateError(EagerflowError, ValueError):
    """Misuse of Variables: wrong shape or dtype, created inside a traced function, ..."""


class SaveFormatError(EagerflowError, ValueError):
    """A saved graph or checkpoint that is corrupt, truncated or from a newer version."""


def _is_internal(filename: str) -> bool:
    f = os.path.abspath(filename)
    return f.startswith(_PKG_DIR + os.sep) or f.startswith(os.path.join(_NUMPY_DIR, "numpy") + os.sep)


def user_location() -> tuple[str, int] | None:
    """(file, line) of the innermost frame that belongs to neither eagerflow nor NumPy."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not _is_internal(name) and not name.startswith("<frozen"):
            return (os.path.basename(name) if name.startswith("<") else name, frame.f_lineno)
        frame = frame.f_back
    return None


def strip_internal_frames(exc: BaseException) -> BaseException:
    """Return `exc` with eagerflow's and NumPy's own frames removed from its traceback."""
    tb = exc.__traceback__
    kept = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            kept.append(tb)
        tb = tb.tb_next
    new = None
    for t in reversed(kept):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return exc.with_traceback(new)
