"""The workloads' models and data, shared by ``run.py`` and ``side_by_side.py``: the seed's
x² net (per-sample SGD, and the same steps in micrograd and PyTorch), its batch gradient
written by hand in numpy, micrograd's moons MLP as scalar graphdl nodes, and the same MLP
in micrograd. Only graphdl's public API is used."""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable

import numpy as np

import graphdl
from graphdl import Add, HingeLoss, Mul, Relu, Variable
from graphdl.tutorial_net import FIG8_INIT, build_seed_net, quadratic_data, train_per_sample

try:
    from micrograd.engine import Value as MgValue
    from micrograd.nn import MLP as MgMLP
except ImportError:  # the comparisons that need it are skipped
    MgValue = MgMLP = None

LR_A = 0.01
STEPS_A = 1500


def schedule(k: int) -> float:
    """micrograd's demo learning rate at step ``k``."""
    return 1.0 - 0.9 * k / 100


def quiet_compile(target, inputs, backend: str):
    """graphdl.compile without the fallback note (the tables say which backend ran)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return graphdl.compile(target, inputs=inputs, backend=backend)


def seed_data() -> tuple[list[float], list[float]]:
    xs, ys = quadratic_data(STEPS_A, seed=0)
    return xs.tolist(), ys.tolist()


def a_interpreted(xs, ys):
    net = build_seed_net()
    net.initialise("fig8")
    train_per_sample(net, xs, ys, lr=LR_A)
    return [p.value for p in net.params]


def a_setup(backend: str):
    """The seed net compiled with ``backend`` (compiling, and numba's kernels, outside the timings)."""
    net = build_seed_net()
    net.initialise("fig8")
    compiled = quiet_compile(net.loss, [net.x, net.label], backend)
    compiled.backward({net.x: 1.0, net.label: 1.0})
    compiled.step({net.x: 1.0, net.label: 1.0}, LR_A)
    compiled.sgd({net.x: np.ones(2), net.label: np.ones(2)}, lr=LR_A)
    net.initialise("fig8")
    return net, compiled


def a_step(setup, xs, ys):
    net, compiled = setup
    net.initialise("fig8")
    x, label, step = net.x, net.label, compiled.step
    for x_value, y_value in zip(xs, ys):
        step({x: x_value, label: y_value}, LR_A)
    return [p.value for p in net.params]


def a_compiled_loop(setup, xs, ys):
    net, compiled = setup
    net.initialise("fig8")
    compiled.sgd({net.x: np.array(xs), net.label: np.array(ys)}, lr=LR_A)
    return [p.value for p in net.params]


def a_micrograd(xs, ys):
    params = [MgValue(v) for v in FIG8_INIT]
    w11, w12, b11, b12, w21, w22, b21 = params

    def leaky_relu(v):  # micrograd has no LeakyReLU: the same function from its ops
        return v.relu() - 0.1 * (-v).relu()

    for x_value, y_value in zip(xs, ys):
        out = leaky_relu(x_value * w11 + b11) * w21 + leaky_relu(x_value * w12 + b12) * w22 + b21
        error = y_value - out
        loss = error.relu() + (-error).relu()  # |error|, with derivative sign(error) (0 at 0)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= LR_A * p.grad
    return [p.data for p in params]


def a_torch(xs, ys):
    import torch

    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in FIG8_INIT]
    w11, w12, b11, b12, w21, w22, b21 = params
    leaky = torch.nn.functional.leaky_relu
    for x_value, y_value in zip(xs, ys):
        out = leaky(x_value * w11 + b11, 0.1) * w21 + leaky(x_value * w12 + b12, 0.1) * w22 + b21
        loss = torch.abs(y_value - out)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR_A * p.grad
                p.grad = None
    return [float(p.detach()) for p in params]


def hand_numpy(x, y, w11, w12, b11, b12, w21, w22, b21):
    """The seed net's forward and backward written by hand in plain numpy expressions."""
    a1 = x * w11 + b11
    a2 = x * w12 + b12
    h1 = np.where(a1 > 0, a1, 0.1 * a1)
    h2 = np.where(a2 > 0, a2, 0.1 * a2)
    out = h1 * w21 + h2 * w22 + b21
    error = y - out
    loss = np.abs(error)
    g = -np.sign(error) / x.size
    g1 = g * w21 * np.where(a1 > 0, 1.0, 0.1)
    g2 = g * w22 * np.where(a2 > 0, 1.0, 0.1)
    grads = ((g1 * x).sum(), (g2 * x).sum(), g1.sum(), g2.sum(), (g * h1).sum(), (g * h2).sum(), g.sum())
    return loss.mean(), grads


