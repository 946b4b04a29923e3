"""``graphdl.gradcheck``: small error on correct graphs, a named failure on a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl.tutorial_net import build_seed_net


class WrongSquare(gd.Operator):
    """Test-only operator: x² with a deliberately wrong derivative (3x instead of 2x)."""

    __slots__ = ()
    arity = 1
    symbol = "bad²"

    def formula(self, F, x):
        return x * x

    def derivative(self, F, index, out, x):
        return 3.0 * x


def test_gradcheck_on_the_seed_net_is_small() -> None:
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.3)
    net.label.set_value(1.69)
    error = gd.gradcheck(net.loss, wrt=net.params)
    assert 0.0 <= error < 1e-6
    assert gd.gradcheck(net.loss) == error  # default wrt: the trainable Variables upstream


def test_gradcheck_on_a_batch_and_restores_values() -> None:
    net = build_seed_net(activation="relu")
    net.initialise("fig7")
    xs = np.linspace(0.05, 1.95, 8)
    net.x.set_value(xs)
    net.label.set_value(xs**2)
    before = [p.value for p in net.params]
    loss_before = net.loss.forward().copy()
    assert gd.gradcheck(net.loss, wrt=net.params) < 1e-6
    assert [p.value for p in net.params] == before
    np.testing.assert_array_equal(net.loss.value, loss_before)


def test_gradcheck_with_respect_to_a_batch_variable() -> None:
    x = gd.Variable(np.array([0.3, -0.7, 1.1]), name="x")
    w = gd.Variable(0.8, name="w")
    out = gd.Softplus([x * w]) + gd.Tanh([x])
    assert gd.gradcheck(out, wrt=[x, w]) < 1e-6


def test_gradcheck_raises_naming_the_variable_on_a_wrong_operator() -> None:
    good = gd.Variable(0.7, name="good_w")
    bad = gd.Variable(1.4, name="bad_w")
    out = gd.Add([gd.Tanh([good]), WrongSquare([bad])], name="target")
    with pytest.raises(gd.GradcheckError) as info:
        gd.gradcheck(out, wrt=[good, bad])
    message = str(info.value)
    assert "bad_w" in message and "good_w" not in message and "target" in message
    assert isinstance(info.value, AssertionError)
    worst = gd.gradcheck(out, wrt=[good, bad], raise_on_failure=False)
    assert worst == pytest.approx(abs(3 * 1.4 - 2 * 1.4) / (3 * 1.4), rel=1e-4)
    assert gd.gradcheck(out, wrt=[good]) < 1e-6


def test_gradcheck_rejects_non_variables() -> None:
    w = gd.Variable(1.0, name="w")
    out = w * w
    with pytest.raises(TypeError):
        gd.gradcheck(out, wrt=[out])
