"""Layer builders that create ordinary scalar nodes: ``Neuron``, ``Dense`` and ``MLP``.

A layer is exactly what a person could build by hand: one ``Mul`` per weight, one
``Add`` per unit (the weighted inputs plus the bias) and one activation node per unit.
Names are structured so graphs cluster by layer and parameters save by name::

    fc1.w[i,j]   weight from input i to unit j        fc1.b[j]  bias of unit j
    fc1.mul[i,j] input i times fc1.w[i,j]             fc1.z[j]  pre-activation of unit j
    fc1.a[j]     activation of unit j (absent without an activation: z is the output)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import graphdl.init as initialisers
from graphdl.core.node import Node, Variable, as_node
from graphdl.nn.activations import ActivationLike, resolve_activation
from graphdl.nn.dropout_layer import DropoutLayer
from graphdl.nn.module import Module, output_values
from graphdl.nn.norm import LayerNorm
from graphdl.ops import Add, Mul


def _check_inputs(owner: str, inputs: Sequence[Any], expected: int) -> list[Node]:
    if isinstance(inputs, Node) or not isinstance(inputs, Sequence):
        raise TypeError(f"{owner} takes a list of {expected} input nodes, got {type(inputs).__name__}")
    if len(inputs) != expected:
        raise ValueError(f"{owner} expects {expected} inputs, got {len(inputs)}")
    return [as_node(item, owner) for item in inputs]


def _unit(
    inputs: list[Node], weights: list[Variable], bias: Variable | None, names: tuple[list[str], str, str], activate: Any
) -> tuple[Node, Node]:
    """Build z = Σ xᵢ·wᵢ (+ b) and its activation; returns (z, output)."""
    mul_names, z_name, a_name = names
    terms: list[Node] = [Mul([x, w], name=n) for x, w, n in zip(inputs, weights, mul_names)]
    if bias is not None:
        terms.append(bias)
    z = Add(terms, name=z_name)
    return z, (activate(z, a_name) if activate is not None else z)


class _Affine(Module):
    """Shared parts of Neuron and Dense: parameters, initialisation, activation."""

    def __init__(
        self,
        name: str,
        n_in: int,
        n_out: int,
        activation: ActivationLike,
        activation_options: dict[str, Any] | None,
        bias: bool,
    ) -> None:
        super().__init__(name)
        for label, count in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError(f"{type(self).__name__} {name!r}: {label} must be a positive integer, got {count!r}")
        self.fan_in, self.fan_out = n_in, n_out
        self.use_bias = bias
        self.activation_name, self._activate = resolve_activation(activation, activation_options)
        default_slope = 0.1 if self.activation_name == "leaky_relu" else None  # LeakyRelu's default
        self.negative_slope = (activation_options or {}).get("negative_slope", default_slope)
        self.weights: list[Variable] = []
        self.biases: list[Variable] = []
        self.z: list[Node] = []

    def own_parameters(self) -> list[Variable]:
        return [*self.weights, *self.biases]

    def initialise(self, method: str = "auto", rng: initialisers.RngLike = None) -> None:
        """Initialise: ``"auto"`` is Kaiming-uniform for ReLU-like activations and
        Xavier-uniform otherwise (biases zero); or any initialiser name of :mod:`graphdl.init`."""
        if method == "auto":
            method = "kaiming_uniform" if self.activation_name in ("relu", "leaky_relu") else "xavier_uniform"
        function = getattr(initialisers, method, None)
        if function is None or method.startswith("_") or method in ("make_rng", "calculate_gain"):
            raise ValueError(f"unknown initialiser {method!r}")
        if method in ("zeros", "ones"):
            function(self)
        elif method == "constant":
            raise ValueError("use graphdl.init.constant(layer, value) for a constant initialisation")
        else:
            function(self, rng=rng)


class Neuron(_Affine):
    """One unit: ``a = act(Σ xᵢ·wᵢ + b)``. Names: ``n.w[i]``, ``n.b``, ``n.mul[i]``, ``n.z``, ``n.a``.

    ``Neuron(n_in, activation=None, name="n", inputs=None)``: the parameters are created
    (and initialised) at once; the nodes are built when called on ``n_in`` input nodes
    (or at once when ``inputs`` is given). ``neuron.output`` is the last node.
    """

    def __init__(
        self,
        n_in: int,
        activation: ActivationLike = None,
        name: str = "n",
        *,
        inputs: Sequence[Any] | None = None,
        bias: bool = True,
        init: str = "auto",
        rng: initialisers.RngLike = None,
        activation_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, n_in, 1, activation, activation_options, bias)
        self.weights = [Variable(name=f"{name}.w[{i}]") for i in range(n_in)]
        self.biases = [Variable(name=f"{name}.b")] if bias else []
        self.initialise(init, rng)
        self.output: Node | None = None
        if inputs is not None:
            self(inputs)

    def __call__(self, inputs: Sequence[Any]) -> Node:
        nodes = _check_inputs(f"Neuron {self.name!r}", inputs, self.fan_in)
        names = ([f"{self.name}.mul[{i}]" for i in range(self.fan_in)], f"{self.name}.z", f"{self.name}.a")
        z, out = _unit(nodes, self.weights, self.biases[0] if self.biases else None, names, self._activate)
        self.inputs, self.z, self.outputs, self.output = nodes, [z], [out], out
        return out


class Dense(_Affine):
    """A fully connected layer of ``n_out`` units on ``n_in`` inputs.

    ``Dense(n_in, n_out, activation=None, name="fc", inputs=None)``: parameters
    ``fc.w[i,j]`` and ``fc.b[j]`` are created and initialised at once (``init``,
    ``rng``); calling the layer on a list of ``n_in`` nodes builds its nodes and
    returns its ``n_out`` outputs. Calling it again on other inputs shares the weights.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: ActivationLike = None,
        name: str = "fc",
        *,
        inputs: Sequence[Any] | None = None,
        bias: bool = True,
        init: str = "auto",
        rng: initialisers.RngLike = None,
        activation_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, n_in, n_out, activation, activation_options, bias)
        self.w = [[Variable(name=f"{name}.w[{i},{j}]") for j in range(n_out)] for i in range(n_in)]
        self.weights = [w for row in self.w for w in row]
        self.biases = [Variable(name=f"{name}.b[{j}]") for j in range(n_out)] if bias else []
        self.initialise(init, rng)
        if inputs is not None:
            self(inputs)

    def __call__(self, inputs: Sequence[Any]) -> list[Node]:
        nodes = _check_inputs(f"Dense {self.name!r}", inputs, self.fan_in)
        zs, outs = [], []
        for j in range(self.fan_out):
            names = (
                [f"{self.name}.mul[{i},{j}]" for i in range(self.fan_in)],
                f"{self.name}.z[{j}]",
                f"{self.name}.a[{j}]",
            )
            column = [self.w[i][j] for i in range(self.fan_in)]
            z, out = _unit(nodes, column, self.biases[j] if self.biases else None, names, self._activate)
            zs.append(z)
            outs.append(out)
        self.inputs, self.z, self.outputs = nodes, zs, outs
        return outs


