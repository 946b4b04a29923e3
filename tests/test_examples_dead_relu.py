"""``examples/dead_relu.py``: biases −8 kill every ReLU (all weight gradients exactly 0); LeakyReLU keeps them."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example, node_fills

from graphdl import Graph
from graphdl.viz.style import DEAD_FILL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    return load_example("dead_relu")


def test_relu_gradients_are_exactly_zero_and_leaky_ones_are_not(example, tmp_path, capsys) -> None:
    result = example.main(["--train", "200", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    relu, leaky = result["relu"], result["leaky_relu"]

    assert result["norms"]["relu"] == [0.0] * 5
    assert re.search(
        r"^relu, biases -8: layer 1 weight-gradient norm 0 \(exactly\)(, layer \d 0 \(exactly\)){4}$", output, re.M
    )
    assert np.all(relu["weight_grads"] == 0.0) and len(relu["weight_grads"]) == 36
    assert np.all(relu["hidden_bias_grads"] == 0.0) and len(relu["hidden_bias_grads"]) == 12
    assert "ReLU, biases -8: 36 of 36 weight gradients and 12 of 12 hidden-bias gradients are exactly 0" in output
    assert len(relu["dead_units"]) == relu["hidden_units"] == 12
    assert "ReLU, biases -8: 12 of 12 hidden units are dead (derivative 0 on all 200 samples)" in output
    assert relu["output_bias_grad"] < -0.1  # the one parameter with no ReLU in its path still learns

    assert np.all(leaky["weight_grads"] != 0.0) and np.all(leaky["hidden_bias_grads"] != 0.0)
    assert leaky["dead_units"] == []
    norms = result["norms"]["leaky_relu"]
    assert all(0 < a < b for a, b in zip(norms, norms[1:]))  # alive, but shrinking towards the input
    match = re.search(
        r"^LeakyReLU \(slope 0\.01\), biases -8: 36 of 36 weight gradients .* ([0-9.]+e-\d+)$", output, re.M
    )
    assert match and float(match.group(1)) == pytest.approx(np.abs(leaky["weight_grads"]).max(), rel=0.06)

    for name in ("dead_relu.png", "dead_relu_graph.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000, name
        assert f"wrote {tmp_path / name}" in output
    # the drawn graph greys exactly the 12 hidden ReLUs
    dot = (tmp_path / "dead_relu_graph.dot").read_text(encoding="utf-8")
    filled = node_fills(tmp_path / "dead_relu_graph.dot")
    grey = sorted(name for name, fill in filled.items() if fill == DEAD_FILL)
    assert grey == sorted(f"fc{k}.a[{j}]" for k in range(1, 5) for j in range(3))
    assert "grey: 12 of 12 hidden ReLUs dead on every sample" in dot and "every weight gradient is exactly 0" in dot


def test_seed_biases_of_one_keep_every_relu_alive_and_the_title_says_so(example, tmp_path, capsys) -> None:
    """With the seed's biases of 1 the counts, the printed lines and the graph's title all say: nothing is dead."""
    result = example.main(["--bias", "1", "--train", "200", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    relu = result["relu"]
    assert all(n > 0 for n in result["norms"]["relu"])
    zero_weights, zero_biases = int(np.sum(relu["weight_grads"] == 0.0)), int(np.sum(relu["hidden_bias_grads"] == 0.0))
    assert relu["zero_weight_grads"] == zero_weights == 0 and relu["zero_hidden_bias_grads"] == zero_biases == 0
    assert relu["dead_units"] == [] and relu["hidden_units"] == 12
    assert "ReLU, biases 1: 0 of 36 weight gradients and 0 of 12 hidden-bias gradients are exactly 0" in output
    assert "ReLU, biases 1: 0 of 12 hidden units are dead (derivative 0 on all 200 samples)" in output

    dot = (tmp_path / "dead_relu_graph.dot").read_text(encoding="utf-8")
    title = re.search(r'label="(ReLU MLP[^"]*)"', dot)
    assert title, dot[:500]
    assert "every bias 1, one full-batch gradient on 200 moons" in title.group(1)
    assert "none of the 12 hidden ReLUs is dead on every sample" in title.group(1)
    assert "no weight gradient is exactly 0" in title.group(1)
    assert "every weight gradient is exactly 0" not in dot and DEAD_FILL not in dot


def test_graph_title_follows_the_counts(example) -> None:
    """Every count the title can meet: all, none or some of the weight gradients exactly 0."""
    relu = {"dead_units": ["fc1.a[0]"], "hidden_units": 12, "weight_grads": np.zeros(36), "zero_weight_grads": 5}
    title = example.graph_title(-0.5, 100, relu)
    assert "grey: 1 of 12 hidden ReLUs dead" in title and title.endswith(": 5 of 36 weight gradients are exactly 0")
    relu["zero_weight_grads"] = 36
    assert example.graph_title(-8, 100, relu).endswith(": every weight gradient is exactly 0")


def test_units_are_dead_because_every_pre_activation_is_negative(example) -> None:
    X = np.random.default_rng(3).normal(size=(100, 2))
    y = (X[:, 1] > 0).astype(float)
    model, head = example.build_net("relu", -8.0, 0.01, 0)
    example.batch_gradient_norms(model, head, X, y)
    for layer in model.layers[:-1]:
        for z in layer.z:
            assert np.all(np.asarray(z.value) < 0)
    # with the seed's biases of 1 the same net is alive
    model, head = example.build_net("relu", 1.0, 0.01, 0)
    assert all(n > 0 for n in example.batch_gradient_norms(model, head, X, y))
    assert len(Graph(head.loss).parameters()) == 49


def test_bad_flags_are_rejected(example) -> None:
    for flags in (["--slope", "0"], ["--slope", "1.5"], ["--std", "-1"], ["--train", "0"]):
        with pytest.raises(SystemExit):
            example.main(flags)
