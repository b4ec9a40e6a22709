"""ef.save_variables / ef.restore_variables: npz keyed by names, atomic, all-or-nothing restore."""
import os
import zipfile

import numpy as np
import pytest

import eagerflow as ef
from eagerflow.errors import SaveFormatError, StateError


class Block(ef.Module):
    def __init__(self, k=1.0):
        self.w = ef.Variable(np.full((2, 3), k))
        self.b = ef.Variable(np.full(3, k, np.float32))


class Net(ef.Module):
    def __init__(self, k=1.0):
        self.layer1 = Block(k)
        self.blocks = [Block(k + 1), {"out": ef.Variable(np.int64(7) * int(k), trainable=False)}]


def values(m):
    return {n: v.numpy() for n, v in m.named_variables()}


def test_round_trip_module(tmp_path):
    src, dst = Net(1.0), Net(5.0)
    p = tmp_path / "ckpt.npz"
    ef.save_variables(src, p)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"], "no temporary file left behind"
    with np.load(p) as z:   # plain NumPy reads it
        assert set(z.files) == {"__eagerflow__", "layer1.w", "layer1.b", "blocks.0.w",
                                "blocks.0.b", "blocks.1.out"}
    ef.restore_variables(dst, p)
    for (n, a), (_, b) in zip(values(src).items(), values(dst).items()):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    src.layer1.w.assign_add(1.0)
    ef.save_variables(src, p)   # overwrite in place
    ef.restore_variables(dst, str(p))
    assert dst.layer1.w.numpy()[0, 0] == 2.0


def test_round_trip_lists_dicts_optimizer(tmp_path):
    a, b = ef.Variable(np.ones(2), name="a"), ef.Variable(np.zeros(()), name="b")
    ef.save_variables([a, b], tmp_path / "l.npz")
    a2, b2 = ef.Variable(np.zeros(2), name="a"), ef.Variable(np.ones(()), name="b")
    ef.restore_variables({"a": a2, "b": b2}, tmp_path / "l.npz")
    assert a2.numpy().tolist() == [1.0, 1.0] and float(b2.numpy()) == 0.0
    m, opt = Net(), ef.optimizers.Adam(0.1)
    opt.apply([np.ones(v.shape) for v in m.trainable_variables], m.trainable_variables)
    ef.save_variables(opt, tmp_path / "opt.npz")
    m2, opt2 = Net(), ef.optimizers.Adam(0.1)
    opt2.build(m2.trainable_variables)
    ef.restore_variables(opt2, tmp_path / "opt.npz")
    assert int(opt2.iterations.numpy()) == 1
    for x, y in zip(opt.variables, opt2.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_unnamed_or_duplicate_names(tmp_path):
    with pytest.raises(StateError, match="needs a name"):
        ef.save_variables([ef.Variable(1.0)], tmp_path / "x.npz")
    with pytest.raises(StateError, match="unique"):
        ef.save_variables([ef.Variable(1.0, name="a"), ef.Variable(2.0, name="a")],
                          tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def _unchanged(m, before):
    for (n, a), b in zip(before.items(), values(m).values()):
        np.testing.assert_array_equal(a, b, err_msg=n)


def test_missing_name_shape_dtype_mismatch_leave_all_untouched(tmp_path):
    p = tmp_path / "c.npz"
    src = Net(1.0)
    ef.save_variables(src, p)
    dst = Net(3.0)
    dst.extra = ef.Variable(np.zeros(1))
    before = values(dst)
    with pytest.raises(StateError, match="no variable.*'extra'"):
        ef.restore_variables(dst, p)
    _unchanged(dst, before)
    ef.restore_variables(Net(3.0), p)                 # the same structure restores fine
    del dst.extra
    dst.blocks[0].w = ef.Variable(np.zeros((3, 3)))   # after layer1.w in order: partial writes?
    before = values(dst)
    with pytest.raises(StateError, match=r"blocks.0.w.*shape \(2, 3\)"):
        ef.restore_variables(dst, p)
    _unchanged(dst, before)
    dst.blocks[0].w = ef.Variable(np.zeros((2, 3), np.int32))   # float64 -> int32: unsafe
    with pytest.raises(StateError, match="cast safely"):
        ef.restore_variables(dst, p)
    small = Net(0.0)
    del small.blocks
    with pytest.raises(StateError, match="strict=False"):
        ef.restore_variables(small, p)
    ef.restore_variables(small, p, strict=False)
    assert small.layer1.w.numpy()[0, 0] == 1.0


def _corrupt(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flip":   # damage a byte inside a member's data: CRC error on read
        i = data.index(b"layer1.w.npy") + 200
        data[i] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "garbage":
        path.write_bytes(b"not a checkpoint at all")


@pytest.mark.parametrize("how", ["truncate", "flip", "garbage"])
def test_corrupt_file(tmp_path, how):
    p = tmp_path / "c.npz"
    ef.save_variables(Net(1.0), p)
    _corrupt(p, how)
    dst = Net(4.0)
    before = values(dst)
    with pytest.raises(SaveFormatError):
        ef.restore_variables(dst, p)
    _unchanged(dst, before)


def test_not_ours_or_newer(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.zeros(2))
    with pytest.raises(SaveFormatError, match="not an eagerflow checkpoint"):
        ef.restore_variables({"w": ef.Variable(np.zeros(2))}, tmp_path / "plain.npz")
    import json
    meta = {"format": "eagerflow.variables", "version": 99, "variables": {}}
    np.savez(tmp_path / "new.npz", __eagerflow__=np.array(json.dumps(meta)))
    with pytest.raises(SaveFormatError, match="newer eagerflow"):
        ef.restore_variables([], tmp_path / "new.npz")
    with pytest.raises(FileNotFoundError):
        ef.restore_variables([], tmp_path / "missing.npz")


def test_interrupted_save_keeps_old_file(tmp_path, monkeypatch):
    p = tmp_path / "c.npz"
    ef.save_variables(Net(1.0), p)
    old = p.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        ef.save_variables(Net(2.0), p)
    assert p.read_bytes() == old
    assert os.listdir(tmp_path) == ["c.npz"], "the temporary file is removed"
    assert zipfile.is_zipfile(p)
