#!/usr/bin/env bash
# On a GPU machine (the `run` tool of this workplace, or any CUDA box with PyTorch):
#   1. the GPU benchmark (python -m eagerflow.bench.gpu), 2. tests/cuda on the real GPU.
# Uses the machine's numba-cuda; if it fails to import, installs a carried wheel from .whl/.
# Results go to $OUT (bench.json, bench.txt, tests.txt).
set -u
OUT=${OUT:-/tmp/eagerflow-gpu}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 NUMBA_ENABLE_CUDASIM=0
export EAGERFLOW_CACHE_DIR=/tmp/efcache
PY=${PY:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$OUT/gpu.txt"
if ! $PY -c "import eagerflow.compiler.cuda.rt" 2>"$OUT/import_err.txt"; then
    echo "machine's numba-cuda failed to import:"; tail -3 "$OUT/import_err.txt"
    $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/numba_cuda-*.whl
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
$PY - <<'PY' | tee -a "$OUT/gpu.txt"
import importlib.metadata as m, numpy, numba
print("numpy", numpy.__version__, "numba", numba.__version__, "numba-cuda", m.version("numba-cuda"))
from numba import cuda
print("gpu", cuda.get_current_device().name, "cc", cuda.get_current_device().compute_capability)
PY
timeout ${BENCH_TIMEOUT:-230} $PY -m eagerflow.bench.gpu --out "$OUT/bench.json" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.txt"
timeout ${TEST_TIMEOUT:-200} $PY -m pytest tests/cuda -q -p no:warnings -p no:cacheprovider --maxfail=10 2>&1 | tee "$OUT/tests.txt" | tail -25
