"""Activation functions. Each class holds its formula and its derivative together."""

from __future__ import annotations

from typing import Any

from graphdl.core.backend import Backend
from graphdl.core.node import Operator
from graphdl.validation import FINITE, NON_NEGATIVE, check_option


def _logistic(F, x):
    return 1.0 / (1.0 + F.exp(-x))


class Identity(Operator):
    """``Identity([x])`` = x."""

    __slots__ = ()
    symbol = "id"

    def formula(self, F: Backend, x):
        return x

    def derivative(self, F: Backend, index, out, x):
        return 1.0


class Relu(Operator):
    """``Relu([x])`` = max(x, 0)."""

    __slots__ = ()
    symbol = "ReLU"

    def formula(self, F: Backend, x):
        return F.where(x > 0.0, x, 0.0)

    def derivative(self, F: Backend, index, out, x):
        return F.where(x > 0.0, 1.0, 0.0)


class LeakyRelu(Operator):
    """``LeakyRelu([x], negative_slope=0.1)`` = x if x > 0 else negative_slope · x."""

    __slots__ = ("negative_slope",)
    symbol = "LeakyReLU"
    options = ("negative_slope",)
    option_rules = {"negative_slope": FINITE}

    def __init__(self, parents: Any, negative_slope: float = 0.1, *, name: str | None = None) -> None:
        slope = check_option(type(self), "negative_slope", negative_slope)
        super().__init__(parents, name=name)
        self.negative_slope = slope

    def formula(self, F: Backend, x):
        return F.where(x > 0.0, x, self.negative_slope * x)

    def derivative(self, F: Backend, index, out, x):
        return F.where(x > 0.0, 1.0, self.negative_slope)


class Sigmoid(Operator):
    """``Sigmoid([x])`` = 1 / (1 + e^−x), the logistic function."""

    __slots__ = ()
    symbol = "σ"

    def formula(self, F: Backend, x):
        return _logistic(F, x)

    def derivative(self, F: Backend, index, out, x):
        return out * (1.0 - out)


Logistic = Sigmoid


class Tanh(Operator):
    """``Tanh([x])`` = hyperbolic tangent."""

    __slots__ = ()
    symbol = "tanh"

    def formula(self, F: Backend, x):
        return F.tanh(x)

    def derivative(self, F: Backend, index, out, x):
        return 1.0 - out * out


class Elu(Operator):
    """``Elu([x], alpha=1.0)`` = x if x > 0 else alpha · (e^x − 1)."""

    __slots__ = ("alpha",)
    symbol = "ELU"
    options = ("alpha",)
    option_rules = {"alpha": NON_NEGATIVE}

    def __init__(self, parents: Any, alpha: float = 1.0, *, name: str | None = None) -> None:
        alpha = check_option(type(self), "alpha", alpha)
        super().__init__(parents, name=name)
        self.alpha = alpha

    def formula(self, F: Backend, x):
        return F.where(x > 0.0, x, self.alpha * F.expm1(x))

    def derivative(self, F: Backend, index, out, x):
        return F.where(x > 0.0, 1.0, out + self.alpha)


class Softplus(Operator):
    """``Softplus([x])`` = log(1 + e^x), computed without overflow."""

    __slots__ = ()
    symbol = "softplus"

    def formula(self, F: Backend, x):
        return F.log1p(F.exp(-F.abs(x))) + F.where(x > 0.0, x, 0.0)

    def derivative(self, F: Backend, index, out, x):
        return _logistic(F, x)


class Swish(Operator):
    """``Swish([x])`` = x · sigmoid(x), also called SiLU."""

    __slots__ = ()
    symbol = "swish"

    def formula(self, F: Backend, x):
        return x * _logistic(F, x)

    def derivative(self, F: Backend, index, out, x):
        s = _logistic(F, x)
        return s + x * s * (1.0 - s)


SiLU = Swish
