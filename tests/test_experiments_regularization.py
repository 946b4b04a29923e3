"""``experiments/regularization.py``: under/over-fitting, weight decay and dropout, checked in numbers."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment

FIGURES = ("regularization_polynomial.png", "regularization_weight_decay.png", "regularization_dropout.png")
SMALL = ["--poly-epochs", "60", "--overfit-epochs", "60", "--wd-epochs", "30", "--dropout-epochs", "150"]
SMALL += ["--hidden", "16"]


@pytest.fixture(scope="module")
def example():
    return load_experiment("regularization")


@pytest.fixture(scope="module")
def small_run(example, tmp_path_factory):
    """One small run shared by the tests: (what main returned, its results file, its folder)."""
    folder = tmp_path_factory.mktemp("regularization")
    result, numbers = run_experiment(example, SMALL, folder)
    return result, numbers, folder


@pytest.mark.slow  # matplotlib's layout of the polynomial figure alone takes over a second
def test_figures_are_written(example, tmp_path) -> None:
    tiny = ["--poly-epochs", "20", "--overfit-epochs", "20", "--wd-epochs", "10", "--dropout-epochs", "10"]
    run_experiment(example, [*tiny, "--hidden", "4", "--out", str(tmp_path)], tmp_path)
    out = tmp_path
    for name in FIGURES:
        assert is_png(out / name, 20_000) and (out / name).stat().st_size < 400_000


def test_polynomial_fits(small_run) -> None:
    result, numbers, _ = small_run
    fits = result["polynomial"]
    for name in ("normal", "under-fitting", "over-fitting"):
        assert numbers["polynomial"][name] == {
            "train_loss": fits[name]["train_loss"][-1],
            "test_loss": fits[name]["test_loss"][-1],
            "weights": fits[name]["weights"][:4].tolist(),
        }
    assert [len(fits[name]["weights"]) for name in fits] == [4, 2, 20]
    # two features cannot represent the cubic: both losses stay far above the 4-feature fit's
    assert fits["under-fitting"]["train_loss"][-1] > 10 * fits["normal"]["train_loss"][-1]
    assert fits["under-fitting"]["test_loss"][-1] > 10 * fits["normal"]["test_loss"][-1]
    assert fits["normal"]["train_loss"][-1] < fits["normal"]["train_loss"][0] / 10


def test_recorded_losses_are_the_models_losses(example, small_run) -> None:
    """The recorded losses (Trainer.evaluate, dropout off) equal the losses of the model's own
    predictions, at the tutorial's epochs: 1, every 20 and the last."""
    result, _, _ = small_run
    _, features, labels = example.polynomial_data(100, 100, np.random.default_rng(0))
    fit = result["polynomial"]["normal"]
    predicted = fit["predict"](features[100:, :4])
    assert np.mean((labels[100:] - predicted) ** 2) == pytest.approx(fit["test_loss"][-1], rel=1e-9)
    assert fit["epochs"].tolist() == [1, 20, 40, 60]
    assert result["weight_decay"][0.0]["epochs"].tolist() == [1, 5, 10, 15, 20, 25, 30]


def test_overfitting_verdict_matches_the_numbers(example, small_run) -> None:
    """The verdict on the tutorial's 'over-fitting' run is the one its losses give, and
    its explanation holds: the weights of the high powers barely move from their start."""
    result, numbers, _ = small_run
    fits = result["polynomial"]
    fit = fits["over-fitting"]
    check = fit["overfitting_check"]
    ratio = fit["test_loss"][-1] / fit["train_loss"][-1]
    assert check["ratio"] == pytest.approx(ratio)
    assert check["overfits"] == (ratio >= example.OVERFIT_RATIO)
    assert numbers["overfitting_check"] == {key: check[key] for key in numbers["overfitting_check"]}
    moved = np.abs(fit["weights"] - fit["initial_weights"])
    high = moved[example.HIGH_ORDER :]
    assert check["high_order_moved"] == pytest.approx(high.max())
    assert high.max() < 0.1 < moved[:4].min()  # the low powers train, the high ones stay at their random start


def test_weight_decay_shrinks_w_and_lowers_the_test_loss(small_run) -> None:
    result, numbers, _ = small_run
    free, decayed = result["weight_decay"][0.0], result["weight_decay"][3.0]
    assert decayed["weight_norm"][-1] < free["weight_norm"][-1] / 2
    assert decayed["test_loss"][-1] < free["test_loss"][-1] / 2
    assert free["train_loss"][-1] < 0.01  # 201 parameters, 20 samples: it interpolates them
    assert numbers["weight_decay"]["3"]["test_loss"] == decayed["test_loss"][-1]
    assert list(numbers["weight_decay"]) == ["0", "3"]


