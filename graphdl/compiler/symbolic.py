"""The symbolic backend: run an operator's one formula on symbols and get Python source.

An operator's ``formula(F, *args)`` and ``derivative(F, index, out, *args)`` are
written with Python arithmetic, comparisons and the primitives of ``F``. Called with
:data:`SYMBOLIC` and :class:`Expr` arguments instead of numbers, the very same code
builds expression text such as ``where(add_11 > 0.0, add_11, 0.1 * add_11)``, which
the code generator then writes into the compiled program. No formula is written twice.

Text is rendered with Python's precedence rules, so it carries only the brackets it
needs. Rewrites are limited to ones that are exact in IEEE arithmetic (``a * 1.0`` is
``a``, ``a * -1.0`` is ``-a``, ``--a`` is ``a``, arithmetic on two literals is folded
in Python floats), so compiled and interpreted results stay bit-identical.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import operator
from collections.abc import Callable, Iterator
from typing import Any, SupportsFloat

import numpy as np

from graphdl.core.backend import Backend, Namespace
from graphdl.core.primitives import PRIMITIVES

# Python's precedence levels, low to high (only the ones formulas produce).
_COMPARE = 6
_ADD = 11
_MUL = 12
_UNARY = 13
_ATOM = 100

_BINARY = {
    "+": (_ADD, operator.add),
    "-": (_ADD, operator.sub),
    "*": (_MUL, operator.mul),
    "/": (_MUL, operator.truediv),
}


class Expr:
    """A symbolic value: source text plus its precedence (and its number when it is a literal).

    Python's operators on an ``Expr`` return new ``Expr`` objects; using one where a
    truth value is needed (``if x > 0``) raises ``TypeError``, because compiled code
    cannot branch per sample: formulas must select with ``F.where``.
    """

    __slots__ = ("text", "precedence", "number", "negated", "depth")

    def __init__(
        self,
        text: str,
        precedence: int = _ATOM,
        number: float | None = None,
        negated: Expr | None = None,
        depth: int = 1,
    ):
        self.text = text
        self.precedence = precedence
        self.number = number
        self.negated = negated
        self.depth = depth

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __bool__(self) -> bool:
        raise TypeError(
            f"a formula used the symbolic value {self.text!r} as a truth value; "
            "formulas must select with F.where(condition, a, b) so they work per sample"
        )

    # arithmetic
    def __add__(self, other: Any) -> Expr:
        return binary("+", self, other)

    def __radd__(self, other: Any) -> Expr:
        return binary("+", other, self)

    def __sub__(self, other: Any) -> Expr:
        return binary("-", self, other)

    def __rsub__(self, other: Any) -> Expr:
        return binary("-", other, self)

    def __mul__(self, other: Any) -> Expr:
        return binary("*", self, other)

    def __rmul__(self, other: Any) -> Expr:
        return binary("*", other, self)

    def __truediv__(self, other: Any) -> Expr:
        return binary("/", self, other)

    def __rtruediv__(self, other: Any) -> Expr:
        return binary("/", other, self)

    def __pow__(self, other: Any) -> Expr:
        return call("pow", self, other)

    def __rpow__(self, other: Any) -> Expr:
        return call("pow", other, self)

    def __neg__(self) -> Expr:
        return negate(self)

    def __pos__(self) -> Expr:
        return self

    def __abs__(self) -> Expr:
        return call("abs", self)

    # comparisons (Python reflects ``0.0 < x`` to ``x > 0.0`` by itself)
    def __gt__(self, other: Any) -> Expr | bool:
        return compare(">", self, other)

    def __ge__(self, other: Any) -> Expr | bool:
        return compare(">=", self, other)

    def __lt__(self, other: Any) -> Expr | bool:
        return compare("<", self, other)

    def __le__(self, other: Any) -> Expr | bool:
        return compare("<=", self, other)

    def __eq__(self, other: Any) -> Expr | bool:  # type: ignore[override]  # builds a symbolic comparison
        return compare("==", self, other)

    def __ne__(self, other: Any) -> Expr | bool:  # type: ignore[override]  # builds a symbolic comparison
        return compare("!=", self, other)

    __hash__ = None  # type: ignore[assignment]  # Expr's == builds an expression, so it is unhashable


#: Deepest operator nesting written in one expression; deeper chains (an Add of
#: thousands of terms) are split into temporaries so Python's compiler accepts them.
MAX_DEPTH = 64
#: Longest operand text a primitive call or a comparison embeds; a longer one goes to a
#: temporary. A formula that uses one subexpression twice, such as the running maximum
#: ``where(m > z, m, z)`` of a log-sum-exp, would otherwise double its text at every
#: step (2**K copies for K logits); with the sink reusing the temporary of a text it has
#: seen, it stays linear.
MAX_OPERAND_TEXT = 80
#: Functions generated code may call: the primitives and the batch sum of the reverse sweep.
CALLABLE = frozenset({*PRIMITIVES, "batch_sum"})

# The active sink, per thread / context (two threads may compile at once).
_spill_sink: contextvars.ContextVar[Callable[[str], str] | None] = contextvars.ContextVar(
    "graphdl_spill_sink", default=None
)


@contextlib.contextmanager
def spilling(sink: Callable[[str], str]) -> Iterator[None]:
    """While active, too-deep (or, as operands of calls and comparisons, too long)
    subexpressions are passed to ``sink(text)``, which writes them to a temporary and
    returns its name (exact: a temporary changes no arithmetic)."""
    token = _spill_sink.set(sink)
    try:
        yield
    finally:
        _spill_sink.reset(token)


def _spill(item: Expr, longest: int | None = None) -> Expr:
    sink = _spill_sink.get()
    if sink is None or item.number is not None:
        return item
    if item.depth >= MAX_DEPTH or (longest is not None and item.depth > 1 and len(item.text) > longest):
        return Expr(sink(item.text))
    return item


def literal(value: SupportsFloat) -> Expr:
    """A float literal, e.g. ``0.1`` or ``-1.0`` (``inf`` and ``nan`` are names the namespaces define)."""
    number = float(value)
    if math.isnan(number):
        text = "nan"
    elif math.isinf(number):
        text = "inf" if number > 0 else "-inf"
    else:
        text = float.__repr__(number)  # the plain float's repr, whatever subclass came in
    return Expr(text, _UNARY if text.startswith("-") else _ATOM, number=number)


def lift(item: Any) -> Expr:
    """An ``Expr`` as is; a real number as a literal."""
    if isinstance(item, Expr):
        return item
    if isinstance(item, numbers.Real):
        return literal(float(item))
    raise TypeError(f"a formula combined a symbolic value with {type(item).__name__} {item!r}")


def _wrap(item: Expr, minimum: int) -> str:
    return item.text if item.precedence >= minimum else f"({item.text})"


def binary(symbol: str, left: Any, right: Any) -> Expr:
    """``left <symbol> right`` for ``+ - * /``, with exact simplifications only."""
    if left.__class__ is not Expr:
        left = lift(left)
    if right.__class__ is not Expr:
        right = lift(right)
    precedence, function = _BINARY[symbol]
    left_number, right_number = left.number, right.number
    if left_number is None and right_number is None:  # the common case: two expressions
        sink = _spill_sink.get()
        if sink is not None:
            if left.depth >= MAX_DEPTH:
                left = Expr(sink(left.text))
            if right.depth >= MAX_DEPTH:
                right = Expr(sink(right.text))
        left_text = left.text if left.precedence >= precedence else f"({left.text})"
        right_text = right.text if right.precedence > precedence else f"({right.text})"
        depth = left.depth if left.depth > right.depth else right.depth
        return Expr(f"{left_text} {symbol} {right_text}", precedence, None, None, depth + 1)
    if left.number is not None and right.number is not None:
        try:
            return literal(function(left.number, right.number))
        except ArithmeticError:  # 1.0 / 0.0: IEEE arithmetic (as the interpreter) says inf or nan
            with np.errstate(all="ignore"):
                return literal(float(function(np.float64(left.number), np.float64(right.number))))
    if symbol == "*":
        if right.number == 1.0:
            return left
        if left.number == 1.0:
            return right
        if right.number == -1.0:
            return negate(left)
        if left.number == -1.0:
            return negate(right)
    elif symbol == "/" and right.number == 1.0:
        return left
    left, right = _spill(left), _spill(right)
    # The right operand keeps brackets at equal precedence: float + and * are not associative.
    text = f"{_wrap(left, precedence)} {symbol} {_wrap(right, precedence + 1)}"
    return Expr(text, precedence, depth=max(left.depth, right.depth) + 1)


def negate(item: Any) -> Expr:
    """``-item``; ``--a`` becomes ``a`` and a literal's sign is folded (both exact)."""
    item = lift(item)
    if item.number is not None:
        return literal(-item.number)
    if item.negated is not None:
        return item.negated
    item = _spill(item)
    return Expr(f"-{_wrap(item, _UNARY)}", _UNARY, negated=item, depth=item.depth + 1)


