"""``experiments/digits.py``: a short run beats chance by far, its results file holds what it
measured, and without scikit-learn the script exits with one line."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment


@pytest.fixture(scope="module")
def experiment():
    pytest.importorskip("sklearn")
    return load_experiment("digits")


def test_short_run_learns_the_digits(experiment, tmp_path) -> None:
    flags = ["--samples", "600", "--hidden", "12", "--epochs", "3", "--errors", "6", "--out", str(tmp_path)]
    returned, results = run_experiment(experiment, flags, tmp_path)
    assert results["test_accuracy"] >= 0.8  # chance is 0.1
    assert results["parameters"] == 64 * 12 + 12 + 12 * 10 + 10
    matrix = np.array(results["confusion"])
    assert matrix.shape == (10, 10) and matrix.sum() == results["test_size"] == 120  # 20 % of 600
    assert np.trace(matrix) == round(results["test_accuracy"] * 120)
    predictions, labels = returned["predictions"], returned["labels"]
    assert results["test_accuracy"] == pytest.approx(np.mean(predictions == labels))  # Trainer metric = argmax
    assert results["timing"]["step_ms"] > 0 and results["timing"]["compile_seconds"] > 0
    history = returned["history"]
    assert len(history.dev_metric) == 3 and history.dev_metric[-1] > history.dev_metric[0]
    # the p drawn over each mistake: the softmax probability of the net's answer, so above chance (1/10)
    confidence = returned["confidence"]
    assert confidence.shape == (120,) and np.all((confidence > 0.1) & (confidence <= 1.0))
    mistakes = predictions != labels
    assert mistakes.any() and confidence[mistakes].mean() < confidence[~mistakes].mean()
    assert is_png(tmp_path / "digits_confusion.png", 20_000)


def test_answer_probability_is_the_softmax_of_the_outputs(experiment) -> None:
    # exp(-cross-entropy) with the answer fed as the label, from the graph, against a numpy softmax of the logits
    from graphdl import nn, optim
    from graphdl.train import Trainer

    model = nn.MLP(3, [5, 4], activation="sigmoid", rng=1)
    trainer = Trainer(model, optim.Adam(model, lr=0.01), loss="cross_entropy", metric="accuracy", progress=False)
    X = np.random.default_rng(2).normal(size=(7, 3)) * 3
    logits = trainer.predict(X)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    for answers in (logits.argmax(axis=1), np.array([0, 1, 2, 3, 3, 2, 1])):
        expected = softmax[np.arange(7), answers]
        assert experiment.answer_probability(trainer, X, answers) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "flags",
    [["--hidden", "0"], ["--epochs", "-1"], ["--lr", "-0.1"], ["--lr", "inf"], ["--samples", "5"], ["--errors", "-1"]],
)
def test_bad_flags_are_rejected(experiment, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        experiment.main(flags)
    assert error.value.code == 2
    assert flags[0] in capsys.readouterr().err


def test_without_scikit_learn_it_exits_with_one_line(experiment, tmp_path, monkeypatch, capsys) -> None:
    # None in sys.modules makes ``import sklearn`` raise ImportError, as if it were not installed
    for name in [name for name in sys.modules if name == "sklearn" or name.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(SystemExit) as error:
        experiment.main(["--results", str(tmp_path / "never.json")])
    message = str(error.value.code)
    assert message.startswith("experiments/digits.py:") and "scikit-learn" in message and "\n" not in message
    assert capsys.readouterr().out == ""  # nothing was built or trained
    assert not (tmp_path / "never.json").exists()
