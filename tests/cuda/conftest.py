"""tests/cuda: the cuda backend on Numba's CUDA simulator (CI) or on a real GPU.

The simulator is the default here: it is switched on before numba.cuda is first imported, unless
NUMBA_ENABLE_CUDASIM is set already (`NUMBA_ENABLE_CUDASIM=0 pytest tests/cuda` runs these tests
on the GPU, as tests/cuda/device_check.sh does). Without numba-cuda (the `test` extra installs it)
every test here is skipped, with that reason.
"""
import importlib.util
import os

import pytest

if "NUMBA_ENABLE_CUDASIM" not in os.environ:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    try:   # numba may be imported already (another test module): re-read the environment
        from numba.core import config as _config
        _config.reload_config()
    except Exception:  # pragma: no cover
        pass

HAS_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    if HAS_NUMBA_CUDA:
        return
    skip = pytest.mark.skip(reason="numba-cuda is not installed (pip install -e '.[test]')")
    for item in items:
        if "tests/cuda" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


def real_gpu() -> bool:
    if SIMULATOR or not HAS_NUMBA_CUDA:
        return False
    try:
        from numba import cuda
        return cuda.is_available()
    except Exception:
        return False
