"""backend="cuda" without a usable GPU: an eagerflow CompileError that says what to do and names
the caller's line, not numba-cuda's CudaSupportError.

Runs in a subprocess with the simulator off (conftest.py turns it on for this process) and every
GPU hidden (CUDA_VISIBLE_DEVICES=""), so it checks the same thing with or without a GPU."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """\
import json, sys
import numpy as np
import eagerflow as ef

f = ef.function(lambda x: x + 1, backend="cuda")
try:
    f(np.ones(3))
except Exception as e:
    json.dump({"type": type(e).__name__, "eagerflow": isinstance(e, ef.errors.EagerflowError),
               "loc": list(getattr(e, "loc", None) or ()), "message": str(e)}, sys.stdout)
else:
    json.dump({"type": None}, sys.stdout)
"""
CALL_LINE = 7   # the line of f(np.ones(3)) in SCRIPT


def test_cuda_backend_without_gpu_is_a_compile_error(tmp_path):
    script = tmp_path / "no_gpu_user.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", CUDA_VISIBLE_DEVICES="",
               EAGERFLOW_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    if out["type"] is None:
        pytest.skip("a GPU was usable with CUDA_VISIBLE_DEVICES='' (nothing to check)")
    assert out["type"] == "CompileError" and out["eagerflow"], out
    assert out["loc"] == [str(script), CALL_LINE], out
    msg = out["message"]
    assert msg.startswith(f"{script}:{CALL_LINE}: "), msg
    assert 'backend="cuda" needs an NVIDIA GPU' in msg and "driver" in msg, msg
    assert "default CPU backend" in msg, msg
