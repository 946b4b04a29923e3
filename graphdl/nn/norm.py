"""Layer normalisation over a layer's units, built from scalar nodes.

For units h₀…h_{n−1}: μ = Σhⱼ/n, cⱼ = hⱼ − μ, σ² = Σcⱼ²/n, s = √(σ² + eps),
yⱼ = γⱼ · cⱼ / s + βⱼ (then the activation, if any). Names: ``ln.mean``, ``ln.c[j]``,
``ln.var``, ``ln.std``, ``ln.norm[j]``, ``ln.y[j]``, ``ln.a[j]``; parameters
``ln.gamma[j]`` (1 initially) and ``ln.beta[j]`` (0 initially).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphdl.core.node import Node, Variable, as_node
from graphdl.nn.activations import ActivationLike, resolve_activation
from graphdl.nn.module import Module
from graphdl.ops import Add, Div, Mul, Pow, Sub


class LayerNorm(Module):
    """``LayerNorm(n, name="ln", eps=1e-5, activation=None)``; call it on ``n`` nodes."""

    def __init__(
        self,
        n: int,
        name: str = "ln",
        eps: float = 1e-5,
        *,
        activation: ActivationLike = None,
        activation_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name)
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"LayerNorm {name!r}: needs at least 2 units, got {n!r}")
        self.n, self.eps = n, float(eps)
        self.gamma = [Variable(1.0, name=f"{name}.gamma[{j}]") for j in range(n)]
        self.beta = [Variable(0.0, name=f"{name}.beta[{j}]") for j in range(n)]
        self.activation_name, self._activate = resolve_activation(activation, activation_options)

    def own_parameters(self) -> list[Variable]:
        return [*self.gamma, *self.beta]

    def __call__(self, inputs: Sequence[Any]) -> list[Node]:
        name = self.name
        nodes = [as_node(item, f"LayerNorm {name!r}") for item in inputs]
        if len(nodes) != self.n:
            raise ValueError(f"LayerNorm {name!r} expects {self.n} inputs, got {len(nodes)}")
        mean = Mul([Add(nodes), 1.0 / self.n], name=f"{name}.mean")
        centred = [Sub([h, mean], name=f"{name}.c[{j}]") for j, h in enumerate(nodes)]
        squares = [Mul([c, c]) for c in centred]
        var = Mul([Add(squares), 1.0 / self.n], name=f"{name}.var")
        std = Pow([Add([var, self.eps]), 0.5], name=f"{name}.std")
        outputs: list[Node] = []
        for j, c in enumerate(centred):
            normed = Div([c, std], name=f"{name}.norm[{j}]")
            y = Add([Mul([normed, self.gamma[j]]), self.beta[j]], name=f"{name}.y[{j}]")
            outputs.append(self._activate(y, f"{name}.a[{j}]") if self._activate else y)
        self.inputs, self.outputs = nodes, outputs
        return outputs
