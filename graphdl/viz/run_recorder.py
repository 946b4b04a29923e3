"""``RunRecorder``: what the explorer page of a :class:`~graphdl.train.Trainer` run shows,
recorded while it trains.

It is a Trainer callback: ``trainer.fit(train, dev, epochs=30, callbacks=[recorder])``,
then ``graphdl.viz.explore(trainer.loss, "run.html", recorder)``. Before the first epoch
and after every ``every`` epochs it keeps a :class:`RunFrame`: every Variable's value
that is not data (parameters and buffers such as BatchNorm's running statistics), the
epoch's logs (losses, metrics), the mean over the epoch's steps of each layer's gradient
norm, and, for a model with two inputs and one output, its output over a grid spanning
the training data (the decision boundary). Node values and gradients at each frame are
replayed from the kept values on a copy of the graph when the page is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node, Variable
from graphdl.viz.style import cluster_of

#: The per-epoch records a frame keeps (History's names).
LOG_KEYS = ("train_loss", "dev_loss", "train_metric", "dev_metric")
#: Points per side of the decision-boundary grid.
BOUNDARY_SIZE = 48


@dataclass(frozen=True)
class RunFrame:
    """The run after ``epoch`` epochs (0: before training): ``state`` maps each non-data
    Variable to its value, ``logs`` the epoch's ``train_loss``/``dev_loss``/metrics (empty
    at 0), ``grad_norms`` each layer's gradient norm averaged over the epoch's steps, and
    ``boundary`` the model's output over the boundary grid (None without one)."""

    epoch: int
    state: dict[Variable, float]
    logs: dict[str, float]
    grad_norms: dict[str, float]
    boundary: np.ndarray | None


def layer_of(node: Node) -> str:
    """The layer a parameter belongs to: the prefix of ``prefix.rest`` names (``fc1``),
    else the name itself."""
    return cluster_of(node.name, ".") or node.name


class RunRecorder:
    """Records a Trainer run for :func:`graphdl.viz.explore` (see the module docstring).

    ``train``: the (X, y) the model trains on (callbacks do not see ``fit``'s data). The
    decision boundary spans it and shows its points, and the page evaluates node values,
    gradients and the Backprop sweep (of its first sample) on it. Without it the page has
    the curves, the gradient norms and the parameters' values. ``every``: epochs between
    frames; ``max_points``: training points drawn over the boundary.
    """

    def __init__(self, train: tuple[Any, Any] | None = None, *, every: int = 1, max_points: int = 400) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a whole number of at least 1, got {every!r}")
        self.every = every
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None
        if train is not None:
            try:
                X, y = train
            except (TypeError, ValueError):
                raise TypeError("train must be a pair (X, y)") from None
            self.X = np.asarray(X, dtype=float)
            self.y = np.asarray(y, dtype=float)
            if self.X.ndim == 1:
                self.X = self.X.reshape(-1, 1)
            if len(self.X) != len(self.y) or len(self.X) == 0:
                raise ValueError(f"train: X has {len(self.X)} samples but y has {len(self.y)}")
        self.max_points = max_points
        self.trainer: Any = None
        self.graph: Graph | None = None  # the trainer's loss graph, from the fit's start
        self.state_variables: list[Variable] = []
        self.layers: dict[str, list[Variable]] = {}
        self.frames: list[RunFrame] = []
        self.step_losses: list[float] = []
        self.metric_name: str | None = None
        self.grid: tuple[np.ndarray, np.ndarray] | None = None
        self._norm_sums: dict[str, float] = {}
        self._norm_steps = 0

    # ------------------------------------------------------------------ callbacks
    def on_fit_start(self, trainer: Any) -> None:
        """Note the trainer, its graph and layers; keep the frame before training."""
        self.trainer = trainer
        self.graph = Graph(trainer.loss)
        self.metric_name = trainer.metric_name
        fed = {*trainer.inputs, *trainer.labels, *getattr(trainer, "_masks", [])}
        self.state_variables = [node for node in self.graph.nodes if isinstance(node, Variable) and node not in fed]
        self.layers = {}
        for parameter in self.graph.parameters():
            self.layers.setdefault(layer_of(parameter), []).append(parameter)
        if self.X is not None and self.X.shape[1] != len(trainer.inputs):
            raise ValueError(f"train: X has {self.X.shape[1]} columns but the model has {len(trainer.inputs)} inputs")
        if self.X is not None and len(trainer.inputs) == 2 and len(trainer.outputs) == 1:
            low, high = self.X.min(axis=0), self.X.max(axis=0)
            margin = 0.1 * np.maximum(high - low, 1e-9)
            axes = [np.linspace(low[i] - margin[i], high[i] + margin[i], BOUNDARY_SIZE) for i in range(2)]
            self.grid = (axes[0], axes[1])
        if not self.frames:
            self._keep(0, {})

    def on_step(self, trainer: Any, step: int, loss: float) -> None:
        """Add the step's loss and each layer's gradient norm to the epoch's sums."""
        self.step_losses.append(float(loss))
        for layer, parameters in self.layers.items():
            total = 0.0
            for parameter in parameters:
                grad = parameter.grad
                if grad is not None:
                    total += float(np.sum(np.square(grad)))
            self._norm_sums[layer] = self._norm_sums.get(layer, 0.0) + total**0.5
        self._norm_steps += 1

    def on_epoch(self, trainer: Any, epoch: int, logs: dict[str, float]) -> None:
        """Keep a frame after every ``every`` epochs (epochs count from 1)."""
        if epoch % self.every == 0:
            self._keep(epoch, _last_logs(trainer.history))

    def on_fit_end(self, trainer: Any, history: Any) -> None:
        """Keep the last epoch's frame if ``every`` skipped it."""
        done = len(history.epochs)
        if history.epochs and self.frames[-1].epoch != done:
            self._keep(done, _last_logs(history))

    def _keep(self, epoch: int, logs: dict[str, float]) -> None:
        steps = self._norm_steps
        norms = {layer: total / steps for layer, total in self._norm_sums.items()} if steps else {}
        self._norm_sums, self._norm_steps = {}, 0
        boundary = None
        if self.grid is not None:
            xs, ys = np.meshgrid(*self.grid)
            boundary = np.asarray(self.trainer.predict(np.column_stack([xs.ravel(), ys.ravel()])), dtype=float)
        state = {variable: float(np.mean(variable.forward())) for variable in self.state_variables}
        self.frames.append(RunFrame(epoch, state, logs, norms, boundary))

    # ------------------------------------------------------------------ reading
    def points(self) -> np.ndarray | None:
        """At most ``max_points`` training points (x0, x1, label), evenly spread, for the
        boundary chart."""
        if self.X is None or self.y is None or self.grid is None:
            return None
        stride = max(1, math.ceil(len(self.X) / self.max_points))
        return np.column_stack([self.X[::stride, :2], np.reshape(self.y, (len(self.y), -1))[::stride, 0]])

    def __len__(self) -> int:
        return len(self.frames)


def _last_logs(history: Any) -> dict[str, float]:
    """The last epoch's ``train_loss``, ``dev_loss``, ``train_metric`` and ``dev_metric``
    from a :class:`~graphdl.train.callbacks.History` (those it has)."""
    return {key: float(getattr(history, key)[-1]) for key in LOG_KEYS if getattr(history, key)}
