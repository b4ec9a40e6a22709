"""Compile and disk caches of the Numba backend: size-generic reuse, a second process loading from
disk, corrupt entries, processes compiling at once."""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.testing import assert_same

pytestmark = pytest.mark.numba

SCRIPT = textwrap.dedent("""
    import sys, numpy as np, eagerflow as ef
    from eagerflow.compiler import codegen
    @ef.function
    def f(x, y):
        return (np.sin(x) * y + 1.5).sum(axis=0), np.maximum(x, y) * 3
    x = np.arange(12.0).reshape(4, 3)
    r = f(x, x + 1)
    assert np.allclose(r[0], (np.sin(x) * (x + 1) + 1.5).sum(axis=0))
    print(codegen.stats["compiles"], codegen.stats["disk_loads"])
""")


def _run(tmp_path, cache):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=str(cache))
    return subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _counts(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    compiles, loads = map(int, out.split())
    return compiles, loads


def test_sizes_reuse_compiled_code():
    from eagerflow.compiler import codegen
    fn = ef.function(lambda x, y: np.exp(x) * y - x.sum(axis=1, keepdims=True))
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5, 4), (7, 9), (2, 13)]
    before = None
    for s in shapes:
        x, y = rng.standard_normal(s), rng.standard_normal(s)
        assert_same(fn(x, y), np.exp(x) * y - x.sum(axis=1, keepdims=True), ulp=4, atol=1e-12)
        if before is None:
            before = len(codegen._compiled)
    assert len(codegen._compiled) == before, "a size-only change compiled new code"
    assert fn.cache_info().misses == len(shapes)   # each size traced once
    sources = {fn.lower(rng.standard_normal(s), rng.standard_normal(s)).source for s in shapes}
    assert len(sources) == len(shapes)              # comments name the sizes ...
    from eagerflow.compiler.codegen import generate
    low = [fn.lower(rng.standard_normal(s), rng.standard_normal(s)) for s in shapes]
    keys = {generate(l.optimized).key for l in low}
    assert len(keys) == 1                           # ... the compiled, comment-free source does not


def test_second_process_loads_from_disk(tmp_path):
    cache = tmp_path / "cache"
    assert _counts(_run(tmp_path, cache)) == (1, 0)
    assert _counts(_run(tmp_path, cache)) == (0, 1)


def test_corrupt_entries_are_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    _counts(_run(tmp_path, cache))
    (src,) = glob.glob(str(cache / "ef_*.py"))
    with open(src, "r+") as f:       # truncate the generated module
        f.truncate(40)
    compiles, loads = _counts(_run(tmp_path, cache))
    assert compiles + loads == 1
    for path in glob.glob(str(cache / "__pycache__" / "*")):   # garble Numba's machine code
        with open(path, "wb") as f:
            f.write(b"\x00garbage" * 10)
    compiles, loads = _counts(_run(tmp_path, cache))
    assert compiles + loads == 1
    _counts(_run(tmp_path, cache))   # and it keeps working


def test_processes_compiling_at_once(tmp_path):
    cache = tmp_path / "cache"
    procs = [_run(tmp_path, cache) for _ in range(3)]
    for p in procs:
        _counts(p)
    assert len(glob.glob(str(cache / "ef_*.py"))) == 1
    assert _counts(_run(tmp_path, cache)) == (0, 1)


def test_garbled_entry_is_rewritten(tmp_path):
    # Random bytes that are not UTF-8: reading the entry raised UnicodeDecodeError in every
    # new process; now the file is rewritten, as a truncated one is.
    cache = tmp_path / "cache"
    _counts(_run(tmp_path, cache))
    (src,) = glob.glob(str(cache / "ef_*.py"))
    with open(src, "wb") as f:
        f.write(b"\xff\xfe\x80garbage\xc3" * 20)
    compiles, loads = _counts(_run(tmp_path, cache))
    assert compiles + loads == 1
    with open(src, encoding="utf-8") as f:
        assert "def " in f.read()
    _counts(_run(tmp_path, cache))


# Writes into the cache directory fail as they do in a read-only directory (as root, chmod does
# not stop writes); writes into the fallback directory pass.
READ_ONLY = textwrap.dedent("""
    import os
    from eagerflow.compiler import codegen
    _write = codegen._write_atomic
    def _refuse(path, source, d):
        if d == os.environ["EAGERFLOW_CACHE_DIR"]:
            raise PermissionError(13, "Permission denied", os.path.join(d, ".tmp-x.py"))
        return _write(path, source, d)
    codegen._write_atomic = _refuse
""")


def _run_read_only(tmp_path, cache):
    (tmp_path / "prog.py").write_text(READ_ONLY + SCRIPT)
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, str(tmp_path / "prog.py")], env=env, text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return tuple(map(int, proc.stdout.split())), proc.stderr


def test_uncreatable_cache_dir_falls_back(tmp_path):
    (tmp_path / "file").write_text("")
    cache = tmp_path / "file" / "cache"            # NotADirectoryError on makedirs
    proc = _run(tmp_path, cache)
    assert _counts(proc) == (1, 0)                 # the script checks the result
    _, err = proc.communicate()
    assert err.count("UserWarning: eagerflow: cannot write") == 1, err
    assert str(cache) in err


def test_read_only_cache_dir_falls_back_for_writes_only(tmp_path):
    warm = tmp_path / "warm"
    _counts(_run(tmp_path, warm))
    files = sorted(os.listdir(warm))
    counts, err = _run_read_only(tmp_path, warm)   # a warm cache still loads, silently
    assert counts == (0, 1) and "cannot write" not in err, err
    assert sorted(os.listdir(warm)) == files
    cold = tmp_path / "cold"
    cold.mkdir()
    counts, err = _run_read_only(tmp_path, cold)   # a cold one compiles into the fallback
    assert counts == (1, 0)
    assert err.count("UserWarning: eagerflow: cannot write") == 1 and str(cold) in err, err
    assert not glob.glob(str(cold / "ef_*.py"))


def test_fallback_dir_is_made_once_and_warns_once_per_dir(tmp_path, monkeypatch):
    from eagerflow.compiler import codegen
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(codegen, "_fallback", [])
    monkeypatch.setattr(codegen, "_warned", set())
    monkeypatch.setenv("EAGERFLOW_CACHE_DIR", str(tmp_path / "file" / "a"))
    with pytest.warns(UserWarning, match="cannot write the cache directory"):
        d = codegen.cache_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert codegen.cache_dir() == d            # reused, no second warning
        path = codegen.cached_source("ef_test.py", "x = 1\n")
    assert path == os.path.join(d, "ef_test.py") and open(path).read() == "x = 1\n"
