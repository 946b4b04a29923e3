"""``model(X)``: a built model called on data returns its outputs' values, as micrograd users expect."""

from __future__ import annotations

import numpy as np
import pytest

from graphdl import Variable, nn


def _by_hand(model: nn.MLP, sample: np.ndarray) -> np.ndarray:
    """The MLP's outputs for one sample, computed with numpy from its parameters (ReLU hidden, linear output)."""
    activations = np.asarray(sample, dtype=float)
    for number, layer in enumerate(model.layers, start=1):
        weights = np.array([[w.value for w in row] for row in layer.w])
        z = activations @ weights + np.array([b.value for b in layer.biases])
        activations = z if number == len(model.layers) else np.maximum(z, 0.0)
    return activations


def test_one_sample_gives_a_float_or_one_value_per_output() -> None:
    single = nn.MLP(3, [4, 1], rng=0)
    sample = np.array([0.5, -1.0, 2.0])
    value = single(sample)
    assert isinstance(value, float)
    assert value == pytest.approx(_by_hand(single, sample)[0], abs=1e-12)
    multi = nn.MLP(3, [4, 2], rng=1)
    np.testing.assert_allclose(multi(list(sample)), _by_hand(multi, sample), atol=1e-12)


def test_a_batch_gives_one_row_per_sample() -> None:
    X = np.random.default_rng(0).normal(size=(5, 3))
    single, multi = nn.MLP(3, [4, 1], rng=0), nn.MLP(3, [4, 2], rng=1)
    assert single(X).shape == (5,)
    np.testing.assert_allclose(single(X), [_by_hand(single, row)[0] for row in X], atol=1e-12)
    assert multi(X).shape == (5, 2)
    np.testing.assert_allclose(multi(X), [_by_hand(multi, row) for row in X], atol=1e-12)
    np.testing.assert_allclose(multi(X[:1]), [multi(X[0])], atol=1e-12)


def test_dropout_is_off_when_calling_the_model() -> None:
    with_dropout = nn.MLP(2, [6, 1], dropout=0.5, rng=0)
    plain = nn.MLP(2, [6, 1], rng=0)
    X = np.array([[0.3, -0.2], [1.0, 2.0]])
    np.testing.assert_allclose(with_dropout(X), plain(X), atol=1e-12)


def test_a_hand_built_model_is_callable() -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(2.0, name="w")
    model = nn.Model(inputs=[x], outputs=[x * w + 1.0])
    assert model([3.0]) == 7.0 == model(3.0)  # one input: a plain number is one sample
    np.testing.assert_allclose(model(np.array([[0.0], [1.0]])), [1.0, 3.0])
    with pytest.raises(ValueError, match=r"a sample has 2 \(a batch of one-input samples is a column"):
        model(np.array([0.0, 1.0]))


def test_a_model_built_on_other_nodes_says_which_input_is_not_data() -> None:
    first = nn.MLP(2, [3], rng=0)
    second = nn.MLP(3, [1], inputs=first.outputs, name="head", rng=0)
    with pytest.raises(TypeError, match=r"MLP 'head' cannot be called on data: its input Add 'fc1\.z\[0\]'"):
        second([1.0, 2.0, 3.0])
    assert isinstance(first([1.0, 2.0]), np.ndarray)  # the model it is built on takes the data


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([1.0, 2.0, 3.0], ValueError, r"MLP 'mlp' takes 2 input value\(s\) per sample; a sample has 3"),
        (np.ones((4, 3)), ValueError, r"each row of a batch has 3"),
        (np.ones((0, 2)), ValueError, r"MLP 'mlp': the batch has no rows"),
        (np.ones((2, 2, 2)), ValueError, r"got a 3-D array"),
        ("ab", TypeError, r"MLP 'mlp': expected numbers"),
        ([1.0, float("nan")], ValueError, r"x\[1\]"),
    ],
)
def test_bad_data_is_refused_naming_the_model_or_input(data, error, message) -> None:
    with pytest.raises(error, match=message):
        nn.MLP(2, [3, 1], rng=0)(data)
