"""Layer normalisation over a layer's units and batch normalisation over a batch's samples,
built from scalar nodes.

LayerNorm, for units h₀…h_{n−1}: μ = Σhⱼ/n, cⱼ = hⱼ − μ, σ² = Σcⱼ²/n, s = √(σ² + eps),
yⱼ = γⱼ · cⱼ / s + βⱼ (then the activation, if any). Names: ``ln.mean``, ``ln.c[j]``,
``ln.var``, ``ln.std``, ``ln.norm[j]``, ``ln.y[j]``, ``ln.a[j]``; parameters
``ln.gamma[j]`` (1 initially) and ``ln.beta[j]`` (0 initially). BatchNorm normalises each
unit over the samples of the batch instead (see :class:`BatchNorm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdl.core.node import Node, Variable, as_node
from graphdl.nn.activations import ActivationLike, resolve_activation
from graphdl.nn.module import Module
from graphdl.ops import Add, BatchMean, Div, Mul, Pow, Sub


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


class BatchNorm(Module):
    """Batch normalisation of each unit over the samples of a batch (PyTorch's ``BatchNorm1d``).

    ``BatchNorm(n, name="bn", eps=1e-5, momentum=0.1, activation=None)``; call it on ``n``
    nodes. For unit j with input h: μ = mean of h over the batch, c = h − μ,
    σ² = mean of c² over the batch (biased), yⱼ = γⱼ · c / √(σ² + eps) + βⱼ (then the
    activation, if any). Names: ``bn.mean[j]``, ``bn.c[j]``, ``bn.c2[j]``, ``bn.var[j]``,
    ``bn.var_eps[j]``, ``bn.std[j]``, ``bn.norm[j]``, ``bn.scaled[j]``, ``bn.y[j]``, ``bn.a[j]``;
    parameters ``bn.gamma[j]`` (1 initially) and ``bn.beta[j]`` (0); data Variables
    ``bn.running_mean[j]`` (0), ``bn.running_var[j]`` (1) and ``bn.use_batch`` (1 in training,
    0 in evaluation).

    In training mode μ and σ² are :class:`~graphdl.ops.BatchMean` statistics of the batch,
    so a batch of one is an error. In evaluation mode (``layer.eval()``, which the Trainer
    calls before evaluating) they are the running estimates, so one sample works. After
    each training step :meth:`update_running` moves the estimates towards the step's batch
    statistics as PyTorch does: ``running ← (1 − momentum)·running + momentum·batch``, with
    the unbiased variance σ²·N/(N − 1) for ``running_var``. (The phone-price tutorial writes the
    update with the roles of momentum and 1 − momentum swapped; PyTorch's code does this.)
    """

    def __init__(
        self,
        n: int,
        name: str = "bn",
        eps: float = 1e-5,
        momentum: float = 0.1,
        *,
        activation: ActivationLike = None,
        activation_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"BatchNorm {name!r}: needs a positive number of units, got {n!r}")
        if not eps > 0.0:
            raise ValueError(f"BatchNorm {name!r}: eps must be positive, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm {name!r}: momentum must be in [0, 1], got {momentum!r}")
        self.n, self.eps, self.momentum = n, float(eps), float(momentum)
        self.gamma = [Variable(1.0, name=f"{name}.gamma[{j}]") for j in range(n)]
        self.beta = [Variable(0.0, name=f"{name}.beta[{j}]") for j in range(n)]
        self.running_mean = [Variable(0.0, name=f"{name}.running_mean[{j}]", trainable=False) for j in range(n)]
        self.running_var = [Variable(1.0, name=f"{name}.running_var[{j}]", trainable=False) for j in range(n)]
        self.use_batch = Variable(1.0 if self.training else 0.0, name=f"{name}.use_batch", trainable=False)
        self.activation_name, self._activate = resolve_activation(activation, activation_options)
        self.means: list[Node] = []
        self.variances: list[Node] = []

    @property
    def training(self) -> bool:
        """True: normalise with the batch's statistics; False: with the running estimates."""
        return self._training

    @training.setter
    def training(self, mode: bool) -> None:
        self._training = bool(mode)
        flag = getattr(self, "use_batch", None)
        if flag is not None and flag.value != float(mode):
            flag.set_value(1.0 if mode else 0.0)

    def own_parameters(self) -> list[Variable]:
        return [*self.gamma, *self.beta]

    def buffers(self) -> list[Variable]:
        """The running statistics: state to save with the parameters, not to train."""
        return [*self.running_mean, *self.running_var]

    def __call__(self, inputs: Sequence[Any]) -> list[Node]:
        name = self.name
        nodes = [as_node(item, f"BatchNorm {name!r}") for item in inputs]
        if len(nodes) != self.n:
            raise ValueError(f"BatchNorm {name!r} expects {self.n} inputs, got {len(nodes)}")
        self.means, self.variances = [], []
        outputs: list[Node] = []
        for j, h in enumerate(nodes):
            mean = BatchMean([h, self.running_mean[j], self.use_batch], name=f"{name}.mean[{j}]")
            centred = Sub([h, mean], name=f"{name}.c[{j}]")
            square = Mul([centred, centred], name=f"{name}.c2[{j}]")
            var = BatchMean([square, self.running_var[j], self.use_batch], name=f"{name}.var[{j}]")
            std = Pow([Add([var, self.eps], name=f"{name}.var_eps[{j}]"), 0.5], name=f"{name}.std[{j}]")
            normed = Div([centred, std], name=f"{name}.norm[{j}]")
            scaled = Mul([normed, self.gamma[j]], name=f"{name}.scaled[{j}]")
            y = Add([scaled, self.beta[j]], name=f"{name}.y[{j}]")
            outputs.append(self._activate(y, f"{name}.a[{j}]") if self._activate else y)
            self.means.append(mean)
            self.variances.append(var)
        self.inputs, self.outputs = nodes, outputs
        return outputs

    def batch_statistics(self) -> list[tuple[float, float, int]]:
        """``(mean, biased variance, batch size)`` of each unit for the batch the inputs hold
        now, computed (only the part of the graph they need) in training mode."""
        if not self.means:
            raise ValueError(f"BatchNorm {self.name!r} has not been built on inputs yet")
        if not self.training:
            raise ValueError(f"BatchNorm {self.name!r}: batch statistics exist in training mode only")
        statistics = []
        for mean, var in zip(self.means, self.variances):
            mean_value, var_value = mean.forward(), var.forward()
            size = mean_value.size if isinstance(mean_value, np.ndarray) else 1
            statistics.append((float(np.ravel(mean_value)[0]), float(np.ravel(var_value)[0]), size))
        return statistics

    def update_running(self, statistics: Sequence[tuple[float, float, int]]) -> None:
        """Move the running estimates towards a step's :meth:`batch_statistics`. Uses
        ``assign`` (as an optimiser step does), so the step's values stay readable."""
        m = self.momentum
        for j, (mean, var, size) in enumerate(statistics):
            if size < 2:
                raise ValueError(f"BatchNorm {self.name!r}: batch statistics need at least 2 samples, got {size}")
            running_mean, running_var = self.running_mean[j], self.running_var[j]
            running_mean.assign((1.0 - m) * running_mean.forward() + m * mean)
            running_var.assign((1.0 - m) * running_var.forward() + m * var * size / (size - 1))


def batch_norm_layers(model: Any) -> list[BatchNorm]:
    """The :class:`BatchNorm` modules of ``model`` (its ``modules()``, if it has them)."""
    modules = getattr(model, "modules", None)
    if not callable(modules):
        return []
    return [module for module in modules() if isinstance(module, BatchNorm)]
