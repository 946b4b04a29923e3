"""The explorer page's data: what every node holds at every step, as JSON-ready lists.

A still page reads the values and grads cached on the graph now (computing nothing). A
recorded page takes each node's output over the recorder's grid from its snapshots and
replays each snapshot's parameters on a copy of the graph (built by
:mod:`graphdl.graph_io`) for what the recorder did not keep: the other nodes' outputs
and the gradients. The user's graph is never touched.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphdl.core.graph import Graph, node_role
from graphdl.core.node import Node
from graphdl.viz.explorer_svg import node_ids
from graphdl.viz.loss_stats import round_window
from graphdl.viz.recorder import TrainingRecorder
from graphdl.viz.style import display_text, kind_text

#: Significant digits kept for curves over the grid (a plot a few hundred pixels tall).
CURVE_DIGITS = 4
#: Significant digits kept for values, grads and losses shown as numbers.
NUMBER_DIGITS = 6
TUTORIAL_NAMES = ("add_11", "add_12", "mul_21", "mul_22", "add_21", "w_11", "b_11", "w_12", "b_12")


@dataclass(frozen=True)
class Panels:
    """What the charts under the graph show, by recorded node name.

    ``hidden`` and ``weighted`` are the first two panels (leave empty to omit them),
    ``kinks`` pairs (weight, bias) parameters whose hinge x = −b/w is marked in the
    first one, ``output`` is fitted against ``target`` (a function of the input grid,
    also used as the label when the page replays the loss over the grid) in the third,
    and ``train_range`` is shaded and is where node fills and grads are averaged. The
    loss chart's mean is over the last ``loss_window`` steps (default: the round window the
    animation uses, 100 for 1500 steps).
    The defaults are the tutorial's network (:func:`graphdl.tutorial_net.build_seed_net`).
    """

    hidden: Sequence[str] = ("add_11", "add_12")
    weighted: Sequence[str] = ("mul_21", "mul_22")
    output: str | None = "add_21"
    kinks: Sequence[tuple[str, str]] = (("w_11", "b_11"), ("w_12", "b_12"))
    target: Callable[[np.ndarray], np.ndarray] | None = np.square
    target_label: str = "y = x²"
    train_range: tuple[float, float] | None = (0.0, 2.0)
    loss_window: int | None = None

    @classmethod
    def for_recorder(cls, recorder: TrainingRecorder) -> Panels:
        """The tutorial's panels when ``recorder`` holds the tutorial's nodes, otherwise
        only the recorder's output over its grid and the loss."""
        recorded = set(recorder.snapshots[0].outputs) | set(recorder.snapshots[0].parameters)
        if set(TUTORIAL_NAMES) <= recorded:
            return cls()
        output = recorder.graph.node_keys()[recorder.output]
        return cls(hidden=(), weighted=(), output=output, kinks=(), target=None, train_range=None)


def _number(value: Any, digits: int = NUMBER_DIGITS) -> float | None:
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def _numbers(values: Any, digits: int) -> list[float | None]:
    return [_number(value, digits) for value in np.ravel(np.asarray(values, dtype=float))]


def _node_entries(graph: Graph) -> list[dict[str, Any]]:
    ids = node_ids(graph)
    return [
        {"name": display_text(node.name), "kind": kind_text(node), "role": node_role(node), "id": ids[number]}
        for number, node in enumerate(graph.nodes)
    ]


def _gradient_number(grad: Any) -> float | None:
    """A scalar gradient as is; for a batch node the mean of the samples' own gradients
    (its ``grad`` holds d(mean)/d(value) = own gradient / N per sample, so their sum)."""
    if grad is None:
        return None
    array = np.asarray(grad, dtype=float)
    return _number(array.sum() if array.ndim else array)


def _descendant_count(node: Node, members: set[Node]) -> int:
    seen: set[Node] = set()
    stack = [node]
    while stack:
        for child in stack.pop().children:
            if child in members and child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


def still_data(graph: Graph) -> dict[str, Any]:
    """The page data of a still explorer: values and grads cached now (nothing computed)."""
    values = [node.cached_value for node in graph.nodes]
    sizes = {np.size(value) for value in values if isinstance(value, np.ndarray) and np.size(value) > 1}
    x: dict[str, Any] | None = None
    curves: dict[str, list[list[float | None]]] = {}
    if len(sizes) == 1:
        size = sizes.pop()
        batch_inputs = [
            (node, value)
            for node, value in zip(graph.nodes, values)
            if node_role(node) == "input" and isinstance(value, np.ndarray) and value.size == size
        ]
        if batch_inputs:  # the x axis: the input that feeds the most nodes (x rather than the label)
            members = set(graph.nodes)
            node, value = max(batch_inputs, key=lambda pair: _descendant_count(pair[0], members))
            order = np.argsort(value, kind="stable")
            x = {"label": display_text(node.name), "values": _numbers(value[order], NUMBER_DIGITS)}
        else:
            order = np.arange(size)
            x = {"label": "sample", "values": [float(i) for i in order]}
        for number, cached in enumerate(values):
            if isinstance(cached, np.ndarray) and cached.size == size:
                curves[str(number)] = [_numbers(cached[order], CURVE_DIGITS)]
    return {
        "mode": "still",
        "nodes": _node_entries(graph),
        "steps": [0],
        "total": 0,
        "x": x,
        "xRange": None,
        "value": [[None if value is None else _number(np.mean(value))] for value in values],
        "batch": [isinstance(value, np.ndarray) and value.size > 1 for value in values],
        "grad": [[_gradient_number(node.grad)] for node in graph.nodes],
        "curves": curves,
        "losses": None,
        "panels": None,
        "note": "Values and grads cached on the graph now; a batch node shows its mean over the batch "
        "and its grad as the mean of the samples' own gradients.",
    }


