"""Initialisers: set the values of parameter Variables from a seeded random generator.

Every initialiser takes a *target* — a Variable, a list of Variables, or a layer/model
from :mod:`graphdl.nn` — and an optional ``rng`` (a ``numpy.random.Generator`` or an
integer seed). Given a layer or model, the fan-based initialisers (Xavier/Glorot,
Kaiming/He) set each layer's weights using that layer's fan-in and fan-out and set its
biases to zero; the plain ones (uniform, normal, zeros, ones, constant) set every
parameter. Given plain Variables, pass ``fan_in``/``fan_out`` yourself.

Values are set with ``set_value`` (initialising starts a new point of the graph).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphdl.core.node import Variable

RngLike = np.random.Generator | int | None

__all__ = [
    "calculate_gain",
    "constant",
    "kaiming_normal",
    "kaiming_uniform",
    "make_rng",
    "normal",
    "normal_weights",
    "ones",
    "pytorch_linear_default",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


def make_rng(rng: RngLike = None) -> np.random.Generator:
    """A ``numpy.random.Generator``: ``rng`` itself, or a new one seeded with ``rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _variables(target: Any) -> list[Variable]:
    if isinstance(target, Variable):
        return [target]
    if hasattr(target, "parameters") and callable(target.parameters):
        items = list(target.parameters())
    elif isinstance(target, Iterable):
        items = list(target)
    else:
        raise TypeError(f"initialisers take a Variable, a list of Variables or a layer, got {type(target).__name__}")
    for item in items:
        if not isinstance(item, Variable):
            raise TypeError(f"initialisers set Variables only, got {type(item).__name__} {item!r}")
    return items


def _set(variables: list[Variable], values: Iterable[float]) -> None:
    for variable, value in zip(variables, values):
        variable.set_value(float(value))


def uniform(target: Any, a: float = -1.0, b: float = 1.0, rng: RngLike = None) -> None:
    """Draw every value from U(a, b)."""
    if not a < b:
        raise ValueError(f"uniform: need a < b, got a={a}, b={b}")
    variables = _variables(target)
    _set(variables, make_rng(rng).uniform(a, b, size=len(variables)))


def normal(target: Any, mean: float = 0.0, std: float = 1.0, rng: RngLike = None) -> None:
    """Draw every value from N(mean, std²)."""
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    variables = _variables(target)
    _set(variables, make_rng(rng).normal(mean, std, size=len(variables)))


def normal_weights(model: Any, std: float, bias: float = 0.0, mean: float = 0.0, rng: RngLike = None) -> None:
    """Layer by layer, input side first: the weights from N(mean, std²), every bias = ``bias``
    (the tutorials' ``normal_(m.weight, mean, std); constant_(m.bias, bias)`` loop).
    ``model`` is a layer or model from :mod:`graphdl.nn`."""
    if not hasattr(model, "fan_layers"):
        raise TypeError(f"normal_weights needs a layer or model from graphdl.nn, got {type(model).__name__}")
    generator = make_rng(rng)
    for layer in model.fan_layers():
        normal(layer.weights, mean=mean, std=std, rng=generator)
        if layer.biases:
            constant(layer.biases, bias)


def pytorch_linear_default(layers: Any, rng: RngLike = None) -> None:
    """PyTorch's default ``nn.Linear`` initialisation: layer by layer, the weights and the
    biases from U(−b, b) with b = 1/√fan_in. ``layers``: a layer or model from
    :mod:`graphdl.nn`, or a sequence of layers."""
    generator = make_rng(rng)
    for layer in layers.fan_layers() if hasattr(layers, "fan_layers") else list(layers):
        bound = 1.0 / math.sqrt(layer.fan_in)
        uniform(layer, -bound, bound, rng=generator)


def constant(target: Any, value: float) -> None:
    """Set every value to ``value``."""
    variables = _variables(target)
    _set(variables, [value] * len(variables))


def zeros(target: Any) -> None:
    """Set every value to 0 (the feed-forward tutorial's zero-initialisation experiment: symmetric units)."""
    constant(target, 0.0)


def ones(target: Any) -> None:
    """Set every value to 1."""
    constant(target, 1.0)