def test_dropout_zeroes_gradients_as_in_the_tutorial(small_run) -> None:
    result, numbers, _ = small_run
    demo = result["dropout_gradients"]
    x, masks = demo["x"], demo["masks"]
    kept = masks != 0.0
    np.testing.assert_allclose(masks[kept], 5.0, rtol=1e-12)  # p = 0.8: kept inputs are scaled by 1/(1 − p)
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(demo["without"], x.sum(axis=0), atol=1e-9)
    np.testing.assert_allclose(demo["with"], (x * masks).sum(axis=0), atol=1e-9)
    # a weight's gradient is Σ x·mask over the 5 samples (x ≥ 0): zero exactly when every sample
    # has its input dropped or equal to 0
    zero_without = int(np.sum((x == 0).all(axis=0)))
    zero_with = int(np.sum(((masks == 0) | (x == 0)).all(axis=0)))
    assert int(np.sum(demo["without"] == 0.0)) == zero_without
    assert int(np.sum(demo["with"] == 0.0)) == zero_with
    assert zero_with > zero_without  # dropout zeroes the gradients of the weights whose inputs it dropped
    assert numbers["dropout_zero_gradients"] == {"without": zero_without, "with": zero_with}


def test_dropout_narrows_the_train_test_gap(small_run) -> None:
    result, numbers, _ = small_run
    without, with_ = result["dropout"]["without dropout"], result["dropout"]["with dropout"]
    for name, fit in result["dropout"].items():
        assert numbers["dropout"][name]["train_loss"] == fit["train_loss"][-1]
        assert numbers["dropout"][name]["gap"] == fit["test_loss"][-1] - fit["train_loss"][-1]
    gap = {name: fit["test_loss"][-1] - fit["train_loss"][-1] for name, fit in result["dropout"].items()}
    assert gap["with dropout"] < gap["without dropout"]
    assert with_["train_loss"][-1] > without["train_loss"][-1]  # dropout keeps it from memorising
    # the loss during training (random masks) is noisier and higher than with masks of 1
    assert np.mean(with_["noisy_train_loss"][-50:]) > np.mean(with_["train_loss"][-10:])
    # without dropout, full batch: the loss of epoch e + 1's step is the evaluated loss after epoch e
    recorded = without["epochs"][:-1]  # 1, 5, 10, …
    np.testing.assert_allclose(without["noisy_train_loss"][recorded], without["train_loss"][:-1], rtol=1e-9)


def test_bad_flags_are_rejected(example) -> None:
    too_many = ["--lambdas", *map(str, range(example.MAX_LAMBDAS + 1))]
    for flags in (["--lambdas", "-1"], ["--lambdas", "3", "3"], too_many, ["--hidden", "0"], ["--wd-epochs", "0"]):
        with pytest.raises(SystemExit):
            example.main(flags)


@pytest.mark.slow  # over 2 s: .ci/run runs it with -m slow
def test_every_lambda_gets_its_own_panel_and_colour(example, tmp_path) -> None:
    """Five values of λ (more than the old four colours): all five are trained, drawn and labelled."""
    flags = ["--poly-epochs", "1", "--overfit-epochs", "1", "--wd-epochs", "5", "--dropout-epochs", "2"]
    argv = [*flags, "--hidden", "2", "--lambdas", "0", "1", "2", "3", "4"]
    result, numbers = run_experiment(example, argv, tmp_path)
    assert list(result["weight_decay"]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sorted(numbers["weight_decay"]) == ["0", "1", "2", "3", "4"]
    figure = example.plot_weight_decay(result["weight_decay"], tmp_path / "five.png")
    panels = figure.axes
    assert [ax.get_title() for ax in panels[:-1]] == [f"λ = {lam}" for lam in range(5)]
    norm_lines = panels[-1].get_lines()
    assert [line.get_label() for line in norm_lines] == [f"λ = {lam}" for lam in range(5)]
    assert len({line.get_color() for line in norm_lines}) == 5
    assert is_png(tmp_path / "five.png")


@pytest.mark.slow
def test_default_run_headlines(example, tmp_path) -> None:
    result, numbers = run_experiment(example, [], tmp_path)
    normal = result["polynomial"]["normal"]
    np.testing.assert_allclose(normal["weights"], example.TRUE_POLY_WEIGHTS, atol=0.05)
    assert normal["test_loss"][-1] < 0.02
    free, decayed = result["weight_decay"][0.0], result["weight_decay"][3.0]
    assert decayed["test_loss"][-1] < free["test_loss"][-1] / 100
    assert decayed["weight_norm"][-1] < free["weight_norm"][-1] / 10
    without, with_ = result["dropout"]["without dropout"], result["dropout"]["with dropout"]
    assert with_["test_loss"][-1] < without["test_loss"][-1]
    # what the README says of the tutorial's "over-fitting" run with the defaults (seed 0): it does not
    # over-fit (test loss not above train loss), and it fits the training data no better than 4 features
    overfit = result["polynomial"]["over-fitting"]
    assert not overfit["overfitting_check"]["overfits"]
    assert overfit["test_loss"][-1] < overfit["train_loss"][-1]
    assert overfit["train_loss"][-1] > normal["train_loss"][-1]
    assert numbers["overfitting_check"]["overfits"] is False