class HandNumpyBuffers:
    """The same forward and backward with preallocated ``out=`` buffers (no temporaries; no
    BLAS call, whose threads stall on a busy shared machine)."""

    def __init__(self, n: int) -> None:
        self.a1, self.a2, self.h1, self.h2, self.out, self.g, self.g1, self.g2, self.t = (np.empty(n) for _ in range(9))
        self.mask = np.empty(n, dtype=bool)

    def __call__(self, x, y, w11, w12, b11, b12, w21, w22, b21):
        a1, a2, h1, h2, out, g, g1, g2, t, mask = (
            self.a1, self.a2, self.h1, self.h2, self.out, self.g, self.g1, self.g2, self.t, self.mask,
        )  # fmt: skip
        np.multiply(x, w11, out=a1)
        a1 += b11
        np.multiply(x, w12, out=a2)
        a2 += b12
        for a, h in ((a1, h1), (a2, h2)):  # LeakyReLU(0.1) = max(a, 0.1 a), exactly
            np.multiply(a, 0.1, out=h)
            np.maximum(a, h, out=h)
        np.multiply(h1, w21, out=out)
        np.multiply(h2, w22, out=t)
        out += t
        out += b21
        np.subtract(y, out, out=t)
        np.absolute(t, out=out)
        loss = out.sum() / x.size
        np.sign(t, out=g)
        g *= -1.0 / x.size
        for a, w, gk in ((a1, w21, g1), (a2, w22, g2)):  # g · w · (1 where a > 0 else 0.1)
            np.greater(a, 0.0, out=mask)
            np.multiply(mask, 0.9, out=gk)
            gk += 0.1
            gk *= g
            gk *= w

        def dot(u, v):
            np.multiply(u, v, out=t)
            return t.sum()

        return loss, (dot(g1, x), dot(g2, x), g1.sum(), g2.sum(), dot(g, h1), dot(g, h2), g.sum())


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (the moons data set), labels ±1."""
    rng = np.random.default_rng(seed)
    outer, inner = n // 2, n - n // 2
    t_outer, t_inner = np.linspace(0, np.pi, outer), np.linspace(0, np.pi, inner)
    points = np.vstack(
        [
            np.column_stack([np.cos(t_outer), np.sin(t_outer)]),
            np.column_stack([1 - np.cos(t_inner), 1 - np.sin(t_inner) - 0.5]),
        ]
    )
    labels = np.concatenate([-np.ones(outer), np.ones(inner)])
    points += rng.normal(scale=noise, size=points.shape)
    order = rng.permutation(n)
    return points[order], labels[order]


def initial_weights(sizes: list[int], seed: int = 1337) -> list[list[tuple[list[float], float]]]:
    """Per layer, per neuron: (weights, bias), drawn like micrograd (U(−1, 1), bias 0)."""
    rng = random.Random(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append([([rng.uniform(-1, 1) for _ in range(fan_in)], 0.0) for _ in range(fan_out)])
    return layers


class GraphMLP:
    """An MLP of scalar graphdl nodes (one graph = one sample), in micrograd's summation order."""

    def __init__(self, init, alpha: float = 1e-4) -> None:
        self.x = [Variable(name=f"x{i}", trainable=False) for i in range(len(init[0][0][0]))]
        self.label = Variable(name="label", trainable=False)
        self.params: list[Variable] = []
        activations = self.x
        for depth, layer in enumerate(init):
            last = depth == len(init) - 1
            outputs = []
            for j, (weights, bias) in enumerate(layer):
                ws = [Variable(w, name=f"w{depth + 1}_{j}_{i}") for i, w in enumerate(weights)]
                b = Variable(bias, name=f"b{depth + 1}_{j}")
                self.params += [*ws, b]
                total = Add([b, *(Mul([w, a]) for w, a in zip(ws, activations))], name=f"z{depth + 1}_{j}")
                outputs.append(total if last else Relu([total], name=f"h{depth + 1}_{j}"))
            activations = outputs
        self.score = activations[0]
        penalty = Mul([alpha, Add([Mul([p, p]) for p in self.params])], name="l2")
        self.loss = Add([HingeLoss([self.label, self.score], name="hinge"), penalty], name="loss")
        self.inputs = [*self.x, self.label]

    def feed(self, points: np.ndarray, labels: np.ndarray) -> dict:
        return {**{x: np.ascontiguousarray(points[:, i]) for i, x in enumerate(self.x)}, self.label: labels}


def c_micrograd(init, points, labels, steps: int, lr: Callable[[int], float] = schedule):
    """micrograd's demo: seconds per step, final accuracy, final parameters (graphdl's order).
    ``lr(k)`` is the learning rate of step ``k``."""
    random.seed(0)
    sizes = [len(init[0][0][0])] + [len(layer) for layer in init]
    model = MgMLP(sizes[0], sizes[1:])
    for layer, values in zip(model.layers, init):
        for neuron, (weights, bias) in zip(layer.neurons, values):
            for w, value in zip(neuron.w, weights):
                w.data = value
            neuron.b.data = bias
    started = time.perf_counter()
    for k in range(steps):
        inputs = [[MgValue(float(v)) for v in row] for row in points]
        scores = [model(row) for row in inputs]
        losses = [(1 + -float(y) * s).relu() for y, s in zip(labels, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        total = data_loss + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        rate = lr(k)
        for p in model.parameters():
            p.data -= rate * p.grad
    elapsed = time.perf_counter() - started
    scores = [model([MgValue(float(v)) for v in row]).data for row in points]
    accuracy = float(np.mean((np.array(scores) > 0) == (labels > 0)))
    return elapsed / steps, accuracy, [p.data for p in model.parameters()]
