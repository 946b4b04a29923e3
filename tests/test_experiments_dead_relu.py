"""``experiments/dead_relu.py``: biases −8 kill every ReLU (all weight gradients exactly 0); LeakyReLU keeps them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, node_fills, run_experiment

from graphdl import Graph, nn
from graphdl.viz.style import DEAD_FILL


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("dead_relu")


def test_relu_gradients_are_exactly_zero_and_leaky_ones_are_not(experiment, tmp_path) -> None:
    returned, results = run_experiment(experiment, ["--train", "200", "--out", str(tmp_path)], tmp_path)
    relu, leaky = results["relu"], results["leaky_relu"]
    assert results["norms"]["relu"] == [0.0] * 5
    assert np.all(returned["relu"]["weight_grads"] == 0.0) and np.all(returned["relu"]["hidden_bias_grads"] == 0.0)
    assert relu["zero_weight_grads"] == relu["weights"] == 36
    assert relu["zero_hidden_bias_grads"] == relu["hidden_biases"] == 12
    assert relu["dead_units"] == relu["hidden_units"] == 12
    assert relu["output_bias_grad"] < -0.1  # the one parameter with no ReLU in its path still learns

    assert np.all(returned["leaky_relu"]["weight_grads"] != 0.0)
    assert leaky["zero_weight_grads"] == leaky["zero_hidden_bias_grads"] == leaky["dead_units"] == 0
    assert leaky["largest_weight_grad"] == np.abs(returned["leaky_relu"]["weight_grads"]).max()
    norms = results["norms"]["leaky_relu"]
    assert all(0 < a < b for a, b in itertools.pairwise(norms))  # alive, but shrinking towards the input
    assert results["settings"]["train"] == 200 and results["settings"]["bias"] == -8.0

    for name in ("dead_relu.png", "dead_relu_graph.png"):
        assert is_png(tmp_path / name, 20_000), name
    # the drawn graph greys exactly the 12 hidden ReLUs
    dot = (tmp_path / "dead_relu_graph.dot").read_text(encoding="utf-8")
    grey = sorted(name for name, fill in node_fills(tmp_path / "dead_relu_graph.dot").items() if fill == DEAD_FILL)
    assert grey == sorted(f"fc{k}.a[{j}]" for k in range(1, 5) for j in range(3))
    assert "grey: 12 of 12 hidden ReLUs dead on every sample" in dot and "every weight gradient is exactly 0" in dot


def test_biases_of_one_keep_every_relu_alive_and_the_title_says_so(experiment, tmp_path) -> None:
    """With the vanishing-gradient net's biases of 1 the counts and the graph's title all say: nothing is dead."""
    returned, results = run_experiment(experiment, ["--bias", "1", "--train", "200"], tmp_path)
    relu = results["relu"]
    assert all(n > 0 for n in results["norms"]["relu"])
    assert relu["zero_weight_grads"] == relu["zero_hidden_bias_grads"] == relu["dead_units"] == 0
    title = experiment.graph_title(1.0, 200, returned["relu"])
    assert "every bias 1, one full-batch gradient on 200 moons" in title
    assert "none of the 12 hidden ReLUs is dead on every sample" in title
    assert title.endswith("no weight gradient is exactly 0")


def test_graph_title_follows_the_counts(experiment) -> None:
    """Every count the title can meet: all, none or some of the weight gradients exactly 0."""
    relu = {"dead_units": ["fc1.a[0]"], "hidden_units": 12, "weight_grads": np.zeros(36), "zero_weight_grads": 5}
    title = experiment.graph_title(-0.5, 100, relu)
    assert "grey: 1 of 12 hidden ReLUs dead" in title and title.endswith(": 5 of 36 weight gradients are exactly 0")
    relu["zero_weight_grads"] = 36
    assert experiment.graph_title(-8, 100, relu).endswith(": every weight gradient is exactly 0")


def test_units_are_dead_because_every_pre_activation_is_negative(experiment) -> None:
    X = np.random.default_rng(3).normal(size=(100, 2))
    y = (X[:, 1] > 0).astype(float)
    model, head = experiment.build_net("relu", -8.0, 0.01, 0)
    nn.batch_weight_gradient_norms(model, head, X, y)
    for layer in model.layers[:-1]:
        for z in layer.z:
            assert np.all(np.asarray(z.value) < 0)
    # with biases of 1 the same net is alive
    model, head = experiment.build_net("relu", 1.0, 0.01, 0)
    assert all(n > 0 for n in nn.batch_weight_gradient_norms(model, head, X, y))
    assert len(Graph(head.loss).parameters()) == 49


def test_bad_flags_are_rejected(experiment) -> None:
    for flags in (["--slope", "0"], ["--slope", "1.5"], ["--std", "-1"], ["--train", "0"]):
        with pytest.raises(SystemExit):
            experiment.main(flags)