def recorded_data(graph: Graph, recorder: TrainingRecorder, panels: Panels) -> dict[str, Any]:
    """The page data of a playing explorer: every recorded snapshot of ``recorder``,
    completed (values of nodes the recorder did not keep, and grads) by replaying each
    snapshot's parameters on a copy of the graph."""
    if recorder.input not in set(graph.nodes):
        raise ValueError(
            f"the recorder's input {recorder.input.name!r} is not in this graph: explore the graph it recorded"
        )
    snapshots = recorder.snapshots
    grid = np.asarray(recorder.grid, dtype=float)
    keys = recorder.graph.node_keys()
    recorded = set(snapshots[0].outputs)
    index = {node: number for number, node in enumerate(graph.nodes)}
    chart = _chart(panels, {key: index[node] for node, key in keys.items() if node in index}, grid)
    for number in chart["hidden"] + chart["weighted"]:
        if keys.get(graph.nodes[number]) not in recorded:
            raise KeyError(f"node {graph.nodes[number].name!r} has no recorded output over the grid")
    mask = np.ones(grid.shape, dtype=bool)
    if panels.train_range is not None:
        inside = (grid >= panels.train_range[0]) & (grid <= panels.train_range[1])
        mask = inside if inside.any() else mask
    curves: dict[int, np.ndarray] = {}
    for number, node in enumerate(graph.nodes):
        key = keys.get(node)
        if key is not None and key in recorded and node_role(node) != "parameter":
            curves[number] = recorder.series(key)
    replayed_curves, grads, replay_note = _replay(graph, recorder, panels, mask)
    for number, series in replayed_curves.items():
        curves.setdefault(number, series)
    value: list[list[float | None]] = []
    for number, node in enumerate(graph.nodes):
        key = keys.get(node)
        if number in curves:
            value.append(_numbers(curves[number][:, mask].mean(axis=1), NUMBER_DIGITS))
        elif key is not None and key in snapshots[0].parameters:
            value.append([_number(snapshot.parameters[key]) for snapshot in snapshots])
        elif node_role(node) == "constant" and (constant := node.cached_value) is not None:
            value.append([_number(np.mean(constant))] * len(snapshots))
        else:  # neither recorded nor replayed: unknown at the recorded steps
            value.append([None] * len(snapshots))
    low, high = (float(grid[mask][0]), float(grid[mask][-1]))
    average = f"mean over {recorder.input.name} in [{low:g}, {high:g}]"
    return {
        "mode": "recorded",
        "nodes": _node_entries(graph),
        "steps": [int(snapshot.step) for snapshot in snapshots],
        "total": int(recorder.total_steps or snapshots[-1].step),
        "x": {"label": recorder.input.name, "values": _numbers(grid, NUMBER_DIGITS)},
        "xRange": list(panels.train_range) if panels.train_range is not None else None,
        "value": value,
        "batch": [number in curves for number in range(len(graph.nodes))],
        "grad": grads,
        "curves": {str(number): [_numbers(row, CURVE_DIGITS) for row in series] for number, series in curves.items()},
        "losses": _numbers(recorder.losses, NUMBER_DIGITS),
        "panels": {**chart, "lossWindow": panels.loss_window or round_window(len(recorder.losses))},
        "note": f"Node values: {average}. " + replay_note,
    }


def _chart(panels: Panels, by_key: dict[str, int], grid: np.ndarray) -> dict[str, Any]:
    """The charts' settings with node names turned into node indices."""

    def lookup(name: str) -> int:
        if name not in by_key:
            raise KeyError(f"node {name!r} was not recorded (recorded: {', '.join(sorted(by_key))})")
        return by_key[name]

    return {
        "hidden": [lookup(name) for name in panels.hidden],
        "weighted": [lookup(name) for name in panels.weighted],
        "output": lookup(panels.output) if panels.output is not None else None,
        "kinks": [[lookup(weight), lookup(bias)] for weight, bias in panels.kinks],
        "target": _numbers(panels.target(grid), CURVE_DIGITS) if panels.target is not None else None,
        "targetLabel": panels.target_label,
        "lossWindow": panels.loss_window,
    }