def calculate_gain(nonlinearity: str | None, negative_slope: float = 0.01) -> float:
    """The recommended gain for an activation: 1 for linear/sigmoid, 5/3 for tanh,
    √2 for ReLU and √(2 / (1 + slope²)) for LeakyReLU."""
    if nonlinearity in (None, "linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + negative_slope**2))
    if nonlinearity in ("elu", "softplus", "swish", "silu"):
        return 1.0
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fan_groups(target: Any, fan_in: int | None, fan_out: int | None) -> list[tuple[list[Variable], int, int, Any]]:
    """(weights, fan_in, fan_out, layer) for each layer of a module, or one group for Variables."""
    if hasattr(target, "fan_layers"):
        return [(layer.weights, layer.fan_in, layer.fan_out, layer) for layer in target.fan_layers()]
    variables = _variables(target)
    if fan_in is None:
        raise ValueError("fan-based initialisers need fan_in= (and fan_out=) when given plain Variables")
    return [(variables, fan_in, fan_out if fan_out is not None else fan_in, None)]


def _zero_biases(layer: Any) -> None:
    if layer is not None and layer.biases:
        zeros(layer.biases)


def xavier_uniform(
    target: Any, gain: float = 1.0, rng: RngLike = None, *, fan_in: int | None = None, fan_out: int | None = None
) -> None:
    """Glorot/Xavier uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    generator = make_rng(rng)
    for weights, n_in, n_out, layer in _fan_groups(target, fan_in, fan_out):
        bound = gain * math.sqrt(6.0 / (n_in + n_out))
        _set(weights, generator.uniform(-bound, bound, size=len(weights)))
        _zero_biases(layer)


def xavier_normal(
    target: Any, gain: float = 1.0, rng: RngLike = None, *, fan_in: int | None = None, fan_out: int | None = None
) -> None:
    """Glorot/Xavier normal: N(0, σ²) with σ = gain · √(2 / (fan_in + fan_out))."""
    generator = make_rng(rng)
    for weights, n_in, n_out, layer in _fan_groups(target, fan_in, fan_out):
        std = gain * math.sqrt(2.0 / (n_in + n_out))
        _set(weights, generator.normal(0.0, std, size=len(weights)))
        _zero_biases(layer)


def _kaiming_std(
    n_in: int, n_out: int, layer: Any, mode: str, nonlinearity: str | None, negative_slope: float | None
) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if nonlinearity is None:
        nonlinearity = getattr(layer, "activation_name", None) or "relu"
        if negative_slope is None:
            negative_slope = getattr(layer, "negative_slope", None)
    slope = 0.0 if negative_slope is None else negative_slope
    gain = calculate_gain(nonlinearity, slope)
    return gain / math.sqrt(n_in if mode == "fan_in" else n_out)


def kaiming_uniform(
    target: Any,
    mode: str = "fan_in",
    nonlinearity: str | None = None,
    negative_slope: float | None = None,
    rng: RngLike = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> None:
    """Kaiming/He uniform: U(−b, b) with b = gain · √(3 / fan), fan = fan_in (default) or
    fan_out. ``nonlinearity`` defaults to each layer's activation (ReLU for plain Variables)."""
    generator = make_rng(rng)
    for weights, n_in, n_out, layer in _fan_groups(target, fan_in, fan_out):
        bound = math.sqrt(3.0) * _kaiming_std(n_in, n_out, layer, mode, nonlinearity, negative_slope)
        _set(weights, generator.uniform(-bound, bound, size=len(weights)))
        _zero_biases(layer)


def kaiming_normal(
    target: Any,
    mode: str = "fan_in",
    nonlinearity: str | None = None,
    negative_slope: float | None = None,
    rng: RngLike = None,
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
) -> None:
    """Kaiming/He normal: N(0, σ²) with σ = gain / √fan."""
    generator = make_rng(rng)
    for weights, n_in, n_out, layer in _fan_groups(target, fan_in, fan_out):
        std = _kaiming_std(n_in, n_out, layer, mode, nonlinearity, negative_slope)
        _set(weights, generator.normal(0.0, std, size=len(weights)))
        _zero_biases(layer)
