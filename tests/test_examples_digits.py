"""``examples/digits.py``: a short run beats chance by far, the default run (slow) reaches
test accuracy >= 0.9, and without scikit-learn the script exits with one line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from example_scripts import load_example

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "digits.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    pytest.importorskip("sklearn")
    return load_example("digits")


def _printed(name: str, output: str) -> float:
    match = re.search(rf"^{name}: ([0-9.]+)", output, re.MULTILINE)
    assert match, output
    return float(match.group(1))


def _check_run(result: dict, output: str, hidden: int) -> float:
    test_accuracy = _printed("test accuracy", output)
    assert test_accuracy == pytest.approx(result["test_accuracy"], abs=5e-4)
    assert result["parameters"] == 64 * hidden + hidden + hidden * 10 + 10
    assert f"{result['parameters']} parameters" in output
    matrix, predictions, labels = result["confusion"], result["predictions"], result["labels"]
    assert matrix.shape == (10, 10) and matrix.sum() == len(labels) == 359
    assert np.trace(matrix) == int(np.sum(predictions == labels))
    assert result["test_accuracy"] == pytest.approx(np.mean(predictions == labels))  # Trainer metric = argmax
    for digit, row in enumerate(matrix):
        assert re.search(rf"^  {digit}: +" + " +".join(str(c) for c in row) + "$", output, re.MULTILINE)
    assert _printed("compile time", output) == pytest.approx(result["compile_seconds"], abs=0.006)
    assert _printed("step time", output) == pytest.approx(result["step_ms"], abs=0.06) and result["step_ms"] > 0
    return test_accuracy


def test_short_run_learns_the_digits(example, tmp_path, capsys) -> None:
    result = example.main(["--hidden", "12", "--epochs", "3", "--errors", "6", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    assert _check_run(result, output, hidden=12) >= 0.85  # chance is 0.1
    history = result["history"]
    assert len(history.dev_metric) == 3 and history.dev_metric[-1] > history.dev_metric[0]
    assert re.search(r"median of 108 steps of 32 images", output)  # 1150 images in batches of 32, 3 epochs
    # the p drawn over each mistake: the softmax probability of the net's answer, so above chance (1/10)
    confidence = result["confidence"]
    assert confidence.shape == (359,) and np.all((confidence > 0.1) & (confidence <= 1.0))
    mistakes = result["predictions"] != result["labels"]
    assert mistakes.any() and confidence[mistakes].mean() < confidence[~mistakes].mean()
    image = (tmp_path / "digits_confusion.png").read_bytes()
    assert image.startswith(PNG_MAGIC) and len(image) > 30_000
    assert f"figure written: {tmp_path / 'digits_confusion.png'}" in output


@pytest.mark.slow
def test_default_run_reaches_0_9(example, capsys) -> None:
    result = example.main([])
    output = capsys.readouterr().out
    assert _check_run(result, output, hidden=32) >= 0.9
    assert result["nodes"] == 4918


def test_answer_probability_is_the_softmax_of_the_outputs(example) -> None:
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
        assert example.answer_probability(trainer, X, answers) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "flags",
    [
        ["--hidden", "0"],
        ["--epochs", "-1"],
        ["--lr", "-0.1"],
        ["--lr", "inf"],
        ["--samples", "5"],
        ["--errors", "-1"],
    ],
)
def test_bad_flags_are_rejected(example, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        example.main(flags)
    assert error.value.code == 2
    assert flags[0] in capsys.readouterr().err


def test_without_scikit_learn_it_exits_with_one_line() -> None:
    # None in sys.modules makes ``import sklearn`` raise ImportError, as if it were not installed;
    # the script's folder goes first on sys.path, as ``python examples/digits.py`` puts it (for iris.py)
    code = (
        "import os, runpy, sys; sys.modules['sklearn'] = None; sys.argv = sys.argv[1:]; "
        "sys.path.insert(0, os.path.dirname(sys.argv[0])); runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(SCRIPT)], capture_output=True, text=True, env=environment, timeout=120
    )
    assert done.returncode == 1
    assert done.stdout == ""  # nothing was built or trained
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "scikit-learn" in lines[0] and lines[0].startswith("examples/digits.py:")
