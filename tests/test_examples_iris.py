"""``examples/iris.py``: the default run (about a second) reaches test accuracy >= 0.9; bad flags fail."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from example_scripts import load_example

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    return load_example("iris")


def _printed(name: str, output: str) -> float:
    match = re.search(rf"^{name}: ([0-9.]+)$", output, re.MULTILINE)
    assert match, output
    return float(match.group(1))


def test_default_run_classifies_the_test_flowers(example, tmp_path, capsys) -> None:
    result = example.main(["--out", str(tmp_path)])
    output = capsys.readouterr().out
    test_accuracy = _printed("test accuracy", output)
    assert test_accuracy >= 0.9
    assert test_accuracy == pytest.approx(result["test_accuracy"], abs=5e-4)
    # the Trainer's metric is argmax over the three logits, as the confusion matrix counts it
    predictions, labels = result["predictions"], result["labels"]
    assert set(predictions.tolist()) == {0, 1, 2}
    assert result["test_accuracy"] == pytest.approx(np.mean(predictions == labels))
    matrix = result["confusion"]
    assert matrix.shape == (3, 3) and matrix.sum() == 30
    assert np.trace(matrix) == round(result["test_accuracy"] * 30)
    assert matrix.sum(axis=1).tolist() == np.bincount(labels.astype(int), minlength=3).tolist()
    for name, row in zip(("setosa", "versicolor", "virginica"), matrix):
        assert re.search(rf"^ *{name}: +" + " +".join(str(c) for c in row) + "$", output, re.MULTILINE)
    # learning happened: the loss fell and the dev accuracy rose over the epochs
    history = result["history"]
    assert len(history.train_loss) == 50 and history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert _printed("dev accuracy", output) >= 0.85
    image = (tmp_path / "iris_confusion.png").read_bytes()
    assert image.startswith(PNG_MAGIC) and len(image) > 20_000
    assert f"figure written: {tmp_path / 'iris_confusion.png'}" in output


def test_training_beats_the_untrained_net(example, tmp_path, capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no empty-legend warning from matplotlib without a history
        untrained = example.main(["--epochs", "0", "--out", str(tmp_path)])
    trained = example.main(["--epochs", "20", "--hidden", "4"])
    output = capsys.readouterr().out
    assert output.count("test accuracy:") == 2
    assert untrained["history"].train_loss == []
    assert (tmp_path / "iris_confusion.png").read_bytes().startswith(PNG_MAGIC)
    assert trained["test_accuracy"] >= untrained["test_accuracy"] + 0.3


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
def test_bad_flags_are_rejected(example, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        example.main(flags)
    assert error.value.code == 2
    assert flags[0] in capsys.readouterr().err
