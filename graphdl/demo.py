"""The main job behind ``graphdl demo``: build the tutorial's network node by node, train
it on y = x² while recording, then write the graph picture, the animation and the loss plot.

Every argument is checked before any work (:func:`check_demo_arguments`); the run's one
loss figure is the mean |y − ŷ| over the last W steps (W round, about a tenth of the run),
the same number in the progress bar, the summary, the animation's last title and the plot.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from graphdl.tutorial_net import build_seed_net, init_rng, quadratic_data, train_per_sample

ANIMATION_FORMATS = ("gif", "mp4", "html")
MAX_STEPS = 1_000_000  # about a minute of per-sample training; the losses stay below 70 MB
GRAPH_SAMPLES = 100_000  # the graph picture is evaluated on at most this many training samples (memory)
MAX_FRAMES = 1000  # more frames are drawn with a larger --every (said in one line)
DEFAULT_FRAMES = 60
FIT_THRESHOLD = 0.15  # the init-sensitivity experiment's "fitted" line for the mean |y − ŷ|
#: steps each named init needed to bring the mean |y − ŷ| over the last 100 steps below 0.15
#: (experiments/init_sensitivity.py, data seed 0) and the --steps to suggest
STEPS_TO_FIT = {"fig8": (818, 1500), "fig7": (9092, 10000)}
OUTPUT_NAMES = ("graph.dot", "graph.png", "graph.svg", "training.{format}", "loss.png")


class DemoInputError(ValueError):
    """A demo argument that cannot work, found before any training or drawing."""


class OutputDirectoryError(OSError):
    """The output folder cannot be created or written."""


@dataclass
class DemoResult:
    """What the demo wrote, how training went and how long each part took (wall seconds in
    ``timings``, CPU seconds of this process in ``cpu_timings``)."""

    files: list[Path] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    loss_window: int = 100
    final_loss: float = float("nan")
    converged: bool = True
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)

    @property
    def loss_name(self) -> str:
        """``mean |y − ŷ| over the last 100 steps``: what :attr:`final_loss` is."""
        from graphdl.viz.loss_stats import loss_figure_name

        return loss_figure_name(self.loss_window)


@dataclass
class DemoPlan:
    """The checked arguments of a demo run."""

    folder: Path
    steps: int
    every: int
    frames: int
    format: str
    notes: list[str]


def frame_count(steps: int, every: int) -> int:
    """Frames of a run: the untrained net, every ``every`` steps, and the end."""
    return 1 + steps // every + (1 if steps % every else 0)


def check_demo_arguments(
    out: str | os.PathLike[str], *, steps: int, seed: int, every: int | None, format: str
) -> DemoPlan:
    """Check everything the demo needs before doing any work; raise
    :class:`DemoInputError` or :class:`OutputDirectoryError` with a one-line reason.
    More than :data:`MAX_FRAMES` frames get a larger ``every`` and a note saying so."""
    from graphdl.viz.encoders import FFMPEG_HINT, ffmpeg_path

    if not str(out).strip():
        raise DemoInputError("--out: expected a folder name, got an empty one")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise DemoInputError(f"--steps: expected a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoInputError(f"--seed: expected a whole number of at least 0, got {seed!r}")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise DemoInputError(f"--every: expected a whole number of at least 1, got {every!r}")
    if format not in ANIMATION_FORMATS:
        raise DemoInputError(f"--format: expected one of {', '.join(ANIMATION_FORMATS)}, got {format!r}")
    if format == "mp4" and ffmpeg_path() is None:
        raise DemoInputError(f"--format mp4: {FFMPEG_HINT}; or use --format gif")
    notes = []
    chosen = every if every is not None else max(1, steps // DEFAULT_FRAMES)
    if frame_count(steps, chosen) > MAX_FRAMES:
        wider = math.ceil(steps / (MAX_FRAMES - 2))
        notes.append(
            f"{steps} steps with --every {chosen} would make {frame_count(steps, chosen)} frames; drawing one "
            f"every {wider} steps instead ({frame_count(steps, wider)} frames, at most {MAX_FRAMES})"
        )
        chosen = wider
    folder = Path(out)
    for name in OUTPUT_NAMES:
        path = folder / name.format(format=format)
        if path.is_dir():
            raise OutputDirectoryError(f"cannot write {str(path)!r}: a folder of that name is in the way")
    folder = prepare_output_dir(folder)
    return DemoPlan(folder, steps, chosen, frame_count(steps, chosen), format, notes)


def prepare_output_dir(out: str | os.PathLike[str]) -> Path:
    """Create ``out`` (with parents) and check that files can be written there;
    raise :class:`OutputDirectoryError` with the reason otherwise."""
    path = Path(out)
    try:
        if path.exists() and not path.is_dir():
            raise OutputDirectoryError(f"cannot write to {str(path)!r}: it is a file, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".graphdl-write-test-"):
            pass
    except OutputDirectoryError:
        raise
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputDirectoryError(f"cannot write to {str(path)!r}: {reason}") from None
    return path


class ProgressBar:
    """A one-line text progress bar on a stream (no dependency)."""

    def __init__(self, total: int, label: str = "training", stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.width, self.label = max(total, 1), width, label
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._shown = -1

    def due(self, done: int) -> bool:
        """Whether :meth:`update` would draw for ``done`` (at most 100 times, and a file or
        pipe gets only the final line), so a caller computes what it shows only then."""
        return done >= self.total or (self.live and int(100 * done / self.total) != self._shown)

    def update(self, done: int, extra: str = "") -> None:
        """Show ``done`` of ``total`` steps, followed by ``extra``."""
        if not self.due(done):
            return
        percent = int(100 * done / self.total)
        self._shown = percent
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        extra = f"  {extra}" if extra else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {percent:3d}%{extra}  {elapsed:.1f}s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def fit_note(init: str, steps: int, figure: float, name: str) -> str:
    """Why the fit is not done yet and how many steps the experiments measured for ``init``."""
    text = f"not fitted yet: the {name} is {figure:.3g} (fitted: below {FIT_THRESHOLD:g})"
    if init in STEPS_TO_FIT:
        measured, suggested = STEPS_TO_FIT[init]
        if suggested > steps:
            return f"{text}; --init {init} needed about {measured} steps in the experiments: try --steps {suggested}"
    return f"{text}; try more --steps" + (", or another --seed" if init == "random" else "")


def run_demo(
    out: str | os.PathLike[str] = "graphdl-demo",
    *,
    init: str = "fig8",
    steps: int = 1500,
    seed: int = 0,
    every: int | None = None,
    format: str = "gif",
    graph_panel: bool = True,
    lr: float = 0.01,
    progress: bool = True,
) -> DemoResult:
    """Train the tutorial's network for ``steps`` per-sample SGD steps (one pass over
    ``steps`` samples of x ~ U(0, 2), as the tutorial does) and write into ``out``:
    ``graph.dot``, ``graph.png``, ``graph.svg``, ``training.<format>`` and ``loss.png``.
    ``every`` is the number of steps between animation frames (default: about 60 frames,
    at most :data:`MAX_FRAMES`). Arguments are checked before any work.
    """
    from graphdl.viz.animator import Animator
    from graphdl.viz.loss_stats import loss_figure_name, recent_mean, round_window
    from graphdl.viz.plots import plot_loss
    from graphdl.viz.recorder import TrainingRecorder
    from graphdl.viz.render import GraphvizMissingWarning, render

    plan = check_demo_arguments(out, steps=steps, seed=seed, every=every, format=format)
    folder = plan.folder
    result = DemoResult(notes=list(plan.notes))
    window = round_window(steps)
    result.loss_window = window
    name = loss_figure_name(window)

    started, started_cpu = time.perf_counter(), time.process_time()
    net = build_seed_net()
    net.initialise(init, rng=init_rng(seed))
    xs, labels = quadratic_data(steps, seed=seed)
    recorder = TrainingRecorder.for_seed_net(net, every=plan.every, total_steps=steps)
    recorder.start()
    bar = ProgressBar(steps) if progress else None
    losses = recorder.losses

    def callback(step: int, loss: float) -> None:
        recorder(step, loss)
        if bar is not None and bar.due(step + 1):
            bar.update(step + 1, f"{name} {recent_mean(losses, window):.4f}")

    train_per_sample(net, xs, labels, lr=lr, callback=callback)
    recorder.finish()
    result.losses = recorder.losses  # the same numbers as the loop's own list, kept once
    result.final_loss = recent_mean(result.losses, window)
    result.converged = result.final_loss < FIT_THRESHOLD
    if not result.converged:
        result.notes.append(fit_note(init, steps, result.final_loss, name))
    result.timings["training"] = time.perf_counter() - started
    result.cpu_timings["training"] = time.process_time() - started_cpu

    started, started_cpu = time.perf_counter(), time.process_time()
    # The graph after training, at the whole training set: parameters show the gradient of the
    # mean loss, the other nodes the mean of each sample's own gradient.
    stride = math.ceil(steps / GRAPH_SAMPLES)  # a very long run: every stride-th sample, to bound memory
    net.x.set_value(xs[::stride])
    net.label.set_value(labels[::stride])
    del xs, labels
    net.loss.backward()
    samples = f"its {steps} training samples" if stride == 1 else f"every {stride}th of its {steps} training samples"
    title = (
        f"the trained net (init {init}, {steps} steps) on {samples}; grad: of the mean loss "
        "for parameters, the mean of each sample's own d(loss_i)/d(node_i) for the other nodes"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphvizMissingWarning)
        for suffix in ("png", "svg"):
            result.files.append(render(net.loss, folder / f"graph.{suffix}", title=title))
    result.files.insert(0, folder / "graph.dot")
    hints = {str(w.message) for w in caught if issubclass(w.category, GraphvizMissingWarning)}
    result.notes.extend(sorted(hints))
    result.timings["graph"] = time.perf_counter() - started
    result.cpu_timings["graph"] = time.process_time() - started_cpu  # without the dot program's own

    started, started_cpu = time.perf_counter(), time.process_time()
    animator = Animator(
        recorder, graph_panel=graph_panel, title=f"graphdl — fitting y = x² (init {init})", loss_window=window,
        final_note=None if result.converged else _wrapped_note(init, steps),
    )  # fmt: skip
    frames_bar = ProgressBar(animator.frame_count, label="drawing ") if progress else None

    def frame_done(frame: int, total: int) -> None:
        if frames_bar is not None:
            frames_bar.update(frame + 1)

    result.files.append(animator.save(folder / f"training.{plan.format}", progress=frame_done))
    result.timings["animation"] = time.perf_counter() - started
    result.timings.update(animator.timings)
    result.cpu_timings["animation"] = time.process_time() - started_cpu
    result.cpu_timings.update(animator.cpu_timings)

    started, started_cpu = time.perf_counter(), time.process_time()
    plot_loss(
        result.losses, smooth=window, ylabel="loss |y − ŷ|", path=folder / "loss.png",
        title=f"Training loss per step (init {init}): {name} {result.final_loss:.4f}",
    )  # fmt: skip
    result.files.append(folder / "loss.png")
    result.timings["loss plot"] = time.perf_counter() - started
    result.cpu_timings["loss plot"] = time.process_time() - started_cpu
    return result


def _wrapped_note(init: str, steps: int) -> str:
    """The not-fitted note for the animation's last frame, in two short lines."""
    text = f"not fitted yet after {steps} steps (mean |y − ŷ| above {FIT_THRESHOLD:g})"
    if init in STEPS_TO_FIT and STEPS_TO_FIT[init][1] > steps:
        measured, suggested = STEPS_TO_FIT[init]
        return f"{text}\n--init {init} needs about {measured} steps: try --steps {suggested}"
    return f"{text}\ntry more --steps"
