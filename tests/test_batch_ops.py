"""Operators that reduce over the batch (BatchMean): values against independent formulas,
gradients against finite differences, gradcheck, compiled program against interpreter,
and a batch of one as a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from core_opspecs import BATCH_SPEC_IDS, BATCH_SPECS, BatchOpSpec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compiler import BUILDERS

import graphdl as gd
from graphdl import ops

STEP = 1e-6


def _build(spec: BatchOpSpec, rng: np.random.Generator, size: int):
    columns = spec.draw(rng, size)
    inputs = [gd.Variable(value, name=f"in_{i}", trainable=i in spec.differentiable) for i, value in enumerate(columns)]
    node = spec.make(inputs)
    # a per-sample function downstream, so every sample's gradient differs
    weights = gd.Variable(rng.uniform(0.5, 2.0, size), name="weights", trainable=False)
    sink = gd.Tanh([gd.Add([gd.Mul([node, weights]), gd.Mul([inputs[0], inputs[0]])])], name="sink")
    return columns, inputs, node, sink, weights


@pytest.mark.parametrize("spec", BATCH_SPECS, ids=BATCH_SPEC_IDS)
def test_value_matches_reference(spec: BatchOpSpec) -> None:
    rng = np.random.default_rng(1)
    for size in (2, 3, 10):
        columns, _, node, _, _ = _build(spec, rng, size)
        value = node.forward()
        assert isinstance(value, np.ndarray) and value.shape == (size,)
        np.testing.assert_allclose(value, spec.reference(*columns), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", BATCH_SPECS, ids=BATCH_SPEC_IDS)
def test_gradient_matches_finite_differences(spec: BatchOpSpec) -> None:
    """d(mean of the sink)/dx_j for every sample j: the other samples' outputs move too."""
    rng = np.random.default_rng(2)
    _, inputs, _, sink, _ = _build(spec, rng, 5)
    x = inputs[0]
    analytic = x.get_grad(sink)
    original = x.value
    for j in range(original.size):
        values = []
        for step in (STEP, -STEP):
            moved = original.copy()
            moved[j] += step
            x.set_value(moved)
            values.append(float(np.mean(sink.forward())))
        x.set_value(original)
        numeric = (values[0] - values[1]) / (2 * STEP)
        assert abs(analytic[j] - numeric) < 1e-7, (j, analytic[j], numeric)
    assert gd.gradcheck(sink, [x]) < 1e-6


@pytest.mark.parametrize("spec", BATCH_SPECS, ids=BATCH_SPEC_IDS)
def test_shared_parameter_through_batch_mean_passes_gradcheck(spec: BatchOpSpec) -> None:
    """A parameter w scaling the batch: its gradient sums over the samples and the batch mean."""
    rng = np.random.default_rng(3)
    columns = spec.draw(rng, 6)
    w = gd.Variable(0.7, name="w")
    data = gd.Variable(columns[0], name="data", trainable=False)
    node = spec.make([gd.Mul([data, w]), *columns[1:]])
    sink = gd.Tanh([gd.Mul([node, data])])
    assert isinstance(w.get_grad(sink), float)
    assert gd.gradcheck(sink, [w]) < 1e-6


