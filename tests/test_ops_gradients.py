"""Every operator: value against an independent formula, gradient against central
finite differences, for floats and for batches; derivatives keyed by position."""

from __future__ import annotations

import math

import numpy as np
import pytest
from core_opspecs import SPEC_IDS, SPECS, OpSpec, positions
from hypothesis import given, settings
from hypothesis import strategies as st

import graphdl as gd

STEP = 1e-6
TOL = 1e-6


def _error(analytic: float, numeric: float) -> float:
    return abs(analytic - numeric) / max(1.0, abs(analytic), abs(numeric))


def _build(spec: OpSpec, values):
    inputs = [
        gd.Variable(value, name=f"in_{i}", trainable=i not in spec.constant_positions) for i, value in enumerate(values)
    ]
    return inputs, spec.make(inputs)


def _numeric_mean_grad(out: gd.Node, variable: gd.Variable, index: int | None = None) -> float:
    """d mean(out) / d variable (element ``index`` for a batch), by central differences."""
    original = variable.value
    results = []
    for step in (STEP, -STEP):
        if index is None:
            variable.set_value(original + step)
        else:
            moved = np.array(original, dtype=float)
            moved[index] += step
            variable.set_value(moved)
        results.append(float(np.mean(out.forward())))
    variable.set_value(original)
    return (results[0] - results[1]) / (2 * STEP)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_value_matches_reference_formula(spec: OpSpec) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        values = spec.draw(rng)
        _, out = _build(spec, values)
        assert out.forward() == pytest.approx(spec.reference(*values), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_float_gradient_matches_finite_differences(spec: OpSpec, seed: int) -> None:
    values = spec.draw(np.random.default_rng(seed))
    inputs, out = _build(spec, values)
    out.forward()
    for position in positions(spec, len(inputs)):
        analytic = inputs[position].get_grad(out)
        assert isinstance(analytic, float)
        numeric = _numeric_mean_grad(out, inputs[position])
        assert _error(analytic, numeric) < TOL, (spec.name, position, values, analytic, numeric)


def _can_share_first(spec: OpSpec) -> bool:
    """Whether the first input can be one number for the whole batch: not for unary
    operators (nothing would be a batch), labels of the classification losses, or
    ValueLoss/HingeLoss (a shared label would put some samples on the kink)."""
    count = len(spec.draw(np.random.default_rng(0)))
    return count > 1 and 0 not in spec.constant_positions and spec.name not in ("ValueLoss", "HingeLoss")


BATCH_CASES = [pytest.param(spec, False, id=f"{spec.name}-all-batch") for spec in SPECS] + [
    pytest.param(spec, True, id=f"{spec.name}-shared-first-input") for spec in SPECS if _can_share_first(spec)
]


@pytest.mark.parametrize(("spec", "shared_first"), BATCH_CASES)
def test_batch_gradient_matches_finite_differences(spec: OpSpec, shared_first: bool) -> None:
    """Batch inputs: the sink is per sample and gradients are those of the batch mean.
    With ``shared_first`` the first input is one number shared by every sample (a
    parameter), so its gradient is a float."""
    rng = np.random.default_rng(11)
    size = 6
    rows = [spec.draw(rng) for _ in range(size)]
    columns = [np.array(column) for column in zip(*rows)]
    if shared_first:
        columns[0] = float(columns[0][0])
        if spec.name == "PowNode":
            columns[0] = abs(columns[0]) + 0.5
    inputs, out = _build(spec, columns)
    values = out.forward()
    assert isinstance(values, np.ndarray) and values.shape == (size,)
    for position in positions(spec, len(inputs)):
        variable = inputs[position]
        analytic = variable.get_grad(out)
        if isinstance(variable.value, np.ndarray):
            assert isinstance(analytic, np.ndarray) and analytic.shape == (size,)
            for i in range(size):
                numeric = _numeric_mean_grad(out, variable, i)
                assert _error(analytic[i], numeric) < TOL, (spec.name, position, i, analytic[i], numeric)
        else:
            assert isinstance(analytic, float)
            numeric = _numeric_mean_grad(out, variable)
            assert _error(analytic, numeric) < TOL, (spec.name, position, analytic, numeric)


smooth_unary = st.sampled_from([gd.Exp, gd.Tanh, gd.Sigmoid, gd.Softplus, gd.Swish, gd.Identity, gd.Neg])


@settings(max_examples=60, deadline=None)
@given(op=smooth_unary, x=st.floats(-4.0, 4.0), w=st.floats(-2.0, 2.0))
def test_composed_smooth_expression_gradient(op, x: float, w: float) -> None:
    """op(w·x + w²) through the chain rule, checked with finite differences."""
    xv, wv = gd.Variable(x, name="x", trainable=False), gd.Variable(w, name="w")
    out = op([gd.Add([gd.Mul([xv, wv]), gd.Mul([wv, wv])])])
    assert _error(wv.get_grad(), _numeric_mean_grad(out, wv)) < TOL


# ----------------------------------------------------------------- positions
@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.2, 5.0))
def test_div_of_a_node_by_itself(a: float) -> None:
    av = gd.Variable(a, name="a")
    out = gd.Div([av, av])
    assert out.forward() == 1.0
    assert av.get_grad() == pytest.approx(0.0, abs=1e-15)


@settings(max_examples=30, deadline=None)
@given(b=st.floats(0.2, 3.0))
def test_pow_of_a_node_by_itself(b: float) -> None:
    bv = gd.Variable(b, name="b")
    out = gd.Pow([bv, bv])
    expected = b**b * (math.log(b) + 1.0)
    assert bv.get_grad() == pytest.approx(expected, rel=1e-12)
    assert _error(bv.get_grad(), _numeric_mean_grad(out, bv)) < TOL


@settings(max_examples=30, deadline=None)
@given(c=st.floats(-5.0, 5.0))
def test_sub_of_a_node_from_itself(c: float) -> None:
    cv = gd.Variable(c, name="c")
    out = gd.Sub([cv, cv])
    assert out.forward() == 0.0
    assert cv.get_grad() == 0.0


@settings(max_examples=30, deadline=None)
@given(a=st.floats(-5.0, 5.0))
def test_mul_of_a_node_three_times(a: float) -> None:
    av = gd.Variable(a, name="a")
    out = gd.Mul([av, av, av])
    assert out.forward() == pytest.approx(a**3, rel=1e-12, abs=1e-300)
    assert av.get_grad() == pytest.approx(3 * a * a, rel=1e-12, abs=1e-300)


def test_repeated_parent_in_batches() -> None:
    a = gd.Variable(np.array([0.5, 1.5, 2.5]), name="a")
    out = gd.Add([gd.Div([a, a]), gd.Mul([a, a, a]), gd.Sub([a, a]), gd.Pow([a, a])])
    expected = (3 * a.value**2 + a.value**a.value * (np.log(a.value) + 1.0)) / 3
    np.testing.assert_allclose(a.get_grad(out), expected, rtol=1e-12)


def test_softmax_label_gets_zero_derivative_and_plays_no_part() -> None:
    logits = [gd.Variable(v, name=f"z{i}") for i, v in enumerate([0.2, -1.0, 1.5])]
    label = gd.Variable(2.0, name="label", trainable=False)
    loss = gd.SoftmaxCrossEntropy([*logits, label])
    assert label.get_grad(loss) == 0.0
    softmax = np.exp([0.2, -1.0, 1.5]) / np.exp([0.2, -1.0, 1.5]).sum()
    grads = [z.get_grad(loss) for z in logits]
    np.testing.assert_allclose(grads, softmax - np.array([0.0, 0.0, 1.0]), rtol=1e-12)