_COMPARISONS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def compare(symbol: str, left: Any, right: Any) -> Expr | bool:
    """``left <symbol> right``; operands that are comparisons get brackets (no chaining).
    Two literals compare now, to a Python bool, which :func:`where` selects with."""
    left, right = lift(left), lift(right)
    if left.number is not None and right.number is not None:
        return _COMPARISONS[symbol](left.number, right.number)
    left, right = _spill(left, MAX_OPERAND_TEXT), _spill(right, MAX_OPERAND_TEXT)
    text = f"{_wrap(left, _COMPARE + 1)} {symbol} {_wrap(right, _COMPARE + 1)}"
    return Expr(text, _COMPARE, depth=max(left.depth, right.depth) + 1)


def call(name: str, *args: Any) -> Expr:
    """A call of a primitive, e.g. ``sign(label - add_21)`` (or of ``batch_sum``)."""
    if name not in CALLABLE:
        raise ValueError(f"{name!r} is neither a primitive nor a helper of the compiled program")
    items = [_spill(lift(arg), MAX_OPERAND_TEXT) for arg in args]
    return Expr(f"{name}({', '.join(item.text for item in items)})", _ATOM, depth=max(i.depth for i in items) + 1)


def where(condition: Any, if_true: Any, if_false: Any) -> Expr:
    """``where(condition, if_true, if_false)``; a condition known now (two literals
    compared) selects its branch at once."""
    if condition is True or condition is False:
        return lift(if_true if condition else if_false)
    return call("where", condition, if_true, if_false)


#: The backend that writes source text: one call per primitive of the table.
SYMBOLIC: Backend = Namespace(
    "symbolic", {**{name: functools.partial(call, name) for name in PRIMITIVES}, "where": where}
)
