"""``assign_values``: many optimiser assignments in one call, and the end of a step that
has nothing to invalidate (the compiled step loop)."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl import Variable
from graphdl.core.node import assign_values


def _graph():
    a, b = Variable(2.0, name="a"), Variable(3.0, name="b")
    x = Variable(1.5, name="x", trainable=False)
    out = (a * x + b).exp()
    return a, b, x, out


def test_assign_values_acts_like_assign_per_variable():
    a, b, x, out = _graph()
    a2, b2, x2, out2 = _graph()
    out.backward()
    out2.backward()
    grads = (a.grad, b.grad)
    assign_values([a, b], [a.value - 0.1 * a.grad, b.value - 0.1 * b.grad])
    a2.update(0.1)
    b2.update(0.1)
    assert (a.value, b.value) == (a2.value, b2.value)
    assert (a.grad, b.grad) == grads  # the step's gradients stay readable until refreshed
    assert out.forward() == out2.forward() == np.exp(a.value * 1.5 + b.value)
    out.backward()
    out2.backward()
    assert (a.grad, b.grad) == (a2.grad, b2.grad)


def test_assign_values_refuses_bad_input_naming_the_variable():
    a, b, _, _ = _graph()
    with pytest.raises(ValueError, match="2 Variables but 1 values"):
        assign_values([a, b], [1.0])
    assert a.value == 2.0
    with pytest.raises(ValueError, match="'b'.*finite"):
        assign_values([a, b], [1.0, float("nan")])
    with pytest.raises(TypeError, match="expected Variables, got Mul"):
        assign_values([a * b], [1.0])


def test_repeated_steps_without_evaluation_then_interpreted_values_are_current():
    """Steps that cache nothing end cheaply; a value or gradient cached in between must
    still be invalidated by the next step."""
    a, b, x, out = _graph()
    for k in range(3):
        assign_values([a, b], [0.1 * k, 0.2 * k])
        out.refresh()
    assert out.forward() == np.exp(0.2 * 1.5 + 0.4)
    assign_values([a, b], [0.2, 0.4])  # the same values: only the forward pass was cached
    out.refresh()
    assert out.cached_value is None
    assert out.forward() == np.exp(0.2 * 1.5 + 0.4)
    out.backward()
    assign_values([a, b], [0.5, 0.25])
    assert out.grad is not None  # readable until the graph is brought up to date
    out.refresh()
    assert out.grad is None and a.grad is None
    assert out.cached_value is None
    assert out.forward() == np.exp(0.5 * 1.5 + 0.25)
    assign_values([a, b], [0.0, 0.0])
    gd.compile(out, [x]).backward({x: 2.0})  # stores gradients at the new point
    assert a.grad == 2.0 and b.grad == 1.0
    assign_values([a, b], [1.0, 0.0])
    out.refresh()
    assert a.grad is None
    assert out.forward() == np.exp(1.5)


def test_a_step_without_cached_values_stales_only_gradients_of_targets_it_reaches():
    a, b, x, out = _graph()
    c = Variable(4.0, name="c")
    other = c * c + out  # joins the graph; depends on c, which is not updated below
    alone = c * c
    compiled = gd.compile(out, [x])
    for _ in range(2):  # the second round ends its step on the cached work list
        compiled.backward({x: 2.0})
        alone.backward()
        grads = (a.grad, b.grad)
        assert c.grad == 8.0
        assign_values([a, b], [a.value - 0.1 * grads[0], b.value - 0.1 * grads[1]])
        out.refresh()
        assert a.grad is None and b.grad is None  # out's gradients: a changed
        assert c.grad == 8.0  # alone's gradient: nothing it depends on changed
    assert other.forward() == 16.0 + np.exp(a.value * 1.5 + b.value)
