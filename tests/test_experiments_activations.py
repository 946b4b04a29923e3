"""``experiments/activations.py``: every derivative graphdl computes is the finite-difference one."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("activations")


def test_results_file_and_figure(experiment, tmp_path) -> None:
    curves, results = run_experiment(experiment, ["--points", "41", "--out", str(tmp_path)], tmp_path)
    assert is_png(tmp_path / "activation_derivatives.png")
    numbers = results["activations"]
    assert list(numbers) == sorted(experiment.ACTIVATIONS)  # written with sorted keys, one entry each
    for name, (_, derivative) in curves.items():
        assert numbers[name]["largest_derivative"] == derivative.max()
    assert numbers["Logistic"] == {"value_at_0": 0.5, "derivative_at_0": 0.25, "largest_derivative": 0.25}
    assert numbers["Tanh"]["derivative_at_0"] == 1.0
    assert numbers["LeakyReLU (slope 0.1)"]["derivative_at_0"] == pytest.approx(0.1)
    assert results["settings"] == {"low": -4.0, "high": 4.0, "points": 41}


def test_derivatives_match_finite_differences(experiment) -> None:
    # Grid points avoid x = 0, where ReLU and LeakyReLU have a kink.
    grid = np.linspace(-3.05, 3.05, 62)
    h = 1e-6
    for name in experiment.ACTIVATIONS:
        values, derivative = experiment.curve_and_derivative(name, grid)
        upper, _ = experiment.curve_and_derivative(name, grid + h)
        lower, _ = experiment.curve_and_derivative(name, grid - h)
        assert values.shape == grid.shape
        np.testing.assert_allclose(derivative, (upper - lower) / (2 * h), atol=1e-6, err_msg=name)


def test_bad_grids_are_rejected(experiment) -> None:
    for flags in (["--low", "4", "--high", "-4"], ["--points", "1"], ["--high", "inf"]):
        with pytest.raises(SystemExit):
            experiment.main(flags)
