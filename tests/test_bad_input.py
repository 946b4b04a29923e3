"""Every bad input listed in issue 2, and the anomaly mode."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import graphdl as gd
from graphdl.tutorial_net import build_seed_net


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------ unset Variables
def test_forward_reaching_an_unset_variable_names_it() -> None:
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.0)
    with pytest.raises(ValueError, match="'label'"):
        net.loss.forward()
    with pytest.raises(gd.UnsetValueError, match="label"):
        net.loss.value  # noqa: B018
    with pytest.raises(ValueError, match="'label'"):
        net.w_11.get_grad()


def test_unset_parameter_is_named() -> None:
    x = gd.Variable(1.0, name="x", trainable=False)
    w = gd.Variable(name="weight_without_value")
    with pytest.raises(ValueError, match="weight_without_value"):
        (x * w).forward()
    with pytest.raises(ValueError, match="weight_without_value"):
        w.forward()


# ------------------------------------------------------------------ set_value
@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("1.5", TypeError),
        (b"1", TypeError),
        (None, TypeError),
        ({"a": 1.0}, TypeError),
        (1 + 2j, TypeError),
        ([1.0, "2"], TypeError),
        ([[1.0, 2.0], [3.0]], ValueError),
        (np.ones((2, 2)), ValueError),
        ([[1.0, 2.0], [3.0, 4.0]], ValueError),
        ([], ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        (np.nan, ValueError),
        (np.array([1.0, np.nan]), ValueError),
        (np.array([1.0, -np.inf]), ValueError),
        (np.array(["a", "b"]), TypeError),
    ],
    ids=repr,
)
def test_set_value_rejects_bad_values_naming_the_node(bad, error) -> None:
    node = gd.Variable(0.5, name="the_input")
    with pytest.raises(error, match="the_input"):
        node.set_value(bad)
    assert node.value == 0.5  # nothing changed
    if bad is not None:  # Variable(None) means "no value yet"
        with pytest.raises(error, match="named_at_birth"):
            gd.Variable(bad, name="named_at_birth")


def test_set_value_accepts_numbers_and_1d_arrays() -> None:
    node = gd.Variable(name="ok")
    for good in (1, 2.5, np.float32(1.5), np.int64(3), np.array(2.0), [1.0, 2.0], (3, 4), np.arange(3)):
        node.set_value(good)
        value = node.value
        assert isinstance(value, float) or (isinstance(value, np.ndarray) and value.dtype == np.float64)


# ------------------------------------------------------------------ arity and parents
@pytest.mark.parametrize(
    ("build", "operator", "count"),
    [
        (lambda a, b: gd.ValueLoss([a]), "ValueLoss", "2"),
        (lambda a, b: gd.LeakyRelu([a, b]), "LeakyRelu", "1"),
        (lambda a, b: gd.Sub([a]), "Sub", "2"),
        (lambda a, b: gd.Div([a, b, a]), "Div", "2"),
        (lambda a, b: gd.Neg([]), "Neg", "1"),
        (lambda a, b: gd.Add([]), "Add", "at least 1"),
        (lambda a, b: gd.Mul([]), "Mul", "at least 1"),
        (lambda a, b: gd.SoftmaxCrossEntropy([a, b]), "SoftmaxCrossEntropy", "at least 3"),
        (lambda a, b: gd.Sigmoid([a, b]), "Sigmoid", "1"),
        (lambda a, b: gd.HingeLoss([a]), "HingeLoss", "2"),
    ],
)
def test_wrong_arity_names_operator_and_expected_count(build, operator, count) -> None:
    a, b = gd.Variable(1.0, name="a"), gd.Variable(2.0, name="b")
    with pytest.raises(ValueError) as info:
        build(a, b)
    message = str(info.value)
    assert operator in message and f"expects {count}" in message


@pytest.mark.parametrize(
    "build, shown",
    [
        (lambda x, w: gd.Mul(x, w), "Mul takes its parents as one list: Mul([x, w]), not Mul(x, w)"),
        (lambda x, w: gd.Add(x, w, 1.0), "Add takes its parents as one list: Add([x, w, 1.0]), not Add(x, w, 1.0)"),
        (lambda x, w: gd.Tanh(x), "Tanh takes its parents as one list: Tanh([x]), not Tanh(x)"),
        (lambda x, w: gd.Mul({x, w}), "Mul takes a list of parent nodes, e.g. Mul([a, b]); got set"),
    ],
)
def test_a_forgotten_list_names_the_operator_and_shows_the_list_form(build, shown) -> None:
    x, w = gd.Variable(1.0, name="x"), gd.Variable(2.0, name="w")
    with pytest.raises(TypeError) as info:
        build(x, w)
    assert str(info.value) == shown


def test_wrong_arity_creates_nothing() -> None:
    a = gd.Variable(1.0, name="a")
    with pytest.raises(ValueError):
        gd.LeakyRelu([a, a])
    assert a.children == []


@pytest.mark.parametrize(
    "bad_parent",
    ["a string", {"a": 1}, None, [1.0], True, object()],
    ids=lambda bad: type(bad).__name__ if type(bad) is object else repr(bad),
)
def test_a_parent_that_is_not_a_node_is_a_type_error(bad_parent) -> None:
    a = gd.Variable(1.0, name="a")
    with pytest.raises(TypeError, match="Mul"):
        gd.Mul([a, bad_parent])
    assert a.children == []


def test_parents_must_be_a_list() -> None:
    a = gd.Variable(1.0, name="a")
    with pytest.raises(TypeError):
        gd.Relu(a)
    with pytest.raises(TypeError):
        gd.Relu("a")


def test_numbers_as_parents_become_constants() -> None:
    a = gd.Variable(1.5, name="a")
    node = gd.Mul([a, 2, np.float64(0.5)])
    assert node.forward() == 1.5
    assert all(p.constant and not p.trainable for p in node.parents[1:])
    with pytest.raises(ValueError):
        gd.Mul([a, float("nan")])


# ------------------------------------------------------------------ non-finite values
def test_log_of_non_positive_values_does_not_crash() -> None:
    a = gd.Variable(-1.0, name="a")
    log = gd.Log([a])
    assert math.isnan(log.forward())
    a.get_grad()
    a.set_value(0.0)
    assert log.forward() == -math.inf
    assert a.get_grad() in (math.inf, -math.inf) or math.isnan(a.get_grad())
    a.set_value(np.array([1.0, 0.0, -1.0]))
    values = log.forward()
    assert values[0] == 0.0 and values[1] == -np.inf and np.isnan(values[2])
    log.backward()


def test_exp_overflow_does_not_crash() -> None:
    a = gd.Variable(1000.0, name="a")
    out = gd.Exp([a]) * 2.0
    assert out.forward() == math.inf
    assert a.get_grad() == math.inf
    a.set_value(np.array([0.0, 1000.0]))
    assert out.forward()[1] == np.inf
    out.backward()


def test_division_by_zero_gives_inf_not_an_exception() -> None:
    a, b = gd.Variable(1.0, name="a"), gd.Variable(0.0, name="b")
    out = a / b
    assert out.forward() == math.inf
    a.get_grad(out)
    b.get_grad(out)
    a.set_value(0.0)
    assert math.isnan(out.forward())


def test_sigmoid_and_losses_stay_finite_at_extremes() -> None:
    z = gd.Variable(-800.0, name="z")
    y = gd.Variable(1.0, name="y", trainable=False)
    assert gd.Sigmoid([z]).forward() == 0.0
    assert math.isfinite(gd.BCEWithLogits([y, z]).forward())
    assert math.isfinite(gd.Softplus([z]).forward())
    p = gd.Variable(0.0, name="p")
    assert math.isfinite(gd.LogLoss([y, p]).forward())


def test_detect_anomaly_names_the_first_non_finite_node() -> None:
    a = gd.Variable(-2.0, name="a")
    log = gd.Log([a], name="first_bad")
    later = gd.Mul([log, 3.0], name="second_bad")
    with gd.detect_anomaly():
        with pytest.raises(gd.AnomalyError) as info:
            later.forward()
    assert "first_bad" in str(info.value) and "second_bad" not in str(info.value)
    assert isinstance(info.value, FloatingPointError)
    later.clear()
    assert math.isnan(later.forward())  # outside the context: no exception


def test_detect_anomaly_on_exp_overflow_and_in_backward() -> None:
    a = gd.Variable(800.0, name="a")
    big = gd.Exp([a], name="exp_overflow")
    with gd.detect_anomaly(), pytest.raises(gd.AnomalyError, match="exp_overflow"):
        big.forward()
    # a finite value whose gradient is not finite: sqrt at 0
    b = gd.Variable(0.0, name="b_at_zero")
    root = gd.Pow([b, 0.5], name="root")
    assert root.forward() == 0.0
    with gd.detect_anomaly(), pytest.raises(gd.AnomalyError, match="b_at_zero"):
        b.get_grad()


def test_detect_anomaly_through_value_property_and_batches() -> None:
    x = gd.Variable(np.array([1.0, 2.0, -3.0]), name="x")
    log = gd.Log([x], name="batch_log")
    with gd.detect_anomaly(), pytest.raises(gd.AnomalyError, match="batch_log"):
        log.value  # noqa: B018


def test_detect_anomaly_is_restored_after_the_block() -> None:
    from graphdl.core.anomaly import anomaly_enabled

    assert not anomaly_enabled()
    with pytest.raises(RuntimeError), gd.detect_anomaly():
        assert anomaly_enabled()
        raise RuntimeError("boom")
    assert not anomaly_enabled()


# ------------------------------------------------------------------ sinks
def test_several_sinks_error_lists_them() -> None:
    w = gd.Variable(1.0, name="w")
    one = gd.Tanh([w], name="sink_one")
    two = gd.Exp([gd.Neg([w])], name="sink_two")
    with pytest.raises(ValueError) as info:
        w.get_grad()
    assert "sink_one" in str(info.value) and "sink_two" in str(info.value)
    assert w.get_grad(target=two) == pytest.approx(-math.exp(-1.0))
    assert w.get_grad(target=one) == pytest.approx(1.0 - math.tanh(1.0) ** 2)


def test_get_grad_target_must_be_a_node() -> None:
    w = gd.Variable(1.0, name="w")
    with pytest.raises(TypeError):
        w.get_grad(target="loss")
