"""``examples/moons_classification.py``: smoke test, the hand-built graph against the seed's
own numpy backprop, the hand-built graph against the toolkit, and the full default run (slow)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    return load_example("moons_classification")


def _printed(pattern: str, output: str) -> list[str]:
    found = re.findall(pattern, output, re.MULTILINE)
    assert found, f"no line matches {pattern!r} in:\n{output}"
    return found


def test_smoke_both_runs_agree_and_write_the_figures(example, tmp_path, capsys) -> None:
    result = example.main(["--epochs", "60", "--grid", "40", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    hand, toolkit = result["hand"], result["toolkit"]

    assert _printed(r"train/dev/test (\d+/\d+/\d+);", output) == ["640/160/200"]
    accuracies = {
        name: float(value) for name, value in _printed(r"^(hand-built graph|toolkit): test accuracy ([0-9.]+)", output)
    }
    assert accuracies == {"hand-built graph": pytest.approx(hand.test_accuracy, abs=1e-4),
                          "toolkit": pytest.approx(toolkit.test_accuracy, abs=1e-4)}  # fmt: skip
    assert _printed(r"^the two runs agree: (\w+)$", output) == ["yes"] and result["agree"]

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
    assert hand.best_epoch == int(np.argmax(hand.dev_accuracy))
    X_test, y_test = result["splits"]["test"]
    assert np.mean((hand.predict(X_test) >= 0.5) == y_test) == pytest.approx(hand.test_accuracy)

    for name in ("moons_curves.png", "moons_boundary.png"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000
        assert f"wrote {tmp_path / name}" in output


def _seed_numpy_training(init: dict, X: np.ndarray, y: np.ndarray, lr: float, epochs: int):
    """Seed 000's first version in numpy: Linear/Logistic/BCE forward and hand-written
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
def test_hand_built_graph_trains_like_the_seeds_numpy_backprop(example, lr) -> None:
    splits = example.make_splits(300, 0.5, seed=3)
    init = example.initial_weights(seed=3)
    grid = example.grid_points(5)
    run = example.train_hand_built(init, splits, lr, 25, grid)
    losses, params_after = _seed_numpy_training(init, *splits["train"], lr, 25)
    np.testing.assert_allclose(run.train_loss, losses, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.parameters, params_after[run.best_epoch], rtol=1e-9, atol=1e-12)


def test_the_hand_built_graph_has_one_node_per_operation(example) -> None:
    from graphdl import Graph

    net = example.build_hand_net(example.initial_weights(seed=0))
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
def test_bad_flags_are_rejected(example, flags, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        example.main(flags)
    assert error.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_default_run_repeats_the_seed(example, capsys) -> None:
    result = example.main([])
    output = capsys.readouterr().out
    hand, toolkit = result["hand"], result["toolkit"]
    assert result["agree"] and "the two runs agree: yes" in output
    assert len(hand.train_loss) == 1000 and hand.grid_probability.shape == (40_000,)
    # the seed's 0.76, within the spread of seeds and splits of 200 test points
    assert 0.7 <= hand.test_accuracy == toolkit.test_accuracy <= 0.9
    assert hand.train_loss[-1] < 0.45
