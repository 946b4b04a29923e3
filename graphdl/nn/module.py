"""``Module``: what every builder of :mod:`graphdl.nn` shares, and ``Model``, a wrapper
that turns any hand-built graph into something the optimisers and the Trainer accept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node, Variable
from graphdl.nn.dropout import dropout_nodes, identity_masks


class Module:
    """A named group of parameter Variables and the nodes built on them.

    A module exposes ``parameters()`` (its trainable Variables, in a stable order),
    ``named_parameters()`` (by node name) and, once built on inputs, ``inputs`` and
    ``outputs``. ``train()`` / ``eval()`` set ``training`` on it and its sub-modules
    (the Trainer uses it for dropout).
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}: name must be a non-empty string, got {name!r}")
        self.name = name
        self.training = True
        self.inputs: list[Node] = []
        self.outputs: list[Node] = []

    # ----------------------------------------------------------------- structure
    def own_parameters(self) -> list[Variable]:
        """The parameters created by this module itself (not by sub-modules)."""
        return []

    def submodules(self) -> list[Module]:
        """The direct sub-modules."""
        return []

    def modules(self) -> list[Module]:
        """This module and every sub-module, depth first."""
        found: list[Module] = []
        stack: list[Module] = [self]
        while stack:
            module = stack.pop()
            found.append(module)
            stack.extend(reversed(module.submodules()))
        return found

    def parameters(self) -> list[Variable]:
        """Every trainable Variable of the module, each once, in a stable order."""
        seen: set[Variable] = set()
        params: list[Variable] = []
        for module in self.modules():
            for param in module.own_parameters():
                if param not in seen and param.trainable:
                    seen.add(param)
                    params.append(param)
        return params

    def named_parameters(self) -> dict[str, Variable]:
        """``{node name: Variable}``; raises ``ValueError`` when two parameters share a name."""
        return unique_names(self.parameters())

    def fan_layers(self) -> list[Any]:
        """The sub-modules with ``weights``, ``biases``, ``fan_in`` and ``fan_out`` (for initialisers)."""
        return [module for module in self.modules() if hasattr(module, "fan_in") and getattr(module, "weights", None)]

    def weight_gradient_norms(self) -> dict[str, float]:
        """The L2 norm of each layer's weight gradients, ``{layer name: norm}``, input side
        first: the feed-forward tutorial's ``print_grads``, the numbers that show vanishing gradients and dead
        units. Reads the ``.grad`` cached by the last ``backward()``/``get_grad``; raises
        ``ValueError`` naming the first weight that has none."""
        norms: dict[str, float] = {}
        for layer in self.fan_layers():
            total = 0.0
            for weight in layer.weights:
                if weight.grad is None:
                    raise ValueError(f"weight {weight.name!r} has no gradient yet: run loss.backward() first")
                total += float(weight.grad) ** 2
            norms[layer.name] = total**0.5
        return norms

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and its sub-modules."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout is the identity)."""
        return self.train(False)

    def graph(self) -> Graph:
        """A :class:`Graph` of everything upstream of the outputs."""
        if not self.outputs:
            raise ValueError(f"{type(self).__name__} {self.name!r} has not been built on inputs yet")
        return Graph(*self.outputs)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {len(self.inputs)} inputs, {len(self.outputs)} outputs, "
            f"{len(self.parameters())} parameters>"
        )


def unique_names(params: Sequence[Variable]) -> dict[str, Variable]:
    """``{name: Variable}``; a name used twice is a ``ValueError`` naming it (saving by name
    needs unique names)."""
    named: dict[str, Variable] = {}
    for param in params:
        if param.name in named and named[param.name] is not param:
            raise ValueError(
                f"two parameters are named {param.name!r}: give them distinct names (saving and loading go by name)"
            )
        named[param.name] = param
    return named


