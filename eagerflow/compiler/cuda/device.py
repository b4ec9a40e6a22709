"""Device-array detection for the runtime, without importing Numba's CUDA target.

`ef.function(backend="cuda")` accepts, besides NumPy arrays, any object that exports
`__cuda_array_interface__` (CuPy, PyTorch, Numba device arrays). The runtime traces such an
argument through a stand-in: a NumPy array of the same dtype and shape that owns one element
(zero strides), so the tracer and the signature cache see an ordinary array and never touch
device memory.
"""
from __future__ import annotations

import numpy as np


def is_device_array(x) -> bool:
    """Has `__cuda_array_interface__`, or is a device array of Numba's CUDA simulator."""
    return not isinstance(x, np.ndarray) and (hasattr(x, "__cuda_array_interface__") or
                                              type(x).__name__ == "FakeCUDAArray")


def dtype_shape(x):
    if type(x).__name__ == "FakeCUDAArray":
        return np.dtype(x.dtype), tuple(x.shape)
    cai = x.__cuda_array_interface__
    return np.dtype(cai["typestr"]), tuple(cai["shape"])


def stand_in(x) -> np.ndarray:
    """A read-only NumPy array of x's dtype and shape that allocates one element."""
    dt, shape = dtype_shape(x)
    base = np.zeros(1, dt)
    a = np.lib.stride_tricks.as_strided(base, shape=shape, strides=(0,) * len(shape))
    a.flags.writeable = False
    return a
