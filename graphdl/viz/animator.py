"""``Animator``: replay a :class:`~graphdl.viz.recorder.TrainingRecorder` as a GIF (Pillow),
an MP4 (ffmpeg), an HTML player or a live window. Every frame only draws stored
snapshots; nothing trains here.

The default layout is the tutorial's (section 3.4 of "折与曲的相会——激活函数", the
activation-functions part of 一起撸个深度学习框架):
the hidden pre-activations with each unit's kink, the weighted hidden outputs, the fitted
curve against y = x², plus the loss so far and, optionally, the graph itself coloured by
its current values (as TensorFlow Playground does).

Saving draws the static parts (axes, ticks, titles, the graph's layout) once, keeps that
picture, and for each frame restores it and draws only the moving artists on top: every
frame is rendered exactly once and streamed to the encoder, so neither time per frame nor
memory grows with the length of the animation.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.core.files import replacing
from graphdl.viz.encoders import FFMPEG_HINT, GifEncoder, HtmlEncoder, Mp4Encoder, ffmpeg_path, swatch_colours
from graphdl.viz.loss_stats import (
    clip_level,
    envelope,
    loss_figure_name,
    recent_mean,
    round_window,
    running_mean,
    spread_out,
)
from graphdl.viz.recorder import TrainingRecorder

UNIT_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea")
TRAIN_SHADE = "#fde68a"
RAW_LOSS = "#9ca3af"
MEAN_LOSS = "#dc2626"
FORMATS = ("gif", "mp4", "html")
LEGEND_BAND = 0.75  # loss curves stay below this fraction of the loss axes; the legend sits above


def ffmpeg_available() -> bool:
    """Whether ``ffmpeg`` (matplotlib's ``animation.ffmpeg_path``) is on PATH, for MP4."""
    return ffmpeg_path() is not None


def _limits(arrays: Sequence[np.ndarray], pad: float = 0.08) -> tuple[float, float]:
    finite = np.concatenate([np.ravel(a) for a in arrays])
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    span = high - low or max(abs(high), 1.0)
    return low - pad * span, high + pad * span


class Animator:
    """Replays a recording; ``save("training.gif")``, ``to_jshtml()``, ``show()``.

    The names default to the tutorial network's nodes; pass others for another 1-input
    network. ``kinks`` pairs (weight, bias) parameter names whose hinge x = −b/w is
    marked in the first panel. ``graph_panel`` adds the computation graph, nodes
    coloured by their mean value over the training range, edges by the sign and size
    of the weight they carry. Axis limits are fixed over all frames. The loss figure in
    the title is the mean loss over the last ``loss_window`` steps (default
    :func:`round_window` of the run); ``final_note`` is written over the fit on the
    last frame (e.g. that the fit has not converged). The last frame is held for
    ``hold_last`` frame durations. The picture is ``figsize × dpi`` pixels.
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
        loss_window: int | None = None,
        loss_symbol: str = "|y − ŷ|",
        final_note: str | None = None,
        fps: int = 12,
        hold_last: int = 12,
        dpi: int = 100,
    ) -> None:
        if not recorder.snapshots:
            raise ValueError("the recorder has no snapshots: train with it as the callback first")
        names = set(recorder.snapshots[0].outputs)
        for name in [*hidden, *weighted, output]:
            if name not in names:
                raise KeyError(f"node {name!r} was not recorded (recorded: {', '.join(sorted(names))})")
        if loss_window is not None and loss_window < 1:
            raise ValueError(f"loss_window must be at least 1, got {loss_window}")
        self.recorder = recorder
        self.hidden, self.weighted, self.output = tuple(hidden), tuple(weighted), output
        self.kinks = tuple(kinks)
        self.target, self.target_label = target, target_label
        self.train_range = train_range
        self.graph_panel = graph_panel
        self.title = title
        total = recorder.total_steps or recorder.snapshots[-1].step
        self.loss_window = loss_window or round_window(max(total, len(recorder.losses), 1))
        self.loss_symbol = loss_symbol
        self.final_note = final_note
        self.fps, self.hold_last, self.dpi = fps, hold_last, dpi
        #: wall seconds spent drawing frames and encoding them in the last :meth:`save`, and the frame count
        self.timings: dict[str, float] = {}
        #: the same in CPU seconds of this process (what a shared machine's load does not inflate)
        self.cpu_timings: dict[str, float] = {}

    # ------------------------------------------------------------------ output
    @property
    def frame_count(self) -> int:
        """Distinct frames (one per snapshot); the last one is shown ``1 + hold_last`` times as long."""
        return len(self.recorder.snapshots)

    @property
    def size(self) -> tuple[int, int]:
        """The animation's width and height in pixels."""
        width, height = self._figsize()
        return round(width * self.dpi), round(height * self.dpi)

    def save(
        self, path: str | Path, fps: int | None = None, progress: Callable[[int, int], None] | None = None
    ) -> Path:
        """Write the animation; the format follows the suffix: ``.gif`` (Pillow), ``.mp4``
        (needs ffmpeg) or ``.html`` (the explorer page of :mod:`graphdl.viz.explorer`).
        ``progress(frame, total)`` is called after each frame. The file appears only when
        complete. Returns the path."""
        path = Path(path)
        format = path.suffix.lower().lstrip(".")
        if format not in FORMATS:
            raise ValueError(f"{path}: unknown animation format; use .gif, .mp4 or .html")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
        if path.is_dir():
            raise IsADirectoryError(f"cannot write {path}: a folder of that name exists")
        if format == "mp4" and not ffmpeg_available():
            raise RuntimeError(f"{FFMPEG_HINT}; save a .gif or .html instead")
        if format == "html":  # the interactive explorer page, not a player of pictures
            return self._save_explorer(path)
        fps = fps or self.fps
        # a temporary file of its own (two saves to one path at once: the last one finished wins, whole)
        with replacing(path, suffix=path.suffix) as temporary:
            if format == "gif":
                with open(temporary, "wb") as stream:
                    self._render(GifEncoder(stream, fps, colours=self._palette_colours()), progress)
            else:
                self._render(Mp4Encoder(str(temporary), fps), progress)
        return path

    def _save_explorer(self, path: Path) -> Path:
        from graphdl.viz.explorer import Panels, write_explorer

        started, started_cpu = time.perf_counter(), time.process_time()
        panels = Panels(self.hidden, self.weighted, self.output, self.kinks, self.target, self.target_label,
                        self.train_range, self.loss_window)  # fmt: skip
        write_explorer(path, self.recorder.graph, self.recorder, panels=panels, title=self.title)
        self.timings = {"drawing": 0.0, "encoding": time.perf_counter() - started, "frames": float(self.frame_count)}
        self.cpu_timings = {"drawing": 0.0, "encoding": time.process_time() - started_cpu}
        return path

    def to_jshtml(self, fps: int | None = None) -> str:
        """A self-contained HTML/JavaScript player of the animation (a notebook fragment)."""
        text = io.StringIO()
        self._render(HtmlEncoder(text, fps or self.fps, title=self.title, fragment=True), None)
        return text.getvalue()

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def show(self) -> Any:
        """Play live in a window (a GUI backend) and return the ``FuncAnimation``."""
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation

        figure = plt.figure(figsize=self._figsize())
        scene = Scene(self, figure, animated=False)
        frames = list(range(self.frame_count)) + [self.frame_count - 1] * self.hold_last
        anim = FuncAnimation(figure, scene.update, frames=frames, interval=1000 / self.fps, blit=False)
        plt.show()
        return anim

    def frame(self, index: int) -> Any:
        """A figure showing frame ``index`` (for checks and stills; ``savefig`` draws it all)."""
        figure = self._new_figure()
        Scene(self, figure, animated=False).update(index)
        return figure

    # ---------------------------------------------------------------- drawing
    def _figsize(self) -> tuple[float, float]:
        return (14.4, 9.6) if self.graph_panel else (14.4, 7.6)

    def _new_figure(self) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=self._figsize(), dpi=self.dpi, facecolor="white")
        FigureCanvasAgg(figure)
        return figure

    def _palette_colours(self) -> list[str]:
        from graphdl.viz.playground import panel_colours

        return swatch_colours(UNIT_COLOURS, (RAW_LOSS, MEAN_LOSS, "#111827", "#ffffff"), panel_colours())

    def _render(self, encoder: Any, progress: Callable[[int, int], None] | None) -> None:
        """Draw the static picture once, then each frame's moving artists over it, into ``encoder``."""
        figure = self._new_figure()
        scene = Scene(self, figure, animated=True)
        canvas = figure.canvas
        canvas.draw()
        background = canvas.copy_from_bbox(figure.bbox)
        # legends never change: their drawn pixels are put back over each frame's lines
        overlays = [canvas.copy_from_bbox(legend.get_window_extent().padded(1)) for legend in scene.overlays]
        renderer = canvas.get_renderer()
        stamps = [TextStamp(text, canvas, background) for text in scene.stamps]
        drawing = encoding = drawing_cpu = encoding_cpu = 0.0
        total = self.frame_count
        for index in range(total):
            started, started_cpu = time.perf_counter(), time.process_time()
            scene.update(index)
            canvas.restore_region(background)
            for artist in scene.moving:
                artist.draw(renderer)
            for overlay in overlays:
                canvas.restore_region(overlay)
            rgba = np.asarray(canvas.buffer_rgba())
            for stamp in stamps:
                stamp.paint(rgba)
            drawn, drawn_cpu = time.perf_counter(), time.process_time()
            encoder.add(rgba, hold=1 + self.hold_last if index == total - 1 else 1)
            encoding += time.perf_counter() - drawn
            encoding_cpu += time.process_time() - drawn_cpu
            drawing += drawn - started
            drawing_cpu += drawn_cpu - started_cpu
            if progress is not None:
                progress(index, total)
        started, started_cpu = time.perf_counter(), time.process_time()
        encoder.close()
        encoding += time.perf_counter() - started
        encoding_cpu += time.process_time() - started_cpu
        self.timings = {"drawing": drawing, "encoding": encoding, "frames": float(total)}
        self.cpu_timings = {"drawing": drawing_cpu, "encoding": encoding_cpu}


