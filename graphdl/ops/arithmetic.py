"""Arithmetic operators. Each class holds its formula and its derivative together."""

from __future__ import annotations

import functools
import operator
from typing import Any

from graphdl.core.backend import Backend
from graphdl.core.node import Operator


def _product(factors: Any) -> Any:
    if len(factors) == 2:  # the common case, without reduce's call overhead (same result)
        return factors[0] * factors[1]
    return functools.reduce(operator.mul, factors)


class Add(Operator):
    """Sum of all parents: ``Add([a, b, c])`` = a + b + c."""

    __slots__ = ()
    arity = (1, None)
    symbol = "+"

    def formula(self, F: Backend, *terms):
        if len(terms) == 2:  # the common case, without reduce's call overhead (same result)
            return terms[0] + terms[1]
        return functools.reduce(operator.add, terms)

    def derivative(self, F: Backend, index, out, *terms):
        return 1.0


class Mul(Operator):
    """Product of all parents: ``Mul([a, b, c])`` = a · b · c."""

    __slots__ = ()
    arity = (1, None)
    symbol = "×"

    def formula(self, F: Backend, *factors):
        return _product(factors)

    def derivative(self, F: Backend, index, out, *factors):
        if len(factors) == 2:
            return factors[1 - index]
        # A backend that builds nodes offers the product of the others from shared prefix
        # and suffix products: n factors then cost O(n) nodes, not n products of n - 1.
        shared = getattr(type(F), "product_of_others", None)
        if shared is not None:
            return shared(F, factors, index)
        others = factors[:index] + factors[index + 1 :]
        return _product(others) if others else 1.0


class Sub(Operator):
    """``Sub([a, b])`` = a − b."""

    __slots__ = ()
    arity = 2
    symbol = "−"

    def formula(self, F: Backend, a, b):
        return a - b

    def derivative(self, F: Backend, index, out, a, b):
        return 1.0 if index == 0 else -1.0


class Neg(Operator):
    """``Neg([a])`` = −a."""

    __slots__ = ()
    arity = 1
    symbol = "neg"

    def formula(self, F: Backend, a):
        return -a

    def derivative(self, F: Backend, index, out, a):
        return -1.0


class Div(Operator):
    """``Div([a, b])`` = a / b (division by zero gives ±inf or NaN, as in numpy)."""

    __slots__ = ()
    arity = 2
    symbol = "÷"

    def formula(self, F: Backend, a, b):
        return a / b

    def derivative(self, F: Backend, index, out, a, b):
        if index == 0:
            return 1.0 / b
        return -a / (b * b)


class Pow(Operator):
    """``Pow([base, exponent])`` = base ** exponent; the exponent may be a number or a node."""

    __slots__ = ()
    arity = 2
    symbol = "^"

    def formula(self, F: Backend, base, exponent):
        return F.pow(base, exponent)

    def derivative(self, F: Backend, index, out, base, exponent):
        # Where the formula's product is 0 * inf but the limit is 0, say 0 (as PyTorch does):
        # d/dbase at exponent 0 (base ** 0 is constant), d/dexponent at base 0 with
        # exponent >= 0 (0 ** y is 0 or 1 there, log(0) is -inf). Nothing else changes.
        if index == 0:
            return F.where(exponent == 0.0, 0.0, exponent * F.pow(base, exponent - 1.0))
        slope = out * F.log(base)
        return F.where(base == 0.0, F.where(exponent >= 0.0, 0.0, slope), slope)


class Exp(Operator):
    """``Exp([a])`` = e ** a (overflow gives inf)."""

    __slots__ = ()
    arity = 1
    symbol = "exp"

    def formula(self, F: Backend, a):
        return F.exp(a)

    def derivative(self, F: Backend, index, out, a):
        return out


class Log(Operator):
    """``Log([a])`` = natural logarithm (NaN below zero, −inf at zero)."""

    __slots__ = ()
    arity = 1
    symbol = "log"

    def formula(self, F: Backend, a):
        return F.log(a)

    def derivative(self, F: Backend, index, out, a):
        return 1.0 / a


class Expm1(Operator):
    """``Expm1([a])`` = e ** a − 1, exact near 0."""

    __slots__ = ()
    arity = 1
    symbol = "expm1"

    def formula(self, F: Backend, a):
        return F.expm1(a)

    def derivative(self, F: Backend, index, out, a):
        return out + 1.0


class Log1p(Operator):
    """``Log1p([a])`` = log(1 + a), exact near 0."""

    __slots__ = ()
    arity = 1
    symbol = "log1p"

    def formula(self, F: Backend, a):
        return F.log1p(a)

    def derivative(self, F: Backend, index, out, a):
        return 1.0 / (1.0 + a)


class Abs(Operator):
    """``Abs([a])`` = |a| (derivative 0 at 0)."""

    __slots__ = ()
    arity = 1
    symbol = "|x|"

    def formula(self, F: Backend, a):
        return F.abs(a)

    def derivative(self, F: Backend, index, out, a):
        return F.sign(a)
