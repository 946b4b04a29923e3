"""Dropout as an ordinary operator node whose mask is data.

``Dropout([x, mask], keep=0.8)`` = x · mask. The mask is a non-trainable Variable that
the Trainer sets before every training step: each sample keeps the unit with
probability ``keep`` and its mask is then 1/keep (inverted dropout, so the expected
value is unchanged), otherwise 0. In evaluation the mask is 1, so the node is exactly
the identity. Because the mask is a value of the graph, the forward pass and the
derivative of one step always use the same mask, and the compiled graph simply
receives it as one more input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from graphdl.core.backend import Backend
from graphdl.core.node import Node, Operator, Variable
from graphdl.validation import Real, check_option


class Dropout(Operator):
    """``Dropout([x, mask], keep=0.5)`` = x · mask, with mask ∈ {0, 1/keep} while
    training and 1 in evaluation (see :func:`draw_masks`)."""

    __slots__ = ("keep",)
    arity = 2
    symbol = "dropout"
    options = ("keep",)
    option_rules = {"keep": Real(low=0.0, high=1.0, low_open=True)}

    def __init__(self, parents: Any, keep: float = 0.5, *, name: str | None = None) -> None:
        keep = check_option(type(self), "keep", keep)
        super().__init__(parents, name=name)
        self.keep = keep

    def formula(self, F: Backend, x, mask):
        return x * mask

    def derivative(self, F: Backend, index, out, x, mask):
        return mask if index == 0 else x


def dropout_nodes(nodes: Iterable[Node]) -> list[Dropout]:
    """The Dropout operators among ``nodes`` (e.g. ``Graph(loss).nodes``)."""
    return [node for node in nodes if isinstance(node, Dropout)]


def draw_masks(dropouts: Sequence[Dropout], size: int, rng: np.random.Generator) -> dict[Variable, np.ndarray]:
    """A fresh training mask per Dropout node: ``size`` samples of 0 or 1/keep."""
    masks: dict[Variable, np.ndarray] = {}
    for node in dropouts:
        mask = node.parents[1]
        if not isinstance(mask, Variable):
            raise TypeError(f"Dropout {node.name!r}: its mask {mask.kind} {mask.name!r} must be a Variable")
        kept = rng.random(size) < node.keep
        masks[mask] = np.where(kept, 1.0 / node.keep, 0.0)
    return masks


def identity_masks(dropouts: Sequence[Dropout]) -> dict[Variable, float]:
    """The evaluation masks: 1 everywhere."""
    return {node.parents[1]: 1.0 for node in dropouts}  # type: ignore[misc]  # a Dropout's second parent is its mask Variable
