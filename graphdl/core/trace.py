"""The reverse sweep as it happens, for showing it one node at a time.

:func:`backward_trace` runs the interpreter's own sweep (``target.backward()``'s) with a
trace, so every number is the engine's: each node's complete gradient when the sweep
reaches it, and for each path to a parent the operator's own local derivative and the
product that flows on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphdl.core.interpreter import reverse_sweep
from graphdl.core.node import Node, bring_up_to_date


@dataclass
class SweepPath:
    """One path of the chain rule: ``product = upstream × local`` flows from ``node`` to
    its argument ``index``, ``parent``. ``local`` is ∂node/∂parent (None for an operator
    with its own vector-Jacobian product, whose ``product`` is that product)."""

    parent: Node
    index: int
    local: Any
    product: Any


@dataclass
class SweepStep:
    """The sweep reaching ``node``: its gradient ``grad`` (d(target)/d(node), the sum of
    the products of the paths from its children) and the paths it sends on."""

    node: Node
    grad: Any
    paths: list[SweepPath] = field(default_factory=list)


def backward_trace(target: Node) -> list[SweepStep]:
    """``target.backward()``, recorded: one :class:`SweepStep` per node the sweep visits,
    in the sweep's order (the target first, the trainable Variables last). The gradients
    are stored on the nodes exactly as ``backward()`` stores them."""
    bring_up_to_date(target)
    events: list[Any] = []
    reverse_sweep(target, target.gradient_plan(), trace=events)
    steps: list[SweepStep] = []
    for event in events:
        if len(event) == 2:
            steps.append(SweepStep(event[0], event[1]))
        else:
            _, index, parent, local, product = event
            steps[-1].paths.append(SweepPath(parent, index, local, product))
    return steps
