"""Turn an activation given by name (or operator class) into a function that builds its node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphdl.core.node import Node, Operator
from graphdl.ops import Elu, LeakyRelu, Relu, Sigmoid, Softplus, Swish, Tanh

ActivationLike = str | type[Operator] | None

_BY_NAME: dict[str, type[Operator] | None] = {
    "relu": Relu,
    "leaky_relu": LeakyRelu,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "elu": Elu,
    "softplus": Softplus,
    "swish": Swish,
    "silu": Swish,
    "identity": None,
    "linear": None,
}

_NAME_OF = {Relu: "relu", LeakyRelu: "leaky_relu", Tanh: "tanh", Sigmoid: "sigmoid", Elu: "elu", Softplus: "softplus"}


def resolve_activation(
    activation: ActivationLike, options: dict[str, Any] | None = None
) -> tuple[str | None, Callable[[Node, str], Node] | None]:
    """``(name, build)`` for an activation: ``build(parent, node_name)`` creates the
    activation node, or is None for the identity (no node is added).

    ``activation`` is a name (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``,
    ``"elu"``, ``"softplus"``, ``"swish"``, ``"identity"``/None) or a one-input
    :class:`Operator` subclass; ``options`` are passed to it (``{"negative_slope": 0.2}``).
    """
    options = dict(options or {})
    if activation is None:
        op = None
    elif isinstance(activation, str):
        key = activation.lower()
        if key not in _BY_NAME:
            known = ", ".join(sorted(_BY_NAME))
            raise ValueError(f"unknown activation {activation!r}; use one of: {known}")
        op = _BY_NAME[key]
    elif isinstance(activation, type) and issubclass(activation, Operator):
        op = activation
    else:
        raise TypeError(f"activation must be a name or an Operator class, got {activation!r}")
    if op is None:
        if options:
            raise ValueError(f"the identity activation takes no options, got {options}")
        return None, None
    name = _NAME_OF.get(op, op.__name__.lower())

    def build(parent: Node, node_name: str) -> Node:
        return op([parent], name=node_name, **options)

    return name, build
