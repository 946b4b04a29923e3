"""The core tutorial's network, built node by node with the tutorial's names.

One input ``x``, two hidden LeakyReLU units, one output, trained per sample with
SGD on |label − prediction| to fit y = x² on [0, 2]. The demo, the example script,
the benchmarks and the tests all build it from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from graphdl.core.node import Node, Variable
from graphdl.datasets.synthetic import quadratic_data  # noqa: F401 - the tutorial's data, importable from here too
from graphdl.ops import Add, LeakyRelu, Mul, Relu, ValueLoss

PARAMETER_NAMES = ("w_11", "w_12", "b_11", "b_12", "w_21", "w_22", "b_21")

#: Initial values of the tutorial's figure 8 (the fit it expected, reached in 1500 steps).
FIG8_INIT = (
    -0.1571950013426796,
    -0.1070365984042347,
    0.3791639008324807,
    0.31960284774415215,
    0.4263410176300597,
    0.5097967360623379,
    0.7597168751185974,
)
#: Initial values of the tutorial's figure 7 (only w_11 and w_12 differ; over 10 000 steps).
FIG7_INIT = (
    -0.4571950013426796,
    -0.4070365984042347,
    0.3791639008324807,
    0.31960284774415215,
    0.4263410176300597,
    0.5097967360623379,
    0.7597168751185974,
)
INITS = {"fig8": FIG8_INIT, "fig7": FIG7_INIT}


@dataclass
class SeedNet:
    """The nodes of the tutorial's network, by their names in the tutorial."""

    x: Variable
    label: Variable
    w_11: Variable
    w_12: Variable
    b_11: Variable
    b_12: Variable
    w_21: Variable
    w_22: Variable
    b_21: Variable
    mul_11: Node
    mul_12: Node
    add_11: Node
    add_12: Node
    relu_11: Node
    relu_12: Node
    mul_21: Node
    mul_22: Node
    add_21: Node
    loss: Node
    params: list[Variable] = field(default_factory=list)

    def initialise(self, values: Sequence[float] | str = "fig8", rng: np.random.Generator | None = None) -> None:
        """Set the parameters: ``"fig8"``, ``"fig7"``, ``"random"`` (U(−1, 1), as the
        seed) or seven explicit values in the order of ``PARAMETER_NAMES``."""
        if isinstance(values, str):
            if values == "random":
                rng = rng if rng is not None else np.random.default_rng()
                values = rng.uniform(-1.0, 1.0, size=len(self.params)).tolist()
            elif values in INITS:
                values = INITS[values]
            else:
                raise ValueError(f"unknown initialisation {values!r}: use 'fig8', 'fig7', 'random' or 7 numbers")
        if len(values) != len(self.params):
            raise ValueError(f"expected {len(self.params)} initial values, got {len(values)}")
        for param, value in zip(self.params, values):
            param.set_value(value)

    def predict(self, xs: float | np.ndarray) -> float | np.ndarray:
        """The network's output for ``xs`` (one number or a batch, in one forward pass)."""
        self.x.set_value(xs)
        return self.add_21.forward()


def build_seed_net(activation: str = "leaky_relu", negative_slope: float = 0.1) -> SeedNet:
    """Build the tutorial's graph node by node (``activation`` ``"leaky_relu"`` or ``"relu"``).

    ``x`` and ``label`` are data (``trainable=False``); the seven parameters are
    trainable Variables without values until :meth:`SeedNet.initialise`.
    """
    if activation == "leaky_relu":

        def act(parent: Node, name: str) -> Node:
            return LeakyRelu([parent], negative_slope=negative_slope, name=name)

    elif activation == "relu":

        def act(parent: Node, name: str) -> Node:
            return Relu([parent], name=name)

    else:
        raise ValueError(f"unknown activation {activation!r}: use 'leaky_relu' or 'relu'")
    x = Variable(name="x", trainable=False)
    w_11, w_12 = Variable(name="w_11"), Variable(name="w_12")
    mul_11, mul_12 = Mul([x, w_11], name="mul_11"), Mul([x, w_12], name="mul_12")
    b_11, b_12 = Variable(name="b_11"), Variable(name="b_12")
    add_11, add_12 = Add([mul_11, b_11], name="add_11"), Add([mul_12, b_12], name="add_12")
    relu_11, relu_12 = act(add_11, "relu_11"), act(add_12, "relu_12")
    w_21, w_22 = Variable(name="w_21"), Variable(name="w_22")
    mul_21, mul_22 = Mul([relu_11, w_21], name="mul_21"), Mul([relu_12, w_22], name="mul_22")
    b_21 = Variable(name="b_21")
    add_21 = Add([mul_21, mul_22, b_21], name="add_21")
    label = Variable(name="label", trainable=False)
    loss = ValueLoss([label, add_21], name="loss")
    return SeedNet(
        x=x, label=label, w_11=w_11, w_12=w_12, b_11=b_11, b_12=b_12, w_21=w_21, w_22=w_22, b_21=b_21,
        mul_11=mul_11, mul_12=mul_12, add_11=add_11, add_12=add_12, relu_11=relu_11, relu_12=relu_12,
        mul_21=mul_21, mul_22=mul_22, add_21=add_21, loss=loss,
        params=[w_11, w_12, b_11, b_12, w_21, w_22, b_21],
    )  # fmt: skip


def init_rng(seed: int | None) -> np.random.Generator:
    """The generator for ``initialise("random", rng=...)`` given the same ``seed`` as
    :func:`quadratic_data`: an independent stream, so the initial parameters are not the
    first training inputs in disguise (both would otherwise be ``uniform`` draws of one stream)."""
    return np.random.default_rng(None if seed is None else [seed, 1])


def train_per_sample(
    net: SeedNet,
    xs: Sequence[float] | np.ndarray,
    labels: Sequence[float] | np.ndarray,
    lr: float = 0.01,
    callback: Callable[[int, float], None] | None = None,
) -> list[float]:
    """The tutorial's training loop, exactly: per sample ``set_value`` ×2, ``forward``,
    ``get_grad`` + ``update`` for each parameter, record the loss, ``clear``.

    ``callback(step, loss)`` runs after each step (the animation recorder hooks in
    here). Returns the loss of every step.
    """
    x, label, loss, params = net.x, net.label, net.loss, net.params
    losses = []
    for step, (x_value, y_value) in enumerate(zip(xs, labels)):
        x.set_value(float(x_value))
        label.set_value(float(y_value))
        value = loss.forward()
        for param in params:
            param.get_grad()
            param.update(lr=lr)
        losses.append(float(value))
        loss.clear()
        if callback is not None:
            callback(step, losses[-1])
    return losses
