"""graphdl.grad: gradients as graphs of ordinary nodes (values, names, roles, folding,
sharing, batches, seeds, higher derivatives, compile and render)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import graphdl as gd
from graphdl import Variable, grad
from graphdl.tutorial_net import build_seed_net


@pytest.fixture
def seed_net():
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.5)
    net.label.set_value(2.25)
    return net


def test_gradient_nodes_equal_get_grad_and_follow_set_value(seed_net) -> None:
    grads = grad(seed_net.loss, seed_net.params)
    for parameter, node in zip(seed_net.params, grads):
        assert node.forward() == parameter.get_grad(seed_net.loss)
        assert node.name == f"d(loss)/d({parameter.name})"
    seed_net.x.set_value(0.4)  # a new point: the gradient nodes recompute
    for parameter, node in zip(seed_net.params, grads):
        assert node.forward() == pytest.approx(parameter.get_grad(seed_net.loss), rel=1e-15)


def test_gradient_graph_reuses_forward_nodes_and_has_its_own_role(seed_net) -> None:
    (gw,) = grad(seed_net.loss, [seed_net.w_11])
    nodes = gd.Graph(gw).nodes
    assert seed_net.x in nodes and seed_net.add_11 in nodes and seed_net.add_21 in nodes  # reused, not copied
    assert {node.role for node in nodes if node.kind != "Variable" and node not in seed_net.loss.ancestors()} == {
        "gradient"
    }
    assert gw.role == "gradient" and seed_net.add_11.role == "operator" and seed_net.loss.role == "loss"
    assert gd.Graph(gw).node("d(loss)/d(add_11)").role == "gradient"  # the chain rule's steps are named


def test_batch_gradient_nodes_hold_per_sample_gradients(seed_net) -> None:
    xs, ys = np.linspace(0.1, 2.0, 7), np.linspace(0.1, 2.0, 7) ** 2
    grads = grad(seed_net.loss, seed_net.params)
    seed_net.x.set_value(xs)
    seed_net.label.set_value(ys)
    per_sample = [node.forward() for node in grads]
    seed_net.loss.backward()
    for parameter, values in zip(seed_net.params, per_sample):
        assert isinstance(values, np.ndarray) and values.shape == (7,)
        assert np.mean(values) == pytest.approx(parameter.grad, rel=1e-12, abs=1e-15)
    for i, (x, y) in enumerate(zip(xs, ys)):  # each sample's own gradient
        seed_net.x.set_value(float(x))
        seed_net.label.set_value(float(y))
        for parameter, values in zip(seed_net.params, per_sample):
            assert values[i] == pytest.approx(parameter.get_grad(seed_net.loss), rel=1e-12, abs=1e-15)


def test_higher_derivatives_of_x_to_the_fourth() -> None:
    x = Variable(1.7, name="x")
    y = x**4
    derivatives = [y]
    for _ in range(4):
        derivatives.append(grad(derivatives[-1], [x])[0])
    values = [node.forward() for node in derivatives]
    assert values == pytest.approx([1.7**4, 4 * 1.7**3, 12 * 1.7**2, 24 * 1.7, 24.0], rel=1e-14)
    assert derivatives[4].role == "constant"  # fully folded: d⁴/dx⁴ x⁴ = 24, a number
    assert grad(derivatives[4], [x])[0].forward() == 0.0


def test_a_node_that_is_not_upstream_gets_a_zero_constant() -> None:
    x, other = Variable(2.0, name="x"), Variable(5.0, name="other")
    (zero,) = grad(x * x, [other])
    assert zero.forward() == 0.0 and zero.role == "constant" and zero.name.endswith("/d(other)")


def test_seed_gives_the_vector_jacobian_product() -> None:
    x, v = Variable(0.3, name="x"), Variable(-2.0, name="v", trainable=False)
    y = gd.Tanh([x * 3.0])
    (plain,) = grad(y, [x])
    (by_node,) = grad(y, [x], seed=v)
    (by_number,) = grad(y, [x], seed=0.5)
    assert by_node.forward() == pytest.approx(-2.0 * plain.forward(), rel=1e-15)
    assert by_number.forward() == pytest.approx(0.5 * plain.forward(), rel=1e-15)
    assert v in gd.Graph(by_node).nodes


def test_folding_reads_like_the_chain_rule() -> None:
    x, w, b = Variable(2.0, name="x", trainable=False), Variable(3.0, name="w"), Variable(1.0, name="b")
    y = x * w + b
    gw, gb = grad(y, [w, b])
    assert gb.role == "constant" and gb.forward() == 1.0  # d/db (x w + b) = 1: no node at all
    assert gw.kind == "Identity" and gw.parents == (x,)  # d/dw = x itself, under the gradient's name
    (cube,) = grad(x * x * x + 0.0 * w, [x])
    # d/dx x³ through (x·x)·x: one Add of the two paths, each path shares x·x's gradient
    assert cube.forward() == pytest.approx(12.0)


def test_common_subexpressions_are_built_once() -> None:
    x = Variable(0.7, name="x")
    s = gd.Sigmoid([x])
    y = s * s  # both factors share s's gradient path
    (gx,) = grad(y, [x])
    kinds = [node.kind for node in gd.Graph(gx).nodes if node.role == "gradient"]
    assert gx.forward() == pytest.approx(2 * s.forward() ** 2 * (1 - s.forward()), rel=1e-14)
    assert kinds.count("Sub") == 1  # σ(1 − σ) once, though s reaches y twice
    # a term that comes twice is taken twice: d(s·s)/ds = 2·s, not s + s
    (gs,) = grad(y, [s])
    assert gs.kind == "Mul" and 2.0 in [p.value for p in gs.parents]


@pytest.mark.parametrize("make", [gd.Relu, gd.LeakyRelu, gd.Abs, lambda p: gd.HingeLoss([1.0, p[0]])])
def test_second_derivative_of_a_piecewise_linear_op_is_zero(make) -> None:
    x = Variable(0.3, name="x")
    (first,) = grad(make([x * 2.0]), [x])
    assert first.forward() != 0.0
    (second,) = grad(first, [x])
    assert second.forward() == 0.0 and second.role == "constant"


def test_n_ary_mul_stays_linear() -> None:
    factors = [Variable(1.0 + k / 100, name=f"f{k}") for k in range(200)]
    product = gd.Mul(factors)
    grads = grad(product, factors)
    created = [node for node in gd.Graph(grads).nodes if node.role == "gradient"]
    assert len(created) < 4 * len(factors)  # prefix and suffix products, not 200 products of 199
    product.backward()
    for factor, node in zip(factors[::37], grads[::37]):
        assert node.forward() == pytest.approx(factor.grad, rel=1e-12)


def test_batch_mean_gradient_keeps_the_mean_rule() -> None:
    x = Variable(np.array([0.5, -1.0, 2.0, 0.1]), name="x")
    w = Variable(1.3, name="w")
    centred = x * w - gd.BatchMean([x * w])
    loss = centred * centred
    (gw,) = grad(loss, [w])
    assert np.mean(gw.forward()) == pytest.approx(w.get_grad(loss), rel=1e-12)


def test_custom_operator_differentiates_twice_without_extra_code() -> None:
    class Softsign(gd.Operator):
        __slots__ = ()

        def formula(self, F, x):
            return x / (1.0 + F.abs(x))

        def derivative(self, F, index, out, x):
            return 1.0 / ((1.0 + F.abs(x)) * (1.0 + F.abs(x)))

    for value in (-1.3, 0.6):
        x = Variable(value, name="x")
        (first,) = grad(Softsign([x]), [x])
        (second,) = grad(first, [x])
        assert first.forward() == pytest.approx(1 / (1 + abs(value)) ** 2, rel=1e-14)
        assert second.forward() == pytest.approx(-2 * math.copysign(1, value) / (1 + abs(value)) ** 3, rel=1e-14)


def test_compiled_second_derivative_on_a_batch_equals_the_interpreted_one() -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(0.9, name="w")
    y = gd.Tanh([x * w]) * gd.Sigmoid([x]) + gd.Elu([x - w])
    (gw,) = grad(y, [w])
    (gww,) = grad(gw, [w])
    xs = np.linspace(-2.0, 2.0, 9)
    x.set_value(xs)
    compiled = gd.compile(gww, inputs=[x])
    np.testing.assert_allclose(compiled.forward({x: xs}), gww.forward(), rtol=1e-12, atol=1e-12)


def test_to_dot_draws_the_gradient_graph(seed_net) -> None:
    from graphdl.viz import to_dot
    from graphdl.viz.style import ROLE_STYLES

    (gw,) = grad(seed_net.loss, [seed_net.w_21])
    gw.forward()
    dot = to_dot(gw)
    nodes = gd.Graph(gw).nodes
    assert dot.count("tooltip=") == len(nodes)
    assert 'tooltip="d(loss)/d(w_21)"' in dot and ROLE_STYLES["gradient"].fill in dot
    edges = sum(len(node.parents) for node in nodes)
    assert dot.count(" -> ") == edges


def test_bad_arguments_are_clear_errors() -> None:
    x = Variable(1.0, name="x")
    with pytest.raises(TypeError, match="list of nodes"):
        grad(x * x, x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrt must hold nodes"):
        grad(x * x, [1.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="output must be a node"):
        grad(2.0, [x])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be"):
        grad(x * x, [x], seed="1")  # type: ignore[arg-type]