class Model(Module):
    """Any graph as a model: ``Model(inputs=[x], outputs=[y])``.

    ``parameters`` defaults to the trainable Variables upstream of the outputs (in
    topological order). Sub-modules (layers used to build the graph) may be listed so
    that ``train()``/``eval()`` and the initialisers reach them.
    """

    def __init__(
        self,
        inputs: Sequence[Variable],
        outputs: Sequence[Node],
        parameters: Sequence[Variable] | None = None,
        *,
        modules: Sequence[Module] = (),
        name: str = "model",
    ) -> None:
        super().__init__(name)
        for item in inputs:
            if not isinstance(item, Variable):
                raise TypeError(f"Model inputs must be Variables, got {type(item).__name__} {item!r}")
        for output in outputs:
            if not isinstance(output, Node):
                raise TypeError(f"Model outputs must be nodes, got {type(output).__name__} {output!r}")
        if not outputs:
            raise ValueError("Model needs at least one output node")
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self._modules = list(modules)
        self._params = list(parameters) if parameters is not None else Graph(*outputs).parameters()

    def own_parameters(self) -> list[Variable]:
        return self._params

    def submodules(self) -> list[Module]:
        return self._modules

    def __call__(self, X: Any) -> float | np.ndarray:
        """The outputs' values for one sample or a batch: see :func:`output_values`."""
        return output_values(self, X)


def output_values(module: Module, X: Any) -> float | np.ndarray:
    """Run ``X`` through a built model and return its outputs' values (``model(X)``).

    ``X`` is one sample, a sequence of ``len(module.inputs)`` numbers (or a plain number for
    a model with one input), or a batch, a 2-D array with one row per sample. One sample
    gives a float for a model with one output and an array of K values for K outputs; a
    batch of N rows gives shape (N,) for one output and (N, K) for K outputs (as
    ``Trainer.predict``). Each input Variable keeps the value it was given, and every
    Dropout mask is set to 1 (dropout off, as in evaluation), so calling the model never
    trains it. Raises ``ValueError`` naming the model for data of the wrong shape or size,
    ``TypeError`` for data that is not numbers or a model built on inputs that are not
    Variables (call the model it is built on instead).
    """
    owner = f"{type(module).__name__} {module.name!r}"
    if not module.outputs:
        raise ValueError(f"{owner} has not been built on inputs yet")
    variables: list[Variable] = []
    for node in module.inputs:
        if not isinstance(node, Variable):
            raise TypeError(f"{owner} cannot be called on data: its input {node.kind} {node.name!r} is not a Variable")
        variables.append(node)
    try:
        data = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: expected numbers (one sample or a 2-D batch), got {type(X).__name__}") from None
    width = len(variables)
    if data.ndim == 0 and width == 1:
        data = data.reshape(1)
    if data.ndim not in (1, 2):
        raise ValueError(f"{owner}: expected one sample (1-D) or a batch (2-D), got a {data.ndim}-D array")
    if data.shape[-1] != width:
        what = "a sample" if data.ndim == 1 else "each row of a batch"
        hint = " (a batch of one-input samples is a column: X.reshape(-1, 1))" if width == 1 and data.ndim == 1 else ""
        raise ValueError(f"{owner} takes {width} input value(s) per sample; {what} has {data.shape[-1]}{hint}")
    if data.ndim == 2 and data.shape[0] == 0:
        raise ValueError(f"{owner}: the batch has no rows")
    for mask, value in identity_masks(dropout_nodes(module.graph().nodes)).items():
        mask.set_value(value)
    if data.ndim == 1:
        for variable, value in zip(variables, data):
            variable.set_value(float(value))
        values = [float(node.forward()) for node in module.outputs]
        return values[0] if len(values) == 1 else np.array(values)
    rows = data.shape[0]
    for variable, column in zip(variables, data.T):
        variable.set_value(np.ascontiguousarray(column))
    columns = [np.broadcast_to(np.asarray(node.forward(), dtype=float), (rows,)) for node in module.outputs]
    return columns[0].copy() if len(columns) == 1 else np.stack(columns, axis=1)