@pytest.mark.parametrize("spec", BATCH_SPECS, ids=BATCH_SPEC_IDS)
def test_compiled_program_matches_interpreter(spec: BatchOpSpec) -> None:
    rng = np.random.default_rng(4)
    columns = spec.draw(rng, 7)
    w = gd.Variable(0.3, name="w")
    x = gd.Variable(columns[0], name="x", trainable=False)
    node = spec.make([gd.Mul([x, w]), *columns[1:]])
    sink = gd.Sigmoid([gd.Add([gd.Mul([node, x]), w])])
    sink.backward()
    expected_value, expected_grad = sink.value.copy(), w.grad
    compiled = gd.compile(sink, inputs=[x])
    assert "batch_mean(" in compiled.source
    np.testing.assert_allclose(compiled.forward({x: columns[0]}), expected_value, rtol=1e-12, atol=1e-15)
    mean = compiled.backward({x: columns[0]})
    assert mean == pytest.approx(float(np.mean(expected_value)), rel=1e-12)
    assert w.grad == pytest.approx(expected_grad, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("one_sample", [0.5, np.array([0.5])], ids=["float", "batch-of-one"])
def test_batch_of_one_is_a_clear_error(one_sample) -> None:
    x = gd.Variable(one_sample, name="x")
    mean = gd.BatchMean([x], name="m")
    with pytest.raises(ValueError, match=r"^BatchMean 'm': batch statistics need at least 2 samples per batch, got 1$"):
        mean.forward()
    w = gd.Variable(1.5, name="w")
    compiled = gd.compile(gd.Mul([gd.BatchMean([x * w]), x]), inputs=[x])
    for run in (compiled.forward, compiled.backward, lambda feed: compiled.sgd(feed, lr=0.1)):
        with pytest.raises(ValueError, match="batch statistics need at least 2 samples per batch, got 1"):
            run({x: one_sample})  # per-sample SGD is a batch of one at every step


def test_estimate_form_serves_one_sample_and_passes_no_gradient_to_x() -> None:
    x = gd.Variable(np.array([0.5]), name="x")
    mean = gd.BatchMean([x, 2.5, 0.0], name="m")
    out = gd.Mul([mean, x])
    np.testing.assert_array_equal(out.forward(), [1.25])
    np.testing.assert_array_equal(x.get_grad(out), [2.5])  # only the product's own path


def test_misuse_is_reported() -> None:
    x = gd.Variable(np.array([1.0, 2.0]), name="x")
    with pytest.raises(ValueError, match=r"BatchMean expects 1 parent \(x\) or 3 parents"):
        gd.BatchMean([x, 1.0])
    use_batch = gd.Variable(0.5, name="use_batch", trainable=False)
    node = gd.BatchMean([x, 0.0, use_batch], name="m")
    with pytest.raises(ValueError, match=r"BatchMean 'm': use_batch must be 0 or 1, got 0.5"):
        node.forward()
    with pytest.raises(ValueError, match="the same for every sample"):
        node.check_argument(2, np.array([1.0, 0.0]))
    with pytest.raises(TypeError, match="no per-sample derivative, use vjp"):
        node.derivative(None, 0, 1.0, 1.0)


def _random_graph_with_batch_mean(seed: int):
    """A random graph of every operator (the compiler tests' builders) with BatchMean nodes mixed in."""
    rng = np.random.default_rng(seed)
    x = gd.Variable(name="x", trainable=False)
    y = gd.Variable(name="y", trainable=False)
    params = [gd.Variable(float(rng.uniform(-1, 1)), name=f"w{i}") for i in range(3)]
    pool: list = [x, y, *params]
    builders = dict(BUILDERS)
    # its input must hold the batch: a value shared by every sample is one sample to it
    builders[ops.BatchMean] = lambda r, a, b, c: (
        ops.BatchMean([a + x]) if r.random() < 0.5 else ops.BatchMean([a * x, 0.3, 1])
    )
    kinds = list(builders)
    for _ in range(int(rng.integers(4, 12))):
        op = kinds[int(rng.integers(len(kinds)))] if rng.random() < 0.7 else ops.BatchMean
        picks = [pool[int(rng.integers(len(pool)))] for _ in range(3)]
        pool.append(builders[op](rng, *picks))
    target = ops.Add([*pool[-3:], ops.BatchMean([ops.Mul([params[0], x])])])
    return target, [x, y], params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([2, 7]))
def test_compiled_matches_interpreter_on_random_graphs_with_batch_mean(seed: int, batch: int) -> None:
    target, inputs, params = _random_graph_with_batch_mean(seed)
    rng = np.random.default_rng(seed + 1)
    feed = {v: rng.uniform(-2, 2, size=batch) for v in inputs}
    for variable, value in feed.items():
        variable.set_value(value)
    target.backward()
    expected_value = target.value
    compiled = gd.compile(target, inputs=inputs)
    expected = {p: p.grad for p in compiled.parameters}
    np.testing.assert_allclose(compiled.forward(feed), expected_value, rtol=1e-12, atol=1e-12)
    compiled.backward(feed)
    for parameter, grad in expected.items():
        np.testing.assert_allclose(parameter.grad, grad, rtol=1e-12, atol=1e-12, err_msg=parameter.name)
