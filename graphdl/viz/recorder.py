"""``TrainingRecorder``: snapshots of a network's nodes over an input grid while it trains.

Record first, replay after: the recorder is a training callback; the animator only
reads what it stored, so no training happens inside an animation callback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node, Variable


@dataclass(frozen=True)
class Snapshot:
    """The state of the network after ``step`` training steps.

    ``outputs`` maps node names to their values over the recorder's grid (one batch
    forward pass); ``parameters`` maps parameter names to their values; ``loss`` is the
    training loss of the last step (None before training)."""

    step: int
    outputs: dict[str, np.ndarray]
    parameters: dict[str, float]
    loss: float | None


class TrainingRecorder:
    """Every ``every`` steps, evaluate ``output`` (and everything upstream) for all of
    ``grid`` in one batch forward pass and keep a :class:`Snapshot`.

    ``feeds`` gives other data inputs their values over the grid (an array, or a function
    of the grid), e.g. ``{label: np.square}`` to record the loss node itself.
    What it keeps per snapshot is small and fixed: each node's values over the grid
    (``len(grid)`` floats) and each parameter's value; per step only the loss.

    Use it as the callback of a training loop that calls it *between* steps (after the
    step's ``clear()``), e.g. ``train_per_sample(net, xs, ys, callback=recorder)``, or
    call :meth:`record_step` from any trainer. The input's value is restored after each
    snapshot and the next ``set_value`` starts a new point, so training results are
    exactly the same with and without a recorder.
    """

    def __init__(
        self,
        input: Variable,
        output: Node,
        grid: Sequence[float] | np.ndarray,
        *,
        every: int = 20,
        total_steps: int | None = None,
        feeds: Mapping[Variable, np.ndarray | Callable[[np.ndarray], np.ndarray]] | None = None,
    ) -> None:
        if not isinstance(input, Variable):
            raise TypeError(f"input must be a Variable, got {type(input).__name__}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.input = input
        self.output = output
        self.grid = np.asarray(grid, dtype=float)
        if self.grid.ndim != 1 or self.grid.size < 2:
            raise ValueError("grid must be a 1-D array of at least two input values")
        self.every = int(every)
        self.total_steps = total_steps
        graph = Graph(output)
        if input not in graph:
            raise ValueError(f"{output.kind} {output.name!r} does not depend on the input {input.name!r}")
        self.graph = graph
        self.feeds: dict[Variable, np.ndarray] = {}
        for variable, values in (feeds or {}).items():
            if not isinstance(variable, Variable) or variable not in graph:
                raise ValueError(f"feeds: {getattr(variable, 'name', variable)!r} is not a Variable of the graph")
            fed = np.asarray(values(self.grid) if callable(values) else values, dtype=float)
            if fed.shape != self.grid.shape:
                raise ValueError(f"feeds: {variable.name!r} needs {self.grid.size} values, one per grid point")
            self.feeds[variable] = fed
        self._keys = graph.node_keys()
        self.parameters = graph.parameters()
        self.snapshots: list[Snapshot] = []
        self.losses: list[float] = []

    @classmethod
    def for_seed_net(
        cls, net: Any, *, every: int = 20, grid: np.ndarray | None = None, total_steps: int | None = None
    ) -> TrainingRecorder:
        """A recorder for :func:`graphdl.tutorial_net.build_seed_net`'s network, over x in [−0.5, 2.5]
        (the tutorial's plotting range), through the loss with the label x² on the grid."""
        grid = np.linspace(-0.5, 2.5, 121) if grid is None else grid
        return cls(net.x, net.loss, grid, every=every, total_steps=total_steps, feeds={net.label: np.square})

    # ------------------------------------------------------------------ recording
    def start(self) -> Snapshot:
        """Snapshot the untrained network (step 0)."""
        return self.snapshot(0)

    def __call__(self, step: int, loss: Any = None, *args: Any, **kwargs: Any) -> None:
        """Training-loop callback ``callback(step, loss)`` with 0-based ``step``."""
        self.record_step(step, loss)

    def record_step(self, step: int, loss: Any = None) -> None:
        """Note the loss of 0-based ``step`` and take a snapshot every ``every`` steps."""
        if loss is not None:
            self.losses.append(float(np.mean(loss)))
        done = step + 1
        if done % self.every == 0:
            self.snapshot(done)

    def finish(self) -> None:
        """Snapshot the final state unless the last step was already recorded."""
        done = len(self.losses)
        if not self.snapshots or self.snapshots[-1].step != done:
            self.snapshot(done)

    def snapshot(self, step: int) -> Snapshot:
        """Evaluate every node upstream of the output over the grid now and store it."""
        inputs = {self.input: self.grid, **self.feeds}
        saved = {variable: variable.cached_value for variable in inputs}
        try:
            for variable, values in inputs.items():
                variable.set_value(values)
            self.output.forward()
            outputs = {
                key: np.array(np.broadcast_to(node.forward(), self.grid.shape), dtype=np.float64)
                for node, key in self._keys.items()
            }
        finally:
            for variable, value in saved.items():
                self._restore(variable, value)
        parameters = {self._keys[p]: float(np.mean(p.forward())) for p in self.parameters}
        snapshot = Snapshot(step, outputs, parameters, self.losses[-1] if self.losses else None)
        self.snapshots.append(snapshot)
        return snapshot

    @staticmethod
    def _restore(variable: Variable, saved: Any) -> None:
        if saved is not None:
            variable.set_value(saved)
        else:  # it had no value: leave it unset, with nothing computed from the grid behind
            variable.unset()

    # -------------------------------------------------------------------- reading
    def series(self, name: str) -> np.ndarray:
        """``name``'s grid values in every snapshot, shape (snapshots, grid points)."""
        return np.stack([snapshot.outputs[name] for snapshot in self.snapshots])

    def __len__(self) -> int:
        return len(self.snapshots)
