"""``DropoutLayer``: a :class:`~graphdl.nn.dropout.Dropout` node on each output of a layer,
each with its own mask Variable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphdl.core.node import Node, Variable, as_node
from graphdl.nn.dropout import Dropout
from graphdl.nn.module import Module


class DropoutLayer(Module):
    """Dropout on each of a layer's outputs, drop probability ``p`` (keep = 1 − p).

    Calling it on nodes builds ``drop.mask[j]`` (a data Variable, 1 until the Trainer
    draws masks) and ``drop.out[j] = Dropout([node_j, drop.mask[j]])``.
    """

    def __init__(self, p: float = 0.5, name: str = "drop") -> None:
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropoutLayer {name!r}: drop probability must be in [0, 1), got {p}")
        self.p = float(p)
        self.masks: list[Variable] = []

    def __call__(self, inputs: Sequence[Any]) -> list[Node]:
        nodes = [as_node(item, f"DropoutLayer {self.name!r}") for item in inputs]
        self.masks = [Variable(1.0, name=f"{self.name}.mask[{j}]", trainable=False) for j in range(len(nodes))]
        outputs: list[Node] = [
            Dropout([node, mask], keep=1.0 - self.p, name=f"{self.name}.out[{j}]")
            for j, (node, mask) in enumerate(zip(nodes, self.masks))
        ]
        self.inputs, self.outputs = nodes, outputs
        return outputs
