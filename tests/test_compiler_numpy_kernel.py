"""The grouped-numpy kernel against the interpreter: its layout of S (weights as views, the
gradients one group), its exact rewrites (ReLU as fmax + 0, masks as booleans) and its
rebinding when the batch size changes."""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_compiler_backends import _reference_grads

import graphdl
from graphdl import ops
from graphdl.compiler.numpy_runner import GroupedProgram
from graphdl.core.node import Variable
from graphdl.nn.losses import attach_loss


def _net(activation: str, loss: str, width: int = 5, seed: int = 0):
    model = graphdl.nn.MLP(3, [width, width - 1, 1], activation=activation, rng=np.random.default_rng(seed))
    params = model.parameters()
    if loss == "mse":
        head = attach_loss(model.outputs, "mse")
        target, labels = head.loss, head.labels
    else:
        label = Variable(name="label", trainable=False)
        penalty = ops.Mul([1e-3, ops.Add([ops.Mul([p, p]) for p in params])])
        target, labels = ops.Add([ops.HingeLoss([label, model.outputs[0]]), penalty]), [label]
    return target, [*model.inputs, *labels], params


def _feed(inputs, size: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    feed = {x: rng.normal(size=size) for x in inputs[:-1]}
    feed[inputs[-1]] = np.sign(rng.normal(size=size))
    return feed


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["hinge_l2", "mse"])
def test_the_kernel_gives_the_interpreters_gradients(activation, loss):
    target, inputs, _ = _net(activation, loss)
    compiled = graphdl.compile(target, inputs=inputs, backend="numpy")
    params = compiled.parameters
    for size in (17, 2, 33, 17):  # new batch sizes bind new views; an old size binds again
        feed = _feed(inputs, size, seed=size)
        mean = compiled.backward(feed)
        grads = [p.grad for p in params]
        value, expected = _reference_grads(target, feed, params)
        assert mean == pytest.approx(float(np.mean(value)), rel=1e-12)
        np.testing.assert_allclose(grads, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(compiled.forward(feed), value, rtol=1e-12, atol=1e-15)
    kernel = compiled.batch_source.split("def backward_batch")[1]
    assert kernel.count("np.matmul(") == 7  # 3 layers, 1 backward to the first hidden layer, 3 weight grads
    assert not any("].reshape(" in line and "[i" in line for line in compiled.batch_source.splitlines())


def test_the_l2_gradients_of_every_layer_are_one_call():
    target, inputs, _ = _net("relu", "hinge_l2", width=8)
    compiled = graphdl.compile(target, inputs=inputs, backend="numpy")
    params = compiled.parameters
    compiled.backward(_feed(inputs, 9, seed=1))
    kernel = compiled.batch_source.split("def backward_batch")[1]
    decay = [line for line in kernel.splitlines() if "2.0" in line.split("#")[0]]
    assert len(decay) == 1 and f"{len(params)} × " in decay[0], kernel
    assert re.search(r"s\[\d+\] = np\.add\.reduce\(", kernel)  # a long sum in one call (pairwise: equal to rounding)


def test_the_gradients_read_forwards_and_the_parameters_as_a_slice():
    target, inputs, _ = _net("relu", "hinge_l2", width=8)
    compiled = graphdl.compile(target, inputs=inputs, backend="numpy")
    feed = _feed(inputs, 9, seed=2)
    compiled.backward(feed)
    views, kernel = compiled.batch_source.split("def backward_batch")
    assert not re.search(r"\[\d*:\d*:-\d+\]|, -\d+\)", views), views  # no view counts down
    decay = next(line for line in kernel.splitlines() if "2.0" in line.split("#")[0])
    assert decay.count("[i") <= 1, decay  # the parameters in program order: a slice, not a gather
    grads = [p.grad for p in compiled.parameters]
    np.testing.assert_allclose(grads, _reference_grads(target, feed, compiled.parameters)[1], rtol=1e-12, atol=1e-15)


def test_relu_and_hinge_keep_the_interpreters_bits_on_special_values():
    x = Variable(name="x", trainable=False)
    label = Variable(name="label", trainable=False)
    w, v = Variable(1e308, name="w"), Variable(-1e308, name="v")
    z = x * w  # -0.0, 0.0, subnormals, +-inf (overflow); z + x * v: NaN where z is inf
    xs = np.array([-0.0, 0.0, 5e-324, -5e-324, 1e-320, -1.5, 2.5, 10.0, -10.0])
    feed = {x: xs, label: np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0])}
    for target in (ops.Relu([z]), ops.Relu([z + x * v]), ops.HingeLoss([label, z]), ops.HingeLoss([label, z + x * v])):
        compiled = graphdl.compile(target, inputs=[x, label], backend="numpy")
        with np.errstate(all="ignore"):
            value = compiled.forward(feed)
            expected, _ = _reference_grads(target, feed, [w, v])
        assert value.view(np.int64).tolist() == np.asarray(expected).view(np.int64).tolist(), target.name
        assert "np.fmax(" in compiled.batch_source


def test_leaves_may_come_as_an_array():
    target, inputs, _ = _net("tanh", "hinge_l2")
    compiled = graphdl.compile(target, inputs=inputs, backend="numpy")
    params = compiled.parameters
    program = GroupedProgram(compiled.program, gradients=True)
    feed = _feed(inputs, 7, seed=3)
    columns = [feed[v] for v in inputs]
    leaves = [p.value for p in params]
    from_list = program.run(columns, leaves, 1.0 / 7)
    from_array = program.run(columns, np.array(leaves), 1.0 / 7)
    assert np.array_equal(from_list[0], from_array[0]) and np.array_equal(from_list[1], from_array[1])
    _, expected = _reference_grads(target, feed, params)
    np.testing.assert_allclose(from_array[1], expected, rtol=1e-12, atol=1e-15)
