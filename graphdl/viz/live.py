"""``LiveView``: the explorer's graph in a notebook, redrawn while training runs.

A :class:`LiveView` is an `anywidget <https://anywidget.dev>`_ widget (JupyterLab,
Notebook 7, VS Code, marimo; install with ``pip install graphdl[notebook]``) and a
training callback at once:

* as a :class:`~graphdl.train.Trainer` callback (``fit(..., callbacks=[view])``) it shows
  each node's value and grad as the step left them on the graph, and the loss so far;
* as a plain ``callback(step, loss)`` (e.g. :func:`graphdl.tutorial_net.train_per_sample`),
  call :meth:`LiveView.start` before training and :meth:`LiveView.finish` after;
* given a :class:`~graphdl.viz.recorder.TrainingRecorder`, the view drives it (pass the
  view as the callback, not the recorder too) and shows every node at each snapshot,
  completed by the explorer's replay (values over the recorder's grid, and grads).

Updates are throttled (:class:`Throttle`): at most ``max_rate`` per second and only after
training has run ``1 / budget`` times as long as the last update took (``budget`` 0.05: an
update that took 2 ms waits for 40 ms of training). The updates then take at most 5 % of
the training time, leaving as much again for what the throttle cannot time (the kernel
sending the messages on its I/O thread): the aim is training at most 10 % slower, which
``benchmarks/live_view.py`` measures in a real kernel.
When training ends the widget's slider scrubs every frame of the run.

The frame data come from the explorer's own functions
(:func:`~graphdl.viz.explorer_data.current_numbers`, :func:`~graphdl.viz.explorer_data.recorded_data`,
:func:`~graphdl.viz.explorer_svg.graph_svg`); the widget's script and style are the files
``graphdl/viz/static/live.js`` and ``live.css``: nothing is fetched from the network.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.dot import as_graph
from graphdl.viz.explorer_data import Panels, current_numbers, node_entries, recorded_data
from graphdl.viz.explorer_svg import graph_svg
from graphdl.viz.recorder import TrainingRecorder

__all__ = ["INSTALL_HINT", "LiveView", "Throttle"]

INSTALL_HINT = "graphdl.viz.LiveView needs anywidget: pip install graphdl[notebook]"

Frame = dict[str, Any]


class Throttle:
    """Decides when a live view may update: at most ``max_rate`` times per second, and
    only after training has run ``1 / budget`` times as long as the last update took, so
    updates add at most ``budget`` to the training time (0.05: 5 %).

    ``clock`` is any monotonic clock in seconds (tests pass a fake one)."""

    def __init__(
        self, max_rate: float = 10.0, budget: float = 0.05, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if not max_rate > 0:
            raise ValueError(f"max_rate must be positive, got {max_rate!r}")
        if not 0 < budget <= 1:
            raise ValueError(f"budget must be in (0, 1], got {budget!r}")
        self.min_interval = 1.0 / max_rate
        self.budget = budget
        self.clock = clock
        self.last_start: float | None = None
        self.last_end: float | None = None
        self.updates = 0
        self.time_spent = 0.0

    def due(self) -> bool:
        """Whether an update may run now."""
        if self.last_start is None or self.last_end is None:
            return True
        now = self.clock()
        cost = self.last_end - self.last_start
        return now - self.last_start >= self.min_interval and now - self.last_end >= cost / self.budget

    def run(self, update: Callable[[], Any]) -> None:
        """Run ``update`` and note when and how long (the next :meth:`due` depends on it)."""
        start = self.clock()
        try:
            update()
        finally:
            end = self.clock()
            self.last_start, self.last_end = start, end
            self.updates += 1
            self.time_spent += end - start


def _number(value: Any) -> float | None:
    number = float(value) if isinstance(value, float) else float(np.mean(value))  # called at every step
    return number if math.isfinite(number) else None


def _holds_the_step(loss_node: Node, loss: Any) -> bool:
    """Whether ``loss_node`` holds the values of the step whose loss was ``loss``."""
    cached = loss_node.cached_value
    return cached is not None and math.isclose(float(np.mean(cached)), float(np.mean(loss)), rel_tol=1e-9)


def _static(name: str) -> str:
    return resources.files("graphdl.viz").joinpath("static").joinpath(name).read_text(encoding="utf-8")


class _LiveState:
    """The view's Python side: the graph, the frames and losses so far, the throttle, and
    the recorder it drives (if any). Knows nothing of widgets."""

    def __init__(self, graph: Graph, recorder: TrainingRecorder | None, throttle: Throttle) -> None:
        if recorder is not None:
            if not isinstance(recorder, TrainingRecorder):
                raise TypeError(f"recorder must be a TrainingRecorder, got {type(recorder).__name__}")
            if recorder.input not in set(graph.nodes):
                raise ValueError(
                    f"the recorder's input {recorder.input.name!r} is not in this graph: show the graph it records"
                )
        self.graph = graph
        self.recorder = recorder
        self.throttle = throttle
        self.frames: list[Frame] = []
        self.losses: list[float | None] = []
        self.sent_losses = 0  # losses already sent to the widget
        self.sequence = 0  # updates sent (the widget ignores one it has already seen)
        self.shown_snapshots = 0  # recorder snapshots already turned into frames
        self.panels: Panels | None = None
        self.running = False
        self.done_steps = 0  # training steps seen (the step count frames are labelled with)
        # (the Trainer's loss node, the step's loss): the operators' cached values are the
        # step's only when the loss node holds that loss. A compiled step leaves on them what
        # the last evaluation (say of the dev set) computed.
        self.step_check: tuple[Node, Any] | None = None

    # ------------------------------------------------------------------ frames
    def current_frame(self, step: int) -> Frame:
        """The values and grads cached on the graph now (as the explorer's still page shows
        them); operators' only when they are the step's (see :attr:`step_check`)."""
        values, grads = current_numbers(self.graph)
        if self.step_check is not None and not _holds_the_step(*self.step_check):
            for number, node in enumerate(self.graph.nodes):
                if node.parents:
                    values[number] = grads[number] = None
        return {"step": step, "value": values, "grad": grads}

    def snapshot_frames(self) -> list[Frame]:
        """Frames for the recorder's snapshots not shown yet (the explorer's replay of them)."""
        recorder = self.recorder
        assert recorder is not None
        new = recorder.snapshots[self.shown_snapshots :]
        if not new:
            return []
        if self.panels is None:
            self.panels = Panels.for_recorder(recorder)
        part = copy.copy(recorder)  # the same recorder, holding only the new snapshots
        part.snapshots = list(new)
        part.losses = []  # the view keeps its own; the page's loss chart is not needed here
        data = recorded_data(self.graph, part, self.panels)
        self.shown_snapshots += len(new)
        return [
            {
                "step": data["steps"][k],
                "value": [row[k] for row in data["value"]],
                "grad": [row[k] for row in data["grad"]],
            }
            for k in range(len(new))
        ]

    def new_frames(self, step: int) -> list[Frame]:
        """The frames an update adds: the recorder's new snapshots, else the graph now."""
        frames = self.snapshot_frames() if self.recorder is not None else [self.current_frame(step)]
        if frames and self.frames and frames[0]["step"] == self.frames[-1]["step"]:
            self.frames.pop()  # the same step again (e.g. the final one): the newer values replace it
        self.frames.extend(frames)
        return frames

    def take_losses(self) -> tuple[int, list[float | None]]:
        start = self.sent_losses
        self.sent_losses = len(self.losses)
        return start, self.losses[start:]

    # ------------------------------------------------------------------ training
    def begin(self, done_steps: int, *, before_training: bool) -> None:
        """Start (or continue) a run after ``done_steps`` steps. ``before_training``: the
        graph is at its starting point (a recorder without snapshots records it)."""
        self.done_steps = done_steps
        self._pad_losses(done_steps)
        self.running = True
        if before_training and self.recorder is not None and not self.recorder.snapshots:
            self.recorder.start()

    def _pad_losses(self, steps: int) -> None:
        """Steps the view did not see (trained before it was attached) have no loss: the
        loss of step ``k`` (1-based) stays ``losses[k - 1]``."""
        if len(self.losses) < steps:
            self.losses.extend([None] * (steps - len(self.losses)))

    def step(self, step: int, loss: Any) -> None:
        """Note 0-based ``step`` and its loss (and let the recorder record it)."""
        self._pad_losses(step)
        self.losses.append(None if loss is None else _number(loss))
        self.done_steps = step + 1
        if self.recorder is not None:
            self.recorder.record_step(step, loss)

    def end(self) -> None:
        if self.recorder is not None:
            self.recorder.finish()
        self.running = False


