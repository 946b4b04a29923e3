"""The main job behind ``graphdl demo``: build the seed's network node by node, train it
on y = x² while recording, then write the graph picture, the animation and the loss plot."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from graphdl.seednet import build_seed_net, init_rng, quadratic_data, train_per_sample

ANIMATION_FORMATS = ("gif", "mp4", "html")


class OutputDirectoryError(OSError):
    """The output folder cannot be created or written."""


@dataclass
class DemoResult:
    """What the demo wrote and how training went."""

    files: list[Path] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    final_mean_loss: float = float("nan")
    notes: list[str] = field(default_factory=list)


def prepare_output_dir(out: str | os.PathLike[str]) -> Path:
    """Create ``out`` (with parents) and check that files can be written there;
    raise :class:`OutputDirectoryError` with the reason otherwise."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a folder")
        with tempfile.NamedTemporaryFile(dir=path, prefix=".graphdl-write-test-"):
            pass
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

    def update(self, done: int, loss: float | None = None) -> None:
        """Show ``done`` of ``total`` steps (redrawn at most 100 times)."""
        percent = int(100 * done / self.total)
        if (percent == self._shown or not self.live) and done < self.total:
            return  # a file or pipe gets only the final line
        self._shown = percent
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        extra = f"  loss {loss:.4f}" if loss is not None else ""
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {percent:3d}%{extra}  {elapsed:.1f}s")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


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
    """Train the seed network for ``steps`` per-sample SGD steps (one pass over
    ``steps`` samples of x ~ U(0, 2), as the seed does) and write into ``out``:
    ``graph.dot``, ``graph.png``, ``graph.svg``, ``training.<format>`` and ``loss.png``.
    ``every`` is the number of steps between animation frames (default: about 60 frames).
    """
    from graphdl.viz.animator import Animator, ffmpeg_available
    from graphdl.viz.plots import plot_loss
    from graphdl.viz.recorder import TrainingRecorder
    from graphdl.viz.render import GraphvizMissingWarning, render

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if format not in ANIMATION_FORMATS:
        raise ValueError(f"unknown animation format {format!r}: use gif, mp4 or html")
    every = every if every is not None else max(1, steps // 60)
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    folder = prepare_output_dir(out)
    result = DemoResult()

    net = build_seed_net()
    net.initialise(init, rng=init_rng(seed))
    xs, labels = quadratic_data(steps, seed=seed)
    recorder = TrainingRecorder.for_seed_net(net, every=every, total_steps=steps)
    recorder.start()
    bar = ProgressBar(steps) if progress else None

    def callback(step: int, loss: float) -> None:
        recorder(step, loss)
        if bar is not None:
            bar.update(step + 1, loss)

    result.losses = train_per_sample(net, xs, labels, lr=lr, callback=callback)
    recorder.finish()

    # The graph after training, at the whole training set: values are batch means, grads those of the mean loss.
    net.x.set_value(xs)
    net.label.set_value(labels)
    net.loss.backward()
    result.final_mean_loss = float(np.mean(net.loss.value))
    title = f"seed net after {steps} steps (init {init}): values and grads over the {steps} training samples"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphvizMissingWarning)
        for suffix in ("png", "svg"):
            result.files.append(render(net.loss, folder / f"graph.{suffix}", title=title))
    result.files.insert(0, folder / "graph.dot")
    hints = {str(w.message) for w in caught if issubclass(w.category, GraphvizMissingWarning)}
    result.notes.extend(sorted(hints))

    if format == "mp4" and not ffmpeg_available():
        result.notes.append("MP4 needs ffmpeg (apt-get install ffmpeg); wrote a GIF instead")
        format = "gif"
    animator = Animator(recorder, graph_panel=graph_panel, title=f"graphdl — fitting y = x² (init {init})")
    frames_bar = ProgressBar(animator.frame_count + animator.hold_last, label="drawing ") if progress else None

    def frame_done(frame: int, total: int) -> None:
        if frames_bar is not None:
            frames_bar.update(frame + 1)

    result.files.append(animator.save(folder / f"training.{format}", progress=frame_done))
    plot_loss(
        result.losses, ylabel="loss |y − ŷ|", title=f"Training loss per step (seed net, init {init})",
        path=folder / "loss.png",
    )  # fmt: skip
    result.files.append(folder / "loss.png")
    return result
