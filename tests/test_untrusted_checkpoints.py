"""Checkpoints from strangers: the .npz headers are checked before any data is read,
optimiser state is checked by the constructor's own rules, raw errors are wrapped
naming the file, and saving leaves ordinary files behind (issue: files from strangers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from io import BytesIO

import numpy as np
import pytest

import graphdl as gd
from graphdl import io as checkpoints
from graphdl.optim import SGD, AdaGrad, Adam, Momentum, RMSProp

HEADER = json.dumps({"format": "graphdl-parameters", "version": 1, "optimizer": None, "metadata": {}})


def _params():
    return [gd.Variable(0.5, name="w"), gd.Variable(-0.25, name="b")]


def _values(params):
    return [p.value for p in params]


def _write_npz(path, compressed=False, **arrays):
    buffer = BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def _rewrite_entry(source, target, entry, old, new):
    """Copy an archive, replacing bytes ``old`` by ``new`` in one entry (its .npy header)."""
    archive = zipfile.ZipFile(source)
    with zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            data = archive.read(info)
            out.writestr(info.filename, data.replace(old, new) if info.filename == entry else data)
    return target


# -------------------------------------------------------------- 1. memory
def _zip_bomb(path, megabytes=100):
    """A real .npz whose 'values' entry deflates ``megabytes`` MB of zeros (written in
    chunks, so the test itself never holds the array)."""
    count = megabytes * (1 << 20) // 8
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("names.npy", _npy_bytes(np.array(["w", "b"])))
        archive.writestr("header.npy", _npy_bytes(np.array(HEADER)))
        with archive.open("values.npy", "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_1_0(stream, {"descr": "<f8", "fortran_order": False, "shape": (count,)})
            chunk = bytes(1 << 20)
            for _ in range(megabytes):
                stream.write(chunk)
    return path


def _npy_bytes(array):
    buffer = BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_compressed_huge_npz_array_is_refused_before_decompression(tmp_path):
    params = _params()
    path = _zip_bomb(tmp_path / "bomb.npz")
    size = path.stat().st_size
    assert size < 1_000_000  # under 1 MB on disk, 100 MB unpacked
    tracemalloc.start()
    try:
        with pytest.raises(checkpoints.CheckpointError, match="bomb.npz: entry 'values.npy'.*before decompressing"):
            checkpoints.load(path, params)
        with pytest.raises(checkpoints.CheckpointError, match="bomb.npz: entry 'values.npy'.*before decompressing"):
            checkpoints.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * size
    assert _values(params) == [0.5, -0.25]


def test_declared_shape_of_10_to_the_12_is_a_clean_error(tmp_path):
    params = _params()
    source = checkpoints.save(tmp_path / "ok.npz", params)
    path = _rewrite_entry(source, tmp_path / "huge.npz", "values.npy", b"'shape': (2,)", b"'shape': (1000000000000,)")
    with pytest.raises(checkpoints.CheckpointError, match=r"huge.npz: entry 'values.npy'.*\(1000000000000,\)"):
        checkpoints.load(path, params)
    with pytest.raises(checkpoints.CheckpointError, match="huge.npz: entry 'values.npy'"):
        checkpoints.read(path)


def test_zip_entry_declaring_more_than_its_header_is_refused(tmp_path):
    params = _params()
    path = _write_npz(
        tmp_path / "lying.npz",
        compressed=True,
        names=np.array(["w", "b"]),
        values=np.zeros(2),
        header=np.array(HEADER),
        **{"value:w": np.zeros(3_000_000)},
    )
    with pytest.raises(checkpoints.CheckpointError, match="lying.npz: .*'value:w.npy'"):
        checkpoints.load(path, params)


def test_npz_larger_than_the_model_needs_is_refused_from_its_header(tmp_path):
    params = _params()
    many = [f"p{k}" for k in range(10_000)]
    path = _write_npz(tmp_path / "big.npz", names=np.array(many), values=np.zeros(len(many)), header=np.array(HEADER))
    with pytest.raises(
        checkpoints.CheckpointError, match="big.npz: entry 'names.npy': the file holds 10000 parameters"
    ):
        checkpoints.load(path, params)
    long = _write_npz(
        tmp_path / "long.npz", names=np.array(["w", "b" * 5000]), values=np.zeros(2), header=np.array(HEADER)
    )
    with pytest.raises(checkpoints.CheckpointError, match="up to 5000 characters long"):
        checkpoints.load(long, params)
    batch = gd.Variable(np.zeros(3), name="batch")
    arrays = _write_npz(
        tmp_path / "shape.npz",
        names=np.array(["batch"]),
        header=np.array(HEADER),
        **{"value:batch": np.zeros(50)},
    )
    with pytest.raises(checkpoints.CheckpointError, match=r"'batch' has shape \(50,\) in the file but \(3,\)"):
        checkpoints.load(arrays, [batch])


def test_object_and_structured_arrays_are_refused(tmp_path):
    params = _params()
    source = checkpoints.save(tmp_path / "ok.npz", params)
    path = _rewrite_entry(source, tmp_path / "object.npz", "values.npy", b"'descr': '<f8'", b"'descr': '|O' ")
    with pytest.raises(checkpoints.CheckpointError, match="object.npz: entry 'values.npy': object arrays are refused"):
        checkpoints.load(path, params)
    extra = _write_npz(tmp_path / "extra.npz", names=np.array(["w", "b"]), values=np.zeros(2), header=np.array(HEADER))
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("payload.pkl", b"\x80\x04N.")
    with pytest.raises(checkpoints.CheckpointError, match="extra.npz: unexpected entry 'payload.pkl'"):
        checkpoints.load(extra, params)
    assert _values(params) == [0.5, -0.25]


# ------------------------------------------------------ 2. optimiser state
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("beta1", "oops", "beta1 must be a real number, got str 'oops'"),
        ("beta2", 7, r"beta2 must be in \[0, 1\), got 7"),
        ("lr", -1000, "lr must be > 0, got -1000"),
        ("eps", float("nan"), "eps must be a finite number"),
        ("step_count", 10**400, "step_count must be an integer in"),
    ],
)
def test_optimiser_state_is_checked_by_the_constructor_rules_and_left_unchanged(field, value, message):
    params = _params()
    optimizer = Adam(params, lr=0.01)
    params[0].set_value(0.5)
    state = optimizer.state_dict()
    if field in ("beta1", "beta2", "eps"):
        state["hyperparameters"][field] = value
    else:
        state[field] = value
    before = json.dumps(optimizer.state_dict())
    with pytest.raises(ValueError, match=message):  # a wrong type is a ValueError too (and a TypeError)
        optimizer.load_state_dict(state)
    assert json.dumps(optimizer.state_dict()) == before
    if field == "beta2":  # the constructor says the same
        with pytest.raises(ValueError, match=r"beta2 must be in \[0, 1\), got 7"):
            Adam(params, beta2=7)


def test_optimiser_state_in_a_checkpoint_is_refused_naming_the_file(tmp_path):
    params = _params()
    optimizer = Adam(params, lr=0.01)
    path = checkpoints.save(tmp_path / "ckpt.json", params, optimizer)
    document = json.loads(path.read_text())
    document["optimizer"]["hyperparameters"]["beta2"] = 7
    document["parameters"]["w"] = 3.0
    path.write_text(json.dumps(document))
    with pytest.raises(
        checkpoints.CheckpointError, match=r"ckpt.json: optimiser state does not fit: .*beta2 must be in"
    ):
        checkpoints.load(path, params, optimizer)
    assert _values(params) == [0.5, -0.25] and optimizer.beta2 == 0.999


@pytest.mark.parametrize(
    ("cls", "buffer", "bad"),
    [(AdaGrad, "sum_squares", -1.0), (RMSProp, "mean_squares", -0.5), (Adam, "v", -2.0), (Momentum, "velocity", "x")],
)
def test_optimiser_buffers_are_range_checked(cls, buffer, bad):
    params = _params()
    optimizer = cls(params)
    state = optimizer.state_dict()
    state["buffers"][buffer]["w"] = bad
    with pytest.raises((TypeError, ValueError), match=f"buffer '{buffer}' entry 'w'"):
        optimizer.load_state_dict(state)
    assert optimizer.state[buffer].tolist() == [0.0, 0.0]


def test_sgd_state_round_trips():
    params = _params()
    optimizer = SGD(params, lr=0.5)
    state = optimizer.state_dict()
    state["lr"], state["step_count"] = 0.25, 3
    optimizer.load_state_dict(state)
    assert (optimizer.lr, optimizer.step_count) == (0.25, 3)


# ------------------------------------------------ 3. raw errors are wrapped
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "graphdl-parameters", "version": ' + "1" * 5000 + "}", "corrupted or truncated JSON"),
        ('{"format": "graphdl-parameters", "version": 1, "parameters": {"w": ' + "9" * 400 + "}}", "invalid value"),
        ('{"format": "graphdl-parameters", "version": true, "parameters": {}}', "version must be an integer"),
        ('{"format": "graphdl-parameters", "version": 1, "parameters": {"w": NaN}}', "non-finite number NaN"),
    ],
)
def test_raw_json_errors_are_wrapped_naming_the_file(tmp_path, text, message):
    path = tmp_path / "odd.json"
    path.write_text(text)
    params = _params()
    with pytest.raises(checkpoints.CheckpointError, match=f"odd.json: .*{message}"):
        checkpoints.load(path, params)
    assert _values(params) == [0.5, -0.25]


def test_header_entry_errors_name_the_entry(tmp_path):
    path = _write_npz(tmp_path / "h.npz", names=np.array(["w", "b"]), values=np.zeros(2), header=np.array("[" * 50_000))
    with pytest.raises(checkpoints.CheckpointError, match="h.npz: entry 'header.npy'.*nested too deeply"):
        checkpoints.load(path, _params())


# --------------------------------------------------------- 6. saving
def test_checkpoints_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        path = checkpoints.save(tmp_path / "ckpt.npz", _params())
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(descriptor):
        synced.append(stat.S_ISDIR(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    checkpoints.save(tmp_path / "ckpt.json", _params())
    assert synced == [False, True]  # the file's data, then the folder holding the new name


def test_next_save_removes_temporaries_of_killed_saves(tmp_path):
    target = tmp_path / "ckpt.npz"
    script = textwrap.dedent(
        f"""
        import os, signal
        import graphdl as gd
        from graphdl import io
        def stuck(*args):  # killed between writing the temporary file and renaming it
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace = stuck
        io.save({str(target)!r}, [gd.Variable(1.0, name="w")])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert result.returncode == -9, result.stderr.decode()
    stray = sorted(p.name for p in tmp_path.iterdir())
    assert len(stray) == 1 and stray[0].startswith(".ckpt.npz.") and stray[0].endswith(".tmp")
    (tmp_path / ".ckpt.npz.legacy_a1b2.tmp").write_bytes(b"half")  # pid-less name of graphdl 0.1
    (tmp_path / ".other.npz.1-x.tmp").write_bytes(b"not ours")
    (tmp_path / f".ckpt.npz.{os.getppid()}-live.tmp").write_bytes(b"a live process may be saving")
    checkpoints.save(target, [gd.Variable(2.0, name="w")])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.npz.1-x.tmp", f".ckpt.npz.{os.getppid()}-live.tmp", "ckpt.npz"]
    )
    assert checkpoints.read(target)["parameters"] == {"w": 2.0}
