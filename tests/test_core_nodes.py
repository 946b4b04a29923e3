"""The node API: lazy evaluation, gradients as caches, invalidation,
constants, default targets, operator sugar, names and structure."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphdl as gd
from graphdl import Add, Div, Exp, LeakyRelu, Log, Mul, Neg, Pow, Relu, Sigmoid, Sub, Tanh, ValueLoss, Variable
from graphdl.tutorial_net import SeedNet, build_seed_net


def _seed_point(x_value: float = 1.3):
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(x_value)
    net.label.set_value(x_value * x_value)
    return net


# -------------------------------------------------------------- the design's snippet
def test_design_snippet_runs_as_written() -> None:
    x, label = Variable(name="x"), Variable(name="label")
    w, b = Variable(name="w"), Variable(name="b")
    mul = Mul([x, w])
    add = Add([mul, b])
    act = LeakyRelu([add])
    loss = ValueLoss([label, act])
    w.set_value(0.3)
    b.set_value(-0.1)
    x.set_value(1.5)
    label.set_value(2.25)
    assert loss.forward() == pytest.approx(abs(2.25 - (1.5 * 0.3 - 0.1)))
    assert loss.value == loss.forward()
    assert w.get_grad() == pytest.approx(-1.5)  # label above prediction, positive slope
    assert w.grad == w.get_grad()
    w.update(lr=0.01)
    assert w.value == pytest.approx(0.3 + 0.015)
    loss.clear()
    assert w.grad is None and mul.cached_value is None and loss.cached_value is None
    assert w.value == pytest.approx(0.315) and x.value == 1.5


# -------------------------------------------------------------- lazy vs eager
def test_lazy_get_grad_equals_eager_backward() -> None:
    net = _seed_point()
    lazy = [p.get_grad() for p in net.params]
    net.loss.clear()
    net.loss.backward()
    eager = [p.grad for p in net.params]
    assert lazy == eager
    # backward fills every ancestor fed by a trainable Variable
    for node in (net.mul_11, net.add_11, net.relu_11, net.mul_21, net.add_21, net.loss):
        assert node.grad is not None
    assert net.loss.grad == 1.0


def test_backward_twice_gives_the_same_grads() -> None:
    net = _seed_point()
    net.loss.backward()
    first = [p.grad for p in net.params]
    net.loss.backward()
    net.loss.backward()
    assert [p.grad for p in net.params] == first
    assert [p.get_grad() for p in net.params] == first


def test_get_grad_is_memoised() -> None:
    w = Variable(2.0, name="w")
    out = Mul([w, w])
    calls = []
    original = Mul.derivative

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    Mul.derivative = counting
    try:
        assert w.get_grad() == 4.0
        count = len(calls)
        assert w.get_grad() == 4.0
        assert len(calls) == count
    finally:
        Mul.derivative = original
    assert out.value == 4.0


class _Counted(gd.Operator):
    """Identity that counts its evaluations."""

    __slots__ = ()
    calls = 0

    def formula(self, F, x):
        type(self).calls += 1
        return x

    def derivative(self, F, index, out, x):
        return 1.0


def test_forward_computes_only_missing_values() -> None:
    a = Variable(2.0, name="a")
    b = _Counted([a * 3.0])
    c = Add([b, 1.0])
    assert c.forward() == 7.0 and _Counted.calls == 1
    d = Add([b, 2.0])  # a new node on b: b's cached value is reused, not recomputed
    assert d.forward() == 8.0 and _Counted.calls == 1
    a.set_value(1.0)
    assert d.forward() == 5.0 and _Counted.calls == 2


# -------------------------------------------------------------- invalidation
def test_grad_is_none_after_set_value() -> None:
    net = _seed_point()
    net.loss.backward()
    assert all(p.grad is not None for p in net.params)
    net.x.set_value(0.4)
    assert all(p.grad is None for p in net.params)
    assert net.loss.grad is None and net.add_21.grad is None
    net.loss.backward()
    net.w_21.set_value(0.2)  # setting a parameter invalidates too
    assert all(p.grad is None for p in net.params)


def test_set_value_invalidates_descendants_values() -> None:
    net = _seed_point(1.3)
    before = net.loss.forward()
    net.x.set_value(0.5)
    assert net.mul_11.cached_value is None and net.add_21.cached_value is None and net.loss.cached_value is None
    assert net.relu_11.value == pytest.approx(0.5 * -0.1571950013426796 + 0.3791639008324807)
    net.label.set_value(0.25)
    assert net.loss.value != before
    reference = build_seed_net()
    reference.initialise("fig8")
    assert net.add_21.value == reference.predict(0.5)


def test_value_of_an_operator_is_never_stale() -> None:
    a = Variable(1.0, name="a")
    b = Variable(2.0, name="b")
    c = a * b
    d = c + a
    assert d.value == 3.0
    a.set_value(5.0)
    assert c.value == 10.0 and d.value == 15.0
    b.set_value(-1.0)
    assert d.value == 0.0


def test_update_keeps_the_point_and_next_set_value_starts_a_new_one() -> None:
    net = _seed_point(1.3)
    loss_before = net.loss.forward()
    prediction_before = net.add_21.value
    grads = [p.get_grad() for p in net.params]
    old_values = [p.value for p in net.params]
    for p in net.params:
        p.get_grad()
        p.update(lr=0.05)
    # every update used the gradient of the same point
    assert [p.value for p in net.params] == [v - 0.05 * g for v, g in zip(old_values, grads)]
    assert [p.grad for p in net.params] == grads
    # loss.value read after the updates is the loss at the old point
    assert net.loss.value == loss_before
    assert net.add_21.value == prediction_before
    # the next set_value starts a new point: values at the new parameters
    net.x.set_value(1.3)
    fresh = build_seed_net()
    fresh.initialise([p.value for p in net.params])
    fresh.x.set_value(1.3)
    fresh.label.set_value(1.3 * 1.3)
    assert net.loss.value == fresh.loss.forward()
    assert all(p.grad is None for p in net.params)
    assert [p.get_grad() for p in net.params] == [p.get_grad() for p in fresh.params]


def test_clear_after_update_starts_a_new_point() -> None:
    net = _seed_point(0.9)
    net.loss.forward()
    for p in net.params:
        p.get_grad()
        p.update(lr=0.1)
    net.loss.clear()
    fresh = build_seed_net()
    fresh.initialise([p.value for p in net.params])
    fresh.x.set_value(0.9)
    fresh.label.set_value(0.81)
    assert net.loss.forward() == fresh.loss.forward()


def test_nodes_fed_only_by_updated_parameters_are_not_stale() -> None:
    """``w2 = w * w`` does not depend on the data: after ``w.update`` the next
    ``set_value`` of the data (or a ``clear``) must still drop its cached value."""
    x = Variable(1.0, name="x", trainable=False)
    w = Variable(2.0, name="w")
    w2 = Mul([w, w], name="w2")
    penalty_sink = Add([w2, 0.0], name="penalty")
    loss = Add([Mul([x, w]), w2], name="loss")
    loss.forward()
    penalty_sink.forward()
    w.get_grad(loss)
    w.update(lr=0.5)  # w = 2 - 0.5 * (1 + 4) = -0.5
    assert w.value == -0.5
    x.set_value(1.0)
    assert w2.value == 0.25
    assert penalty_sink.value == 0.25
    assert loss.value == -0.25
    # the same with clear() on a sink that is not downstream of w2's other child
    w.get_grad(loss)
    w.update(lr=0.5)  # grad = 1 + 2w = 0 -> unchanged
    w.assign(3.0)
    loss.clear()
    assert w2.value == 9.0 and penalty_sink.value == 9.0


def test_assign_behaves_like_update() -> None:
    w = Variable(1.0, name="w")
    out = Mul([w, 4.0])
    assert out.forward() == 4.0
    w.get_grad()
    w.assign(2.0)
    assert out.value == 4.0 and w.grad == 4.0
    out.clear()
    assert out.value == 8.0


def test_update_without_a_gradient_is_an_error_naming_the_variable() -> None:
    w = Variable(1.0, name="lonely_w")
    with pytest.raises(ValueError, match="lonely_w"):
        w.update(lr=0.1)


def test_clear_drops_operator_values_and_all_grads_but_keeps_variables() -> None:
    net = _seed_point()
    net.loss.backward()
    net.loss.clear()
    for node in (net.mul_11, net.add_11, net.relu_11, net.add_21, net.loss):
        assert node.cached_value is None and node.grad is None
    for p in net.params:
        assert p.grad is None and p.value is not None
    assert net.x.value == 1.3
    assert net.loss.forward() == _seed_point().loss.forward()


def test_clear_on_an_inner_node_invalidates_its_descendants() -> None:
    net = _seed_point()
    net.loss.backward()
    net.add_11.clear()
    assert net.loss.cached_value is None and net.loss.grad is None
    assert net.w_11.grad is None


# -------------------------------------------------------------- constants
def test_constants_get_no_gradient_work() -> None:
    """``e**2`` with negative ``e``: the exponent is a constant, so log(e) is never
    taken (no warning, no NaN), and e's consumers get correct gradients."""
    w = Variable(3.0, name="w")
    e = Sub([1.0, w], name="e")  # e = -2
    sq = e**2
    out = sq * 0.5
    calls = []
    original = Pow.derivative

    def spy(self, F, index, out_value, *args):
        calls.append(index)
        return original(self, F, index, out_value, *args)

    Pow.derivative = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out.backward()
            assert w.grad == 2.0  # d(0.5 (1-w)^2)/dw = (w - 1)
            assert e.grad == -2.0
            assert not math.isnan(sq.grad)
    finally:
        Pow.derivative = original
    assert calls == [0]
    exponent = sq.parents[1]
    assert exponent.constant and not exponent.trainable and exponent.grad is None
    assert sq.parents[0] is e


