"""Tensor types: dtype, static shape and the NEP 50 weak bit.

A weak type stands for a Python scalar (`int`, `float`): it takes the dtype of whatever strong
value it meets, as in NumPy 2 (`f32_array * 2.0` stays float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import IntOverflowError, UnsupportedError

# Short names used by the text format, in promotion-friendly order.
SHORT_NAMES = {
    "bool": np.dtype(np.bool_),
    "i8": np.dtype(np.int8), "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32), "i64": np.dtype(np.int64),
    "u8": np.dtype(np.uint8), "u16": np.dtype(np.uint16),
    "u32": np.dtype(np.uint32), "u64": np.dtype(np.uint64),
    "f32": np.dtype(np.float32), "f64": np.dtype(np.float64),
}
DTYPE_SHORT = {dt: name for name, dt in SHORT_NAMES.items()}
SUPPORTED = frozenset(SHORT_NAMES.values())


def check_dtype(dtype) -> np.dtype:
    """Return `dtype` as np.dtype, or raise UnsupportedError for float16, complex, object, ..."""
    dt = np.dtype(dtype)
    if dt not in SUPPORTED:
        raise UnsupportedError(
            f"dtype {dt} is not supported by eagerflow (supported: bool, int8-int64, "
            f"uint8-uint64, float32, float64); cast with .astype(np.float64) or similar first")
    return dt


@dataclass(frozen=True, slots=True)
class TensorType:
    dtype: np.dtype
    shape: tuple[int, ...]
    weak: bool = False

    def __post_init__(self):
        object.__setattr__(self, "dtype", check_dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def strong(self) -> "TensorType":
        return TensorType(self.dtype, self.shape) if self.weak else self

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, tuple(shape), self.weak)

    def with_dtype(self, dtype, weak=False) -> "TensorType":
        return TensorType(dtype, self.shape, weak)

    def __str__(self) -> str:
        return f"{'~' if self.weak else ''}{DTYPE_SHORT[self.dtype]}[{','.join(map(str, self.shape))}]"

    __repr__ = __str__


def parse_type(text: str) -> TensorType:
    """Inverse of str(TensorType): '~f64[]', 'i32[3,4]'."""
    text = text.strip()
    weak = text.startswith("~")
    text = text.lstrip("~")
    name, _, rest = text.partition("[")
    if name not in SHORT_NAMES or not rest.endswith("]"):
        raise ValueError(f"bad type {text!r}: expected e.g. f64[3,4]")
    dims = rest[:-1].strip()
    shape = tuple(int(d) for d in dims.split(",")) if dims else ()
    return TensorType(SHORT_NAMES[name], shape, weak)


def scalar_stand_in(t: TensorType):
    """A value NumPy promotes like `t`: a Python scalar for weak types, a 0-d array otherwise."""
    if t.weak:
        return {"b": False, "i": 0, "u": 0, "f": 0.0}[t.dtype.kind]
    return np.zeros((), t.dtype)


def type_of(x) -> TensorType:
    """The type eagerflow gives a concrete value: Python scalars are weak (NEP 50).

    NumPy scalars are strong, np.float64 included (it subclasses Python float)."""
    if isinstance(x, (np.generic, np.ndarray)):
        return TensorType(check_dtype(x.dtype), np.shape(x))
    if isinstance(x, bool):
        return TensorType(np.dtype(np.bool_), ())
    if isinstance(x, int):
        if not -2**63 <= x < 2**63:
            raise IntOverflowError(f"Python int too large to convert to C long: {x} does not "
                                   "fit in int64, the dtype eagerflow traces a Python int as. "
                                   "Eager NumPy raises this OverflowError too, except with "
                                   "uint64 arrays (ints below 2**64) and float arrays: pass "
                                   "np.uint64(k) or float(k) there")
        return TensorType(np.dtype(np.int64), (), weak=True)
    if isinstance(x, float):
        return TensorType(np.dtype(np.float64), (), weak=True)
    if isinstance(x, complex):
        check_dtype(np.complex128)
    a = np.asarray(x)
    return TensorType(check_dtype(a.dtype), a.shape)
