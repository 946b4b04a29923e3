"""The graph backend: an operator's own formulas and derivatives, run on nodes, build nodes.

``GraphBackend`` is one more ``F`` next to the float, numpy and symbolic ones. Its values
are :class:`NodeExpr` proxies of nodes (or of plain numbers); Python arithmetic,
comparisons and the primitives of ``F`` on them create operator nodes (``Add``, ``Greater``,
``Where``, ``Exp``...), so ``derivative(F, index, out, *args)`` written once for numbers
returns a graph. :func:`graphdl.grad` builds gradient graphs with it.

A proxy, not the node itself, carries the operators because a node's ``==`` must stay
identity (nodes are dictionary keys) while a formula's ``==`` compares values.

Within one backend (one ``grad`` call) the graph stays small and readable:

* an expression already built is built once (same operator, same parents: the same node);
* numbers fold: arithmetic on two numbers is done now, ``x * 1``, ``x + 0``, ``x / 1`` and
  ``x ** 1`` are ``x``, ``x * 0`` is 0, ``where`` with a known condition is its branch;
  constant Variables (numbers wrapped by the sugar, such as the 3 of ``x ** 3``) count as
  numbers, and a number needed as a node is one constant node per value.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphdl.core.node import Node, Operator, Variable
from graphdl.core.primitives import PRIMITIVES
from graphdl.ops.activations import Identity, Tanh
from graphdl.ops.arithmetic import Abs, Add, Div, Exp, Expm1, Log, Log1p, Mul, Neg, Pow, Sub
from graphdl.ops.batch import BatchMean
from graphdl.ops.piecewise import Clip, Comparison, Equal, Greater, GreaterEqual, Less, LessEqual, NotEqual, Sign, Where

#: The node form of every primitive (a test keeps it equal to the primitive table).
PRIMITIVE_NODES: dict[str, type[Operator]] = {
    "exp": Exp,
    "expm1": Expm1,
    "log": Log,
    "log1p": Log1p,
    "tanh": Tanh,
    "pow": Pow,
    "abs": Abs,
    "where": Where,
    "sign": Sign,
    "clip": Clip,
    "batch_mean": BatchMean,
}
_COMMUTATIVE = (Add, Mul)
GRADIENT_ROLE = "gradient"


class NodeExpr:
    """A value of the graph backend: a node, a number, or both (a constant Variable).

    Arithmetic, comparisons, ``abs`` and ``**`` build nodes through the backend; using one
    as a truth value (``if x > 0``) raises ``TypeError``: a formula selects with ``F.where``.
    """

    __slots__ = ("backend", "node", "number")
    __array_ufunc__ = None  # numpy defers to us: np.float64(2) * expr
    __hash__ = None  # type: ignore[assignment]  # == builds a comparison node

    def __init__(self, backend: GraphBackend, node: Node | None, number: float | None) -> None:
        self.backend = backend
        self.node = node
        self.number = number

    def __repr__(self) -> str:
        return f"NodeExpr({self.node.name if self.node is not None else self.number!r})"

    def __bool__(self) -> bool:
        raise TypeError(
            f"a formula used the graph value {self!r} as a truth value; "
            "formulas must select with F.where(condition, a, b) so they work on nodes"
        )

    def __add__(self, other: Any) -> NodeExpr:
        return self.backend.add(self, other)

    def __radd__(self, other: Any) -> NodeExpr:
        return self.backend.add(other, self)

    def __sub__(self, other: Any) -> NodeExpr:
        return self.backend.sub(self, other)

    def __rsub__(self, other: Any) -> NodeExpr:
        return self.backend.sub(other, self)

    def __mul__(self, other: Any) -> NodeExpr:
        return self.backend.mul(self, other)

    def __rmul__(self, other: Any) -> NodeExpr:
        return self.backend.mul(other, self)

    def __truediv__(self, other: Any) -> NodeExpr:
        return self.backend.div(self, other)

    def __rtruediv__(self, other: Any) -> NodeExpr:
        return self.backend.div(other, self)

    def __pow__(self, other: Any) -> NodeExpr:
        return self.backend.pow(self, other)

    def __rpow__(self, other: Any) -> NodeExpr:
        return self.backend.pow(other, self)

    def __neg__(self) -> NodeExpr:
        return self.backend.neg(self)

    def __pos__(self) -> NodeExpr:
        return self

    def __abs__(self) -> NodeExpr:
        return self.backend.abs(self)

    def __gt__(self, other: Any) -> NodeExpr:
        return self.backend.compare(Greater, operator.gt, self, other)

    def __ge__(self, other: Any) -> NodeExpr:
        return self.backend.compare(GreaterEqual, operator.ge, self, other)

    def __lt__(self, other: Any) -> NodeExpr:
        return self.backend.compare(Less, operator.lt, self, other)

    def __le__(self, other: Any) -> NodeExpr:
        return self.backend.compare(LessEqual, operator.le, self, other)

    def __eq__(self, other: Any) -> NodeExpr:  # type: ignore[override]  # builds an Equal node
        return self.backend.compare(Equal, operator.eq, self, other)

    def __ne__(self, other: Any) -> NodeExpr:  # type: ignore[override]  # builds a NotEqual node
        return self.backend.compare(NotEqual, operator.ne, self, other)


def _same(a: NodeExpr, b: NodeExpr) -> bool:
    if a.node is not None or b.node is not None:
        return a.node is b.node
    return repr(a.number) == repr(b.number)  # -0.0 and 0.0 differ, a NaN equals itself


class GraphBackend:
    """``F`` whose values are nodes (a :class:`~graphdl.core.backend.Backend`).

    One instance serves one ``grad`` call: it remembers what it built (``created``) for
    sharing and naming. Call :meth:`close` at the end: it drops those memories, so nodes
    built but not used are freed at once. ``detached=True`` (the compiler's) builds nodes
    that only name their parents: not checked, not children of them, never evaluated.
    """

    name = "graph"

    def __init__(self, detached: bool = False) -> None:
        self.detached = detached
        self.created: dict[Node, None] = {}  # in the order built: parents before children
        self._built: dict[tuple[Any, ...], NodeExpr] = {}
        self.wrapped: dict[Node, NodeExpr] = {}  # the proxy of each node lifted
        self._constants: dict[str, Variable] = {}
        self._products: tuple[tuple[int, ...], list[NodeExpr], list[NodeExpr]] | None = None

    def close(self) -> None:
        """Forget every node built or wrapped (ends the reference cycles proxy ↔ backend)."""
        self._built.clear()
        self.wrapped.clear()
        self._constants.clear()
        self._products = None

    # ------------------------------------------------------------ values and nodes
    def lift(self, item: Any) -> NodeExpr:
        """A proxy for ``item``: a proxy, a node or a real number."""
        kind = item.__class__
        if kind is NodeExpr:
            return item
        if kind is float or kind is int:
            return NodeExpr(self, None, float(item))
        if isinstance(item, Node):
            found = self.wrapped.get(item)
            if found is None:
                value = item.cached_value if isinstance(item, Variable) and item.constant else None
                found = self.wrapped[item] = NodeExpr(self, item, value if isinstance(value, float) else None)
            return found
        if isinstance(item, numbers.Real):
            return NodeExpr(self, None, float(item))
        raise TypeError(f"a formula combined a graph value with {type(item).__name__} {item!r}")

    def node_of(self, item: Any) -> Node:
        """The node of ``item``; a number becomes a constant node (one per value)."""
        expr = self.lift(item)
        if expr.node is None and not math.isfinite(expr.number):  # type: ignore[arg-type]  # a number here
            # A Variable holds finite values only: build the division that gives inf or NaN.
            numerator = 0.0 if math.isnan(expr.number) else math.copysign(1.0, expr.number)  # type: ignore[arg-type]
            expr.node = self.build(Div, self.number(numerator), self.number(0.0)).node
        if expr.node is None:
            key = repr(expr.number)
            constant = self._constants.get(key)
            if constant is None:
                constant = self._constants[key] = Variable(expr.number, trainable=False, _constant=True)
            expr.node = constant
        return expr.node

    def build(self, cls: type[Operator], *operands: NodeExpr) -> NodeExpr:
        """``cls([operands...])``, or the same node built before in this call."""
        parents = [operand.node if operand.node is not None else self.node_of(operand) for operand in operands]
        if cls in _COMMUTATIVE:  # a·b is b·a
            if len(parents) == 2:
                a, b = parents
                key: tuple[Any, ...] = (cls, a, b) if id(a) <= id(b) else (cls, b, a)
            else:
                key = (cls, *sorted(parents, key=id))
        else:
            key = (cls, *parents)
        found = self._built.get(key)
        if found is None:
            if self.detached and cls.__init__ is Operator.__init__:
                node = object.__new__(cls)
                Node.__init__(node)
                node.parents = tuple(parents)
            else:
                node = cls(parents)
            node._role = GRADIENT_ROLE  # an operator's role, set without its setter's check
            self.created[node] = None
            found = self._built[key] = NodeExpr(self, node, None)
        return found

    def number(self, value: Any) -> NodeExpr:
        """A proxy of a plain number."""
        return NodeExpr(self, None, float(value))

    # -------------------------------------------------------------- arithmetic
    def add(self, a: Any, b: Any) -> NodeExpr:
        """``a + b``, folding numbers and ``+ 0``."""
        a, b = self.lift(a), self.lift(b)
        if a.number is not None and b.number is not None:
            return self.number(a.number + b.number)
        if a.number == 0.0:
            return b
        if b.number == 0.0:
            return a
        return self.build(Add, a, b)

    def total(self, terms: Sequence[NodeExpr]) -> NodeExpr:
        """The sum of ``terms`` as one ``Add``: numbers added up, zeros dropped, a term
        that comes k times taken k times (``2 * t``)."""
        if len(terms) == 1:
            return terms[0]
        number = 0.0
        counts: dict[Any, list[Any]] = {}
        for term in terms:
            if term.node is None:
                number += term.number  # type: ignore[operator]  # a number when there is no node
            elif term.node in counts:
                counts[term.node][1] += 1
            else:
                counts[term.node] = [term, 1]
        parts = [term if count == 1 else self.mul(float(count), term) for term, count in counts.values()]
        if number != 0.0 or not parts:
            parts.append(self.number(number))
        return parts[0] if len(parts) == 1 else self.build(Add, *parts)

    def sub(self, a: Any, b: Any) -> NodeExpr:
        """``a - b``, folding numbers, ``- 0`` and ``0 -``."""
        a, b = self.lift(a), self.lift(b)
        if a.number is not None and b.number is not None:
            return self.number(a.number - b.number)
        if b.number == 0.0:
            return a
        if a.number == 0.0:
            return self.neg(b)
        return self.build(Sub, a, b)

    def mul(self, a: Any, b: Any) -> NodeExpr:
        """``a * b``, folding numbers, ``* 1``, ``* -1`` (a negation) and ``* 0``."""
        if a.__class__ is not NodeExpr:
            a = self.lift(a)
        if b.__class__ is not NodeExpr:
            b = self.lift(b)
        if a.number is None and b.number is None:  # the common case: two nodes
            return self.build(Mul, a, b)
        if a.number is not None and b.number is not None:
            return self.number(a.number * b.number)
        number, other = (a.number, b) if a.number is not None else (b.number, a)
        if number == 0.0:
            return self.number(0.0)
        if number == 1.0:
            return other
        if number == -1.0:
            return self.neg(other)
        return self.build(Mul, a, b)

    def product_of_others(self, factors: Sequence[Any], index: int) -> NodeExpr:
        """The product of every factor but ``factors[index]`` (the derivative of an n-ary
        ``Mul``), from prefix and suffix products shared by every index of one node."""
        key = tuple(map(id, factors))
        if self._products is None or self._products[0] != key:
            count = len(factors)
            prefix = [self.number(1.0)]
            for factor in factors[:-1]:
                prefix.append(self.mul(prefix[-1], factor))
            suffix = [self.number(1.0)]
            for factor in reversed(factors[1:]):
                suffix.append(self.mul(factor, suffix[-1]))
            suffix.reverse()  # suffix[i]: the product of factors[i + 1:]
            self._products = (key, prefix, suffix)
            assert len(prefix) == len(suffix) == count
        _, prefix, suffix = self._products
        return self.mul(prefix[index], suffix[index])

    def div(self, a: Any, b: Any) -> NodeExpr:
        """``a / b``, folding numbers (IEEE: 1 / 0 is inf), ``/ 1``, ``/ -1`` and ``0 /``."""
        a, b = self.lift(a), self.lift(b)
        if a.number is not None and b.number is not None:
            with np.errstate(all="ignore"):
                return self.number(np.float64(a.number) / np.float64(b.number))
        if b.number == 1.0:
            return a
        if b.number == -1.0:
            return self.neg(a)
        if a.number == 0.0:
            return self.number(0.0)
        return self.build(Div, a, b)

    def neg(self, a: Any) -> NodeExpr:
        """``-a``; ``--a`` is ``a``."""
        a = self.lift(a)
        if a.number is not None:
            return self.number(-a.number)
        if isinstance(a.node, Neg):
            return self.lift(a.node.parents[0])
        return self.build(Neg, a)

    def compare(self, cls: type[Comparison], relation: Callable[[Any, Any], bool], a: Any, b: Any) -> NodeExpr:
        """A comparison node (1.0 where ``relation`` holds), or 1.0 / 0.0 now for two numbers."""
        a, b = self.lift(a), self.lift(b)
        if a.number is not None and b.number is not None:
            return self.number(1.0 if relation(a.number, b.number) else 0.0)
        return self.build(cls, a, b)

    # -------------------------------------------------------------- primitives
    def _primitive(self, name: str, *operands: Any) -> NodeExpr:
        items = [self.lift(operand) for operand in operands]
        if all(item.number is not None for item in items):
            with np.errstate(all="ignore"):
                return self.number(PRIMITIVES[name].scalar(*[item.number for item in items]))
        return self.build(PRIMITIVE_NODES[name], *items)

    # the primitives without a rule of their own: a node of the primitive's operator, or a number now
    exp = functools.partialmethod(_primitive, "exp")
    expm1 = functools.partialmethod(_primitive, "expm1")
    log = functools.partialmethod(_primitive, "log")
    log1p = functools.partialmethod(_primitive, "log1p")
    tanh = functools.partialmethod(_primitive, "tanh")
    abs = functools.partialmethod(_primitive, "abs")
    sign = functools.partialmethod(_primitive, "sign")
    clip = functools.partialmethod(_primitive, "clip")

    def pow(self, base: Any, exponent: Any, /) -> NodeExpr:
        """A ``Pow`` node; ``x ** 1`` is ``x`` and ``x ** 0`` is 1 (IEEE, even for NaN)."""
        exponent = self.lift(exponent)
        if exponent.number == 1.0:
            return self.lift(base)
        if exponent.number == 0.0:
            return self.number(1.0)
        return self._primitive("pow", base, exponent)

    def where(self, condition: Any, if_true: Any, if_false: Any, /) -> NodeExpr:
        """A ``Where`` node; a known condition picks its branch now, equal branches need
        no choice, and ``where(comparison, 1, 0)`` is the comparison itself (0 or 1)."""
        condition, if_true, if_false = self.lift(condition), self.lift(if_true), self.lift(if_false)
        if condition.number is not None:
            return if_true if condition.number else if_false  # NaN selects if_true, as numpy does
        if _same(if_true, if_false):
            return if_true
        if if_true.number == 1.0 and if_false.number == 0.0 and isinstance(condition.node, Comparison):
            return condition
        return self.build(Where, condition, if_true, if_false)

    def batch_mean(self, values: Any, estimate: Any = 0.0, use_batch: Any = 1.0, /) -> NodeExpr:
        """A ``BatchMean`` node (one parent when it is the plain batch mean)."""
        values, estimate, use_batch = self.lift(values), self.lift(estimate), self.lift(use_batch)
        if estimate.number == 0.0 and use_batch.number == 1.0:
            return self.build(BatchMean, values)
        return self.build(BatchMean, values, estimate, use_batch)

    def identity(self, item: Any) -> Node:
        """A new ``Identity`` node of ``item``, a gradient node of its own (for naming)."""
        node = Identity([self.node_of(item)])
        node.role = GRADIENT_ROLE
        self.created[node] = None
        return node