def test_data_variables_get_no_gradient_from_backward_but_get_grad_still_works() -> None:
    x = Variable(2.0, name="x", trainable=False)
    w = Variable(3.0, name="w")
    out = x * w
    out.backward()
    assert x.grad is None and w.grad == 2.0
    assert x.get_grad() == 3.0


# -------------------------------------------------------------- targets
def test_default_target_is_the_unique_sink() -> None:
    w = Variable(1.5, name="w")
    mid = w * w
    out = mid * 2.0
    assert w.get_grad() == 6.0
    assert mid.get_grad() == 2.0
    assert out.get_grad() == 1.0


def test_several_sinks_without_target_is_an_error_listing_them() -> None:
    w = Variable(1.5, name="w")
    first = Mul([w, 2.0], name="first_sink")
    second = Exp([w], name="second_sink")
    with pytest.raises(ValueError) as info:
        w.get_grad()
    assert "first_sink" in str(info.value) and "second_sink" in str(info.value)
    assert w.get_grad(target=first) == 2.0
    assert w.get_grad(target=second) == pytest.approx(math.exp(1.5))
    assert w.grad == pytest.approx(math.exp(1.5))
    assert w.get_grad(first) == 2.0


def test_get_grad_of_a_node_that_does_not_feed_the_target() -> None:
    a = Variable(1.0, name="a_alone")
    b = Variable(2.0, name="b")
    out = b * 2.0
    with pytest.raises(ValueError, match="a_alone"):
        a.get_grad(target=out)


