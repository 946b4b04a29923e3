"""``graphdl.grad``: the gradient as a graph of ordinary nodes.

The reverse sweep of the interpreter, run once on nodes instead of numbers: each operator's
own vector-Jacobian product (``grad * derivative`` unless it overrides ``vjp``) is called
with the graph backend, so the same one rule per operator that computes numbers now
builds the nodes of the gradient (no second table of rules). The result reuses the
forward nodes it needs, shares repeated subexpressions and folds ``* 1`` and ``+ 0``
(see :mod:`graphdl.ops.graph_backend`), and its nodes have the role ``"gradient"``.

Gradient nodes are ordinary nodes: they evaluate lazily, follow ``set_value``, compile,
render, and differentiate again (``grad(grad(y, [x])[0], [x])`` is the second derivative).

Batches: a graph describes one sample, and so does its gradient graph. On a batch, the
gradient node of a scalar parameter ``w`` holds the per-sample gradients d loss_i / d w;
their mean is ``w.get_grad()`` (the gradient of the mean loss). Per-sample gradients come
for free.
"""

from __future__ import annotations

import numbers
from collections.abc import Collection, Sequence
from typing import Any

from graphdl.core.collector import collector_paused
from graphdl.core.names import note_explicit_name
from graphdl.core.node import Node, Variable
from graphdl.core.plan import overrides_vjp, reached_from
from graphdl.ops.graph_backend import GraphBackend, NodeExpr

__all__ = ["grad", "gradient_terms"]


def grad(output: Node, wrt: Sequence[Node], seed: Node | float | None = None) -> list[Node]:
    """The gradient of ``output`` with respect to each node of ``wrt``, as nodes.

    ``wrt`` may hold any nodes; one that ``output`` does not depend on gets a zero constant
    node. ``seed`` (a node or a number, 1 by default) multiplies the result: the
    vector-Jacobian product ``seed · d output / d node``. Each result is named
    ``d(output)/d(node)``, as is the gradient of every node on the way.

    >>> from graphdl import Variable, grad
    >>> x = Variable(3.0, name="x")
    >>> dy, = grad(x * x * x, [x])
    >>> dy.forward(), grad(dy, [x])[0].forward()
    (27.0, 18.0)
    """
    if not isinstance(output, Node):
        raise TypeError(f"grad: output must be a node, got {type(output).__name__}")
    if isinstance(wrt, Node) or not isinstance(wrt, Sequence):
        raise TypeError(f"grad: wrt must be a list of nodes, e.g. grad(loss, [w, b]); got {type(wrt).__name__}")
    for item in wrt:
        if not isinstance(item, Node):
            raise TypeError(f"grad: wrt must hold nodes, got {type(item).__name__} {item!r}")
    real = isinstance(seed, numbers.Real) and not isinstance(seed, bool)
    if seed is not None and not isinstance(seed, Node) and not real:
        raise TypeError(f"grad: seed must be a node or a real number, got {type(seed).__name__} {seed!r}")
    F = GraphBackend()
    try:
        with collector_paused():
            gradients, locals_, _ = _sweep(F, output, wrt, 1.0 if seed is None else seed)
            return _named_results(F, output, wrt, gradients, locals_)
    finally:
        F.close()


#: A part of a parameter's gradient: the gradient of a node that reads it, times the local derivative.
Term = tuple[NodeExpr, NodeExpr]


def gradient_terms(
    output: Node, parameters: Sequence[Variable], seed: Node
) -> tuple[list[list[Term]], dict[Node, Node], list[Node]]:
    """The compiler's sweep: each parameter's gradient as terms (their products, summed, are
    :func:`grad`'s node, left unbuilt: the compiler sums the terms over the batch); each
    gradient node built, mapped to the node whose gradient it is; every node built, parents
    first. Nodes are detached (see :class:`GraphBackend`): read, never evaluated, unnamed."""
    F = GraphBackend(detached=True)
    try:
        with collector_paused():
            gradients, _, terms = _sweep(F, output, parameters, seed, direct=set(parameters))
            gradient_of: dict[Node, Node] = {}
            for of, expr in gradients.items():
                if expr.node in F.created:
                    gradient_of.setdefault(expr.node, of)
            return [terms.get(p, []) for p in parameters], gradient_of, list(F.created)
    finally:
        F.close()


Local = tuple[NodeExpr, Node, Node]  # a local derivative d(node)/d(parent), the node, the parent


