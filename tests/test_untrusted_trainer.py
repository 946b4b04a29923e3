"""Smaller points of the files-from-strangers issue: the Trainer checks its checkpoint
path before training, and set_value refuses masked arrays (item 6)."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl import nn, optim
from graphdl.train import Trainer


def _trainer():
    model = nn.MLP(1, [2, 1], activation="tanh", rng=0)
    optimizer = optim.SGD(model, lr=0.1)
    return model, optimizer, Trainer(model, optimizer, loss="mse", progress=False)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("best.txt", r"best.txt: unknown checkpoint format '.txt'; use .json or .npz"),
        ("missing/best.npz", r"best.npz: the folder '.*missing' does not exist"),
        ("folder.npz", "folder.npz: is a folder, not a checkpoint file"),
    ],
)
def test_trainer_checks_the_checkpoint_path_before_training(tmp_path, name, message):
    (tmp_path / "folder.npz").mkdir()
    model, optimizer, trainer = _trainer()
    before = [p.value for p in model.parameters()]
    X = np.linspace(0, 1, 8).reshape(-1, 1)
    with pytest.raises(ValueError, match=message):
        trainer.fit((X, X[:, 0] ** 2), epochs=3, checkpoint=tmp_path / name)
    assert optimizer.step_count == 0 and trainer.global_step == 0
    assert [p.value for p in model.parameters()] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.npz"]


@pytest.mark.parametrize(
    "value", [np.ma.masked_array([1.0, 2.0], mask=[False, True]), np.ma.masked_array([1.0, 2.0]), np.ma.masked]
)
def test_set_value_refuses_masked_arrays(value):
    x = gd.Variable(0.5, name="x")
    with pytest.raises(TypeError, match="Variable 'x': masked arrays are refused"):
        x.set_value(value)
    assert x.value == 0.5
    with pytest.raises(TypeError, match="masked arrays are refused"):
        gd.Variable(value, name="y")