class MLP(Module):
    """A multilayer perceptron: input Variables ``x[0]…`` and Dense layers ``fc1, fc2, …``.

    ``MLP(n_in, [16, 16, 1], activation="relu", output_activation=None)`` builds
    everything at once. ``dropout=p`` inserts a :class:`~graphdl.nn.dropout_layer.DropoutLayer`
    (drop probability ``p``) after each hidden layer; ``layer_norm=True`` normalises each
    hidden layer's pre-activations with a :class:`~graphdl.nn.norm.LayerNorm`.
    With ``name="enc"`` the layers are ``enc.fc1`` … and the inputs ``enc.x[0]`` ….
    """

    def __init__(
        self,
        n_in: int,
        sizes: Sequence[int],
        activation: ActivationLike = "relu",
        output_activation: ActivationLike = None,
        *,
        name: str | None = None,
        inputs: Sequence[Variable] | None = None,
        dropout: float | None = None,
        layer_norm: bool = False,
        init: str = "auto",
        rng: initialisers.RngLike = None,
        activation_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name or "mlp")
        sizes = list(sizes)
        if not sizes:
            raise ValueError("MLP needs at least one layer size")
        prefix = f"{name}." if name else ""
        generator = initialisers.make_rng(rng)
        if inputs is None:
            inputs = [Variable(name=f"{prefix}x[{i}]", trainable=False) for i in range(n_in)]
        nodes: list[Node] = _check_inputs(f"MLP {self.name!r}", inputs, n_in)
        self.inputs = nodes
        self.layers: list[Module] = []
        width = n_in
        for index, size in enumerate(sizes, start=1):
            last = index == len(sizes)
            act = output_activation if last else activation
            options = None if last else activation_options
            if layer_norm and not last:
                dense = Dense(width, size, None, f"{prefix}fc{index}", init="zeros")
                # the activation follows the normalisation; initialise for its gain
                dense.activation_name = resolve_activation(act, options)[0]
                dense.initialise(init, generator)
                norm = LayerNorm(size, name=f"{prefix}ln{index}", activation=act, activation_options=options)
                nodes = norm(dense(nodes))
                self.layers += [dense, norm]
            else:
                dense = Dense(
                    width, size, act, f"{prefix}fc{index}", init=init, rng=generator, activation_options=options
                )
                nodes = dense(nodes)
                self.layers.append(dense)
            if dropout and not last:
                drop = DropoutLayer(dropout, name=f"{prefix}drop{index}")
                nodes = drop(nodes)
                self.layers.append(drop)
            width = size
        self.outputs = list(nodes)

    def submodules(self) -> list[Module]:
        return self.layers

    def __call__(self, X: Any) -> float | np.ndarray:
        """The outputs' values for one sample or a batch: see :func:`graphdl.nn.module.output_values`."""
        return output_values(self, X)
