"""``experiments/iris.py``: the default run (about a second) classifies the test flowers; bad flags fail."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("iris")


def test_default_run_classifies_the_test_flowers(experiment, tmp_path) -> None:
    returned, results = run_experiment(experiment, ["--out", str(tmp_path)], tmp_path)
    assert results["test_accuracy"] >= 0.9 and results["dev_accuracy"] >= 0.85
    # the Trainer's metric is argmax over the three logits, as the confusion matrix counts it
    predictions, labels = returned["predictions"], returned["labels"]
    assert set(predictions.tolist()) == {0, 1, 2}
    assert results["test_accuracy"] == pytest.approx(np.mean(predictions == labels))
    matrix = np.array(results["confusion"])
    assert matrix.shape == (3, 3) and matrix.sum() == results["test_size"] == 30
    assert np.trace(matrix) == round(results["test_accuracy"] * 30)
    assert matrix.sum(axis=1).tolist() == np.bincount(labels.astype(int), minlength=3).tolist()
    # learning happened: the loss fell over the epochs
    history = returned["history"]
    assert len(history.train_loss) == 50 and history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert is_png(tmp_path / "iris_confusion.png", 20_000)


def test_training_beats_the_untrained_net(experiment, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty-legend warning from matplotlib without a history
        untrained, untrained_results = run_experiment(experiment, ["--epochs", "0", "--out", str(tmp_path)], tmp_path)
    _, trained_results = run_experiment(experiment, ["--epochs", "20", "--hidden", "4"], tmp_path)
    assert untrained["history"].train_loss == []
    assert is_png(tmp_path / "iris_confusion.png")
    assert trained_results["test_accuracy"] >= untrained_results["test_accuracy"] + 0.3


@pytest.mark.parametrize(
    "flags",
    [
        ["--hidden", "0"],
        ["--epochs", "-1"],
        ["--batch-size", "0"],
        ["--lr", "0"],
        ["--lr", "-0.1"],
        ["--lr", "inf"],
        ["--lr", "nan"],
        ["--lr", "fast"],
    ],
)
def test_bad_flags_are_rejected(experiment, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        experiment.main(flags)
    assert error.value.code == 2
    assert flags[0] in capsys.readouterr().err
