"""Colours, shapes and label texts shared by every drawing of a graph (DOT, the
matplotlib fallback and the animator's graph panel), so all of them look alike."""

from __future__ import annotations

import unicodedata
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
    "gradient": RoleStyle(fill="#fce7f3", border="#be185d", shape="box", rounded=True),
}
ROLE_TITLES = {
    "input": "data input",
    "parameter": "parameter",
    "constant": "constant",
    "operator": "operator",
    "loss": "loss",
    "gradient": "gradient",
}

DEAD_FILL = "#d1d5db"
DEAD_BORDER = "#111827"
VANISHING_BORDER = "#7c3aed"
VANISHING_FILL = "#ede9fe"  # light violet: a region of vanishing gradients stands out at a glance
EDGE_COLOUR = "#4b5563"
FONT = "Helvetica"
DARK_TEXT = "#111827"
LIGHT_TEXT = "#ffffff"

# Operators whose argument order does not matter: their edges need no position label.
COMMUTATIVE_KINDS = frozenset({"Add", "Mul"})


def display_text(text: str) -> str:
    """``text`` as every renderer shows it, literally and safely: control characters,
    line/paragraph separators and lone surrogates (which no file encoding can hold)
    become visible escapes such as ``\\n``, ``\\x07`` or ``\\ud800``."""
    if text.isprintable():
        return text
    shown = []
    for char in text:
        if char.isprintable() or char == " ":
            shown.append(char)
        elif unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            shown.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            shown.append(char)  # e.g. a non-breaking space: encodable, drawn as it is
    return "".join(shown)


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


def per_sample_gradient(grad: object) -> np.ndarray | float:
    """A gradient on the per-sample scale.

    A scalar Variable's (a parameter's) gradient is the gradient of the batch's mean loss:
    the mean over samples of each sample's own gradient, returned as it is. A batch
    node's ``grad`` holds, per sample i, d(mean loss)/d(node_i) = d(loss_i)/d(node_i) / N;
    times N it is each sample's own partial d(loss_i)/d(node_i) (the loss node's is 1).
    A batch of one is the scalar case.
    """
    values = np.asarray(grad, dtype=float)
    return values * values.size if values.ndim and values.size > 1 else float(values.reshape(-1)[0])


def grad_text(node: Node) -> str | None:
    """The current gradient as text on the per-sample scale (:func:`per_sample_gradient`),
    or None when there is none: ``-0.8743`` for a parameter, ``mean 1 per sample (n=1500)``
    for a batch node (the mean over samples of d(loss_i)/d(node_i))."""
    grad = node.grad
    if grad is None:
        return None
    scaled = per_sample_gradient(grad)
    if isinstance(scaled, np.ndarray):
        return f"mean {scaled.mean():.4g} per sample (n={scaled.size})"
    return format_value(scaled)


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
    """The size of a gradient on the scale the labels show (:func:`per_sample_gradient`):
    |grad| of a parameter, the mean of |d(loss_i)/d(node_i)| over the samples of a batch
    node. A label's mean is never larger than this, so a node marked as vanishing always
    shows a small gradient."""
    return float(np.mean(np.abs(per_sample_gradient(grad))))


def is_vanishing(node: Node, threshold: float) -> bool:
    """A node whose gradient is known and below ``threshold`` in size (:func:`gradient_size`:
    per sample for a batch node, as its label shows it, so parameters and the nodes they
    feed compare fairly)."""
    grad = node.grad
    if grad is None:
        return False
    return gradient_size(grad) < threshold


def lightness(colour: object) -> float:
    """Relative luminance (WCAG, 0 black to 1 white) of a matplotlib colour."""
    from matplotlib.colors import to_rgb

    channels = np.asarray(to_rgb(colour), dtype=np.float64)  # type: ignore[arg-type]  # matplotlib checks the colour itself
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def text_colour(fill: object) -> str:
    """Dark text on a light fill, white text on a dark one: whichever contrasts more."""
    # contrast ratios (L1 + 0.05) / (L2 + 0.05) against white (L = 1) and the dark text (L ≈ 0.011)
    light = lightness(fill)
    return DARK_TEXT if (light + 0.05) / (0.011 + 0.05) >= (1.0 + 0.05) / (light + 0.05) else LIGHT_TEXT


def cluster_of(name: str, separator: str | None) -> str | None:
    """The cluster a node belongs to: the part of its name before the first ``separator``
    (``fc1.w[0,1]`` -> ``fc1``), or None."""
    if not separator or separator not in name:
        return None
    prefix = name.split(separator, 1)[0]
    return prefix or None
