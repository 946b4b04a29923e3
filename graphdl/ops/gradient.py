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
from collections.abc import Sequence
from typing import Any

from graphdl.core.collector import collector_paused
from graphdl.core.names import note_explicit_name
from graphdl.core.node import Node, Variable
from graphdl.core.plan import overrides_vjp, reached_from
from graphdl.ops.graph_backend import GraphBackend, NodeExpr

__all__ = ["grad"]


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
            gradients = _sweep(F, output, wrt, 1.0 if seed is None else seed)
            return _named_results(F, output, wrt, gradients)
    finally:
        F.close()


def _sweep(F: GraphBackend, output: Node, wrt: Sequence[Node], seed: Any) -> dict[Node, NodeExpr]:
    """The gradient of every node between ``wrt`` and ``output``, in reverse topological order."""
    order = [*output.upstream(), output]
    needs = reached_from(order, set(wrt))
    pending: dict[Node, list[NodeExpr]] = {output: [F.lift(seed)]} if output in needs else {}
    gradients: dict[Node, NodeExpr] = {}
    node: Any
    for node in reversed(order):
        parts = pending.pop(node, None)
        if parts is None:
            continue
        total = gradients[node] = F.total(parts)
        if total.number == 0.0 or not node.parents:
            continue
        args = [F.lift(parent) for parent in node.parents]
        out = F.lift(node)
        custom = overrides_vjp(node)
        for index, parent in enumerate(node.parents):
            if parent in needs:  # the vector-Jacobian product, as the interpreter's sweep takes it
                if custom:
                    part = F.lift(node.vjp(F, index, total, out, *args))
                else:
                    part = total * node.derivative(F, index, out, *args)
                if part.number != 0.0:
                    pending.setdefault(parent, []).append(part)
    return gradients


def _named_results(F: GraphBackend, output: Node, wrt: Sequence[Node], gradients: dict[Node, NodeExpr]) -> list[Node]:
    """One node per ``wrt`` entry, named ``d(output)/d(node)``; then the gradients of the
    nodes on the way get their names too (those built here, not named yet)."""
    named: set[Node] = set()

    def name(node: Node, of: Node) -> None:
        node.name = f"d({output.name})/d({of.name})"
        note_explicit_name(node.name)
        named.add(node)

    results: list[Node] = []
    for target in wrt:
        expr = gradients.get(target)
        if expr is None or expr.node is None:  # not upstream, or a number
            number = 0.0 if expr is None else expr.number
            results.append(Variable(number, name=f"d({output.name})/d({target.name})", trainable=False, _constant=True))
            continue
        node = expr.node
        if node not in F.created or node in named:  # a forward node, or another result: wrap it
            node = F.identity(node)
        name(node, target)
        results.append(node)
    for of, expr in gradients.items():
        if expr.node in F.created and expr.node not in named:
            name(expr.node, of)
    return results
