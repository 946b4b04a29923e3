"""``experiments/init_sensitivity.py``: figures 8 and 7 of the core tutorial's section 4 and the random-init sweep."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment

from graphdl.tutorial_net import FIG7_INIT, FIG8_INIT, build_seed_net, quadratic_data, train_per_sample


@pytest.fixture(scope="module")
def example():
    return load_experiment("init_sensitivity")


def test_steps_to_threshold_uses_the_running_mean(example) -> None:
    losses = [1.0] * 10 + [0.0] * 10
    # mean of the last 4 drops below 0.3 once 3 of the 4 are zeros: after step 13
    assert example.steps_to_threshold(losses, 0.3, 4) == 13
    assert example.steps_to_threshold([1.0] * 50, 0.3, 4) is None
    assert example.steps_to_threshold([0.0] * 3, 0.3, 4) is None


def test_units_and_modes_follow_the_definitions(example) -> None:
    # order: w_11, w_12, b_11, b_12, w_21, w_22, b_21
    two_bends = [1.0, 2.0, -0.5, -2.0, 1.0, 1.0, 0.0]  # kinks at 0.5 and 1.0, both on to the right
    units = example.describe_units(two_bends)
    assert [u.kink for u in units] == [0.5, 1.0]
    assert [u.facing for u in units] == ["right", "right"]
    assert [u.role for u in units] == ["bends", "bends"]
    assert example.classify(two_bends, 0.05, 0.15) == "two_bends"
    assert example.classify(two_bends, 0.5, 0.15) == "failed_none_off"
    # unit 1 on to the left of x = 1 (w < 0) with w_21 > 0 bends up; unit 2 is off on all of [0, 2]
    left_and_off = [-1.0, 1.0, 1.0, -3.0, 0.5, 1.0, 0.0]
    units = example.describe_units(left_and_off)
    assert [u.facing for u in units] == ["left", "right"] and [u.role for u in units] == ["bends", "off"]
    assert example.classify(left_and_off, 0.1, 0.15) == "one_bend_other_off"
    assert example.classify(left_and_off, 0.3, 0.15) == "failed_one_off"
    # a kink inside [0, 2] with w_2j < 0 bends down: "on", not "bends"; a kink outside: a straight line
    down_and_line = [1.0, 1.0, -1.0, 5.0, -1.0, 1.0, 0.0]
    units = example.describe_units(down_and_line)
    assert [u.role for u in units] == ["on", "on"]
    assert "down" in units[0].role_words and "straight" in units[1].role_words
    assert example.classify([1.0, -1.0, -0.5, 5.0, 1.0, 1.0, 0.0], 0.1, 0.15) == "one_bend_other_on"
    # exactly zero at x = 0 and negative after: off (a dead ReLU unit)
    assert example.describe_units([-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 0.0])[0].role == "off"
    assert example.classify([-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 0.0], 1.0, 0.15) == "failed_both_off"


def test_compiled_loop_is_the_interpreter(example) -> None:
    """The generated per-sample SGD loop reproduces ``train_per_sample`` to the last bit."""
    xs, labels = quadratic_data(200, seed=3)
    for activation in ("leaky_relu", "relu"):
        reference = build_seed_net(activation=activation)
        reference.initialise(list(FIG7_INIT))
        expected = train_per_sample(reference, xs, labels, lr=0.01)
        compiled = example.CompiledSeedNet(activation)
        losses = compiled.train(FIG7_INIT, xs, labels, 0.01)
        assert losses.tolist() == expected
        assert compiled.params == [p.value for p in reference.params]
    assert example.compiled_vs_interpreter(50, 0.01, 1) == 0.0


def test_small_run_writes_and_counts(example, tmp_path) -> None:
    result, numbers = run_experiment(example, ["--steps", "1500", "--runs", "12", "--out", str(tmp_path)], tmp_path)
    assert numbers["compiled_difference"] == 0.0
    assert numbers["named"]["fig8_leaky_relu"]["steps_to_fit"] == result["named"]["fig8_leaky_relu"]["steps_to_fit"]
    assert numbers["named"]["fig8_leaky_relu"]["steps_to_fit"] < 1500
    # the tutorial: figure 7's init is far from fitted after figure 8's 1500 steps
    assert numbers["named"]["fig7_leaky_relu"]["steps_to_fit"] is None
    for activation, sweep in result["sweeps"].items():
        assert sum(sweep["counts"].values()) == 12
        # failed means a high final loss, and each run's mode matches its recorded final loss
        for mode, loss in zip(sweep["modes"], sweep["final_loss"]):
            assert mode.startswith("failed") == (loss >= 0.15)
        assert numbers["sweeps"][activation]["failed"] == sum(sweep["failed"])
        assert numbers["sweeps"][activation]["runs"] == 12
        assert numbers["sweeps"][activation]["modes"] == sweep["counts"]
    for name in ("init_sensitivity.png", "init_sweep.png"):
        assert is_png(tmp_path / name, 20_000)


def test_without_sweep_and_bad_flags(example, tmp_path) -> None:
    result, numbers = run_experiment(example, ["--steps", "300", "--runs", "0"], tmp_path)
    assert result["sweeps"] == {} and numbers["sweeps"] == {}
    for flags in (["--steps", "50"], ["--runs", "-1"], ["--window", "0"], ["--lr", "0"], ["--threshold", "-1"]):
        with pytest.raises(SystemExit):
            example.main(flags)


def test_dead_relu_units_stay_dead(example) -> None:
    """A ReLU unit off on all of [0, 2] at init never changes: its gradient is exactly 0,
    while the same unit with LeakyReLU does move."""
    init = [0.5, 1.0, -1.5, 0.2, 0.7, 0.8, 0.3]  # unit 1: z = 0.5 x - 1.5 < 0 on [0, 2]
    assert example.describe_units(init)[0].role == "off"
    xs, labels = quadratic_data(2000, seed=0)
    relu, leaky = example.CompiledSeedNet("relu"), example.CompiledSeedNet("leaky_relu")
    relu.train(init, xs, labels, 0.01)
    leaky.train(init, xs, labels, 0.01)
    assert [relu.params[i] for i in (0, 2, 4)] == [init[i] for i in (0, 2, 4)]
    assert max(abs(leaky.params[i] - init[i]) for i in (0, 2, 4)) > 0.01


def test_fig8_and_fig7_fit_their_own_way(example, tmp_path) -> None:
    """The core tutorial's section 4 at full length: figure 8 fits within 1500 steps with two upward bends
    (units on to the right of their kinks); figure 7 needs several thousand steps more and
    bends with a unit that is on to the LEFT of its kink. With plain ReLU figure 7 never
    fits."""
    result, _ = run_experiment(example, ["--runs", "0"], tmp_path)
    named = result["named"]
    fig8, fig7 = named["fig8_leaky_relu"], named["fig7_leaky_relu"]
    assert fig8["steps_to_fit"] <= 1500 and fig8["mode"] == "two_bends"
    assert [u.facing for u in fig8["units"]] == ["right", "right"]
    assert fig7["steps_to_fit"] > 5 * fig8["steps_to_fit"] and not fig7["mode"].startswith("failed")
    assert any(u.role == "bends" and u.facing == "left" for u in fig7["units"])
    assert named["fig7_relu"]["steps_to_fit"] is None and named["fig7_relu"]["mode"].startswith("failed")
    assert named["fig8_relu"]["steps_to_fit"] is not None
    assert tuple(FIG8_INIT) != tuple(FIG7_INIT)


@pytest.mark.slow
def test_relu_fails_more_often_than_leaky_relu(example, tmp_path) -> None:
    """The default sweep: plain ReLU with random init fails in a sizeable fraction of runs,
    more often than LeakyReLU, and the runs whose ReLU units were both dead at init all fail."""
    result, _ = run_experiment(example, [], tmp_path)
    relu, leaky = result["sweeps"]["relu"], result["sweeps"]["leaky_relu"]
    relu_failed, leaky_failed = np.array(relu["failed"]), np.array(leaky["failed"])
    assert 0.2 < relu_failed.mean() < 0.6
    assert relu_failed.sum() > leaky_failed.sum()
    both_dead = np.array(relu["off_at_init"]) == 2
    assert both_dead.any() and relu_failed[both_dead].all()
