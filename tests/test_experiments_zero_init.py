"""``experiments/zero_init.py``: zero init keeps the hidden units identical, a Gaussian start does not."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("zero_init")


def test_zero_init_keeps_units_identical(experiment, tmp_path, capsys) -> None:
    returned, results = run_experiment(experiment, ["--epochs", "60", "--show", "2", "--out", str(tmp_path)], tmp_path)
    assert is_png(tmp_path / "zero_init.png", 20_000)
    assert capsys.readouterr().out.count("after epoch") == 2  # the tutorial's print_weights, twice
    assert results["zero"]["unit_gap"] == 0.0 and results["gaussian"]["unit_gap"] > 0.1
    zero = returned["zero"]["weights"]  # (epoch, unit, parameter)
    assert zero.shape == (61, 5, 3)
    assert np.abs(zero[-1]).max() > 1e-3  # the weights did move ...
    for unit in range(1, 5):  # ... but every unit moved exactly like unit 0
        np.testing.assert_array_equal(zero[:, unit], zero[:, 0])
    # after the first epoch only the output layer has moved (the hidden gradients are 0 while the output weights are)
    np.testing.assert_array_equal(zero[1], np.zeros((5, 3)))
    for start in ("zero", "gaussian"):
        assert results[start]["final_train_loss"] == returned[start]["train_loss"][-1]
        assert results[start]["test_accuracy"] == returned[start]["test_accuracy"]
    assert results["zero"]["after_shown_epochs"]["epoch"] == 2  # the last of the 2 shown epochs, counted from 1
    assert results["gaussian"]["after_shown_epochs"] == {}


def test_the_tutorials_five_epochs_learn_nothing(experiment, tmp_path) -> None:
    """The tutorial's run: 5 epochs from zeros leave the loss at log 2 and the accuracy near chance."""
    _, results = run_experiment(experiment, ["--epochs", "5", "--show", "5"], tmp_path)
    after = results["zero"]["after_shown_epochs"]
    assert after["epoch"] == 5 and after["train_loss"] == pytest.approx(np.log(2), abs=1e-3)
    assert 0.35 < after["dev_accuracy"] < 0.65


def test_bad_flags_are_rejected(experiment) -> None:
    for flags in (["--epochs", "0"], ["--lr", "0"], ["--lr", "inf"], ["--show", "-1"]):
        with pytest.raises(SystemExit):
            experiment.main(flags)
