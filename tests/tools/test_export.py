"""ef.save / ef.load: round trips, signature checks, corrupt and hostile files."""
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import EagerflowError, SaveFormatError
from eagerflow.export import FORMAT_VERSION, SignatureError
from eagerflow.testing import assert_same

W = np.arange(6.0).reshape(3, 2)


def tree_fn(x, y, s):
    x[0] = 5.0                                        # in-place update of an argument
    return {"sum": np.sin(x).sum(), "pair": (x * y + s, "tag"), "proj": [x @ W, x[1] * 2]}


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "tree.efg"
    ef.save(ef.function(tree_fn, backend="interpreter"), path, np.ones(3), np.ones(3), 1.0)
    return path


def test_round_trip_pytree(saved):
    g = ef.load(saved, backend="interpreter")
    y = np.array([1.0, -2.0, 3.0])
    for s in (2.5, -1.0):
        xa, xb = np.linspace(0, 1, 3), np.linspace(0, 1, 3)
        got, want = g(xa, y, s), tree_fn(xb, y, s)
        assert_same(got, want, check_scalar_kind=True)
        assert isinstance(got["pair"], tuple) and isinstance(got["proj"], list)
        assert got["pair"][1] == "tag"
        assert_same(xa, xb)                           # written back like eager NumPy
    assert "tree_fn(x: a float64 array of shape (3,)" in g.signature


def test_captured_arrays_are_frozen(saved):
    g = ef.load(saved, backend="interpreter")
    before = g(np.ones(3), np.ones(3), 0.0)["proj"][0]
    W[...] += 1       # the saved file keeps W's value at save time
    try:
        assert_same(g(np.ones(3), np.ones(3), 0.0)["proj"][0], before)
    finally:
        W[...] -= 1


def test_constants_and_statics_round_trip(tmp_path):
    table = np.linspace(-1, 1, 12).reshape(3, 4)

    @ef.function(static_argnames=("mode",), backend="interpreter")
    def f(x, mode, k=2):
        c = np.arange(5.0)                             # an array constant in the graph
        y = x @ table.T if mode == "proj" else x       # table: a captured array (its view)
        return (y * k).sum(axis=-1) + c, mode

    x = np.ones((5, 4))
    ef.save(f, tmp_path / "f.efg", x, mode="proj", k=3)
    names = zipfile.ZipFile(tmp_path / "f.efg").namelist()
    assert any(n.startswith("constants/") for n in names) and "captures/0.npy" in names
    g = ef.load(tmp_path / "f.efg", backend="interpreter")
    assert_same(g(x * 2, mode="proj", k=4), f.fn(x * 2, "proj", 4))
    with pytest.raises(SignatureError, match="static argument mode='proj'"):
        g(x, mode="id", k=3)
    with pytest.raises(SignatureError):
        g(x, mode="proj")                               # k omitted: another call structure


def test_signature_mismatch(saved):
    g = ef.load(saved, backend="interpreter")
    x, y = np.ones(3), np.ones(3)
    cases = [((np.ones(4), y, 1.0), "shape \\(4,\\)"),
             ((x.astype(np.float32), y, 1.0), "float32"),
             ((x, y, 1), "Python int"),
             ((x, y), "positional"),
             ((x, y, 1.0, 2.0), "positional")]
    for args, match in cases:
        with pytest.raises(SignatureError, match=match):
            g(*args)
    with pytest.raises(EagerflowError):
        g(x, y, s=1.0)
    assert issubclass(SignatureError, TypeError)