if TYPE_CHECKING:
    _WidgetBase = Any
else:
    try:
        import anywidget
        import traitlets
    except ImportError:  # graphdl.viz works without it; only LiveView(...) needs it

        class _WidgetBase:
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise ImportError(INSTALL_HINT)

    else:

        class _WidgetBase(anywidget.AnyWidget):
            _esm = _static("live.js")
            _css = _static("live.css")
            title = traitlets.Unicode("").tag(sync=True)
            svg = traitlets.Unicode("").tag(sync=True)
            nodes = traitlets.List().tag(sync=True)
            note = traitlets.Unicode("").tag(sync=True)
            history = traitlets.Dict().tag(sync=True)
            live = traitlets.Dict().tag(sync=True)


class LiveView(_WidgetBase):
    """The explorer's graph as a notebook widget that follows training live.

    ``LiveView(node_or_graph)`` shows the graph (Graphviz's layout when ``dot`` is
    installed) with every node's value and grad. Pass the view as a training callback;
    ``recorder`` (a :class:`~graphdl.viz.recorder.TrainingRecorder` of this graph) makes
    each frame a recorder snapshot with every node's value and grad. ``max_rate`` caps
    the updates per second and ``budget`` the time they may take, as a share of the
    training time (0.05: 5 %; sending them costs about as much again).

    Raises ImportError (naming ``pip install graphdl[notebook]``) without anywidget.
    """

    def __init__(
        self,
        node_or_graph: Node | Graph,
        recorder: TrainingRecorder | None = None,
        *,
        max_rate: float = 10.0,
        budget: float = 0.05,
        title: str | None = None,
    ) -> None:
        super().__init__()  # first: the ImportError without anywidget
        from graphdl.viz.render import dot_available

        graph = as_graph(node_or_graph)
        self._state = _LiveState(graph, recorder, Throttle(max_rate, budget))
        names = ", ".join(node.name for node in graph.outputs)
        with self.hold_sync():
            self.title = title or f"graphdl live: {names}"
            self.nodes = node_entries(graph)
            self.svg = graph_svg(graph, use_dot=dot_available())
            self._publish_history()
        self.note = (
            "Frames are the recorder's snapshots: node values are means over its grid, grads those of the replay."
            if recorder is not None
            else "Each frame: the values and grads the training step left on the graph "
            "(a batch node shows its mean). A compiled step keeps only the parameters' (operators "
            "show —); Trainer(..., compile=False) keeps every node's."
        )

    # ------------------------------------------------------------------ reading
    @property
    def graph(self) -> Graph:
        """The graph shown."""
        return self._state.graph

    @property
    def frames(self) -> list[Frame]:
        """Every frame so far: ``{"step", "value", "grad"}`` with one value and grad per node
        (in ``graph.nodes`` order, None where unknown)."""
        return self._state.frames

    @property
    def losses(self) -> list[float | None]:
        """The loss of every step seen (None where not finite)."""
        return self._state.losses

    @property
    def throttle(self) -> Throttle:
        """The throttle (its ``updates`` and ``time_spent`` say what the view cost)."""
        return self._state.throttle

    # ------------------------------------------------------------------ callback protocol
    def start(self, done_steps: int = 0) -> None:
        """Show the starting point, before the first step (:meth:`on_fit_start` calls it)."""
        self._state.begin(done_steps, before_training=True)
        self.update(done_steps)

    def on_fit_start(self, trainer: Any) -> None:
        """Trainer hook: show the starting point."""
        self._state.step_check = None
        self.start(int(getattr(trainer, "global_step", 0)))

    def on_step(self, trainer: Any, step: int, loss: Any) -> None:
        """Trainer hook: note the loss; update the widget when the throttle allows."""
        self._state.step_check = (trainer.loss, loss)
        self._step(step, loss)

    def on_fit_end(self, trainer: Any, history: Any = None) -> None:
        """Trainer hook: the last frame, then the whole run for the slider."""
        self.finish()

    def __call__(self, step: int, loss: Any = None, *args: Any, **kwargs: Any) -> None:
        """Plain ``callback(step, loss)`` with 0-based ``step``: call :meth:`start` before
        training (else the view begins after the first step) and :meth:`finish` after."""
        if not self._state.running:
            self._state.begin(step, before_training=False)
        self._step(step, loss)

    def _step(self, step: int, loss: Any) -> None:
        state = self._state
        state.step(step, loss)
        if state.throttle.due():
            state.throttle.run(lambda: self._push(step + 1))

    def update(self, step: int | None = None) -> None:
        """Send a frame of the graph now (no throttling); ``step`` defaults to the steps seen."""
        self._state.throttle.run(lambda: self._push(self._state.done_steps if step is None else step))

    def finish(self) -> None:
        """Training is over: the last frame, then every frame for the slider to scrub."""
        state = self._state
        state.end()
        with self.hold_sync():
            self._push(state.done_steps)
            self._publish_history()

    # ------------------------------------------------------------------ to the widget
    def _push(self, step: int) -> None:
        frames = self._state.new_frames(step)
        start, losses = self._state.take_losses()
        self._state.sequence += 1
        self.live = {"seq": self._state.sequence, "frames": frames, "lossFrom": start, "losses": losses}

    def _publish_history(self) -> None:
        state = self._state
        state.take_losses()
        self.history = {
            "seq": state.sequence,
            "frames": state.frames,
            "losses": state.losses,
            "running": state.running,
        }