def test_get_grad_of_an_inner_node() -> None:
    net = _seed_point()
    dy = net.add_21.get_grad(net.loss)
    assert dy == -1.0 or dy == 1.0
    assert net.relu_11.get_grad(net.loss) == pytest.approx(dy * net.w_21.value)


# -------------------------------------------------------------- sugar
@pytest.mark.parametrize(
    ("build", "kind", "value"),
    [
        (lambda a, b: a + b, Add, 5.0),
        (lambda a, b: a - b, Sub, -1.0),
        (lambda a, b: a * b, Mul, 6.0),
        (lambda a, b: a / b, Div, 2.0 / 3.0),
        (lambda a, b: a**b, Pow, 8.0),
        (lambda a, b: -a, Neg, -2.0),
        (lambda a, b: a + 1, Add, 3.0),
        (lambda a, b: 1 + a, Add, 3.0),
        (lambda a, b: a - 1, Sub, 1.0),
        (lambda a, b: 1 - a, Sub, -1.0),
        (lambda a, b: a * 4, Mul, 8.0),
        (lambda a, b: 4 * a, Mul, 8.0),
        (lambda a, b: a / 4, Div, 0.5),
        (lambda a, b: 4 / a, Div, 2.0),
        (lambda a, b: a**2, Pow, 4.0),
        (lambda a, b: 2**b, Pow, 8.0),
        (lambda a, b: a * np.float64(2.5), Mul, 5.0),
        (lambda a, b: np.float64(2.5) * a, Mul, 5.0),
        (lambda a, b: a.relu(), Relu, 2.0),
        (lambda a, b: (-a).leaky_relu(), LeakyRelu, -0.2),
        (lambda a, b: a.sigmoid(), Sigmoid, 1 / (1 + math.exp(-2.0))),
        (lambda a, b: a.tanh(), Tanh, math.tanh(2.0)),
        (lambda a, b: a.exp(), Exp, math.exp(2.0)),
        (lambda a, b: a.log(), Log, math.log(2.0)),
    ],
)
def test_sugar_builds_the_same_node_classes(build, kind, value) -> None:
    a, b = Variable(2.0, name="a"), Variable(3.0, name="b")
    node = build(a, b)
    assert type(node) is kind
    assert node.kind == kind.__name__
    assert node.forward() == pytest.approx(value, rel=1e-15)
    for parent in node.parents:
        if isinstance(parent, Variable) and parent not in (a, b):
            assert parent.constant and not parent.trainable


