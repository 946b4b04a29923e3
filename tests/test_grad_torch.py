"""Gradient graphs against PyTorch: a third derivative, a Hessian-vector product, per-sample
gradients on a batch and a batch statistic's gradients."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl as gd
from graphdl import Variable, grad

torch = pytest.importorskip("torch", reason="PyTorch is not installed: these checks compare with it")


def _leaf(value):
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("value", [-1.3, 0.4, 2.0])
def test_third_derivative_of_x_to_the_fourth(value: float) -> None:
    x = Variable(value, name="x")
    d1 = grad(x**4, [x])[0]
    d2 = grad(d1, [x])[0]
    d3 = grad(d2, [x])[0]
    xt = _leaf(value)
    t1 = torch.autograd.grad(xt**4, xt, create_graph=True)[0]
    t2 = torch.autograd.grad(t1, xt, create_graph=True)[0]
    t3 = torch.autograd.grad(t2, xt)[0]
    for node, expected in ((d1, t1), (d2, t2), (d3, t3)):
        assert node.forward() == pytest.approx(expected.item(), rel=1e-13)


def _tanh_mlp(sizes, rng):
    """A small tanh MLP of scalar nodes on one sample, its squared loss and parameters."""
    inputs = [Variable(float(v), name=f"x{i}", trainable=False) for i, v in enumerate(rng.uniform(-1, 1, sizes[0]))]
    label = Variable(0.3, name="label", trainable=False)
    params, layer = [], inputs
    for depth, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        outputs = []
        for j in range(fan_out):
            ws = [Variable(float(rng.normal(0, 0.8)), name=f"w{depth}_{j}_{i}") for i in range(fan_in)]
            b = Variable(float(rng.normal(0, 0.3)), name=f"b{depth}_{j}")
            params += [*ws, b]
            total = gd.Add([b, *(w * a for w, a in zip(ws, layer))])
            outputs.append(total.tanh() if depth < len(sizes) - 2 else total)
        layer = outputs
    loss = gd.SquaredLoss([label, layer[0]])
    return inputs, label, params, loss


def test_hessian_vector_product_of_a_tanh_mlp_matches_pytorch() -> None:
    rng = np.random.default_rng(5)
    inputs, label, params, loss = _tanh_mlp([2, 3, 3, 1], rng)
    v = rng.normal(size=len(params))
    gradients = grad(loss, params)
    directional = gd.Add([g * float(vk) for g, vk in zip(gradients, v)])  # v · ∇loss, a node
    hvp = [node.forward() for node in grad(directional, params)]

    x = torch.tensor([node.value for node in inputs], dtype=torch.float64)
    sizes = [2, 3, 3, 1]

    def torch_loss(theta):
        offset, layer = 0, x
        for depth, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            rows = theta[offset : offset + fan_out * (fan_in + 1)].reshape(fan_out, fan_in + 1)
            offset += fan_out * (fan_in + 1)
            layer = rows[:, :fan_in] @ layer + rows[:, fan_in]
            if depth < len(sizes) - 2:
                layer = torch.tanh(layer)
        return (label.value - layer[0]) ** 2

    theta = torch.tensor([p.value for p in params], dtype=torch.float64)
    _, expected = torch.autograd.functional.hvp(torch_loss, theta, torch.tensor(v, dtype=torch.float64))
    np.testing.assert_allclose(hvp, expected.numpy(), rtol=1e-11, atol=1e-13)


def test_per_sample_gradients_on_a_batch_match_per_sample_pytorch_runs() -> None:
    rng = np.random.default_rng(8)
    xs, ys = rng.uniform(-2, 2, 6), rng.uniform(-1, 1, 6)
    x, y = Variable(xs, name="x", trainable=False), Variable(ys, name="y", trainable=False)
    w, b = Variable(0.7, name="w"), Variable(-0.2, name="b")
    prediction = gd.Elu([x * w + b]).sigmoid() + gd.Softplus([x * b])
    loss = gd.SquaredLoss([y, prediction])
    gw, gb = grad(loss, [w, b])
    gww, gwb = grad(gw, [w, b])
    per_sample = np.stack([gw.forward(), gb.forward(), gww.forward(), gwb.forward()])
    for i in range(len(xs)):
        wt, bt = _leaf(0.7), _leaf(-0.2)
        pred = torch.sigmoid(torch.nn.functional.elu(xs[i] * wt + bt)) + torch.nn.functional.softplus(xs[i] * bt)
        sample_loss = (ys[i] - pred) ** 2
        tw, tb = torch.autograd.grad(sample_loss, (wt, bt), create_graph=True)
        tww, twb = torch.autograd.grad(tw, (wt, bt))
        expected = [tw.item(), tb.item(), tww.item(), twb.item()]
        np.testing.assert_allclose(per_sample[:, i], expected, rtol=1e-11, atol=1e-14)
    loss.backward()  # the mean of the per-sample gradients is get_grad
    assert np.mean(per_sample[0]) == pytest.approx(w.grad, rel=1e-12)


def test_batch_mean_gradients_match_pytorch() -> None:
    """Through a batch statistic, a scalar's gradient node still averages to the gradient of
    the mean loss (first and second derivative); a batch input's gradient node is N times
    its share of it, d(Σ_i loss_i)/d x_j."""
    xs = np.array([0.5, -1.0, 2.0, 0.1, -0.4])
    x, w = Variable(xs, name="x"), Variable(1.3, name="w")
    scaled = x * w
    loss = gd.Tanh([scaled - gd.BatchMean([scaled])]) ** 2
    gw, gx = grad(loss, [w, x])
    gww = grad(gw, [w])[0]
    xt, wt = _leaf(xs), _leaf(1.3)
    st = xt * wt
    mean_loss = (torch.tanh(st - st.mean()) ** 2).mean()
    tw, tx = torch.autograd.grad(mean_loss, (wt, xt), create_graph=True)
    (tww,) = torch.autograd.grad(tw, wt)
    assert np.mean(gw.forward()) == pytest.approx(tw.item(), rel=1e-12)
    assert np.mean(gww.forward()) == pytest.approx(tww.item(), rel=1e-12)
    np.testing.assert_allclose(gx.forward(), len(xs) * tx.detach().numpy(), rtol=1e-12)
