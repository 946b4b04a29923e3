"""The explorer's Backprop mode data: the reverse sweep of one sample, node by node.

The sweep is the engine's own (:func:`graphdl.core.trace.backward_trace`: the
interpreter's reverse sweep, each local derivative from its operator's ``derivative``),
run on a copy of the user's graph (built by :mod:`graphdl.graph_io`), so the user's
graph is never touched. One frame per explorer step: every node's value at the sample,
and the visits in the sweep's order, each with its complete gradient and the paths it
sends to its parents (local derivative, product).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.core.trace import backward_trace

#: Significant digits of the sweep's numbers on the page.
SWEEP_DIGITS = 6


#: Graphs of at most this many nodes get the gradient graph beside them on the page.
GRADIENT_GRAPH_NODES = 60


class GraphCopy:
    """A copy of ``graph`` (same nodes, same order, values of Variables included);
    ``twin[node]`` is the copy of ``node``. Raises ``ValueError`` saying why when the graph
    cannot be copied (an operator graphdl cannot rebuild by name).

    ``gradient``: the graph of ``graphdl.grad(sink, parameters)`` built on the copy (the
    user's graph gets no new nodes), for a graph of one sink, with parameters, and of at
    most :data:`GRADIENT_GRAPH_NODES` nodes; else None."""

    def __init__(self, graph: Graph) -> None:
        from graphdl.graph_io import graph_from_dict, graph_to_dict

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                copy = Graph(*graph_from_dict(graph_to_dict(list(graph.outputs), values=True)).outputs)
        except (ValueError, TypeError) as error:
            raise ValueError(f"the graph could not be copied ({error})") from None
        if [node.kind for node in copy.nodes] != [node.kind for node in graph.nodes]:
            raise ValueError("the graph's copy differs from it")
        self.graph = copy
        self.twin: dict[Node, Any] = dict(zip(graph.nodes, copy.nodes))  # Variables stay Variables
        self.index: dict[Node, int] = {node: number for number, node in enumerate(copy.nodes)}
        self.sinks = [node for node in copy.nodes if not node.children]
        self.gradient: Graph | None = None
        parameters = [self.twin[node] for node in graph.parameters()]
        if len(self.sinks) == 1 and parameters and len(copy.nodes) <= GRADIENT_GRAPH_NODES:
            from graphdl.ops.gradient import grad

            self.gradient = Graph(*grad(self.sinks[0], parameters))


def _number(value: Any) -> float | None:
    number = float(np.mean(value))
    return float(f"{number:.{SWEEP_DIGITS}g}") if math.isfinite(number) else None


def _occurrence(node: Node, index: int) -> int:
    """Which of the edges from the same parent into ``node`` argument ``index`` is
    (0 unless a node uses one parent twice, as ``Mul([x, x])`` does)."""
    parent = node.parents[index]
    return sum(1 for other in node.parents[:index] if other is parent)


def sweep_frame(copy: GraphCopy) -> dict[str, Any]:
    """Run the recorded reverse sweep of the copy's one sink at its current values (one
    sample: every input a single number) and return the frame: ``values`` per node and
    ``visits``: ``[node, grad, [[parent, occurrence, local, product], ...]]`` in the sweep's
    order (``local`` is None for an operator with its own vector-Jacobian product)."""
    if len(copy.sinks) != 1:
        raise ValueError("the graph has several sinks: which one's gradient would the sweep show?")
    steps = backward_trace(copy.sinks[0])
    index = copy.index
    visits = [
        [
            index[step.node],
            _number(step.grad),
            [
                [
                    index[path.parent],
                    _occurrence(step.node, path.index),
                    None if path.local is None else _number(path.local),
                    _number(path.product),
                ]
                for path in step.paths
            ],
        ]
        for step in steps
    ]
    values = [None if node.cached_value is None else _number(node.cached_value) for node in copy.graph.nodes]
    frame: dict[str, Any] = {"values": values, "visits": visits}
    if copy.gradient is not None:  # the gradient graph's nodes at the same sample
        for output in copy.gradient.outputs:
            output.forward()
        frame["gradient"] = [_number(node.value) for node in copy.gradient.nodes]
    return frame


def one_sample(copy: GraphCopy, values: Mapping[Node, Any], sample: int = 0) -> str:
    """Set the copy's Variables of ``values`` (keys: the user's nodes) to their ``sample``-th
    entry (a single number stays as it is); return a text naming the sample."""
    parts = []
    for node, value in values.items():
        array = np.asarray(value, dtype=float)
        number = float(array.reshape(-1)[sample]) if array.ndim else float(array)
        copy.twin[node].set_value(number)
        parts.append(f"{node.name} = {number:.4g}")
    return ", ".join(parts)


def gradient_entries(copy: GraphCopy, graph: Graph) -> list[dict[str, Any]] | None:
    """The gradient graph's nodes for the page (name, role, and the index of the same node
    in ``graph`` when the gradient graph reuses a forward node), or None without one."""
    if copy.gradient is None:
        return None
    forward = {twin: number for number, twin in enumerate(copy.twin[node] for node in graph.nodes)}
    return [{"name": node.name, "role": node.role, "forward": forward.get(node)} for node in copy.gradient.nodes]
