"""``examples/zero_init.py``: zero init keeps the hidden units identical, a Gaussian start does not."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example


@pytest.fixture(scope="module")
def example():
    return load_example("zero_init")


def test_zero_init_keeps_units_identical(example, tmp_path, capsys) -> None:
    results = example.main(["--epochs", "60", "--show", "2", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    png = (tmp_path / "zero_init.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    # the seed's print_weights output for the first epochs of the zero start
    assert output.count("after epoch") == 2 and "fc1.w =" in output and "fc2.b =" in output
    gaps = dict(
        re.findall(r"(zero|gaussian) init, after 60 epochs: largest difference between two hidden units (\S+)", output)
    )
    assert float(gaps["zero"]) == 0.0 and float(gaps["gaussian"]) > 0.1
    zero = results["zero"]["weights"]  # (epoch, unit, parameter)
    assert zero.shape == (61, 5, 3)
    assert np.abs(zero[-1]).max() > 1e-3  # the weights did move ...
    for unit in range(1, 5):  # ... but every unit moved exactly like unit 0
        np.testing.assert_array_equal(zero[:, unit], zero[:, 0])
    # after the first epoch only the output layer has moved (the seed's printout)
    np.testing.assert_array_equal(zero[1], np.zeros((5, 3)))
    assert re.search(r"zero init: training loss [0-9.]+, dev accuracy 0\.\d{3}", output)


def test_bad_epochs_rejected(example) -> None:
    with pytest.raises(SystemExit):
        example.main(["--epochs", "0"])


def test_bad_learning_rate_and_show_rejected(example) -> None:
    for flags in (["--lr", "0"], ["--lr", "inf"], ["--show", "-1"]):
        with pytest.raises(SystemExit):
            example.main(flags)


def test_seed_five_epochs_learn_nothing(example, capsys) -> None:
    """The seed's run: 5 epochs from zeros leave the loss at log 2 and the accuracy near chance."""
    results = example.main(["--epochs", "5", "--show", "5"])
    capsys.readouterr()
    assert results["zero"]["train_loss"][-1] == pytest.approx(np.log(2), abs=1e-3)
    assert 0.35 < results["zero"]["dev_accuracy"] < 0.65
