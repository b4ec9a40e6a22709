"""`eagerflow inspect`, driven as a user would: a subprocess per command line."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from eagerflow.inspect_cli import example_args

MODEL = textwrap.dedent("""
    import numpy as np
    import eagerflow as ef

    def layer(x, w, s):
        return np.maximum(x @ w + s, 0.0).sum(axis=1)

    @ef.function(backend="interpreter")
    def scaled(x, k):
        return np.sin(x) * k

    class Model:
        @staticmethod
        def step(x):
            return x * 2.0

    NOT_A_FUNCTION = 3
""")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "clitool_model.py").write_text(MODEL)
    return d


def run(*argv, cwd=None, env_extra=None):
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=os.environ.get("EAGERFLOW_CACHE_DIR",
                                                              "/tmp/ef_tools"))
    env.update(env_extra or {})
    p = subprocess.run([sys.executable, "-m", "eagerflow.cli", *argv], capture_output=True,
                       text=True, cwd=cwd, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def assert_one_line_error(rc, err, *words):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eagerflow inspect: error:"), err
    for w in words:
        assert w in lines[0], lines[0]


def test_file_target_all_stages_and_dot(model_dir, tmp_path):
    dot = tmp_path / "layer.dot"
    rc, out, err = run("inspect", f"{model_dir}/clitool_model.py:layer",
                       "--args", "f64[100,3], f64[3,4], float", "--stages", "all",
                       "--dot", str(dot), cwd=tmp_path)
    assert rc == 0, err
    for head in ("== traced ==", "== pass fold:", "== optimized ==", "== source =="):
        assert head in out
    assert "func @layer(%x: f64[100,3], %w: f64[3,4], %s: ~f64[])" in out
    assert "fused.reduce" in out and "@njit" in out
    assert dot.read_text().startswith('digraph "layer"')


def test_module_target_decorated_function(model_dir):
    rc, out, err = run("inspect", "clitool_model:scaled", "--args", "f32[8], int",
                       "--stages", "optimized", cwd=model_dir,
                       env_extra={"PYTHONPATH": str(model_dir)})
    assert rc == 0, err
    assert out.startswith("== optimized ==") and "== traced ==" not in out
    assert "%x: f32[8], %k: ~i64[]" in out


def test_bad_inputs_one_line_exit_2(model_dir, tmp_path):
    f = f"{model_dir}/clitool_model.py"
    rc, _, err = run("inspect", f + ":nope", "--args", "f64[3]")
    assert_one_line_error(rc, err, "no attribute 'nope'")
    rc, _, err = run("inspect", f + ":layer", "--args", "f64[3,3], f65[3], float")
    assert_one_line_error(rc, err, "bad type 'f65[3]'")
    rc, _, err = run("inspect", "no_such_module_xyz:f", "--args", "f64[3]")
    assert_one_line_error(rc, err, "no module named 'no_such_module_xyz'")
    rc, _, err = run("inspect", f + ":layer", "--args", "f64[3,3]", "--stages", "optimized")
    assert_one_line_error(rc, err, "missing a required argument")
    rc, _, err = run("inspect", str(tmp_path / "missing.py") + ":f", "--args", "f64[3]")
    assert_one_line_error(rc, err, "no such file")
    rc, _, err = run("inspect", f + ":NOT_A_FUNCTION", "--args", "f64[3]")
    assert_one_line_error(rc, err, "not a function")


def test_svg_without_graphviz(model_dir, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    rc, _, err = run("inspect", f"{model_dir}/clitool_model.py:Model.step", "--args", "f64[3]",
                     "--stages", "traced", "--svg", str(tmp_path / "g.svg"),
                     env_extra={"PATH": str(empty)})
    assert_one_line_error(rc, err, "Graphviz", "apt install graphviz")


def test_help():
    rc, out, _ = run("inspect", "--help")
    assert rc == 0 and "--args" in out and "--stages" in out and "--svg" in out


def test_example_args():
    x, s, f, b, z, w = example_args("f64[10,3], i64[], float, bool, u8[0], ~i64[]")
    assert x.shape == (10, 3) and x.dtype == np.float64
    assert isinstance(s, np.ndarray) and s.shape == () and s.dtype == np.int64
    assert type(f) is float and type(b) is bool and type(w) is int
    assert z.dtype == np.uint8 and z.shape == (0,)
    for bad in ("f64[n]", "f64[3", "x64[3]", "", "f64[-1]", "~f64[3]"):
        with pytest.raises(ValueError):
            example_args(bad)
