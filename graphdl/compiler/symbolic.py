"""The symbolic backend: run an operator's one formula on symbols and get an expression tree.

An operator's ``formula(F, *args)`` and ``derivative(F, index, out, *args)`` are
written with Python arithmetic, comparisons and the primitives of ``F``. Called with
:data:`SYMBOLIC` and :class:`Expr` arguments instead of numbers, the very same code
builds a tree of :class:`Expr` nodes (an operation and its arguments), which the compiler
lowers into its statement list. No formula is written twice.

A tree renders as Python text with Python's precedence rules, so it carries only the
brackets it needs. Rewrites are limited to ones that are exact in IEEE arithmetic
(``a * 1.0`` is ``a``, ``a * -1.0`` is ``-a``, ``--a`` is ``a``, arithmetic on two
literals is folded in Python floats), so compiled and interpreted results stay bit-identical.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

#: Arithmetic operations: symbol -> (precedence, the float operation).
BINARY = {
    "+": (_ADD, operator.add),
    "-": (_ADD, operator.sub),
    "*": (_MUL, operator.mul),
    "/": (_MUL, operator.truediv),
}
COMPARISONS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
#: Functions an expression may call: the primitives and the batch sum of a parameter's gradient.
CALLABLE = frozenset({*PRIMITIVES, "batch_sum"})
#: Leaf operations: a named value (``ref``, with its slot in the program) and a number.
REF, NUMBER, NEG = "ref", "num", "neg"


class Expr:
    """A node of an expression tree: ``op`` (``"ref"``, ``"num"``, ``"neg"``, ``+ - * /``, a
    comparison, or the name of a called function) and its ``args``. A ``ref`` leaf names a
    value (``name``, and ``slot``: its position in the compiled program, None for free text);
    a ``num`` leaf holds ``number``. ``depth``, ``size`` (in tree nodes) and ``sums`` (whether
    it calls ``batch_sum``) are known from construction, so passes need not walk the tree.

    Python's operators on an ``Expr`` return new trees; using one where a truth value is
    needed (``if x > 0``) raises ``TypeError``, because compiled code cannot branch per
    sample: formulas must select with ``F.where``.
    """

    __slots__ = (
        *("op", "args", "name", "slot", "number", "precedence", "negated"),
        *("depth", "size", "sums", "rendered", "template"),
    )
    depth: int
    size: int
    sums: bool

    def __init__(
        self,
        name: str,
        slot: int | None = None,
        *,
        op: str = REF,
        args: tuple[Expr, ...] = (),
        number: float | None = None,
        precedence: int = _ATOM,
        negated: Expr | None = None,
    ) -> None:
        self.op, self.args, self.name, self.slot, self.number = op, args, name, slot, number
        self.precedence, self.negated = precedence, negated
        self.rendered: str | None = None  # the text, once asked for
        self.template: Any = None  # template()'s answer, kept
        depth, size, sums = 0, 1, op == "batch_sum"
        for arg in args:
            depth, size, sums = depth if depth > arg.depth else arg.depth, size + arg.size, sums or arg.sums
        self.depth, self.size, self.sums = depth + 1, size, sums

    @property
    def text(self) -> str:
        """The expression as Python text (leaves by their names)."""
        text = self.rendered
        if text is None:
            text = self.rendered = render(self, _own_name)
        return text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __bool__(self) -> bool:
        raise TypeError(
            f"a formula used the symbolic value {self.text!r} as a truth value; "
            "formulas must select with F.where(condition, a, b) so they work per sample"
        )

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


def _own_name(leaf: Expr) -> str:
    return leaf.name


def positional(leaf: Expr) -> str:
    """A leaf's text in a kernel: ``v<slot>``, or its own name when it has no slot."""
    return f"v{leaf.slot}" if leaf.slot is not None else leaf.name


