"""``experiments/optimizers.py``: the tutorial's temperatures, EWA = Momentum's velocity, the 2-D
surface paths and the five classifier runs."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment

NAMES = ("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam")

# Published outputs of PyTorch (CPU, float32) after torch.manual_seed(0): the first values of torch.randn(30)
TORCH_RANDN_FIRST = [-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.6920, -0.3160, -2.1152, 0.3223, -1.2633, 0.3500]


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("optimizers")


@pytest.fixture(scope="module")
def small_run(experiment, tmp_path_factory):
    """One small run shared by the tests: (what main returned, the results file, its folder)."""
    folder = tmp_path_factory.mktemp("optimizers")
    returned, results = run_experiment(experiment, ["--epochs", "4", "--surface-steps", "60"], folder)
    return returned, results, folder


def test_the_shipped_temperatures_are_pytorchs(experiment) -> None:
    temperatures = experiment.tutorial_temperatures()
    assert temperatures.shape == (30,)
    np.testing.assert_allclose(temperatures[:11], np.array(TORCH_RANDN_FIRST) * 10, atol=6e-4)


@pytest.mark.slow  # over 2 s: .ci/run runs it with -m slow
def test_writes_three_pngs(experiment, tmp_path) -> None:
    run_experiment(experiment, ["--epochs", "2", "--surface-steps", "20", "--out", str(tmp_path)], tmp_path)
    out = tmp_path
    for name in ("ewa.png", "optimizers.png", "optimizers_mlp.png"):
        assert is_png(out / name, 20_000), name
        assert (out / name).stat().st_size < 400_000


def test_ewa_is_the_tutorials_loop_and_momentum_velocity(small_run) -> None:
    results, numbers, _ = small_run
    temperatures = results["temperatures"]
    assert temperatures.shape == (30,)
    assert temperatures[0] == pytest.approx(-11.2584, abs=1e-4)  # torch.randn(30)[0] * 10
    for beta in (0.5, 0.9):
        curves = results["ewa"][beta]
        ewa = curves["ewa"]
        assert ewa[0] == temperatures[0]
        np.testing.assert_allclose(ewa[1:], beta * ewa[:-1] + (1 - beta) * temperatures[1:], rtol=0, atol=1e-12)
        assert np.abs(curves["momentum"] - ewa).max() < 1e-12
        assert numbers["ewa"][f"{beta:g}"]["largest_difference_from_momentum"] < 1e-12
        assert numbers["ewa"][f"{beta:g}"]["last_average"] == ewa[-1]
    # larger beta: smoother than the data and than the smaller beta
    roughness = {beta: np.abs(np.diff(results["ewa"][beta]["ewa"])).mean() for beta in (0.5, 0.9)}
    assert roughness[0.9] < roughness[0.5] < np.abs(np.diff(temperatures)).mean()


def test_surface_paths_start_together_and_descend(experiment, small_run) -> None:
    results, numbers, _ = small_run
    for name in NAMES:
        run = results["surface"][name]
        path, values = run["path"], run["values"]
        assert path.shape == (61, 2) and tuple(path[0]) == (-7.0, 2.0)
        np.testing.assert_allclose(values, experiment.surface_value(path[:, 0], path[:, 1]), rtol=1e-12)
        assert values[-1] < 0.01 * values[0], name
        steps = run["steps_to_converge"]
        if steps is not None:
            assert values[steps] < experiment.CONVERGED <= values[:steps].min()
        assert numbers["surface"][name] == {"lr": run["lr"], "steps_to_converge": steps, "final_value": values[-1]}
    # SGD at lr 0.95 overshoots in the steep y direction: y changes sign every step
    sgd_y = results["surface"]["SGD"]["path"][:10, 1]
    assert np.all(np.sign(sgd_y[1:]) == -np.sign(sgd_y[:-1]))
    # the adaptive methods go down the steep y direction first, without crossing y = 0 early
    for name in ("AdaGrad", "RMSProp"):
        assert results["surface"][name]["path"][:6, 1].min() > 0.0


def test_classifier_runs_share_the_start_and_adam_beats_sgd(small_run) -> None:
    results, numbers, _ = small_run
    runs = results["classifier"]
    first = runs["SGD"]
    for name in NAMES:
        np.testing.assert_array_equal(runs[name]["initial_parameters"], first["initial_parameters"])
        assert runs[name]["initial_loss"] == first["initial_loss"]
        assert len(runs[name]["train_loss"]) == 4
        assert numbers["classifier"][name] == {
            "initial_loss": first["initial_loss"],
            "last_epoch_loss": runs[name]["train_loss"][-1],
            "test_accuracy": runs[name]["test_accuracy"],
        }
    # the tutorial's claim with one learning rate for all: Adam and RMSProp learn faster than SGD
    for name in ("Adam", "RMSProp"):
        assert runs[name]["train_loss"][-1] < 0.8 * runs["SGD"]["train_loss"][-1]


@pytest.mark.parametrize(
    "argv",
    [["--lr", "0"], ["--betas", "1.0"], ["--epochs", "0"], ["--surface-steps", "0"], ["--hidden", "0"]],
)
def test_bad_flags_are_rejected(experiment, argv) -> None:
    with pytest.raises(SystemExit):
        experiment.main(argv)
