import math

import numpy as np
import pytest

from graphdl import Variable, init, nn


def values(variables):
    return np.array([v.value for v in variables])


def test_uniform_and_normal_statistics():
    params = [Variable() for _ in range(20000)]
    init.uniform(params, -2.0, 3.0, rng=0)
    drawn = values(params)
    assert drawn.min() >= -2.0 and drawn.max() < 3.0
    assert abs(drawn.mean() - 0.5) < 0.05
    assert abs(drawn.std() - 5.0 / math.sqrt(12.0)) < 0.03
    init.normal(params, mean=1.0, std=0.5, rng=1)
    drawn = values(params)
    assert abs(drawn.mean() - 1.0) < 0.02 and abs(drawn.std() - 0.5) < 0.02


def test_constant_zeros_ones():
    params = [Variable() for _ in range(5)]
    init.constant(params, 0.25)
    assert values(params).tolist() == [0.25] * 5
    init.zeros(params)
    assert values(params).tolist() == [0.0] * 5
    init.ones(params[0])
    assert params[0].value == 1.0


def test_seeded_generator_is_reproducible():
    a, b = [Variable() for _ in range(10)], [Variable() for _ in range(10)]
    init.normal(a, rng=np.random.default_rng(42))
    init.normal(b, rng=42)
    assert values(a).tolist() == values(b).tolist()
    init.normal(b, rng=43)
    assert values(a).tolist() != values(b).tolist()


def test_xavier_uniform_bound_and_spread_from_the_layer():
    layer = nn.Dense(200, 100, "tanh", name="big", rng=0)
    init.xavier_uniform(layer, rng=3)
    bound = math.sqrt(6.0 / 300.0)
    drawn = values(layer.weights)
    assert np.abs(drawn).max() <= bound and np.abs(drawn).max() > 0.98 * bound
    assert abs(drawn.std() - bound / math.sqrt(3.0)) < 0.01 * bound / math.sqrt(3.0) * 5
    assert values(layer.biases).tolist() == [0.0] * 100


def test_xavier_normal_and_kaiming_statistics():
    layer = nn.Dense(200, 100, "relu", name="big", rng=0)
    init.xavier_normal(layer, rng=4)
    assert abs(values(layer.weights).std() / math.sqrt(2.0 / 300.0) - 1.0) < 0.03
    init.kaiming_normal(layer, rng=5)
    assert abs(values(layer.weights).std() / math.sqrt(2.0 / 200.0) - 1.0) < 0.03
    init.kaiming_uniform(layer, mode="fan_out", rng=6)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 100.0)
    drawn = values(layer.weights)
    assert np.abs(drawn).max() <= bound and np.abs(drawn).max() > 0.98 * bound


def test_fan_based_init_on_plain_variables_needs_fans():
    params = [Variable() for _ in range(4)]
    with pytest.raises(ValueError, match="fan_in"):
        init.xavier_uniform(params)
    init.kaiming_uniform(params, fan_in=2, rng=0)
    assert np.abs(values(params)).max() <= math.sqrt(2.0) * math.sqrt(3.0 / 2.0)


def test_gains():
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("tanh") == 5.0 / 3.0
    assert init.calculate_gain("leaky_relu", 0.1) == math.sqrt(2.0 / 1.01)
    with pytest.raises(ValueError, match="unknown"):
        init.calculate_gain("wobble")


def test_rejects_non_variables():
    with pytest.raises(TypeError, match="Variables"):
        init.zeros([Variable(), 3.0])


def test_normal_weights_draws_each_layers_weights_and_sets_every_bias() -> None:
    model = nn.MLP(2, [3, 1])
    init.normal_weights(model, std=0.01, bias=-8.0, rng=np.random.default_rng(5))
    expected = np.random.default_rng(5).normal(0.0, 0.01, size=9)  # 6 weights of layer 1, then 3 of layer 2
    drawn = [w.value for layer in model.layers for w in layer.weights]
    assert drawn == list(expected)
    assert [b.value for layer in model.layers for b in layer.biases] == [-8.0] * 4
    with pytest.raises(TypeError, match="normal_weights needs a layer or model from graphdl.nn, got list"):
        init.normal_weights(model.parameters(), std=1.0)


def test_pytorch_linear_default_draws_weights_and_biases_within_one_over_root_fan_in() -> None:
    layers = [nn.Dense(4, 3, None, "fc1"), nn.Dense(3, 2, None, "fc2")]
    init.pytorch_linear_default(layers, rng=np.random.default_rng(7))
    generator = np.random.default_rng(7)
    for layer in layers:
        bound = 1.0 / math.sqrt(layer.fan_in)
        expected = generator.uniform(-bound, bound, size=len(layer.parameters()))
        assert [p.value for p in layer.parameters()] == list(expected)
        assert all(-bound <= p.value < bound for p in layer.parameters())
    model = nn.MLP(4, [3, 2])
    init.pytorch_linear_default(model, rng=np.random.default_rng(7))
    assert [p.value for p in model.parameters()] == [p.value for layer in layers for p in layer.parameters()]
