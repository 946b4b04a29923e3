"""Colours, shapes and label texts shared by every drawing of a graph (DOT, the
matplotlib fallback and the animator's graph panel), so all of them look alike."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphdl.core.graph import format_value, node_role
from graphdl.core.node import Node, Operator


@dataclass(frozen=True)
class RoleStyle:
    """How nodes of one role are drawn."""

    fill: str
    border: str
    shape: str  # a Graphviz shape name
    rounded: bool
    dashed: bool = False
    peripheries: int = 1


ROLE_STYLES: dict[str, RoleStyle] = {
    "input": RoleStyle(fill="#dbeafe", border="#1d4ed8", shape="box", rounded=True),
    "parameter": RoleStyle(fill="#fef3c7", border="#b45309", shape="box", rounded=False),
    "constant": RoleStyle(fill="#f3f4f6", border="#6b7280", shape="box", rounded=False, dashed=True),
    "operator": RoleStyle(fill="#dcfce7", border="#15803d", shape="box", rounded=True),
    "loss": RoleStyle(fill="#fee2e2", border="#b91c1c", shape="box", rounded=True, peripheries=2),
}
ROLE_TITLES = {
    "input": "data input",
    "parameter": "parameter",
    "constant": "constant",
    "operator": "operator",
    "loss": "loss",
}

DEAD_FILL = "#d1d5db"
DEAD_BORDER = "#111827"
VANISHING_BORDER = "#7c3aed"
VANISHING_FILL = "#ede9fe"  # light violet: a region of vanishing gradients stands out at a glance
EDGE_COLOUR = "#4b5563"
FONT = "Helvetica"

# Operators whose argument order does not matter: their edges need no position label.
COMMUTATIVE_KINDS = frozenset({"Add", "Mul"})


def kind_text(node: Node) -> str:
    """The second label line: the operator's kind and symbol, or the Variable's role."""
    if isinstance(node, Operator):
        symbol = type(node).symbol
        text = node.kind if symbol.lower() == node.kind.lower() else f"{node.kind}  {symbol}"
        options = node.option_values()
        if options:
            text += "  (" + ", ".join(f"{key}={value:g}" for key, value in options.items()) + ")"
        return text
    return ROLE_TITLES[node_role(node)]


def value_text(node: Node) -> str:
    """``value …`` for a label (cached values only: drawing never computes)."""
    return format_value(node.cached_value)


def grad_text(node: Node) -> str | None:
    """The current gradient as text, or None when there is none."""
    grad = node.grad
    return None if grad is None else format_value(grad)


def is_dead(node: Node) -> bool:
    """An activation unit whose local derivative is exactly 0 for every cached sample
    (a dead ReLU): no gradient can pass through it. Uses the operator's own derivative."""
    if not isinstance(node, Operator) or type(node).__module__ != "graphdl.ops.activations":
        return False
    if len(node.parents) != 1 or node.cached_value is None or node.parents[0].cached_value is None:
        return False
    from graphdl.core.backend import ARRAY

    arg = np.atleast_1d(np.asarray(node.parents[0].cached_value, dtype=float))
    out = np.atleast_1d(np.asarray(node.cached_value, dtype=float))
    with np.errstate(all="ignore"):
        local = np.broadcast_to(np.asarray(node.derivative(ARRAY, 0, out, arg), dtype=float), arg.shape)
    return bool(np.all(local == 0.0))


def gradient_size(grad: object) -> float:
    """The size of a gradient, on one scale for parameters and batch nodes.

    A scalar Variable's gradient is the batch mean of each sample's gradient. A batch
    node's ``grad`` holds, per sample, d(mean loss)/d(value) — that sample's own gradient
    divided by the batch size N — so its size is N · mean|grad| = Σ|grad|: the mean size
    of the per-sample gradients. A batch of one is the scalar case.
    """
    magnitudes = np.abs(np.asarray(grad, dtype=float))
    return float(np.sum(magnitudes)) if magnitudes.ndim else float(magnitudes)


def is_vanishing(node: Node, threshold: float) -> bool:
    """A node whose gradient is known and below ``threshold`` in size (:func:`gradient_size`:
    per sample for a batch node, so parameters and the nodes they feed compare fairly)."""
    grad = node.grad
    if grad is None:
        return False
    return gradient_size(grad) < threshold


def cluster_of(name: str, separator: str | None) -> str | None:
    """The cluster a node belongs to: the part of its name before the first ``separator``
    (``fc1.w[0,1]`` -> ``fc1``), or None."""
    if not separator or separator not in name:
        return None
    prefix = name.split(separator, 1)[0]
    return prefix or None
