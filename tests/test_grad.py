"""graphdl.grad: gradients as graphs of ordinary nodes (values, names, roles, folding,
sharing, batches, seeds, higher derivatives, compile and render)."""

from __future__ import annotations

import math
import runpy
import sys

import numpy as np
import pytest
from experiment_scripts import ROOT

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


def test_custom_operator_differentiates_twice_without_extra_code(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", ["custom_operator.py"])  # the example reads its command line
    softsign = runpy.run_path(str(ROOT / "examples" / "custom_operator.py"))["Softsign"]
    assert "d2y/dx2 = " in capsys.readouterr().out
    for value in (-1.3, 0.6):
        x = Variable(value, name="x")
        (first,) = grad(softsign([x]), [x])
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


def test_a_gradient_graph_saves_and_loads_with_its_role(tmp_path) -> None:
    from graphdl.graph_io import GraphFormatError, graph_from_dict, graph_to_dict, load_graph, save_graph

    x = Variable(0.7, name="x")
    y = gd.Relu([x * x - 0.1]) + gd.Clip([x, -0.5, 0.5]) + gd.Log1p([x * x]) + gd.Sign([x])
    (second,) = grad(grad(y, [x])[0], [x])
    loaded = load_graph(save_graph(tmp_path / "second.json", second)).node(second.name)
    assert loaded.forward() == second.forward() and loaded.role == "gradient"
    kinds = {node.kind for node in gd.Graph(loaded).nodes}
    assert {"Greater", "Mul", "Div"} <= kinds
    document = graph_to_dict(second)
    document["nodes"][-1]["role"] = "loss"
    with pytest.raises(GraphFormatError, match="field 'role'"):
        graph_from_dict(document)
    label = Variable(1.0, name="label", trainable=False)
    document = graph_to_dict(gd.SquaredLoss([label, x]))
    document["nodes"][-1]["role"] = "gradient"
    with pytest.raises(GraphFormatError, match="a role of their own"):
        graph_from_dict(document)


def test_every_primitive_has_a_node_form_that_computes_it() -> None:
    from graphdl.core.primitives import PRIMITIVES
    from graphdl.ops.graph_backend import PRIMITIVE_NODES, GraphBackend

    assert set(PRIMITIVE_NODES) == set(PRIMITIVES)
    arguments = {"where": (1.0, 0.3, -0.2), "clip": (0.7, -0.5, 0.5), "batch_mean": (0.4, -0.3, 0.0)}
    for name, primitive in PRIMITIVES.items():
        values = arguments.get(name, (0.6, 1.7)[: primitive.arity])
        F = GraphBackend()
        node = getattr(F, name)(*[Variable(value, name=f"a{k}") for k, value in enumerate(values)]).node
        assert type(node) is PRIMITIVE_NODES[name] and node.role == "gradient"
        assert node.forward() == primitive.scalar(*values), name
        F.close()


def test_a_formula_branching_in_python_is_a_clear_error() -> None:
    class Branchy(gd.Operator):
        __slots__ = ()

        def formula(self, F, x):
            return x

        def derivative(self, F, index, out, x):
            return 1.0 if x > 0 else 0.0  # cannot work on a graph: must use F.where

    x = Variable(1.0, name="x")
    with pytest.raises(TypeError, match="F.where"):
        grad(Branchy([x]), [x])


def test_a_wide_operator_whose_derivative_depends_on_the_position() -> None:
    """Wide nodes are asked once whether their derivative is one number (Add: 1); one that
    reads its position or arguments is asked per argument as usual."""

    class Weighted(gd.Operator):
        __slots__ = ()
        arity = (1, None)

        def formula(self, F, *args):
            return sum((k + 1.0) * a for k, a in enumerate(args))

        def derivative(self, F, index, out, *args):
            return [k + 1.0 for k in range(len(args))][index]

    xs = [Variable(0.1 * k, name=f"x{k}") for k in range(12)]
    weighted = Weighted(xs)
    for node, x in zip(grad(weighted, xs), xs):
        assert node.forward() == x.get_grad(weighted) == float(xs.index(x) + 1)
    wide = gd.Add([x * x for x in xs])
    for node, x in zip(grad(wide, xs), xs):
        assert node.forward() == pytest.approx(2 * x.value)


def test_the_output_and_repeated_entries_of_wrt() -> None:
    x = Variable(0.5, name="x")
    y = gd.Exp([x], name="y")
    same, again, itself = grad(y, [x, x, y])
    assert same.forward() == again.forward() == math.exp(0.5) and same is not again
    assert same.name == again.name == "d(y)/d(x)"
    assert itself.forward() == 1.0 and itself.name == "d(y)/d(y)"


def test_a_derivative_that_folds_to_infinity() -> None:
    x = Variable(2.0, name="x")
    y = gd.Div([x, 0.0]) + gd.Log([x - 2.0])
    (gx,) = grad(y, [x])
    assert gx.forward() == x.get_grad(y) == math.inf


def test_a_constant_gradient_compiles() -> None:
    x = Variable(name="x", trainable=False)
    (second,) = grad(grad(x * x + x, [x])[0], [x])  # d²/dx² (x² + x) = 2: a constant node
    compiled = gd.compile(second, inputs=[x])
    assert second.role == "constant" and compiled.forward({x: np.array([1.0, 3.0])}) == 2.0


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_first_and_second_derivatives(seed: int) -> None:
    """The compiler tests' random graphs (every operator): the gradient graph equals the
    sweep, the second derivative its finite differences, and compiled on a batch it
    equals the interpreted one."""
    import test_compiler  # the random graph builder (a module import: its tests are not collected again)

    target, inputs, params = test_compiler._random_graph(seed)  # noqa: SLF001 - a helper of the tests
    rng = np.random.default_rng(seed)
    for variable in inputs:
        variable.set_value(float(rng.uniform(-2, 2)))
    target.backward()
    firsts = grad(target, params)
    for parameter, node in zip(params, firsts):
        expected = 0.0 if parameter.grad is None else parameter.grad
        assert node.forward() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    second = grad(firsts[0], [params[0]])[0]
    value, step = params[0].value, 1e-6
    params[0].set_value(value + step)
    up = firsts[0].forward()
    params[0].set_value(value - step)
    down = firsts[0].forward()
    params[0].set_value(value)
    assert second.forward() == pytest.approx((up - down) / (2 * step), rel=1e-4, abs=1e-4)
    feed = {variable: rng.uniform(-2, 2, 5) for variable in inputs}
    for variable, column in feed.items():
        variable.set_value(column)
    compiled = gd.compile(second, inputs=inputs)
    np.testing.assert_allclose(compiled.forward(feed), second.forward(), rtol=1e-12, atol=1e-12)


def test_get_grad_of_a_forward_output_the_gradient_graph_reads() -> None:
    a, b = Variable(0.5, name="a"), Variable(-0.3, name="b")
    out = (a * b).tanh()
    (ga,) = grad(out, [a])  # reads out itself (1 - out²): out is no longer a node without children
    assert a.get_grad() == ga.forward() == pytest.approx(-0.3 * (1 - math.tanh(-0.15) ** 2), rel=1e-15)


def test_get_grad_still_means_the_loss_after_a_gradient_graph_is_built() -> None:
    x, w = Variable(2.0, name="x", trainable=False), Variable(3.0, name="w")
    loss = (x * w - 1.0) ** 2
    gw = grad(loss, [w])[0]  # its nodes hang on x, w and loss's nodes: new sinks downstream of w
    assert w.get_grad() == 2 * (2.0 * 3.0 - 1.0) * 2.0  # still d(loss)/d(w), not an ambiguity
    assert gw.forward() == w.get_grad()
    assert grad(gw, [w])[0].forward() == 8.0  # a gradient graph differentiates as any graph
    other = w * 2.0  # a second forward sink: now the default target is ambiguous again
    with pytest.raises(ValueError, match="several sinks"):
        w.get_grad()
    assert other.forward() == 6.0