def sums_replaced(expr: Expr, sums: dict[str, tuple[int, Expr]], leaf: Callable[[int], Expr]) -> Expr:
    """``expr`` with each ``batch_sum(e)`` replaced by ``leaf(k)``, ``k`` numbering the distinct
    ``e`` (keyed by their text) in ``sums`` (text -> (k, e)); ``expr`` itself when it sums nothing."""
    if not expr.sums:
        return expr
    if expr.op == "batch_sum":
        k = sums.setdefault(render(expr.args[0], positional), (len(sums), expr.args[0]))[0]
        return leaf(k)
    args = tuple(sums_replaced(a, sums, leaf) for a in expr.args)
    if all(new is old for new, old in zip(args, expr.args)):
        return expr
    return Expr(expr.name, op=expr.op, args=args, precedence=expr.precedence)


def render(expr: Expr, leaf: Callable[[Expr], str], one_sample: bool = False) -> str:
    """``expr`` as Python text; ``leaf(e)`` gives the text of each ``ref`` leaf. With
    ``one_sample``, ``batch_sum(e)`` is ``(e)`` (the sum over one sample is the value) and
    ``where(c, a, b)`` is ``(a if c else b)``."""
    op, args = expr.op, expr.args
    if op == REF:
        return leaf(expr)
    if op == NUMBER:
        return expr.name
    if op in BINARY:
        left, right = args
        left_text = render(left, leaf, one_sample)
        right_text = render(right, leaf, one_sample)
        if left.precedence < expr.precedence:
            left_text = f"({left_text})"
        if right.precedence <= expr.precedence:  # a + (b + c): floats are not associative
            right_text = f"({right_text})"
        return f"{left_text} {op} {right_text}"
    if op == NEG:
        text = render(args[0], leaf, one_sample)
        return f"-{text}" if args[0].precedence >= _UNARY else f"-({text})"
    if op in COMPARISONS:
        texts = [render(a, leaf, one_sample) for a in args]
        texts = [text if a.precedence > _COMPARE else f"({text})" for text, a in zip(texts, args)]
        return f"{texts[0]} {op} {texts[1]}"
    if op == "batch_sum" and one_sample:
        return f"({render(args[0], leaf, True)})"
    if op == "where" and one_sample:  # a select on floats: Python's own, without a call
        condition, if_true, if_false = (render(a, leaf, True) for a in args)
        return f"({if_true} if {condition} else {if_false})"
    return f"{op}({', '.join(render(a, leaf, one_sample) for a in args)})"


#: Deepest operator nesting in one expression; deeper chains (an Add of thousands of
#: terms) are split into temporaries so Python's compiler accepts them, nested numpy calls
#: included (at most 200 nested brackets); a dense layer of up to 149 inputs stays one sum.
MAX_DEPTH = 150
#: Largest operand (in tree nodes, a shared subtree counted at each use) a call or a
#: comparison embeds; a larger one goes to a temporary. A formula that uses one
#: subexpression twice, such as the running maximum ``where(m > z, m, z)`` of a
#: log-sum-exp, would otherwise double its text at every step (2**K copies for K logits).
MAX_OPERAND_SIZE = 12

# The active sink, per thread / context (two threads may compile at once).
_spill_sink: contextvars.ContextVar[Callable[[Expr], Expr] | None] = contextvars.ContextVar(
    "graphdl_spill_sink", default=None
)


@contextlib.contextmanager
def spilling(sink: Callable[[Expr], Expr]) -> Iterator[None]:
    """While active, too-deep (or, as operands of calls and comparisons, too big)
    subexpressions are passed to ``sink(expr)``, which makes them a temporary and returns
    a leaf naming it (exact: a temporary changes no arithmetic)."""
    token = _spill_sink.set(sink)
    try:
        yield
    finally:
        _spill_sink.reset(token)


def _spill(item: Expr, largest: int | None = None) -> Expr:
    if item.op == REF or item.op == NUMBER:
        return item
    sink = _spill_sink.get()
    if sink is not None and (item.depth >= MAX_DEPTH or (largest is not None and item.size > largest)):
        return sink(item)
    return item


def literal(value: SupportsFloat) -> Expr:
    """A float literal, e.g. ``0.1`` or ``-1.0`` (``inf`` and ``nan`` are names the namespaces define)."""
    number = float(value)
    return _literal(number) if number and number == number else _literal.__wrapped__(number)


