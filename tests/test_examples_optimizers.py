"""``examples/optimizers.py``: the seed's temperatures, EWA = Momentum's velocity, the 2-D
surface paths and the five classifier runs."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
from example_scripts import load_example

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam")

# Published outputs of PyTorch (CPU, float32) after torch.manual_seed(0):
# torch.randn(4, 4) and torch.randn(3, 3, 3) (27 values: the last 16 are drawn again).
TORCH_RANDN_16 = [
    -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.6920, -0.3160, -2.1152,
    0.3223, -1.2633, 0.3500, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473,
]  # fmt: skip
TORCH_RANDN_27 = [
    -1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.6920, -0.3160, -2.1152, 0.3223,
    -1.2633, 0.3500, 0.2660, 0.1665, 0.8744, -0.1435, -0.1116, -0.6136, 0.0316,
    -0.4927, 0.0537, 0.6181, -0.4128, -0.8411, -2.3160, -0.1023, 0.7924, -0.2897,
]  # fmt: skip


@pytest.fixture(scope="module")
def example():
    return load_example("optimizers")


@pytest.fixture(scope="module")
def small_run(example, tmp_path_factory):
    """One small run shared by the tests: (results, printed text, output directory)."""
    out = tmp_path_factory.mktemp("optimizers")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        results = example.main(["--epochs", "4", "--surface-steps", "60", "--out", str(out)])
    return results, buffer.getvalue(), out


def test_torch_randn_matches_published_pytorch_outputs(example) -> None:
    np.testing.assert_allclose(example.torch_randn(16), TORCH_RANDN_16, atol=6e-5)
    np.testing.assert_allclose(example.torch_randn(27), TORCH_RANDN_27, atol=6e-5)
    with pytest.raises(ValueError):
        example.torch_randn(5)


def test_writes_three_pngs(small_run) -> None:
    _, output, out = small_run
    for name in ("ewa.png", "optimizers.png", "optimizers_mlp.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and 20_000 < len(data) < 400_000, name
        assert f"figure written: {out / name}" in output


def test_ewa_is_the_seed_loop_and_momentum_velocity(example, small_run) -> None:
    results, output, _ = small_run
    temperatures = results["temperatures"]
    assert temperatures.shape == (30,)
    assert temperatures[0] == pytest.approx(-11.2584, abs=1e-4)  # torch.randn(30)[0] * 10
    for beta in (0.5, 0.9):
        curves = results["ewa"][beta]
        ewa = curves["ewa"]
        assert ewa[0] == temperatures[0]
        np.testing.assert_allclose(ewa[1:], beta * ewa[:-1] + (1 - beta) * temperatures[1:], rtol=0, atol=1e-12)
        assert np.abs(curves["momentum"] - ewa).max() < 1e-12
        match = re.search(rf"beta {beta:g}: .*largest difference from Momentum's velocity: (\S+)", output)
        assert match and float(match.group(1)) < 1e-12
    # larger beta: smoother than the data and than the smaller beta
    roughness = {beta: np.abs(np.diff(results["ewa"][beta]["ewa"])).mean() for beta in (0.5, 0.9)}
    assert roughness[0.9] < roughness[0.5] < np.abs(np.diff(temperatures)).mean()


def test_surface_paths_start_together_and_descend(example, small_run) -> None:
    results, output, _ = small_run
    for name in NAMES:
        run = results["surface"][name]
        path, values = run["path"], run["values"]
        assert path.shape == (61, 2) and tuple(path[0]) == (-7.0, 2.0)
        np.testing.assert_allclose(values, example.surface_value(path[:, 0], path[:, 1]), rtol=1e-12)
        assert values[-1] < 0.01 * values[0], name
        steps = run["steps_to_converge"]
        if steps is not None:
            assert values[steps] < example.CONVERGED <= values[:steps].min()
            assert re.search(rf"{name} +\(lr [0-9.]+\): f < 0.001 after {steps} steps", output)
    # SGD at lr 0.95 overshoots in the steep y direction: y changes sign every step
    sgd_y = results["surface"]["SGD"]["path"][:10, 1]
    assert np.all(np.sign(sgd_y[1:]) == -np.sign(sgd_y[:-1]))
    # the adaptive methods go down the steep y direction first, without crossing y = 0 early
    for name in ("AdaGrad", "RMSProp"):
        assert results["surface"][name]["path"][:6, 1].min() > 0.0


def test_classifier_runs_share_the_start_and_adam_beats_sgd(small_run) -> None:
    results, output, _ = small_run
    runs = results["classifier"]
    first = runs["SGD"]
    for name in NAMES:
        np.testing.assert_array_equal(runs[name]["initial_parameters"], first["initial_parameters"])
        assert runs[name]["initial_loss"] == first["initial_loss"]
        assert len(runs[name]["train_loss"]) == 4
        match = re.search(rf"{name} *: training loss ([0-9.]+) before, ([0-9.]+) in the last epoch; "
                          r"test accuracy ([0-9.]+)", output)  # fmt: skip
        assert match, name
        assert float(match.group(2)) == pytest.approx(runs[name]["train_loss"][-1], abs=1e-4)
    # the seed's claim with one learning rate for all: Adam and RMSProp learn faster than SGD
    for name in ("Adam", "RMSProp"):
        assert runs[name]["train_loss"][-1] < 0.8 * runs["SGD"]["train_loss"][-1]


@pytest.mark.parametrize(
    "argv",
    [["--lr", "0"], ["--betas", "1.0"], ["--epochs", "0"], ["--surface-steps", "0"], ["--hidden", "0"]],
)
def test_bad_flags_are_rejected(example, argv) -> None:
    with pytest.raises(SystemExit):
        example.main(argv)


@pytest.mark.slow
def test_default_run_adaptive_methods_fit_iris(example, capsys) -> None:
    results = example.main([])
    runs = results["classifier"]
    for name in ("RMSProp", "Adam"):
        assert runs[name]["train_loss"][-1] < 0.2
        assert runs[name]["test_accuracy"] >= 0.9
    for name in ("SGD", "Momentum"):
        assert runs[name]["train_loss"][-1] > 0.5
    assert all(results["surface"][name]["steps_to_converge"] is not None for name in NAMES)