def test_sugar_keeps_argument_order_for_reversed_forms() -> None:
    a = Variable(2.0, name="a")
    node = 10 - a
    assert node.parents[1] is a and node.parents[0].value == 10.0
    node = 3 / a
    assert node.parents[1] is a and node.value == 1.5
    assert a.get_grad(node) == -0.75


def test_leaky_relu_method_takes_the_slope() -> None:
    a = Variable(-2.0, name="a")
    node = a.leaky_relu(negative_slope=0.2)
    assert node.negative_slope == 0.2 and node.forward() == pytest.approx(-0.4)
    assert a.leaky_relu().negative_slope == 0.1


def test_sugar_rejects_non_numbers() -> None:
    a = Variable(2.0, name="a")
    with pytest.raises(TypeError):
        a + "1"
    with pytest.raises(TypeError):
        [1.0] * a


# -------------------------------------------------------------- names and structure
def test_auto_names_are_unique_and_kind_numbered() -> None:
    a = Variable(1.0)
    nodes = [a * a for _ in range(5)] + [Mul([a, a]) for _ in range(5)]
    names = [node.name for node in nodes]
    assert len(set(names)) == len(names)
    for name in names:
        kind, number = name.rsplit("_", 1)
        assert kind == "Mul" and number.isdigit()
    assert a.name.startswith("Variable_")
    assert Add([a, 1.0]).parents[1].name.startswith("Constant_")


def test_auto_names_never_collide_with_explicit_names() -> None:
    a = Variable(1.0, name="a")
    probe = Mul([a, a])
    number = int(probe.name.rsplit("_", 1)[1])
    taken = [Variable(name=f"Mul_{number + k}") for k in range(1, 4)]
    auto = [Mul([a, a]).name for _ in range(5)]
    assert not set(auto) & {t.name for t in taken}


def test_explicit_names_are_kept_and_may_repeat() -> None:
    a = Variable(1.0, name="same")
    b = Variable(2.0, name="same")
    c = Add([a, b], name="same")
    assert a.name == b.name == c.name == "same"
    graph = gd.Graph(c)
    with pytest.raises(ValueError, match="ambiguous"):
        graph.node("same")


def test_kind_parents_children() -> None:
    x = Variable(1.0, name="x")
    w = Variable(2.0, name="w")
    m = Mul([x, w], name="m")
    a = Add([m, w], name="a")
    loss = ValueLoss([x, a], name="loss")
    assert (x.kind, m.kind, a.kind, loss.kind) == ("Variable", "Mul", "Add", "ValueLoss")
    assert m.parents == (x, w) and a.parents == (m, w) and x.parents == ()
    assert x.children == [m, loss]
    assert w.children == [m, a]
    assert m.children == [a] and loss.children == []
    assert set(loss.ancestors()) == {x, w, m, a, loss}
    assert loss.ancestors()[-1] is loss
    assert set(x.descendants()) == {m, a, loss}


def test_dropped_children_disappear() -> None:
    x = Variable(1.0, name="x")
    keep = x * 2.0
    x * 3.0  # not kept: garbage
    assert x.children == [keep]
    assert x.get_grad() == 2.0  # the dropped node is not a sink any more


def test_repr_mentions_name_and_value() -> None:
    x = Variable(1.25, name="xx")
    assert "xx" in repr(x) and "1.25" in repr(x)


def _fresh_seed_point(values: list[float], x: float) -> SeedNet:
    fresh = build_seed_net()
    fresh.initialise(values)
    fresh.x.set_value(x)
    fresh.label.set_value(x * x)
    return fresh


def test_a_gradient_the_step_did_not_compute_is_taken_at_the_new_values() -> None:
    """After ``update``, the step's own gradients stay readable; anything the step did
    not compute (the gradient of data x, a second ``backward()``) brings the graph up to
    date first and is taken at the updated parameters, never a mix of the two points."""
    net = _seed_point(1.3)
    net.loss.forward()
    grads = []
    for p in net.params:
        grads.append(p.get_grad())
        p.update(lr=0.5)
    assert [p.grad for p in net.params] == grads  # the step's gradients, still readable
    new_values = [p.value for p in net.params]
    fresh = _fresh_seed_point(new_values, 1.3)
    assert net.x.get_grad() == fresh.x.get_grad()  # x is data: not in the step's sweep
    assert [p.grad for p in net.params] == [p.get_grad() for p in fresh.params]
    net.loss.backward()
    assert [p.grad for p in net.params] == [p.get_grad() for p in fresh.params]
    assert [p.value for p in net.params] == new_values  # the updates themselves stay