def _rewrite(path, out, edit):
    """Copy a saved file, member by member, through edit(name, data) -> data or None (drop)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(out, "w") as z:
        for n, d in members.items():
            d = edit(n, d)
            if d is not None:
                z.writestr(n, d)
    return out


def _resign(meta_bytes, members):
    from eagerflow.export import _checksum
    meta = json.loads(meta_bytes)
    meta["checksum"]["digest"] = _checksum(members, meta)
    return json.dumps(meta).encode()


def test_corrupt_files(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "trunc.efg").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.efg").write_bytes(b"not a zip at all")
    (tmp_path / "empty.efg").write_bytes(b"")
    for name in ("trunc.efg", "garbage.efg", "empty.efg"):
        with pytest.raises(SaveFormatError, match="corrupt or truncated"):
            ef.load(tmp_path / name)
    flipped = _rewrite(saved, tmp_path / "flip.efg", lambda n, d: d.replace(b"sin(", b"cos(")
                       if n == "graph.ir" else d)
    with pytest.raises(SaveFormatError, match="checksum mismatch"):
        ef.load(flipped)
    no_meta = _rewrite(saved, tmp_path / "nometa.efg", lambda n, d: None if n == "meta.json" else d)
    with pytest.raises(SaveFormatError, match="no meta.json"):
        ef.load(no_meta)
    bad_json = _rewrite(saved, tmp_path / "badjson.efg",
                        lambda n, d: d[:-5] if n == "meta.json" else d)
    with pytest.raises(SaveFormatError, match="meta.json is corrupt"):
        ef.load(bad_json)
    with pytest.raises(FileNotFoundError):
        ef.load(tmp_path / "missing.efg")


def test_newer_version(saved, tmp_path):
    def bump(n, d):
        if n != "meta.json":
            return d
        meta = json.loads(d)
        meta["format_version"] = FORMAT_VERSION + 1
        meta["eagerflow_version"] = "99.0"
        return json.dumps(meta).encode()
    newer = _rewrite(saved, tmp_path / "newer.efg", bump)
    with pytest.raises(SaveFormatError, match="newer eagerflow \\(99.0.*upgrade"):
        ef.load(newer)


def test_hostile_files_are_refused_without_running_code(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = members.pop("meta.json")

    def forge(name, **changes):
        m = dict(members, **changes)
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            z.writestr("meta.json", _resign(meta, m))
            for n, d in m.items():
                z.writestr(n, d)
        return tmp_path / name

    # a pickled object array: np.load(allow_pickle=False) refuses it
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SaveFormatError, match="captures/0.npy is not a valid .npy"):
        ef.load(forge("pickle.efg", **{"captures/0.npy": buf.getvalue()}))
    # an attribute string that would be code if it reached generated source
    ir = members["graph.ir"].decode()
    evil = ir.replace("keepdims=False", "keepdims=False, x=\"__import__('os').system('x')\"", 1)
    assert evil != ir
    with pytest.raises(SaveFormatError, match="not a plain name"):
        ef.load(forge("evil.efg", **{"graph.ir": evil.encode()}))
    # an op the registry does not know, and a non-literal in the IR
    with pytest.raises(SaveFormatError, match="not a valid graph"):
        ef.load(forge("unknown.efg", **{"graph.ir": ir.replace("sin(", "system(").encode()}))
    with pytest.raises(SaveFormatError, match="does not parse"):
        ef.load(forge("call.efg", **{"graph.ir": ir.replace(
            "keepdims=False", "keepdims=print(1)", 1).encode()}))
    with pytest.raises(SaveFormatError, match="unexpected member"):
        ef.load(forge("extra.efg", **{"run.py": b"print(1)"}))


def test_refuses_unsaveable(tmp_path):
    class Opaque:
        pass

    @ef.function(static_argnames=("o",), backend="interpreter")
    def f(x, o):
        return x + 1

    with pytest.raises(ef.errors.UnsupportedError, match="only Python literals"):
        ef.save(f, tmp_path / "o.efg", np.ones(2), o=Opaque())
    assert not (tmp_path / "o.efg").exists()


def test_numba_backend_and_subprocess_without_module(tmp_path):
    """Export from a module, delete the module, load and run in a fresh process (Numba)."""
    mod_dir = tmp_path / "src"
    mod_dir.mkdir()
    (mod_dir / "ef_export_victim.py").write_text(textwrap.dedent("""
        import numpy as np
        import eagerflow as ef

        @ef.function
        def softmax_rows(x, t):
            e = np.exp(x / t - (x / t).max(axis=1, keepdims=True))
            return {"p": e / e.sum(axis=1, keepdims=True), "n": x.shape[0]}
    """))
    import importlib.util
    spec = importlib.util.spec_from_file_location("ef_export_victim", mod_dir / "ef_export_victim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.random.default_rng(0).standard_normal((4, 5))
    path = tmp_path / "softmax.efg"
    ef.save(mod.softmax_rows, path, x, 0.5)
    expected = mod.softmax_rows.fn(x, 0.5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "p.npy", expected["p"])
    (mod_dir / "ef_export_victim.py").unlink()
    code = textwrap.dedent(f"""
        import importlib.util, sys
        import numpy as np, eagerflow as ef
        from eagerflow.testing import assert_same
        assert importlib.util.find_spec("ef_export_victim") is None
        f = ef.load({str(path)!r})
        x = np.load({str(tmp_path / 'x.npy')!r})
        out = f(x, 0.5)
        assert_same(out["p"], np.load({str(tmp_path / 'p.npy')!r}), ulp=4)
        assert out["n"] == 4 and "ef_export_victim" not in sys.modules
        try:
            f(x[:2], 0.5)
        except ef.errors.EagerflowError as e:
            print("mismatch:", type(e).__name__)
        print("ok")
    """)
    env = dict(os.environ, EAGERFLOW_CACHE_DIR=os.environ.get("EAGERFLOW_CACHE_DIR",
                                                              "/tmp/ef_tools"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["mismatch:", "SignatureError", "ok"]
