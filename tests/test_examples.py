"""Every example runs as a user would run it and prints what it promises."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = {
    "fizzbuzz.py": "fizz, buzz, fizzbuzz",
    "inspect_graph.py": "max |compiled - eager| = ",
    "linear_regression.py": "compiled loop",
    "mlp_training.py": "faster per epoch",
}


@pytest.mark.numba
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name, tmp_path):
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=os.environ.get("EAGERFLOW_CACHE_DIR",
                                                              str(tmp_path / "cache")))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert EXAMPLES[name] in out.stdout
    if name == "inspect_graph.py":   # blocked sums differ from NumPy's pairwise ones by ~eps
        assert float(out.stdout.split(EXAMPLES[name])[1].split()[0]) < 1e-12


def test_every_example_is_tested():
    assert set(EXAMPLES) == {f for f in os.listdir(os.path.join(ROOT, "examples"))
                             if f.endswith(".py")}


@pytest.mark.numba
def test_demo_command_runs(tmp_path):
    """The README's main job: `eagerflow demo` (run here as python -m eagerflow.cli demo)."""
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-m", "eagerflow.cli", "demo"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for stage in ("== traced IR ==", "== optimized IR ==", "== generated source", "eager NumPy"):
        assert stage in out.stdout
