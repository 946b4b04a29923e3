"""The core tutorial's per-sample loop (``graphdl.tutorial_net.train_per_sample``) against a
reference written with plain Python floats and derivatives derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl.tutorial_net import FIG7_INIT, FIG8_INIT, build_seed_net, quadratic_data, train_per_sample


def hand_derived_training(init, xs, labels, lr, negative_slope=0.1):
    """The tutorial's network and loop, by hand.

    forward:  h_j = w_1j·x + b_1j,  r_j = h_j if h_j > 0 else slope·h_j,
              y = r_1·w_21 + r_2·w_22 + b_21,  loss = |label − y|
    backward: dloss/dy = −sign(label − y) (0 when equal),
              dr_j/dh_j = 1 if h_j > 0 else slope.
    Every parameter is updated with the gradient of the same point. Returns the final
    parameters, the loss of every step and how often a hidden unit was on its negative side.
    """
    w11, w12, b11, b12, w21, w22, b21 = init
    losses = []
    negative_side = 0  # how often a hidden unit was on the negative slope
    for x, label in zip(xs, labels):
        h1 = w11 * x + b11
        h2 = w12 * x + b12
        r1 = h1 if h1 > 0 else negative_slope * h1
        r2 = h2 if h2 > 0 else negative_slope * h2
        y = r1 * w21 + r2 * w22 + b21
        error = label - y
        loss = abs(error)
        dy = -1.0 if error > 0 else (1.0 if error < 0 else 0.0)
        dh1 = dy * w21 * (1.0 if h1 > 0 else negative_slope)
        dh2 = dy * w22 * (1.0 if h2 > 0 else negative_slope)
        grads = (dh1 * x, dh2 * x, dh1, dh2, dy * r1, dy * r2, dy)
        w11, w12, b11, b12, w21, w22, b21 = (p - lr * g for p, g in zip((w11, w12, b11, b12, w21, w22, b21), grads))
        losses.append(loss)
        negative_side += (h1 <= 0) + (h2 <= 0)
    return [w11, w12, b11, b12, w21, w22, b21], losses, negative_side


@pytest.mark.parametrize(("init", "seed"), [(FIG8_INIT, 0), (FIG7_INIT, 1), ("random", 2)])
def test_seed_loop_matches_hand_derived_reference(init, seed) -> None:
    xs, labels = quadratic_data(200, seed=seed)
    net = build_seed_net()
    if init == "random":
        net.initialise("random", np.random.default_rng(seed))
        init = [p.value for p in net.params]
    else:
        net.initialise(init)
    steps = []
    losses = train_per_sample(net, xs.tolist(), labels.tolist(), lr=0.01, callback=lambda i, l: steps.append(i))
    expected_params, expected_losses, negative_side = hand_derived_training(init, xs.tolist(), labels.tolist(), 0.01)
    if init is FIG7_INIT:
        assert negative_side > 50  # the LeakyReLU slope 0.1 was exercised
    assert steps == list(range(200))
    assert len(losses) == 200
    for param, expected in zip(net.params, expected_params):
        assert param.value == pytest.approx(expected, abs=1e-9), param.name
    np.testing.assert_allclose(losses, expected_losses, rtol=0, atol=1e-9)


def test_seed_loop_with_plain_relu_matches_reference() -> None:
    xs, labels = quadratic_data(200, seed=4)
    init = (0.3, -0.8, -0.2, 0.5, 0.7, -0.4, 0.1)  # one unit starts dead on part of [0, 2]
    net = build_seed_net(activation="relu")
    net.initialise(init)
    losses = train_per_sample(net, xs, labels, lr=0.01)
    expected_params, expected_losses, negative_side = hand_derived_training(init, xs, labels, 0.01, negative_slope=0.0)
    assert negative_side > 50  # the dead side of ReLU was exercised
    for param, expected in zip(net.params, expected_params):
        assert param.value == pytest.approx(expected, abs=1e-9), param.name
    np.testing.assert_allclose(losses, expected_losses, rtol=0, atol=1e-9)


def test_loop_written_out_like_the_seed_matches_too() -> None:
    """The tutorial's loop verbatim (set_value, forward, get_grad + update, clear)."""
    xs, labels = quadratic_data(100, seed=9)
    net = build_seed_net()
    net.initialise("fig8")
    recorded = []
    for x_value, y_value in zip(xs, labels):
        net.x.set_value(x_value)
        net.label.set_value(y_value)
        net.loss.forward()
        for param in net.params:
            param.get_grad()
            param.update(lr=0.01)
        recorded.append(net.loss.value)
        net.loss.clear()
    expected_params, expected_losses, negative_side = hand_derived_training(FIG8_INIT, xs, labels, 0.01)
    assert [p.value for p in net.params] == pytest.approx(expected_params, abs=1e-9)
    assert recorded == pytest.approx(expected_losses, abs=1e-9)
    assert isinstance(net.loss, gd.ValueLoss)
