"""Smaller points of the files-from-strangers issue: the Trainer checks its checkpoint
path before training, and set_value refuses masked arrays (item 6)."""

from __future__ import annotations

import re

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


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.ones((4, 1)), np.ma.masked_array(np.ones(4), mask=[1, 0, 0, 0]), r"^train: y is a masked array; fill"),
        (np.ma.masked_array(np.ones((4, 1))), np.ones(4), r"^train: X is a masked array"),
        (np.ones((4, 1)) + 1j, np.ones(4), r"^train: X must be a regular array of real numbers \(X holds complex"),
        ([[1.0], [2.0, 3.0], [4.0], [5.0]], np.ones(4), r"^train: X must be a regular array of real numbers \(setting"),
        (np.ones((4, 1)), np.array(list("abab")), r"^train: y must be a regular array of real numbers \(could not"),
    ],
)
def test_data_that_would_be_mangled_is_refused_before_training(X, y, message):
    model, _, trainer = _trainer()
    before = [p.value for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        trainer.fit((X, y), epochs=1)
    assert [p.value for p in model.parameters()] == before


def test_restore_best_restores_this_runs_best_even_when_another_run_overwrote_the_checkpoint(tmp_path):
    """Two runs sharing a checkpoint name: each ends with its own best parameters."""
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = X[:, 0] ** 2
    shared = tmp_path / "best.json"

    class OtherRunSaves:  # another run writes the shared file after each of this run's epochs
        def __init__(self, other):
            self.other = other

        def on_epoch(self, trainer, epoch, logs):
            gd.io.save(shared, self.other.parameters())

    other, _, _ = _trainer()
    for p in other.parameters():
        p.set_value(5.0)
    model, _, trainer = _trainer()
    history = trainer.fit((X, y), (X, y), epochs=5, batch_size=8, checkpoint=shared, restore_best=True,
                          callbacks=[OtherRunSaves(other)])  # fmt: skip
    assert history.best_value == min(history.dev_loss)
    assert all(p.value != 5.0 for p in model.parameters())
    assert trainer.evaluate((X, y))["loss"] == pytest.approx(history.best_value, abs=1e-12)


def test_restore_best_works_without_a_checkpoint_file():
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = X[:, 0] ** 2
    model, _, trainer = _trainer()
    history = trainer.fit((X, y), (X, y), epochs=4, batch_size=8, restore_best=True)
    assert trainer.evaluate((X, y))["loss"] == pytest.approx(history.best_value, abs=1e-12)


@pytest.mark.parametrize("batch_size", [2.5, True, 2.0, "8", np.float64(4)])
def test_a_batch_size_that_is_no_whole_number_is_refused(batch_size):
    _, _, trainer = _trainer()
    X = np.zeros((8, 1))
    with pytest.raises(
        TypeError,
        match=re.escape(f"batch_size must be a whole number of samples (or None for all), got {batch_size!r}"),
    ):
        trainer.fit((X, X[:, 0]), epochs=1, batch_size=batch_size)


def test_a_feature_beyond_float_range_is_a_one_line_error():
    _, _, trainer = _trainer()
    with pytest.raises(ValueError, match="train: X holds a number too large for a float"):
        trainer.fit(([[10**400], [1]], [0.0, 1.0]), epochs=1)
    with pytest.raises(ValueError, match="train: y holds a number too large for a float"):
        trainer.fit(([[1.0], [2.0]], [10**400, 1]), epochs=1)
    assert trainer.fit((np.array([[1.0], [2.0]]), [np.int64(3), 1]), epochs=1, batch_size=np.int64(2))
