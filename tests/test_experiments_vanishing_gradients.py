"""``experiments/vanishing_gradients.py``: the first layer's gradient vanishes with Sigmoid, far less with ReLU."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, node_fills, run_experiment

from graphdl import Graph, compile, nn
from graphdl.viz.style import VANISHING_FILL


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("vanishing_gradients")


def test_sigmoid_gradients_vanish_and_relu_keeps_more(experiment, tmp_path) -> None:
    returned, results = run_experiment(experiment, ["--train", "200", "--out", str(tmp_path)], tmp_path)
    norms = results["norms"]
    assert norms == returned["norms"]
    for activation in ("sigmoid", "relu"):
        assert all(a < b for a, b in zip(norms[activation], norms[activation][1:]))  # shrinks going back
        shrink = (norms[activation][-1] / norms[activation][0]) ** (1 / 4)
        assert results["per_layer_shrink"][activation] == pytest.approx(shrink)
    sigmoid, relu = norms["sigmoid"], norms["relu"]
    assert sigmoid[0] < 1e-8 * sigmoid[-1]  # the first layer's gradient has all but vanished
    assert all(r > 5 * s for r, s in zip(relu[:4], sigmoid[:4]))  # ReLU passes far more back
    assert results["first_layer_ratio"] == pytest.approx(relu[0] / sigmoid[0])

    for name in ("vanishing_gradients.png", "vanishing_graph.png"):
        assert is_png(tmp_path / name, 20_000), name
    # the drawn graph marks the vanishing layers (fc1 and fc2 here) and nothing after them
    filled = node_fills(tmp_path / "vanishing_graph.dot")
    layer_of = {name: name.split(".", 1)[0].split("[", 1)[0] for name in filled}
    counts = {layer: sum(1 for name in filled if layer_of[name] == layer) for layer in sorted(set(layer_of.values()))}
    # fc1: 6 w, 3 b, 6 mul, 3 z, 3 a; fc2-fc4: 9 w, 3 b, 9 mul, 3 z, 3 a; fc5: 3 w, 1 b, 3 mul, 1 z, 1 a
    assert counts == {"fc1": 21, "fc2": 27, "fc3": 27, "fc4": 27, "fc5": 9, "label": 1, "loss": 1, "x": 2}
    assert results["vanishing_layers"] == ["fc1", "fc2"]
    vanishing = sorted(name for name, fill in filled.items() if fill == VANISHING_FILL)
    assert vanishing == sorted(name for name in filled if layer_of[name] in {"fc1", "fc2"})


def test_dead_relu_biases_report_no_gradient_instead_of_dividing_by_zero(experiment, tmp_path) -> None:
    """With every bias -8 (the dead-ReLU setting) ReLU's norms are exactly 0: said so, no ZeroDivisionError."""
    _, results = run_experiment(experiment, ["--bias", "-8", "--train", "200"], tmp_path)
    norms = results["norms"]
    assert norms["relu"] == [0.0] * 5
    assert all(n > 0 for n in norms["sigmoid"])  # σ' is small at -8 but never 0
    assert results["per_layer_shrink"]["relu"] is None
    assert results["first_layer_ratio"] == 0.0


def test_comparison_lines_never_divide_by_an_exact_zero(experiment) -> None:
    assert experiment.shrink_text("relu", [0.0, 0.0, 0.1]) == "relu: no gradient reaches layer 1 (norm exactly 0)"
    assert experiment.shrink_text("sigmoid", [1e-6, 1e-3, 1.0]).endswith("shrinks 1.0e+06-fold, ~1000x a layer")
    assert experiment.first_layer_text(0.0, 0.0).endswith("with either activation (both norms exactly 0)")
    assert experiment.first_layer_text(3e-9, 0.0).endswith("with Sigmoid (norm exactly 0); ReLU's norm is 3.0e-09")
    assert experiment.first_layer_text(2e-9, 1e-11).endswith("ReLU's weight-gradient norm is 200 times Sigmoid's")
    assert experiment.first_layer_text(1e-9, 4e-9).endswith("is 0.25 times Sigmoid's")


def test_gradient_matches_the_compiled_graph(experiment) -> None:
    """The interpreted batch gradient the script reads equals the compiled one."""
    X = np.random.default_rng(1).normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(float)
    model, head = experiment.build_net("sigmoid", 1.0, 0.01, 102)
    norms = nn.batch_weight_gradient_norms(model, head, X, y)
    interpreted = {p: float(p.grad) for p in model.parameters()}
    compiled = compile(head.loss, inputs=[*model.inputs, head.labels[0]])
    compiled.backward({model.inputs[0]: X[:, 0], model.inputs[1]: X[:, 1], head.labels[0]: y})
    for param, grad in interpreted.items():
        assert float(param.grad) == pytest.approx(grad, rel=1e-9, abs=1e-300)
    assert len(norms) == 5 and len(Graph(head.loss).parameters()) == 49


def test_bad_flags_are_rejected(experiment) -> None:
    for flags in (["--std", "0"], ["--train", "2000"], ["--threshold", "-1"], ["--noise", "-0.1"]):
        with pytest.raises(SystemExit):
            experiment.main(flags)