def _sweep(
    F: GraphBackend, output: Node, wrt: Sequence[Node], seed: Any, direct: Collection[Node] = ()
) -> tuple[dict[Node, NodeExpr], list[Local], dict[Node, list[Term]]]:
    """The gradient of every node between ``wrt`` and ``output`` (in reverse topological
    order), the local derivatives built on the way, and the terms of the nodes of ``direct``
    (their gradients are left unbuilt)."""
    order = [*output.upstream(), output]
    needs = reached_from(order, set(wrt))
    pending: dict[Node, list[NodeExpr]] = {output: [F.lift(seed)]} if output in needs else {}
    gradients: dict[Node, NodeExpr] = {}
    locals_: list[Local] = []
    terms: dict[Node, list[Term]] = {}
    custom_of: dict[type, bool] = {}  # whether a class overrides vjp, asked once per class
    lift, mul, wrapped = F.lift, F.mul, F.wrapped.get  # a node lifted before: its proxy, without a call
    node: Any
    for node in reversed(order):
        parts = pending.pop(node, None)
        if parts is None:
            continue
        if node in direct:  # the output itself, or parts from a custom vjp
            terms.setdefault(node, []).extend((part, F.number(1.0)) for part in parts)
            continue
        total = gradients[node] = parts[0] if len(parts) == 1 else F.total(parts)
        parents = node.parents
        if total.number == 0.0 or not parents:
            continue
        custom = custom_of.get(node.__class__)
        if custom is None:
            custom = custom_of[node.__class__] = overrides_vjp(node)
        same = None if custom or len(parents) < _MANY else _same_for_every_argument(node, F)
        if same is None:
            args = [found if (found := wrapped(parent)) is not None else lift(parent) for parent in parents]
            out = found if (found := wrapped(node)) is not None else lift(node)
        for index, parent in enumerate(parents):
            if parent in needs:  # the vector-Jacobian product, as the interpreter's sweep takes it
                if custom:
                    part = lift(node.vjp(F, index, total, out, *args))
                else:
                    local = same if same is not None else lift(node.derivative(F, index, out, *args))
                    if parent in direct:
                        if local.number != 0.0:
                            terms.setdefault(parent, []).append((total, local))
                        continue
                    locals_.append((local, node, parent))
                    part = total if local.number == 1.0 and total.number is None else mul(total, local)
                if part.number != 0.0:
                    pending.setdefault(parent, []).append(part)
    return gradients, locals_, terms


#: Parents from which an operator is asked first whether its derivative is one number.
_MANY = 8


class _Untouchable(BaseException):
    """Raised by an :data:`_UNUSED` argument that a derivative tried to use (a BaseException,
    so a derivative's own ``except Exception`` cannot swallow it and answer anyway)."""


class _Unused:
    """A stand-in argument that refuses every use: arithmetic, comparison, truth, indexing."""

    __slots__ = ()
    __array_ufunc__ = None
    __hash__ = None  # type: ignore[assignment]

    def _refuse(self, *args: Any) -> Any:
        raise _Untouchable

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __bool__ = __index__ = __float__ = __int__ = __neg__ = __pos__ = __abs__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __getattr__ = _refuse


_UNUSED = _Unused()


def _same_for_every_argument(node: Any, F: GraphBackend) -> NodeExpr | None:
    """The derivative of ``node`` when it is one number for every argument (``Add``: 1),
    else None. Asked once, with index, output and arguments that refuse to be used: a
    derivative that answers without using them answers the same for any of them. An
    n-ary node then costs n products instead of n calls with n arguments each (the
    4 400-term sum of an L2 penalty would take seconds)."""
    try:
        answer = node.derivative(F, _UNUSED, _UNUSED, *([_UNUSED] * len(node.parents)))
    except (_Untouchable, Exception):  # it used them (or failed on them): ask per argument
        return None
    return F.number(answer) if isinstance(answer, numbers.Real) and not isinstance(answer, bool) else None


def _named_results(
    F: GraphBackend,
    output: Node,
    wrt: Sequence[Node],
    gradients: dict[Node, NodeExpr],
    locals_: list[Local],
) -> list[Node]:
    """One node per ``wrt`` entry, named ``d(output)/d(node)``. Then the nodes
    built here that have no name yet get one: the gradient of each node on the way,
    ``d(output)/d(h)``, and each operator's local derivative, ``∂(h)/∂(parent)`` (the chain
    rule's factors)."""
    named: set[Node] = set()

    def name(node: Node, text: str) -> None:
        node.name = text
        note_explicit_name(text)
        named.add(node)

    results: list[Node] = []
    for target in wrt:
        expr = gradients.get(target)
        if expr is None or expr.number is not None:  # not upstream, or a number
            number = 0.0 if expr is None else expr.number
            results.append(Variable(number, name=f"d({output.name})/d({target.name})", trainable=False, _constant=True))
            continue
        node = expr.node
        if node not in F.created or node in named:  # a forward node, or another result: wrap it
            node = F.identity(node)
        name(node, f"d({output.name})/d({target.name})")
        results.append(node)
    for of, expr in gradients.items():
        if expr.node in F.created and expr.node not in named:
            name(expr.node, f"d({output.name})/d({of.name})")
    for expr, node, parent in locals_:
        if expr.node in F.created and expr.node not in named:
            name(expr.node, f"∂({node.name})/∂({parent.name})")
    return results