class TextStamp:
    """A text whose words and place never change but whose colour does (a graph box's
    name on its changing fill): drawn once, then painted with its current colour from
    the kept coverage mask, far faster than laying the text out again every frame."""

    def __init__(self, text: Any, canvas: Any, background: Any) -> None:
        renderer = canvas.get_renderer()
        height = int(canvas.figure.bbox.height)
        extent = text.get_window_extent(renderer).padded(2)
        left, right = max(0, math.floor(extent.x0)), math.ceil(extent.x1)
        top, bottom = max(0, height - math.ceil(extent.y1)), height - math.floor(extent.y0)
        self.text, self.rows, self.columns = text, slice(top, bottom), slice(left, right)
        canvas.restore_region(background)
        pixels = np.asarray(canvas.buffer_rgba())
        plain = pixels[self.rows, self.columns, :3].astype(float)
        colour = text.get_color()
        text.set_color("black")
        text.draw(renderer)
        inked = pixels[self.rows, self.columns, :3].astype(float)
        text.set_color(colour)
        # black over the background b gives b·(1 − coverage)
        with np.errstate(divide="ignore", invalid="ignore"):
            coverage = np.where(plain > 0, 1.0 - inked / plain, 0.0).max(axis=2, keepdims=True)
        self.coverage = np.clip(coverage, 0.0, 1.0)
        canvas.restore_region(background)

    def paint(self, rgba: np.ndarray) -> None:
        """Blend the text in its current colour into the frame ``rgba`` (in place)."""
        from matplotlib.colors import to_rgb

        if not self.text.get_visible():
            return
        region = rgba[self.rows, self.columns, :3]
        colour = np.array(to_rgb(self.text.get_color())) * 255.0
        region[...] = (region * (1.0 - self.coverage) + colour * self.coverage + 0.5).astype(np.uint8)


