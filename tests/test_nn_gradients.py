"""nn.batch_weight_gradient_norms: one batch in, one backward, per-layer weight-gradient norms out."""

from __future__ import annotations

import numpy as np
import pytest

from graphdl import init, nn


def _net(seed: int = 3) -> tuple[nn.MLP, nn.LossHead]:
    model = nn.MLP(2, [3, 1], activation="tanh", output_activation="sigmoid")
    init.normal(model.parameters(), std=0.5, rng=np.random.default_rng(seed))
    return model, nn.attach_loss(model.outputs, "bce")


def test_norms_match_the_gradients_backward_leaves_in_the_weights() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    y = (X[:, 0] > 0).astype(float)
    model, head = _net()
    norms = nn.batch_weight_gradient_norms(model, head, X, y)
    expected = [float(np.sqrt(sum(float(w.grad) ** 2 for w in layer.weights))) for layer in model.layers]
    assert norms == pytest.approx(expected, rel=1e-12)
    assert len(norms) == 2 and all(norm > 0 for norm in norms)
    # the batch really was fed: another batch gives other gradients
    other = nn.batch_weight_gradient_norms(model, head, X[:4] * 3.0, y[:4])
    assert other != pytest.approx(norms)


def test_refuses_X_without_one_column_per_input() -> None:
    model, head = _net()
    with pytest.raises(ValueError, match=r"X has shape \(8, 3\): need one column per input node \(2\)"):
        nn.batch_weight_gradient_norms(model, head, np.zeros((8, 3)), np.zeros(8))
