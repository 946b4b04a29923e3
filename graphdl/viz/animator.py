"""``Animator``: replay a :class:`~graphdl.viz.recorder.TrainingRecorder` with
``matplotlib.animation.FuncAnimation`` — GIF (Pillow), MP4 (ffmpeg), an HTML player or
a live window. Every frame only draws stored snapshots; nothing trains here.

The default layout is the seed's (tutorial 004, section 3.4): the hidden
pre-activations with each unit's kink, the weighted hidden outputs, the fitted curve
against y = x², plus the loss so far and, optionally, the graph itself coloured by
its current values (as TensorFlow Playground does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.viz.recorder import TrainingRecorder

UNIT_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea")
TRAIN_SHADE = "#fde68a"
FORMATS = ("gif", "mp4", "html")


def ffmpeg_available() -> bool:
    """Whether matplotlib can write MP4 through ffmpeg here."""
    from matplotlib import animation

    return animation.writers.is_available("ffmpeg")


def _compact_gif_writer(fps: int) -> Any:
    """A Pillow GIF writer that quantises every frame to one shared palette without
    dithering: flat colours compress far better than matplotlib's per-frame dithering."""
    from matplotlib.animation import PillowWriter
    from PIL import Image

    class CompactGifWriter(PillowWriter):
        def finish(self) -> None:
            frames = [frame.convert("RGB") for frame in self._frames]
            picks = sorted({0, len(frames) // 3, 2 * len(frames) // 3, len(frames) - 1})
            width, height = frames[0].size
            sample = Image.new("RGB", (width, height * len(picks)))
            for row, index in enumerate(picks):
                sample.paste(frames[index], (0, row * height))
            palette = sample.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            indexed = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
            indexed[0].save(
                self.outfile, save_all=True, append_images=indexed[1:], duration=int(1000 / self.fps), loop=0,
                optimize=False,
            )  # fmt: skip

    return CompactGifWriter(fps=fps)


def _limits(arrays: Sequence[np.ndarray], pad: float = 0.08) -> tuple[float, float]:
    finite = np.concatenate([np.ravel(a) for a in arrays])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    span = high - low or max(abs(high), 1.0)
    return low - pad * span, high + pad * span


def running_mean(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each position (shorter at the start)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return data
    sums = np.cumsum(np.insert(data, 0, 0.0))
    counts = np.minimum(np.arange(1, data.size + 1), window)
    return (sums[1:] - sums[np.arange(1, data.size + 1) - counts]) / counts


class Animator:
    """Replays a recording; ``save("training.gif")``, ``to_jshtml()``, ``show()``.

    The names default to the seed network's nodes; pass others for another 1-input
    network. ``kinks`` pairs (weight, bias) parameter names whose hinge x = −b/w is
    marked in the first panel. ``graph_panel`` adds the computation graph, nodes
    coloured by their mean value over the training range, edges by the sign and size
    of the weight they carry. Axis limits are fixed over all frames.
    """

    def __init__(
        self,
        recorder: TrainingRecorder,
        *,
        hidden: Sequence[str] = ("add_11", "add_12"),
        weighted: Sequence[str] = ("mul_21", "mul_22"),
        output: str = "add_21",
        kinks: Sequence[tuple[str, str]] = (("w_11", "b_11"), ("w_12", "b_12")),
        target: Callable[[np.ndarray], np.ndarray] | None = np.square,
        target_label: str = "y = x²",
        train_range: tuple[float, float] | None = (0.0, 2.0),
        graph_panel: bool = False,
        title: str = "graphdl — fitting y = x² node by node",
        fps: int = 12,
        hold_last: int = 12,
        dpi: int = 64,
    ) -> None:
        if not recorder.snapshots:
            raise ValueError("the recorder has no snapshots: train with it as the callback first")
        names = set(recorder.snapshots[0].outputs)
        for name in [*hidden, *weighted, output]:
            if name not in names:
                raise KeyError(f"node {name!r} was not recorded (recorded: {', '.join(sorted(names))})")
        self.recorder = recorder
        self.hidden, self.weighted, self.output = tuple(hidden), tuple(weighted), output
        self.kinks = tuple(kinks)
        self.target, self.target_label = target, target_label
        self.train_range = train_range
        self.graph_panel = graph_panel
        self.title = title
        self.fps, self.hold_last, self.dpi = fps, hold_last, dpi
        self._animation: Any = None
        self._figure: Any = None

    # ------------------------------------------------------------------ output
    @property
    def frame_count(self) -> int:
        """Distinct frames (one per snapshot)."""
        return len(self.recorder.snapshots)

    def save(
        self, path: str | Path, fps: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> Path:
        """Write the animation; the format follows the suffix: ``.gif`` (Pillow), ``.mp4``
        (needs ffmpeg) or ``.html`` (a self-contained player). ``progress(frame, total)``
        is called as frames are drawn. Returns the path."""
        path = Path(path)
        format = path.suffix.lower().lstrip(".")
        if format not in FORMATS:
            raise ValueError(f"{path}: unknown animation format; use .gif, .mp4 or .html")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
        from matplotlib import animation as mpl_animation

        anim = self._build_headless(fps)
        temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
        try:
            if format == "gif":
                anim.save(
                    temporary, writer=_compact_gif_writer(fps or self.fps), dpi=self.dpi, progress_callback=progress
                )
            elif format == "mp4":
                if not ffmpeg_available():
                    raise RuntimeError(
                        "MP4 needs ffmpeg on PATH (apt-get install ffmpeg); save a .gif or .html instead"
                    )
                writer = mpl_animation.FFMpegWriter(fps=fps or self.fps, bitrate=1800)
                anim.save(temporary, writer=writer, dpi=self.dpi, progress_callback=progress)
            else:
                temporary.write_text(anim.to_jshtml(fps=fps or self.fps, default_mode="loop"), encoding="utf-8")
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        return path

    def to_jshtml(self, fps: int | None = None) -> str:
        """A self-contained HTML/JavaScript player of the animation."""
        return self._build_headless(fps).to_jshtml(fps=fps or self.fps, default_mode="loop")

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def show(self) -> Any:
        """Play live in a window (a GUI backend) and return the ``FuncAnimation``."""
        import matplotlib.pyplot as plt

        figure = plt.figure(figsize=self._figsize())
        anim = self._animate(figure, self.fps)
        plt.show()
        return anim

    def frame(self, index: int) -> Any:
        """A figure showing frame ``index`` (for checks and stills)."""
        figure = self._new_figure()
        self._draw_static(figure)(index)
        return figure

    # ---------------------------------------------------------------- drawing
    def _figsize(self) -> tuple[float, float]:
        return (14.0, 9.6) if self.graph_panel else (14.0, 7.6)

    def _new_figure(self) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=self._figsize())
        FigureCanvasAgg(figure)
        return figure

    def _build_headless(self, fps: int | None) -> Any:
        self._figure = self._new_figure()
        self._animation = self._animate(self._figure, fps or self.fps)
        return self._animation

    def _animate(self, figure: Any, fps: int) -> Any:
        from matplotlib.animation import FuncAnimation

        update = self._draw_static(figure)
        frames = list(range(self.frame_count)) + [self.frame_count - 1] * self.hold_last
        return FuncAnimation(figure, update, frames=frames, interval=1000 / fps, blit=False, repeat=True)

    def _draw_static(self, figure: Any) -> Callable[[int], list[Any]]:
        """Draw everything that does not move; return the per-frame update function."""
        recorder = self.recorder
        snapshots = recorder.snapshots
        grid = recorder.grid
        total = recorder.total_steps or snapshots[-1].step
        ratios = (1.0, 1.3) if self.graph_panel else (1.25, 1.0)
        grid_spec = figure.add_gridspec(2, 3, height_ratios=ratios, hspace=0.32, wspace=0.24)
        figure.subplots_adjust(left=0.05, right=0.985, top=0.9, bottom=0.06)
        ax_hidden = figure.add_subplot(grid_spec[0, 0])
        ax_weighted = figure.add_subplot(grid_spec[0, 1], sharex=ax_hidden)
        ax_fit = figure.add_subplot(grid_spec[0, 2], sharex=ax_hidden)
        if self.graph_panel:
            ax_loss = figure.add_subplot(grid_spec[1, 0])
            ax_graph = figure.add_subplot(grid_spec[1, 1:])
        else:
            ax_loss = figure.add_subplot(grid_spec[1, :])
            ax_graph = None

        target = self.target(grid) if self.target is not None else None
        panels = [
            (ax_hidden, self.hidden, "1  hidden pre-activations"),
            (ax_weighted, self.weighted, "2  weighted hidden outputs"),
        ]
        lines: list[tuple[Any, str]] = []
        for axes, names, heading in panels:
            series = [recorder.series(name) for name in names]
            axes.set_ylim(*_limits(series))
            axes.set_title(heading + ": " + ", ".join(names), fontsize=11, loc="left")
            for number, name in enumerate(names):
                (line,) = axes.plot([], [], color=UNIT_COLOURS[number % 4], linewidth=2.2, label=name)
                lines.append((line, name))
        fit_series = [recorder.series(self.output)] + ([target[None, :]] if target is not None else [])
        ax_fit.set_ylim(*_limits(fit_series))
        ax_fit.set_title(f"3  network output {self.output} vs the target", fontsize=11, loc="left")
        if target is not None:
            ax_fit.plot(grid, target, color="#111827", linestyle="--", linewidth=1.6, label=self.target_label)
        (fit_line,) = ax_fit.plot([], [], color="#dc2626", linewidth=2.4, label=self.output)
        lines.append((fit_line, self.output))
        for axes in (ax_hidden, ax_weighted, ax_fit):
            axes.set_xlim(grid[0], grid[-1])
            axes.axhline(0.0, color="#9ca3af", linewidth=0.8, zorder=0)
            axes.grid(alpha=0.25)
            axes.set_xlabel("x")
            if self.train_range is not None:
                axes.axvspan(*self.train_range, color=TRAIN_SHADE, alpha=0.35, zorder=0, linewidth=0)
        if self.train_range is not None:
            low, high = self.train_range
            ax_fit.text(
                (low + high) / 2, 0.03, f"training range [{low:g}, {high:g}]", transform=ax_fit.get_xaxis_transform(),
                ha="center", fontsize=9, color="#92400e",
            )  # fmt: skip

        kink_artists = []
        for number, (weight, bias) in enumerate(self.kinks):
            colour = UNIT_COLOURS[number % 4]
            vline = ax_hidden.axvline(np.nan, color=colour, linestyle=":", linewidth=1.4)
            (dot,) = ax_hidden.plot([], [], marker="o", markersize=7, color=colour, markeredgecolor="white")
            label = ax_hidden.text(
                0, 0.04 + 0.09 * number, "", transform=ax_hidden.get_xaxis_transform(), color=colour, fontsize=9,
                ha="center", va="bottom", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
            )  # fmt: skip
            kink_artists.append((weight, bias, vline, dot, label))
        for axes in (ax_hidden, ax_weighted, ax_fit):
            axes.legend(loc="upper left", fontsize=9, framealpha=0.85)

        losses = np.asarray(recorder.losses, dtype=float)
        steps = np.arange(1, losses.size + 1)
        window = max(1, losses.size // 40)
        smooth = running_mean(losses, window)
        ax_loss.set_xlim(0, max(total, 1))
        top = float(np.percentile(losses, 99.5)) * 1.08 if losses.size else 1.0
        ax_loss.set_ylim(0, top if top > 0 else 1.0)
        ax_loss.set_xlabel("training step")
        ax_loss.set_ylabel("loss |y − ŷ|")
        ax_loss.set_title("4  training loss so far", fontsize=11, loc="left")
        ax_loss.grid(alpha=0.25)
        (raw_line,) = ax_loss.plot([], [], color="#9ca3af", linewidth=0.6, alpha=0.8, label="per step")
        (smooth_line,) = ax_loss.plot([], [], color="#dc2626", linewidth=2.0, label=f"mean of last {window}")
        now_line = ax_loss.axvline(0, color="#111827", linewidth=1.0, linestyle="--")
        ax_loss.legend(loc="upper right", fontsize=9)

        graph_update = self._draw_graph_panel(ax_graph) if ax_graph is not None else None
        title = figure.suptitle("", fontsize=15, fontfamily="monospace")

        def update(index: int) -> list[Any]:
            snapshot = snapshots[index]
            for line, name in lines:
                line.set_data(grid, snapshot.outputs[name])
            for weight, bias, vline, dot, label in kink_artists:
                w, b = snapshot.parameters.get(weight), snapshot.parameters.get(bias)
                kink = -b / w if w not in (None, 0.0) and b is not None else np.nan
                visible = bool(np.isfinite(kink) and grid[0] <= kink <= grid[-1])
                vline.set_xdata([kink, kink])
                dot.set_data([kink], [0.0])
                label.set_x(kink if visible else 0.0)
                label.set_text(f"kink {round(kink, 2) + 0.0:.2f}" if visible else "")  # no "-0.00"
                for artist in (vline, dot):
                    artist.set_visible(visible)
            done = snapshot.step
            raw_line.set_data(steps[:done], losses[:done])
            smooth_line.set_data(steps[:done], smooth[:done])
            now_line.set_xdata([done, done])
            loss_text = f"   loss {smooth[done - 1]:.4f}" if done > 0 else "   (before training)"
            title.set_text(f"{self.title}   step {done:>5d} / {total}{loss_text}")
            if graph_update is not None:
                graph_update(snapshot)
            return []

        return update

    def _draw_graph_panel(self, axes: Any) -> Callable[[Any], None]:
        from graphdl.viz.playground import GraphPanel

        panel = GraphPanel(self.recorder, axes, train_range=self.train_range)
        return panel.update
