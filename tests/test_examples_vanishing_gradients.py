"""``examples/vanishing_gradients.py``: the first layer's gradient vanishes with Sigmoid, far less with ReLU."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example

from graphdl import Graph, compile
from graphdl.viz.style import VANISHING_FILL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NUMBER = r"([0-9.]+e[-+][0-9]+)"


@pytest.fixture(scope="module")
def example():
    return load_example("vanishing_gradients")


def _printed_norms(output: str, activation: str) -> list[float]:
    pattern = rf"^{activation}: layer 1 weight-gradient norm {NUMBER}, " + ", ".join(
        rf"layer {k} {NUMBER}" for k in range(2, 6)
    )
    match = re.search(pattern + "$", output, re.MULTILINE)
    assert match, output
    return [float(value) for value in match.groups()]


def test_sigmoid_gradients_vanish_and_relu_keeps_more(example, tmp_path, capsys) -> None:
    result = example.main(["--train", "200", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    norms = result["norms"]
    for activation in ("sigmoid", "relu"):
        printed = _printed_norms(output, activation)
        np.testing.assert_allclose(printed, norms[activation], rtol=0.06)  # printed with 2 digits
        assert all(a < b for a, b in zip(norms[activation], norms[activation][1:]))  # shrinks going back
    sigmoid, relu = norms["sigmoid"], norms["relu"]
    assert sigmoid[0] < 1e-8 * sigmoid[-1]  # the first layer's gradient has all but vanished
    assert all(r > 5 * s for r, s in zip(relu[:4], sigmoid[:4]))  # ReLU passes far more back
    assert result["first_layer_ratio"] == pytest.approx(relu[0] / sigmoid[0])
    assert re.search(r"^first layer: ReLU's weight-gradient norm is \d+ times Sigmoid's$", output, re.MULTILINE)

    for name in ("vanishing_gradients.png", "vanishing_graph.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000, name
        assert f"wrote {tmp_path / name}" in output
    # the drawn graph marks the first layers as vanishing and leaves the output layer alone
    dot = (tmp_path / "vanishing_graph.dot").read_text(encoding="utf-8")
    filled = {name: fill for fill, name in re.findall(r'fillcolor="([^"]+)".*tooltip="([^"]+)"', dot)}
    assert all(filled[f"fc1.w[{i},{j}]"] == VANISHING_FILL for i in range(2) for j in range(3))
    assert filled["fc1.a[0]"] == VANISHING_FILL
    assert all(filled[f"fc5.w[{i},0]"] != VANISHING_FILL for i in range(3))
    assert filled["loss"] != VANISHING_FILL


def test_gradient_matches_the_compiled_graph(example) -> None:
    """The interpreted batch gradient the script reads equals the compiled one."""
    X = np.random.default_rng(1).normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(float)
    model, head = example.build_net("sigmoid", 1.0, 0.01, 102)
    norms = example.weight_gradient_norms(model, head, X, y)
    interpreted = {p: float(p.grad) for p in model.parameters()}
    compiled = compile(head.loss, inputs=[*model.inputs, head.labels[0]])
    compiled.backward({model.inputs[0]: X[:, 0], model.inputs[1]: X[:, 1], head.labels[0]: y})
    for param, grad in interpreted.items():
        assert float(param.grad) == pytest.approx(grad, rel=1e-9, abs=1e-300)
    assert len(norms) == 5 and len(Graph(head.loss).parameters()) == 49


def test_bad_flags_are_rejected(example) -> None:
    for flags in (["--std", "0"], ["--train", "2000"], ["--threshold", "-1"], ["--noise", "-0.1"]):
        with pytest.raises(SystemExit):
            example.main(flags)
