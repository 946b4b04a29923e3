"""Batches: one graph, many samples (a batch of inputs flows through the graph of one sample)."""

from __future__ import annotations

import numpy as np
import pytest
from core_opspecs import SPEC_IDS, SPECS, OpSpec, positions

import graphdl as gd


def _scalar_run(spec: OpSpec, values, shared: set[int]):
    inputs = [gd.Variable(v, trainable=i not in spec.constant_positions) for i, v in enumerate(values)]
    out = spec.make(inputs)
    out.backward()
    return out.value, [inputs[i].grad for i in positions(spec, len(inputs))]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_batch_gradient_is_mean_of_per_sample_gradients(spec: OpSpec) -> None:
    """Every input but the first is a batch; the first is a parameter shared by all
    samples when the operator has several inputs (its gradient is the mean of the
    per-sample gradients); array inputs get per-sample gradients divided by N."""
    rng = np.random.default_rng(3)
    size = 9
    rows = [spec.draw(rng) for _ in range(size)]
    shared = {0} if len(rows[0]) > 1 and spec.name not in ("ValueLoss", "HingeLoss", "PowNode") else set()
    if shared:
        rows = [(rows[0][0], *row[1:]) for row in rows]
    per_sample = [_scalar_run(spec, row, shared) for row in rows]

    columns = [rows[0][i] if i in shared else np.array([row[i] for row in rows]) for i in range(len(rows[0]))]
    inputs = [gd.Variable(v, trainable=i not in spec.constant_positions) for i, v in enumerate(columns)]
    out = spec.make(inputs)
    out.backward()
    np.testing.assert_allclose(out.value, [value for value, _ in per_sample], rtol=1e-12, atol=1e-12)
    for k, position in enumerate(positions(spec, len(inputs))):
        grads = np.array([sample_grads[k] for _, sample_grads in per_sample])
        batch_grad = inputs[position].grad
        if position in shared:
            assert isinstance(batch_grad, float)
            assert abs(batch_grad - grads.mean()) <= 1e-12 * max(1.0, abs(grads.mean()))
        else:
            np.testing.assert_allclose(batch_grad, grads / size, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_batch_of_one_equals_the_scalar_case_exactly(spec: OpSpec) -> None:
    rng = np.random.default_rng(5)
    for _ in range(10):
        values = spec.draw(rng)
        scalar_value, scalar_grads = _scalar_run(spec, values, set())
        for batched in range(len(values)):  # batch each input in turn, then all at once
            for all_inputs in (False, True):
                columns = [np.array([v]) if (all_inputs or i == batched) else v for i, v in enumerate(values)]
                inputs = [gd.Variable(v, trainable=i not in spec.constant_positions) for i, v in enumerate(columns)]
                out = spec.make(inputs)
                out.backward()
                assert out.value.shape == (1,)
                assert out.value[0] == scalar_value
                for k, position in enumerate(positions(spec, len(inputs))):
                    grad = inputs[position].grad
                    assert np.ndim(grad) == np.ndim(columns[position])
                    assert float(np.asarray(grad).reshape(-1)[0]) == scalar_grads[k], (spec.name, position)


def test_seed_net_batch_of_one_equals_scalar_training_step_exactly() -> None:
    from graphdl.tutorial_net import build_seed_net

    grads = []
    for x_value in (0.7, np.array([0.7])):
        net = build_seed_net()
        net.initialise("fig8")
        net.x.set_value(x_value)
        net.label.set_value(x_value * x_value)
        net.loss.backward()
        grads.append([p.grad for p in net.params])
    assert grads[0] == grads[1]


def test_batch_gradient_of_the_seed_net_is_the_mean_of_per_sample_gradients() -> None:
    from graphdl.tutorial_net import build_seed_net, quadratic_data

    xs, ys = quadratic_data(50, seed=1)
    net = build_seed_net()
    net.initialise("fig8")
    per_sample = []
    for x_value, y_value in zip(xs, ys):
        net.x.set_value(x_value)
        net.label.set_value(y_value)
        net.loss.backward()
        per_sample.append([p.grad for p in net.params])
    net.x.set_value(xs)
    net.label.set_value(ys)
    net.loss.backward()
    np.testing.assert_allclose([p.grad for p in net.params], np.mean(per_sample, axis=0), rtol=0, atol=1e-12)
    # get_grad gives the same numbers lazily
    net.loss.clear()
    np.testing.assert_allclose([p.get_grad() for p in net.params], np.mean(per_sample, axis=0), rtol=0, atol=1e-12)


def test_scalar_feeding_a_batch_sums_and_stays_a_float() -> None:
    w = gd.Variable(2.0, name="w")
    x = gd.Variable(np.array([1.0, 2.0, 3.0, 4.0]), name="x", trainable=False)
    out = w * x
    np.testing.assert_array_equal(out.forward(), [2.0, 4.0, 6.0, 8.0])
    assert isinstance(w.get_grad(), float)
    assert w.grad == pytest.approx(2.5, abs=1e-15)


def test_different_batch_sizes_are_a_clear_error() -> None:
    x = gd.Variable(np.array([1.0, 2.0, 3.0]), name="x_in")
    label = gd.Variable(np.array([1.0, 2.0]), name="y_in")
    w = gd.Variable(0.5, name="w")
    loss = gd.SquaredLoss([label, x * w], name="the_loss")
    with pytest.raises(ValueError) as info:
        loss.forward()
    message = str(info.value)
    assert "batch size" in message
    assert "x_in" in message and "y_in" in message
    assert "3" in message and "2" in message
    with pytest.raises(ValueError, match="batch size"):
        w.get_grad()
    with pytest.raises(ValueError, match="batch size"):
        gd.Graph(loss).validate()


def test_switching_between_batch_and_scalar_values() -> None:
    w = gd.Variable(1.5, name="w")
    x = gd.Variable(np.array([1.0, 2.0]), name="x", trainable=False)
    out = gd.Mul([w, x, x])
    assert w.get_grad() == pytest.approx(2.5)
    x.set_value(3.0)
    assert out.value == 13.5
    assert w.get_grad() == 9.0
    x.set_value(np.array([1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(out.value, [1.5] * 4)
    assert w.get_grad() == 1.0


def test_batch_values_are_read_only_copies() -> None:
    data = np.array([1.0, 2.0])
    x = gd.Variable(data, name="x")
    data[0] = 99.0
    assert x.value[0] == 1.0
    with pytest.raises(ValueError):
        x.value[0] = 5.0


def test_scalar_parameter_reached_by_scalar_and_batch_paths() -> None:
    """Regression: ``d = a·b + b³`` with a batch ``a`` and a scalar ``b``: the gradient
    arriving through ``b³`` (already a batch mean) must not be counted once per sample."""
    a = gd.Variable(np.array([-4.0, -4.0, -4.0]), name="a")
    b = gd.Variable(2.0, name="b")
    d = a * b + b**3
    assert b.get_grad() == 8.0
    d.clear()
    d.backward()
    assert b.grad == 8.0


_SAFE_OPS = [
    lambda r, p: gd.Add(p),
    lambda r, p: gd.Mul(p),
    lambda r, p: gd.Sub(p[:2]) if len(p) >= 2 else gd.Neg(p),
    lambda r, p: gd.Tanh(p[:1]),
    lambda r, p: gd.Sigmoid(p[:1]),
    lambda r, p: gd.Softplus(p[:1]),
    lambda r, p: gd.Swish(p[:1]),
]


def _random_graph(seed: int, batch):
    """A random DAG over a batch input ``x`` and scalar parameters, bounded by tanh."""
    rng = np.random.default_rng(seed)
    x = gd.Variable(batch, name="x", trainable=False)
    params = [gd.Variable(float(rng.uniform(-1.5, 1.5)), name=f"w{i}") for i in range(3)]
    pool: list[gd.Node] = [x, *params]
    for _ in range(12):
        count = int(rng.integers(1, 4))
        chosen = [pool[int(i)] for i in rng.integers(0, len(pool), size=count)]
        node = _SAFE_OPS[int(rng.integers(0, len(_SAFE_OPS)))](rng, chosen)
        pool.append(gd.Tanh([node]))
    out = gd.Add(pool[4:])  # every built node feeds the single sink
    return x, params, out


@pytest.mark.parametrize("seed", range(12))
def test_random_graphs_batch_gradient_is_mean_of_per_sample(seed: int) -> None:
    xs = np.random.default_rng(100 + seed).uniform(-2, 2, size=7)
    per_sample = []
    for x_value in xs:
        _, params, out = _random_graph(seed, float(x_value))
        out.backward()
        per_sample.append([p.grad if p.grad is not None else 0.0 for p in params])
    _, params, out = _random_graph(seed, xs)
    out.backward()
    batch = [p.grad if p.grad is not None else 0.0 for p in params]
    assert all(isinstance(g, float) for g in batch)
    np.testing.assert_allclose(batch, np.mean(per_sample, axis=0), rtol=0, atol=1e-12)
    # a batch of one is the scalar case exactly
    _, params, out = _random_graph(seed, xs[:1])
    out.backward()
    assert [p.grad if p.grad is not None else 0.0 for p in params] == per_sample[0]
