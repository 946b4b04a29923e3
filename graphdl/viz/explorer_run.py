"""The explorer page's data for a :class:`~graphdl.train.Trainer` run recorded by a
:class:`~graphdl.viz.run_recorder.RunRecorder`: the graph's node values and gradients at
every recorded epoch (replayed on a copy of the graph from the kept parameter values,
over the recorder's training data), the Backprop sweep of its first sample, the loss and
metric curves, each layer's gradient norm and the decision boundary."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.explorer_data import _gradient_number, _no_sweep, _number, _numbers, node_entries
from graphdl.viz.explorer_sweep import GraphCopy, gradient_entries, one_sample, sweep_frame
from graphdl.viz.run_recorder import LOG_KEYS, RunRecorder

#: Training samples the page's node values and gradients are evaluated on (evenly spread).
REPLAY_SAMPLES = 2000
#: Step losses kept for the page (evenly spread).
STEP_LOSSES = 2000


def check_run_recorder(recorder: RunRecorder) -> None:
    """A clear error for a recorder that has not seen a ``fit``."""
    if not recorder.frames:
        raise ValueError("the RunRecorder has no frames: pass it to Trainer.fit(..., callbacks=[recorder]) first")


def run_data(graph: Graph, recorder: RunRecorder) -> dict[str, Any]:
    """The page data of a Trainer run (see the module docstring)."""
    check_run_recorder(recorder)
    frames = recorder.frames
    members = set(graph.nodes)
    trainer = recorder.trainer
    value, grads, note, sweep = _replay(graph, recorder)
    state_index = {node: number for number, node in enumerate(graph.nodes)}
    for variable in recorder.state_variables:
        number = state_index.get(variable)
        if number is not None and all(entry is None for entry in value[number]):
            value[number] = [_number(frame.state[variable]) for frame in frames]
    logs = {key: [_maybe(frame.logs.get(key)) for frame in frames] for key in LOG_KEYS}
    stride = max(1, -(-len(recorder.step_losses) // STEP_LOSSES))
    layers = list(recorder.layers)
    run = {
        "metric": recorder.metric_name,
        "logs": logs,
        "stepLosses": _numbers(recorder.step_losses[::stride], 6),
        "stepStride": stride,
        "layers": layers,
        "gradNorms": [[_maybe(frame.grad_norms.get(layer)) for frame in frames] for layer in layers],
        "boundary": _boundary(recorder),
        "inputs": [node.name for node in trainer.inputs],
    }
    graph_note = "" if trainer.loss in members else f" (the graph is not the trainer's loss {trainer.loss.name!r})"
    return {
        "mode": "run",
        "unit": "epoch",
        "nodes": node_entries(graph),
        "steps": [frame.epoch for frame in frames],
        "total": frames[-1].epoch,
        "x": None,
        "xRange": None,
        "value": value,
        "batch": [False] * len(graph.nodes),
        "grad": grads,
        "curves": {},
        "losses": None,
        "panels": None,
        "note": note + graph_note,
        "sweep": sweep,
        "run": run,
    }


def _maybe(number: Any) -> float | None:
    return None if number is None else _number(number)


def _replay(graph: Graph, recorder: RunRecorder) -> tuple[list[list[Any]], list[list[Any]], str, dict[str, Any]]:
    """Node values (means over the training data) and gradients of the copy's sink's mean
    at every frame's state, and the Backprop sweep of the first training sample."""
    count = len(recorder.frames)
    empty: list[list[Any]] = [[None] * count for _ in graph.nodes]
    trainer = recorder.trainer
    if recorder.X is None or recorder.y is None:
        reason = "pass train=(X, y) to the RunRecorder for node values, gradients and Backprop"
        return empty, [row[:] for row in empty], f"Only parameter values are shown: {reason}.", _no_sweep(reason)
    try:
        copy = GraphCopy(graph)
    except ValueError as error:
        return empty, [row[:] for row in empty], f"Only parameter values are shown: {error}.", _no_sweep(str(error))
    stride = max(1, -(-len(recorder.X) // REPLAY_SAMPLES))
    labels = np.reshape(recorder.y, (len(recorder.y), -1))
    feeds: dict[Node, np.ndarray] = {}
    for column, variable in enumerate(trainer.inputs):
        feeds[variable] = np.ascontiguousarray(recorder.X[::stride, column])
    for column, variable in enumerate(trainer.labels):
        feeds[variable] = np.ascontiguousarray(labels[::stride, column])
    feeds = {variable: values for variable, values in feeds.items() if variable in copy.twin}
    for mask in getattr(trainer, "_masks", []):  # dropout off, as when evaluating
        if mask in copy.twin:
            copy.twin[mask].set_value(1.0)
    value: list[list[Any]] = [[] for _ in graph.nodes]
    grads: list[list[Any]] = [[] for _ in graph.nodes]
    frames = []
    single = len(copy.sinks) == 1
    sample = ""
    for frame in recorder.frames:
        for variable, number in frame.state.items():
            if variable in copy.twin:
                copy.twin[variable].set_value(number)
        for variable, values in feeds.items():
            copy.twin[variable].set_value(values)
        for sink in copy.sinks:
            sink.forward()
        if single:
            copy.sinks[0].backward()
        for number, node in enumerate(graph.nodes):
            twin = copy.twin[node]
            cached = twin.cached_value
            value[number].append(None if cached is None else _number(np.mean(cached)))
            grads[number].append(_gradient_number(twin.grad) if single else None)
        if single:
            sample = one_sample(copy, feeds)
            frames.append(sweep_frame(copy))
    samples = len(next(iter(feeds.values()))) if feeds else 0
    note = (
        f"Node values: the mean over {samples} training samples; grads: of the mean of {copy.sinks[0].name!r} over "
        "them (a batch node's: the mean of the samples' own gradients), at each epoch's parameters."
        if single
        else f"Node values: the mean over {samples} training samples; grads are not shown: the graph has several sinks."
    )
    sweep = (
        {
            "frames": frames,
            "note": f"The reverse sweep of the first training sample, {sample}, at each epoch's parameters.",
            "gradient": gradient_entries(copy, graph),
        }
        if single
        else _no_sweep("the graph has several sinks")
    )
    return value, grads, note, sweep


def _boundary(recorder: RunRecorder) -> dict[str, Any] | None:
    """The decision boundary chart's data: the output's side of the classification
    threshold at every grid point and frame, as whole numbers from −100 to 100 (±100 at
    or beyond the 90th percentile of the distance to the threshold)."""
    if recorder.grid is None or any(frame.boundary is None for frame in recorder.frames):
        return None
    threshold = float(recorder.trainer.threshold)
    outputs = np.stack([frame.boundary for frame in recorder.frames]) - threshold  # type: ignore[misc]
    finite = np.abs(outputs[np.isfinite(outputs)])
    scale = float(np.percentile(finite, 90)) if finite.size else 1.0
    levels = np.rint(np.clip(np.nan_to_num(outputs / max(scale, 1e-12)), -1, 1) * 100).astype(int)
    xs, ys = recorder.grid
    points = recorder.points()
    return {
        "x": [float(xs[0]), float(xs[-1])],
        "y": [float(ys[0]), float(ys[-1])],
        "size": len(xs),
        "frames": levels.tolist(),
        "points": [] if points is None else [[_number(a), _number(b), _number(c)] for a, b, c in points],
        "threshold": threshold,
    }
