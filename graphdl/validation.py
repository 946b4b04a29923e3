"""Rules for the numbers a user or a file gives graphdl (operator options, optimiser
hyper-parameters and state), written once and used both by the Python constructors and
by the loaders, so a value refused by ``Adam(beta2=7)`` is refused in a checkpoint too.

A rule's :meth:`Real.check` returns the value as a Python float or raises
:class:`WrongTypeError` (a ``TypeError`` and a ``ValueError``: not a real number but a
string, a bool, None, a list…) or ``ValueError``
(NaN, ±inf, too large for a float, or out of range), with a message naming ``what``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FINITE",
    "NON_NEGATIVE",
    "POSITIVE",
    "Count",
    "Flag",
    "Real",
    "WrongTypeError",
    "check_option",
    "short_repr",
]


class WrongTypeError(TypeError, ValueError):
    """A value of the wrong type (a string where a number belongs): a ``TypeError``,
    and a ``ValueError`` too, so code that catches bad values as one family of errors
    (as ``load_state_dict`` callers do) catches it."""


@dataclass(frozen=True)
class Real:
    """A finite real number in an optional range: ``low``/``high`` bounds, each
    inclusive unless ``low_open``/``high_open``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The range as text, e.g. ``in [0, 1)`` or ``>= 0``."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "finite"

    def check(self, value: Any, what: str) -> float:
        """``value`` as a float, or ``TypeError``/``ValueError`` naming ``what``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise WrongTypeError(f"{what} must be a real number, got {type(value).__name__} {short_repr(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"{what} must be a finite number, got an integer of {_digits(value)} digits") from None
        if not math.isfinite(number):
            raise ValueError(f"{what} must be a finite number, got {number}")
        low, high = self.low, self.high
        below = low is not None and (number <= low if self.low_open else number < low)
        above = high is not None and (number >= high if self.high_open else number > high)
        if below or above:
            raise ValueError(f"{what} must be {self.describe()}, got {number:g}")
        return number


@dataclass(frozen=True)
class Count:
    """A non-negative integer (not a bool) up to ``high``."""

    high: int = 2**53

    def check(self, value: Any, what: str) -> int:
        """``value`` as an int, or ``TypeError``/``ValueError`` naming ``what``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise WrongTypeError(f"{what} must be an integer, got {type(value).__name__} {short_repr(value)}")
        number = int(value)
        if not 0 <= number <= self.high:
            shown = short_repr(number) if abs(number) < 10**30 else f"an integer of {_digits(number)} digits"
            raise ValueError(f"{what} must be an integer in [0, {self.high}], got {shown}")
        return number


@dataclass(frozen=True)
class Flag:
    """A bool: ``True`` or ``False`` only (the string ``"false"`` is not a bool)."""

    def check(self, value: Any, what: str) -> bool:
        """``value`` itself, or ``TypeError`` naming ``what``."""
        if not isinstance(value, bool):
            raise WrongTypeError(f"{what} must be true or false, got {type(value).__name__} {short_repr(value)}")
        return value


FINITE = Real()
NON_NEGATIVE = Real(low=0.0)
POSITIVE = Real(low=0.0, low_open=True)


def _digits(value: Any) -> int:
    return int(abs(value)).bit_length() * 30103 // 100000 + 1


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises (huge integers included)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"<integer of about {_digits(value)} digits>"
    try:
        text = repr(value)
    except ValueError:  # holds an integer too long to print
        return f"<{type(value).__name__} holding a huge integer>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_option(cls: type, option: str, value: Any) -> float:
    """An operator option checked by the rule its class declares in ``option_rules``
    (any finite number when it declares none): the one check shared by the operator's
    constructor and by :func:`graphdl.graph_io.load_graph`."""
    rule = getattr(cls, "option_rules", {}).get(option, FINITE)
    return rule.check(value, f"{cls.__name__}: option {option}")