class Scene:
    """One figure of the animation: the static parts, the moving artists (``moving``, in
    drawing order; marked animated when ``animated``), texts painted over them
    (``stamps``, see :class:`TextStamp`) and ``update(index)``."""

    def __init__(self, animator: Animator, figure: Any, animated: bool) -> None:
        self.animator = animator
        self.figure = figure
        self.animated = animated
        self.moving: list[Any] = []
        self.overlays: list[Any] = []  # drawn with the static parts, on top of everything
        self.stamps: list[Any] = []
        recorder = animator.recorder
        self.snapshots = recorder.snapshots
        self.grid = recorder.grid
        self.total = recorder.total_steps or self.snapshots[-1].step
        self._build()

    def _moves(self, *artists: Any) -> None:
        for artist in artists:
            artist.set_animated(self.animated)
            self.moving.append(artist)

    def _build(self) -> None:
        animator, figure, grid = self.animator, self.figure, self.grid
        recorder = animator.recorder
        ratios = (1.0, 1.3) if animator.graph_panel else (1.25, 1.0)
        grid_spec = figure.add_gridspec(2, 3, height_ratios=ratios, hspace=0.3, wspace=0.2)
        figure.subplots_adjust(left=0.045, right=0.99, top=0.91, bottom=0.06)
        ax_hidden = figure.add_subplot(grid_spec[0, 0])
        ax_weighted = figure.add_subplot(grid_spec[0, 1], sharex=ax_hidden)
        ax_fit = figure.add_subplot(grid_spec[0, 2], sharex=ax_hidden)
        if animator.graph_panel:
            ax_loss = figure.add_subplot(grid_spec[1, 0])
            ax_graph = figure.add_subplot(grid_spec[1, 1:])
        else:
            ax_loss = figure.add_subplot(grid_spec[1, :])
            ax_graph = None

        target = animator.target(grid) if animator.target is not None else None
        panels = [
            (ax_hidden, animator.hidden, "1  hidden pre-activations"),
            (ax_weighted, animator.weighted, "2  weighted hidden outputs"),
        ]
        self.lines: list[tuple[Any, str]] = []
        for axes, names, heading in panels:
            series = [recorder.series(name) for name in names]
            axes.set_ylim(*_limits(series))
            axes.set_title(heading + ": " + ", ".join(names), fontsize=11, loc="left")
            for number, name in enumerate(names):
                (line,) = axes.plot([], [], color=UNIT_COLOURS[number % 4], linewidth=2.2, label=name)
                self.lines.append((line, name))
        fit_series = [recorder.series(animator.output)] + ([target[None, :]] if target is not None else [])
        ax_fit.set_ylim(*_limits(fit_series))
        ax_fit.set_title(f"3  network output {animator.output} vs the target", fontsize=11, loc="left")
        if target is not None:
            ax_fit.plot(grid, target, color="#111827", linestyle="--", linewidth=1.6, label=animator.target_label)
        (fit_line,) = ax_fit.plot([], [], color=MEAN_LOSS, linewidth=2.4, label=animator.output)
        self.lines.append((fit_line, animator.output))
        for axes in (ax_hidden, ax_weighted, ax_fit):
            axes.set_xlim(grid[0], grid[-1])
            axes.axhline(0.0, color="#9ca3af", linewidth=0.8, zorder=0)
            axes.grid(alpha=0.25)
            axes.set_xlabel("x")
            if animator.train_range is not None:
                axes.axvspan(*animator.train_range, color=TRAIN_SHADE, alpha=0.35, zorder=0, linewidth=0)
        if animator.train_range is not None:
            low, high = animator.train_range
            ax_fit.text(
                (low + high) / 2, 0.03, f"training range [{low:g}, {high:g}]", transform=ax_fit.get_xaxis_transform(),
                ha="center", fontsize=9, color="#92400e",
            )  # fmt: skip
        self._moves(*(line for line, _ in self.lines))
        self._build_kinks(ax_hidden)
        for axes in (ax_hidden, ax_weighted, ax_fit):
            self.overlays.append(axes.legend(loc="upper left", fontsize=9, framealpha=0.9))
        self.note = ax_fit.text(
            0.5, 0.55, "", transform=ax_fit.transAxes, ha="center", va="center", fontsize=10, color="#7f1d1d",
            wrap=True, bbox={"facecolor": "#fef2f2", "edgecolor": "#b91c1c", "boxstyle": "round,pad=0.4"},
        )  # fmt: skip
        self._moves(self.note)
        self._build_loss(ax_loss)
        self.graph_update = None
        if ax_graph is not None:
            from graphdl.viz.playground import GraphPanel

            panel = GraphPanel(recorder, ax_graph, train_range=animator.train_range, animated=self.animated)
            self.moving.extend(panel.artists)
            self.stamps.extend(panel.stamps)
            self.graph_update = panel.update
        self._build_title()

    def _build_title(self) -> None:
        """The title line: its fixed words drawn once with the static parts, and two short
        moving fields (the step, the loss figure) in a monospaced font laid out between them."""
        animator, figure = self.animator, self.figure
        style = {"fontsize": 14, "fontfamily": "monospace", "ha": "left", "va": "baseline"}
        renderer = figure.canvas.get_renderer()

        def width(text: str) -> float:
            probe = figure.text(0, 0, text, **style)
            extent = probe.get_window_extent(renderer).width
            probe.remove()
            return extent

        self.step_digits = len(str(self.total))
        parts = [
            (f"{animator.title}   step ", False, None),
            ("", True, 2 * self.step_digits + 3),  # "  300 / 1500"
            (f"   {loss_figure_name(self.window, animator.loss_symbol)} ", False, None),
            ("", True, 7),  # "0.0921"
        ]
        digit = width("0" * 10) / 10
        widths = [width(text) if size is None else digit * size for text, moving, size in parts]
        x = (figure.bbox.width - sum(widths)) / 2
        baseline = 1 - 0.02 - style["fontsize"] * figure.dpi / 72 / figure.bbox.height
        self.title_fields = []
        for (text, moving, _), part_width in zip(parts, widths):
            artist = figure.text(x / figure.bbox.width, baseline, text, **style)
            if moving:
                self._moves(artist)
                self.title_fields.append(artist)
            x += part_width

    def _build_kinks(self, axes: Any) -> None:
        self.kink_artists = []
        self.kink_font = 9
        for number, (weight, bias) in enumerate(self.animator.kinks):
            colour = UNIT_COLOURS[number % 4]
            vline = axes.axvline(np.nan, color=colour, linestyle=":", linewidth=1.4)
            (dot,) = axes.plot([], [], marker="o", markersize=7, color=colour, markeredgecolor="white")
            label = axes.text(
                0, 0.04, "", transform=axes.get_xaxis_transform(), color=colour, fontsize=self.kink_font,
                ha="center", va="bottom", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
            )  # fmt: skip
            self._moves(vline, dot)
            self.kink_artists.append((weight, bias, vline, dot, label))
        self._moves(*(label for *_, label in self.kink_artists))
        # label width in data units, to keep close kinks' labels apart
        width_px = 10 * 0.62 * self.kink_font * self.figure.dpi / 72 + 6
        axes_width_px = axes.get_position().width * self.figure.get_figwidth() * self.figure.dpi
        self.kink_width = width_px / axes_width_px * (self.grid[-1] - self.grid[0])
        self.kink_axes = axes

    def _build_loss(self, axes: Any) -> None:
        animator = self.animator
        losses = np.asarray(animator.recorder.losses, dtype=float)
        self.losses = losses
        window = animator.loss_window
        self.window = window
        cap = clip_level(losses)
        self.raw_x, self.raw_y = envelope(np.minimum(losses, cap))
        self.mean_x, self.mean_y = envelope(running_mean(losses, window))
        clipped = np.flatnonzero(losses > cap)
        self.clipped_x = spread_out(clipped + 1.0, max(losses.size, 1))
        axes.set_xlim(0, max(self.total, 1))
        axes.set_ylim(0, cap / LEGEND_BAND)
        axes.axhline(cap, color="#d1d5db", linewidth=0.8, linestyle=":", zorder=0)
        axes.set_xlabel("training step")
        axes.set_ylabel(f"loss {animator.loss_symbol}")
        axes.set_title("4  training loss so far", fontsize=11, loc="left")
        axes.grid(alpha=0.25)
        (self.raw_line,) = axes.plot([], [], color=RAW_LOSS, linewidth=0.6, alpha=0.9, label="per step")
        (self.mean_line,) = axes.plot(
            [], [], color=MEAN_LOSS, linewidth=2.0, label=f"mean of the last {window} step{'s' if window != 1 else ''}"
        )
        (self.clip_marks,) = axes.plot(
            [], [], linestyle="none", marker="^", markersize=5, color="#b91c1c", clip_on=False,
            label=f"above {cap:.3g} (cut off)",
        )  # fmt: skip
        self.now_line = axes.axvline(0, color="#111827", linewidth=1.0, linestyle="--")
        self.cap = cap
        legend = axes.legend(
            handles=[self.raw_line, self.mean_line] + ([self.clip_marks] if clipped.size else []),
            loc="upper right", fontsize=9, framealpha=0.9, ncol=1,
        )  # fmt: skip
        self._moves(self.raw_line, self.mean_line, self.clip_marks, self.now_line)
        self.overlays.append(legend)

    # ---------------------------------------------------------------- frames
    def update(self, index: int) -> None:
        """Set every moving artist to snapshot ``index``."""
        animator, grid = self.animator, self.grid
        snapshot = self.snapshots[index]
        for line, name in self.lines:
            line.set_data(grid, snapshot.outputs[name])
        self._update_kinks(snapshot)
        done = snapshot.step
        raw_end = np.searchsorted(self.raw_x, done, side="right")
        self.raw_line.set_data(self.raw_x[:raw_end], self.raw_y[:raw_end])
        mean_end = np.searchsorted(self.mean_x, done, side="right")
        self.mean_line.set_data(self.mean_x[:mean_end], self.mean_y[:mean_end])
        clipped = self.clipped_x[self.clipped_x <= done]
        self.clip_marks.set_data(clipped, np.full(clipped.shape, self.cap))
        self.now_line.set_xdata([done, done])
        step_field, loss_field = self.title_fields
        step_field.set_text(f"{done:>{self.step_digits}} / {self.total}")
        loss = recent_mean(animator.recorder.losses, self.window, done)  # fewer steps at the start
        loss_field.set_text(f"{loss:.4f}" if done > 0 else "(before training)")
        last = index == len(self.snapshots) - 1
        self.note.set_text(animator.final_note if last and animator.final_note else "")
        self.note.set_visible(bool(last and animator.final_note))
        if self.graph_update is not None:
            self.graph_update(snapshot)

    def _update_kinks(self, snapshot: Any) -> None:
        grid = self.grid
        placed: list[tuple[float, Any]] = []
        for weight, bias, vline, dot, label in self.kink_artists:
            w, b = snapshot.parameters.get(weight), snapshot.parameters.get(bias)
            kink = -b / w if w not in (None, 0.0) and b is not None else np.nan
            visible = bool(np.isfinite(kink) and grid[0] <= kink <= grid[-1])
            vline.set_xdata([kink, kink])
            dot.set_data([kink], [0.0])
            for artist in (vline, dot, label):
                artist.set_visible(visible)
            if visible:
                label.set_text(f"kink {round(kink, 2) + 0.0:.2f}")  # + 0.0: no "-0.00"
                placed.append((kink, label))
        # labels in order of x; one that would touch its left neighbour's goes one row up
        half = self.kink_width / 2
        row_ends: list[float] = []
        for kink, label in sorted(placed, key=lambda item: item[0]):
            x = float(np.clip(kink, grid[0] + half, grid[-1] - half))
            row = next((number for number, end in enumerate(row_ends) if end <= x - half), len(row_ends))
            if row == len(row_ends):
                row_ends.append(x + half)
            else:
                row_ends[row] = x + half
            label.set_position((x, 0.04 + 0.08 * row))