@functools.lru_cache(maxsize=1024)  # a literal is never changed: one leaf per value (but ±0.0 and NaN)
def _literal(number: float) -> Expr:
    if math.isnan(number):
        text = "nan"
    elif math.isinf(number):
        text = "inf" if number > 0 else "-inf"
    else:
        text = float.__repr__(number)  # the plain float's repr, whatever subclass came in
    return Expr(text, op=NUMBER, number=number, precedence=_UNARY if text.startswith("-") else _ATOM)


def lift(item: Any) -> Expr:
    """An ``Expr`` as is; a real number as a literal."""
    if item.__class__ is Expr:
        return item
    if item.__class__ is float or isinstance(item, numbers.Real):
        return literal(float(item))
    raise TypeError(f"a formula combined a symbolic value with {type(item).__name__} {item!r}")


def binary(symbol: str, left: Any, right: Any) -> Expr:
    """``left <symbol> right`` for ``+ - * /``, with exact simplifications only."""
    left, right = left if left.__class__ is Expr else lift(left), right if right.__class__ is Expr else lift(right)
    if left.number is None and right.number is None and left.depth < MAX_DEPTH and right.depth < MAX_DEPTH:
        return operation(symbol, left, right)  # the common case: nothing to simplify
    if left.number is not None and right.number is not None:
        function = BINARY[symbol][1]
        try:
            return literal(function(left.number, right.number))
        except ArithmeticError:  # 1.0 / 0.0: IEEE arithmetic (as the interpreter) says inf or nan
            with np.errstate(all="ignore"):
                return literal(float(function(np.float64(left.number), np.float64(right.number))))
    if symbol == "*" and (left.number is not None or right.number is not None):
        if right.number == 1.0 or left.number == 1.0:
            return left if right.number == 1.0 else right
        if right.number == -1.0 or left.number == -1.0:
            return negate(left if right.number == -1.0 else right)
    elif symbol == "/" and right.number == 1.0:
        return left
    if left.depth >= MAX_DEPTH or right.depth >= MAX_DEPTH:
        left, right = _spill(left), _spill(right)
    return operation(symbol, left, right)


def operation(symbol: str, left: Expr, right: Expr) -> Expr:
    """``left <symbol> right`` as is, built twice as fast as by ``Expr(...)`` (tens of thousands are)."""
    item = _new(Expr)
    item.op = item.name = symbol
    item.args, item.precedence = (left, right), BINARY[symbol][0]
    item.slot = item.number = item.negated = item.rendered = item.template = None
    item.depth = (left.depth if left.depth > right.depth else right.depth) + 1
    item.size, item.sums = left.size + right.size + 1, left.sums or right.sums
    return item


_new = object.__new__


def ref(name: str, slot: int) -> Expr:
    """A ``ref`` leaf naming slot ``slot`` (as ``Expr(name, slot)``, built faster)."""
    item = _new(Expr)
    item.op, item.name, item.slot, item.args, item.precedence = REF, name, slot, (), _ATOM
    item.number = item.negated = item.rendered = item.template = None
    item.depth, item.size, item.sums = 1, 1, False
    return item


def negate(item: Any) -> Expr:
    """``-item``; ``--a`` becomes ``a`` and a literal's sign is folded (both exact)."""
    item = lift(item)
    if item.number is not None:
        return literal(-item.number)
    if item.negated is not None:
        return item.negated
    item = _spill(item)
    return Expr(NEG, op=NEG, args=(item,), precedence=_UNARY, negated=item)


def compare(symbol: str, left: Any, right: Any) -> Expr | bool:
    """``left <symbol> right``. Two literals compare now, to a Python bool, which
    :func:`where` selects with."""
    left, right = lift(left), lift(right)
    if left.number is not None and right.number is not None:
        return COMPARISONS[symbol](left.number, right.number)
    args = (_spill(left, MAX_OPERAND_SIZE), _spill(right, MAX_OPERAND_SIZE))
    return Expr(symbol, op=symbol, args=args, precedence=_COMPARE)


