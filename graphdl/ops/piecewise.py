"""Operators that compare and select: the node forms of the primitives ``sign``, ``where``
and ``clip``, and of the comparisons a formula writes (``x > 0.0``). Gradient graphs are
built from them when a derivative selects (ReLU's ``where(x > 0, 1, 0)``).

A comparison's value is 1.0 where it holds and 0.0 where it does not, so it can be drawn,
batched and fed to :class:`Where` like any value. Its derivative is 0: a small change of
its arguments never changes it (at a tie it jumps; there, as everywhere, 0 is the choice).
"""

from __future__ import annotations

from graphdl.core.backend import Backend
from graphdl.core.node import Operator


class Sign(Operator):
    """``Sign([x])`` = −1, 0 or 1 (NaN for NaN); derivative 0."""

    __slots__ = ()
    symbol = "sign"

    def formula(self, F: Backend, x):
        return F.sign(x)

    def derivative(self, F: Backend, index, out, x):
        return 0.0


class Where(Operator):
    """``Where([condition, if_true, if_false])``: ``if_true`` where ``condition`` is
    non-zero, else ``if_false``. The condition only selects: its derivative is 0."""

    __slots__ = ()
    arity = 3
    symbol = "where"

    def formula(self, F: Backend, condition, if_true, if_false):
        return F.where(condition, if_true, if_false)

    def derivative(self, F: Backend, index, out, condition, if_true, if_false):
        if index == 0:
            return 0.0
        return F.where(condition, 1.0, 0.0) if index == 1 else F.where(condition, 0.0, 1.0)


class Clip(Operator):
    """``Clip([x, low, high])`` = x limited to [low, high]: ``low`` below it, ``high``
    above it; the derivative goes to whichever argument is the output."""

    __slots__ = ()
    arity = 3
    symbol = "clip"

    def formula(self, F: Backend, x, low, high):
        return F.clip(x, low, high)

    def derivative(self, F: Backend, index, out, x, low, high):
        below = x < low
        if index == 1:
            return F.where(below, 1.0, 0.0)
        above = x > high
        if index == 2:
            return F.where(below, 0.0, F.where(above, 1.0, 0.0))
        return F.where(below, 0.0, F.where(above, 0.0, 1.0))


class Comparison(Operator):
    """Base of the comparisons ``Greater([a, b])`` (a > b) and its kin: 1.0 where the
    relation holds, else 0.0; derivative 0."""

    __slots__ = ()
    arity = 2

    def derivative(self, F: Backend, index, out, a, b):
        return 0.0


class Greater(Comparison):
    """``Greater([a, b])`` = 1.0 if a > b else 0.0."""

    __slots__ = ()
    symbol = ">"

    def formula(self, F: Backend, a, b):
        return F.where(a > b, 1.0, 0.0)


class GreaterEqual(Comparison):
    """``GreaterEqual([a, b])`` = 1.0 if a ≥ b else 0.0."""

    __slots__ = ()
    symbol = "≥"

    def formula(self, F: Backend, a, b):
        return F.where(a >= b, 1.0, 0.0)


class Less(Comparison):
    """``Less([a, b])`` = 1.0 if a < b else 0.0."""

    __slots__ = ()
    symbol = "<"

    def formula(self, F: Backend, a, b):
        return F.where(a < b, 1.0, 0.0)


class LessEqual(Comparison):
    """``LessEqual([a, b])`` = 1.0 if a ≤ b else 0.0."""

    __slots__ = ()
    symbol = "≤"

    def formula(self, F: Backend, a, b):
        return F.where(a <= b, 1.0, 0.0)


class Equal(Comparison):
    """``Equal([a, b])`` = 1.0 if a == b else 0.0."""

    __slots__ = ()
    symbol = "="

    def formula(self, F: Backend, a, b):
        return F.where(a == b, 1.0, 0.0)


class NotEqual(Comparison):
    """``NotEqual([a, b])`` = 1.0 if a != b else 0.0."""

    __slots__ = ()
    symbol = "≠"

    def formula(self, F: Backend, a, b):
        return F.where(a != b, 1.0, 0.0)
