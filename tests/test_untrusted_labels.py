"""Careless labels: a label outside its loss's domain is a ValueError naming the loss
node and the first bad value, up front in Trainer.fit/evaluate and when the value
reaches the loss (issue: files from strangers, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl import nn, optim
from graphdl.train import Trainer


def _snapshot(model):
    return [p.value for p in model.parameters()]


@pytest.fixture
def three_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, size=60).astype(float)
    return X, y


def test_softmax_cross_entropy_hook_accepts_class_indices_and_names_the_first_bad_one():
    *logits, label = [gd.Variable(0.0, name=n) for n in ("z0", "z1", "z2", "y")]
    loss = gd.SoftmaxCrossEntropy([*logits, label], name="ce")
    assert loss.checked_arguments == (3,)
    loss.check_argument(3, np.array([0.0, 2.0, 1.0]))
    loss.check_argument(3, 2.0)
    with pytest.raises(
        ValueError,
        match=r"SoftmaxCrossEntropy 'ce': a label must be an integer class index in 0..2, "
        r"got 3 \(sample 2 of the batch\)",
    ):
        loss.check_argument(3, np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="got 0.5"):
        loss.check_argument(3, 0.5)
    with pytest.raises(ValueError, match="got -1"):
        loss.check_argument(3, -1.0)


@pytest.mark.parametrize("cls", [gd.LogLoss, gd.BCEWithLogits])
def test_binary_losses_want_labels_in_the_unit_interval(cls):
    label, p = gd.Variable(0.0, name="y"), gd.Variable(0.5, name="p")
    loss = cls([label, p], name="bce")
    assert loss.checked_arguments == (0,)
    loss.check_argument(0, np.array([0.0, 0.25, 1.0]))
    with pytest.raises(ValueError, match=rf"{cls.__name__} 'bce': a label must be in \[0, 1\].*got 2$"):
        loss.check_argument(0, 2.0)


def test_regression_losses_check_nothing():
    for cls in (gd.SquaredLoss, gd.ValueLoss):
        loss = cls([gd.Variable(5.0), gd.Variable(-3.0)])
        assert loss.checked_arguments == ()
        assert loss.forward() > 0.0


def test_off_by_one_class_labels_are_refused_before_training(three_classes):
    X, y = three_classes
    model = nn.MLP(2, [4, 3], rng=0)
    optimizer = optim.SGD(model, lr=0.1)
    trainer = Trainer(model, optimizer, loss="cross_entropy", progress=False)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"train: SoftmaxCrossEntropy 'loss': .*0..2, got 3 \(sample \d+ .*'label'"):
        trainer.fit((X, y + 1), epochs=1)
    assert optimizer.step_count == 0 and _snapshot(model) == before
    with pytest.raises(ValueError, match="evaluate: SoftmaxCrossEntropy 'loss'.*got 3"):
        trainer.evaluate((X, y + 1))
    with pytest.raises(ValueError, match="dev: SoftmaxCrossEntropy 'loss'.*got 3"):
        trainer.fit((X, y), (X, y + 1), epochs=1)
    assert optimizer.step_count == 0
    history = trainer.fit((X, y), epochs=2, batch_size=None)
    assert min(history.train_loss) > 0.0


def test_bce_label_of_two_is_refused_before_training():
    X = np.linspace(-1, 1, 20).reshape(-1, 1)
    y = (X[:, 0] > 0).astype(float)
    y[7] = 2.0
    model = nn.MLP(1, [3, 1], activation="tanh", output_activation="sigmoid", rng=0)
    optimizer = optim.SGD(model, lr=0.1)
    trainer = Trainer(model, optimizer, loss="bce", progress=False)
    with pytest.raises(ValueError, match=r"train: LogLoss 'loss': a label must be in \[0, 1\].*got 2 \(sample 7"):
        trainer.fit((X, y), epochs=1)
    assert optimizer.step_count == 0


def _class_graph(label_value):
    logits = [gd.Variable(0.1 * k, name=f"z{k}") for k in range(3)]
    label = gd.Variable(label_value, name="y", trainable=False)
    return logits, label, gd.SoftmaxCrossEntropy([*logits, label], name="ce")


def test_interpreter_refuses_a_bad_label_when_it_reaches_the_loss():
    logits, label, loss = _class_graph(np.array([0.0, 1.0, 2.0]))
    assert loss.forward().shape == (3,)
    label.set_value(np.array([1.0, 2.0, 3.0]))
    for run in (loss.forward, loss.backward, lambda: logits[0].get_grad(loss)):
        with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy 'ce': .*0..2, got 3 \(sample 2 of the batch\)"):
            run()
    y, p = gd.Variable(2.0, name="y2", trainable=False), gd.Variable(0.5, name="p")
    bce = gd.LogLoss([y, gd.Sigmoid([p])], name="bce")
    with pytest.raises(ValueError, match=r"LogLoss 'bce': a label must be in \[0, 1\].*got 2$"):
        bce.forward()
    y.set_value(1.0)
    assert bce.forward() == pytest.approx(-np.log(1.0 / (1.0 + np.exp(-0.5))))


def test_compiled_program_refuses_a_bad_fed_label():
    logits, label, loss = _class_graph(0.0)
    compiled = gd.compile(loss, inputs=[label])
    good = np.array([0.0, 1.0, 2.0])
    label.set_value(good)
    assert np.allclose(compiled.forward({label: good}), loss.forward(), rtol=0, atol=1e-12)
    bad = np.array([0.0, 1.0, 3.0])
    for run in (lambda: compiled.forward({label: bad}), lambda: compiled.backward({label: bad})):
        with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy 'ce': .*got 3 \(sample 2 of the batch\)"):
            run()
    before = [z.value for z in logits]
    with pytest.raises(ValueError, match="got 1.5"):
        compiled.sgd({label: np.array([0.0, 1.5])}, lr=0.1)
    assert [z.value for z in logits] == before