def call(name: str, *args: Any) -> Expr:
    """A call of a primitive, e.g. ``sign(label - add_21)`` (or of ``batch_sum``)."""
    if name not in CALLABLE:
        raise ValueError(f"{name!r} is neither a primitive nor a helper of the compiled program")
    lifted = [arg if arg.__class__ is Expr else lift(arg) for arg in args]
    if any([arg.size > MAX_OPERAND_SIZE for arg in lifted]):
        lifted = [_spill(arg, MAX_OPERAND_SIZE) for arg in lifted]
    return Expr(name, op=name, args=tuple(lifted))


def where(condition: Any, if_true: Any, if_false: Any) -> Expr:
    """``where(condition, if_true, if_false)``; a condition known now (two literals
    compared) selects its branch at once."""
    if condition is True or condition is False:
        return lift(if_true if condition else if_false)
    if condition.op == "where" and condition.args[0].op in COMPARISONS:
        inner = condition.args[1:]
        if [arg.number for arg in inner] == [1.0, 0.0] and all(arg.op == NUMBER for arg in inner):
            condition = condition.args[0]  # where(where(c, 1.0, 0.0), a, b) is where(c, a, b)
    return call("where", condition, if_true, if_false)


def leaves(expr: Expr, found: dict[int, None] | None = None) -> dict[int, None]:
    """The slots ``expr`` reads, in order of first use (a dict used as an ordered set)."""
    found = {} if found is None else found
    stack = [expr]
    while stack:
        item = stack.pop()
        if item.op == REF:
            if item.slot is not None:
                found[item.slot] = None
        else:
            stack.extend(reversed(item.args))
    return found


#: The backend that builds expression trees: one call per primitive of the table.
SYMBOLIC: Backend = Namespace(
    "symbolic", {**{name: functools.partial(call, name) for name in PRIMITIVES}, "where": where}
)


@dataclass
class Template:
    """A statement's expression with placeholders ``_0, _1, ...`` for the slots it reads."""

    key: Any
    operands: tuple[int, ...]
    source: Expr

    @functools.cached_property
    def expr(self) -> Expr:
        """The expression with placeholder leaves (``Expr('_k', k)``), built on first use."""
        return _placeholders(self.source, {slot: k for k, slot in enumerate(self.operands)})


def _placeholders(item: Expr, position: dict[int, int]) -> Expr:
    if item.op == REF:
        return item if item.slot is None else ref(f"_{position[item.slot]}", position[item.slot])
    if not item.args:
        return item
    args = tuple([_placeholders(a, position) for a in item.args])
    if item.op in BINARY:
        return operation(item.op, *args)
    return Expr(item.name, op=item.op, args=args, precedence=item.precedence)


def template(expr: Expr) -> Template:
    """The template of ``expr`` (a hashable key) and the slots its placeholders stand for
    (kept on the expression: asked again, it is not computed again)."""
    found = expr.template
    if found is not None:
        return found
    operands: dict[int, int] = {}

    def part(arg: Expr) -> Any:  # a leaf: its placeholder, or its text ("0.1", "inf", never an int)
        args = arg.args
        if not args:
            return arg.name if arg.slot is None else operands.setdefault(arg.slot, len(operands))
        if len(args) == 2 and not args[0].args and not args[1].args:  # two leaves (w * x): no walk
            a, b = args
            left = a.name if a.slot is None else operands.setdefault(a.slot, len(operands))
            return (arg.op, left, b.name if b.slot is None else operands.setdefault(b.slot, len(operands)))
        return walk(arg)

    def walk(item: Expr) -> Any:
        spine = []
        while len(item.args) == 2 and item.args[0].args:  # a long sum: down its left side without recursion
            spine.append(item)
            item = item.args[0]
        key = tuple([item.op, *[part(arg) for arg in item.args]])
        for above in reversed(spine):
            key = (above.op, key, part(above.args[1]))
        return key

    key = part(expr)
    found = expr.template = Template(key, tuple(operands), expr)
    return found