def _grid_feeds(graph: Graph, recorder: TrainingRecorder, panels: Panels) -> dict[Node, np.ndarray] | str:
    """The values over the recorder's grid of every data input of ``graph``: the grid for
    the recorder's input, the recorder's ``feeds`` (e.g. the label), else ``panels.target``
    of the grid for the one input left; inputs holding a single number keep it. A text
    saying why when some input has no value for the grid."""
    grid = np.asarray(recorder.grid, dtype=float)
    fed: dict[Node, np.ndarray] = {recorder.input: grid}
    for variable, values in dict(getattr(recorder, "feeds", None) or {}).items():
        fed[variable] = np.asarray(values, dtype=float)
    others = [node for node in graph.inputs() if node not in fed]
    if panels.target is not None and len(others) == 1:
        fed[others[0]] = np.asarray(panels.target(grid), dtype=float)
        others = []
    for node in others:
        value = node.cached_value
        if value is None or np.size(value) > 1:
            return f"Grads are not shown: the input {node.name!r} has no value for the grid."
    return {variable: values for variable, values in fed.items() if variable in set(graph.nodes)}


def _replay(
    graph: Graph, recorder: TrainingRecorder, panels: Panels, mask: np.ndarray
) -> tuple[dict[int, np.ndarray], list[list[float | None]], str]:
    """Evaluate a copy of ``graph`` at every snapshot's parameters: its nodes over the
    grid, and grads of its sink's mean over the grid's ``mask`` part. The user's graph
    is never touched. Returns (curves by node index, grads per node and frame, a note)."""
    from graphdl.graph_io import graph_from_dict, graph_to_dict

    frames = len(recorder.snapshots)
    no_grads: list[list[float | None]] = [[None] * frames for _ in graph.nodes]
    index = {node: number for number, node in enumerate(graph.nodes)}
    if recorder.input not in index:
        return {}, no_grads, "Grads are not shown: the recorder's input is not in this graph."
    fed = _grid_feeds(graph, recorder, panels)
    if isinstance(fed, str):
        return {}, no_grads, fed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copy = Graph(*graph_from_dict(graph_to_dict(list(graph.outputs), values=True)).outputs)
    except (ValueError, TypeError) as error:
        return {}, no_grads, f"Grads are not shown: the graph could not be copied ({error})."
    if [node.kind for node in copy.nodes] != [node.kind for node in graph.nodes]:
        return {}, no_grads, "Grads are not shown: the graph's copy differs from it."
    twin: dict[Node, Any] = {node: copy.nodes[number] for node, number in index.items()}  # Variables stay Variables
    keys = recorder.graph.node_keys()
    grid, part = np.asarray(recorder.grid, dtype=float), np.asarray(recorder.grid, dtype=float)[mask]
    sinks = [node for node in copy.nodes if not node.children]
    curves: dict[int, list[np.ndarray]] = {number: [] for number in range(len(graph.nodes))}
    grads: list[list[float | None]] = [[] for _ in graph.nodes]

    def feed(where: np.ndarray | slice) -> None:
        for variable, values in fed.items():
            twin[variable].set_value(values[where])

    for snapshot in recorder.snapshots:
        for parameter in graph.parameters():
            key = keys.get(parameter)
            if key is not None and key in snapshot.parameters:
                twin[parameter].set_value(snapshot.parameters[key])
        feed(slice(None))
        for sink in sinks:
            sink.forward()
        for node, number in index.items():
            curves[number].append(np.broadcast_to(np.asarray(twin[node].value, dtype=float), grid.shape))
        feed(mask)
        if len(sinks) == 1:
            sinks[0].backward()
        for node, number in index.items():
            grads[number].append(_gradient_number(twin[node].grad) if len(sinks) == 1 else None)
    flat = {"parameter", "constant"}
    series = {number: np.stack(rows) for number, rows in curves.items() if node_role(graph.nodes[number]) not in flat}
    target = "the sink" if len(sinks) != 1 else repr(sinks[0].name)
    low, high = float(part[0]), float(part[-1])
    recorded_feeds = dict(getattr(recorder, "feeds", None) or {})
    sources = [
        f"{variable.name} as recorded" if variable in recorded_feeds else f"{variable.name} from {panels.target_label}"
        for variable in fed
        if variable is not recorder.input
    ]
    labels = f" ({', '.join(sources)})" if sources else ""
    note = (
        f"Grads: of the mean of {target} over {recorder.input.name} in [{low:g}, {high:g}]{labels}, "
        "at each step's parameters; a batch node's grad is the mean of the samples' own gradients."
        if len(sinks) == 1
        else "Grads are not shown: the graph has several sinks."
    )
    return series, grads, note
