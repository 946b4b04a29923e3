import json
import os

import numpy as np
import pytest

from graphdl import io, nn, optim


def snapshot(model):
    return {p.name: p.value for p in model.parameters()}


@pytest.fixture
def model():
    return nn.MLP(2, [3, 1], activation="tanh", rng=0)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_round_trip_is_exact(tmp_path, model, suffix):
    path = io.save(tmp_path / f"params{suffix}", model, metadata={"epoch": 3})
    before = snapshot(model)
    other = nn.MLP(2, [3, 1], activation="tanh", rng=99)
    assert snapshot(other) != before
    report = io.load(path, other)
    assert snapshot(other) == before  # bit-exact
    assert report.missing == [] and report.unexpected == [] and report.metadata == {"epoch": 3}
    assert len(report.loaded) == 13


def test_npz_is_readable_without_pickle(tmp_path, model):
    path = io.save(tmp_path / "p.npz", model)
    with np.load(path, allow_pickle=False) as archive:
        names = archive["names"].tolist()
        values = archive["values"]
    assert names[0] == "fc1.w[0,0]" and values[0] == model.parameters()[0].value


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_optimizer_state_round_trip(tmp_path, model, suffix):
    opt = optim.Adam(model, lr=0.01)
    opt.state["m"][:] = np.linspace(-1, 1, len(opt.params))
    opt.step_count = 7
    path = io.save(tmp_path / f"ckpt{suffix}", model, opt)
    other_opt = optim.Adam(model, lr=0.01)
    io.load(path, model, other_opt)
    assert other_opt.step_count == 7 and (other_opt.state["m"] == opt.state["m"]).all()


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_truncated_or_corrupted_file_is_rejected_and_model_untouched(tmp_path, model, suffix):
    path = io.save(tmp_path / f"p{suffix}", model)
    raw = path.read_bytes()
    other = nn.MLP(2, [3, 1], activation="tanh", rng=5)
    before = snapshot(other)
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(io.CheckpointError, match=f"p{suffix}.*(corrupted|truncated)"):
        io.load(path, other)
    path.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(io.CheckpointError, match=f"p\\{suffix}"):
        io.load(path, other)
    assert snapshot(other) == before
    with pytest.raises(io.CheckpointError, match="cannot read"):
        io.load(tmp_path / f"missing{suffix}", other)


def test_wrong_names_are_listed_and_nothing_changes(tmp_path, model):
    path = io.save(tmp_path / "p.json", model)
    other = nn.MLP(2, [3, 1], name="enc", rng=1)
    before = snapshot(other)
    with pytest.raises(io.CheckpointError, match="missing from the file: 'enc.fc1.w\\[0,0\\]'.*not in the model"):
        io.load(path, other)
    assert snapshot(other) == before
    bigger = nn.MLP(2, [4, 1], activation="tanh", rng=1)
    report = io.load(path, bigger, strict=False)
    assert "fc1.w[0,3]" in report.missing and report.unexpected == []
    assert bigger.named_parameters()["fc1.w[0,0]"].value == model.named_parameters()["fc1.w[0,0]"].value


def test_wrong_shapes_and_bad_values_are_rejected(tmp_path, model):
    path = io.save(tmp_path / "p.json", model)
    document = json.loads(path.read_text())
    document["parameters"]["fc1.b[2]"] = [1.0, 2.0]
    path.write_text(json.dumps(document))
    other = nn.MLP(2, [3, 1], activation="tanh", rng=7)
    before = snapshot(other)
    with pytest.raises(io.CheckpointError, match="'fc1.b\\[2\\]' has shape \\(2,\\) in the file but \\(\\)"):
        io.load(path, other)
    document["parameters"]["fc1.b[2]"] = "oops"
    path.write_text(json.dumps(document))
    with pytest.raises(io.CheckpointError, match="invalid value"):
        io.load(path, other)
    path.write_text(path.read_text().replace('"oops"', "NaN"))
    with pytest.raises(io.CheckpointError, match="non-finite"):
        io.load(path, other)
    document["parameters"]["fc1.b[2]"] = 0.0
    document["version"] = 99
    path.write_text(json.dumps(document))
    with pytest.raises(io.CheckpointError, match="version 99 is newer"):
        io.load(path, other)
    assert snapshot(other) == before


def test_optimizer_state_mismatch_leaves_model_untouched(tmp_path, model):
    path = io.save(tmp_path / "p.npz", model, optim.Momentum(model))
    other = nn.MLP(2, [3, 1], activation="tanh", rng=7)
    before = snapshot(other)
    with pytest.raises(io.CheckpointError, match="optimiser state does not fit.*Momentum"):
        io.load(path, other, optim.Adam(other))
    assert snapshot(other) == before


def test_write_is_atomic(tmp_path, model, monkeypatch):
    path = io.save(tmp_path / "p.json", model)
    good = path.read_bytes()

    def crash(*args):
        raise OSError("disk pulled out")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk pulled out"):
        io.save(path, nn.MLP(2, [3, 1], rng=3))
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no temporary file left


def test_save_refuses_duplicate_names_and_unknown_suffix(tmp_path):
    a, b = nn.Dense(1, 1, name="same", rng=0), nn.Dense(1, 1, name="same", rng=1)
    with pytest.raises(ValueError, match="two parameters are named 'same.w\\[0,0\\]'"):
        io.save(tmp_path / "p.json", [*a.parameters(), *b.parameters()])
    with pytest.raises(ValueError, match="use .json or .npz"):
        io.save(tmp_path / "p.pt", a)
