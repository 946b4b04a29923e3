"""``experiments/moons_classification.py``: smoke test, the hand-built graph against the tutorial's
own numpy backprop, the hand-built graph against the toolkit."""

from __future__ import annotations

import numpy as np
import pytest
from experiment_scripts import is_png, load_experiment, run_experiment


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("moons_classification")


def test_smoke_both_runs_agree_and_write_the_figures(experiment, tmp_path) -> None:
    returned, results = run_experiment(experiment, ["--epochs", "60", "--grid", "40", "--out", str(tmp_path)], tmp_path)
    hand, toolkit = returned["hand"], returned["toolkit"]
    assert [len(y) for _, y in returned["splits"].values()] == [640, 160, 200]
    assert results["agree"] is True and returned["agree"]
    differences = results["largest_differences"]
    assert differences["accuracies"] == 0.0 and differences["grid classes"] == 0.0
    # the two graphs are built differently; compiled dense layers are matrix products, which
    # round in their own order: the runs agree to rounding, not bit for bit
    assert max(differences.values()) <= 1e-12
    for key, run in (("hand_built", hand), ("toolkit", toolkit)):
        assert results[key] == {
            "best_epoch": run.best_epoch,
            "best_dev_accuracy": run.dev_accuracy[run.best_epoch - 1],
            "test_accuracy": run.test_accuracy,
            "test_loss": run.test_loss,
        }

    # the same initial weights and data give the same training, epoch by epoch
    assert hand.best_epoch == toolkit.best_epoch
    np.testing.assert_allclose(hand.train_loss, toolkit.train_loss, rtol=0, atol=1e-9)
    np.testing.assert_allclose(hand.dev_loss, toolkit.dev_loss, rtol=0, atol=1e-9)
    assert hand.train_accuracy == toolkit.train_accuracy and hand.dev_accuracy == toolkit.dev_accuracy
    np.testing.assert_allclose(hand.parameters, toolkit.parameters, rtol=0, atol=1e-9)
    np.testing.assert_allclose(hand.grid_probability, toolkit.grid_probability, rtol=0, atol=1e-9)
    assert hand.grid_probability.shape == (40 * 40,)

    # training works: the loss falls and the model beats chance on unseen data
    assert len(hand.train_loss) == 60 and hand.train_loss[-1] < 0.8 * hand.train_loss[0]
    assert hand.test_accuracy > 0.7
    # the best epoch is the first one with the highest dev accuracy, and the test score is its
    assert hand.best_epoch == int(np.argmax(hand.dev_accuracy)) + 1  # epochs count from 1
    X_test, y_test = returned["splits"]["test"]
    assert np.mean((hand.predict(X_test) >= 0.5) == y_test) == pytest.approx(hand.test_accuracy)

    for name in ("moons_curves.png", "moons_boundary.png"):
        assert is_png(tmp_path / name, 20_000)


def _tutorial_numpy_training(init: dict, X: np.ndarray, y: np.ndarray, lr: float, epochs: int):
    """The feed-forward tutorial's first version in numpy: Linear/Logistic/BCE forward and hand-written
    backward (its Model_MLP_L2 and BinaryCrossEntropyLoss), BatchGD updates."""
    W1, b1 = init["W1"].copy(), init["b1"].copy()
    W2, b2 = init["W2"].reshape(-1, 1).copy(), init["b2"].copy()
    y = y.reshape(-1, 1)
    losses, params_after = [], []
    for _ in range(epochs):
        a1 = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
        a2 = 1.0 / (1.0 + np.exp(-(a1 @ W2 + b2)))
        n = len(X)
        losses.append(float(-(y.T @ np.log(a2) + (1 - y).T @ np.log(1 - a2)).item() / n))
        grad_a2 = -(y / a2 - (1 - y) / (1 - a2)) / n
        grad_z2 = grad_a2 * a2 * (1 - a2)
        grad_W2, grad_b2 = a1.T @ grad_z2, grad_z2.sum(axis=0)
        grad_z1 = (grad_z2 @ W2.T) * a1 * (1 - a1)
        grad_W1, grad_b1 = X.T @ grad_z1, grad_z1.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * grad_W1, b1 - lr * grad_b1, W2 - lr * grad_W2, b2 - lr * grad_b2
        params_after.append(np.concatenate([W1.ravel(), b1, W2.ravel(), b2]))
    return np.array(losses), params_after


@pytest.mark.parametrize("lr", [0.2, 2.0])
def test_hand_built_graph_trains_like_the_tutorials_numpy_backprop(experiment, lr) -> None:
    splits = experiment.make_splits(300, 0.5, seed=3)
    init = experiment.initial_weights(seed=3)
    grid = experiment.grid_points(5)
    run = experiment.train_hand_built(init, splits, lr, 25, grid)
    losses, params_after = _tutorial_numpy_training(init, *splits["train"], lr, 25)
    np.testing.assert_allclose(run.train_loss, losses, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.parameters, params_after[run.best_epoch - 1], rtol=1e-9, atol=1e-12)


def test_the_hand_built_graph_has_one_node_per_operation(experiment) -> None:
    from graphdl import Graph

    net = experiment.build_hand_net(experiment.initial_weights(seed=0))
    kinds: dict[str, int] = {}
    for node in Graph(net.loss).nodes:
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    # 2·5 + 5 Mul, 5 + 1 Add, 5 + 1 Logistic, one loss; 3 data + 21 parameter Variables
    assert kinds == {"Variable": 24, "Mul": 15, "Add": 6, "Sigmoid": 6, "LogLoss": 1}
    assert len(net.parameters()) == 21 and all(p.trainable for p in net.parameters())
    assert not any(v.trainable for v in (net.x1, net.x2, net.label))
    assert all(p.value == 0.0 for p in [*net.b1, net.b2])


@pytest.mark.parametrize(
    "flags", [["--epochs", "0"], ["--lr", "-0.1"], ["--samples", "5"], ["--noise", "-1"], ["--grid", "1"]]
)
def test_bad_flags_are_rejected(experiment, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        experiment.main(flags)
    assert error.value.code == 2
    assert "error:" in capsys.readouterr().err
