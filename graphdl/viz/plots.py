"""Static plots: loss curves, the activation-function gallery (the feed-forward tutorial's) and histograms
of initial parameter values. Each returns a matplotlib ``Figure`` (Agg, no pyplot) and
writes it when ``path`` is given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.viz.animator import LEGEND_BAND, MEAN_LOSS, RAW_LOSS
from graphdl.viz.loss_stats import clip_level, envelope, round_window, running_mean, spread_out


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | Path | None, dpi: int = 110) -> None:
    if path is not None:
        figure.savefig(path, dpi=dpi, facecolor="white")


def plot_loss(
    train: Sequence[float],
    validation: Sequence[float] | None = None,
    *,
    smooth: int | None = None,
    xlabel: str = "training step",
    ylabel: str = "loss",
    title: str = "Training loss",
    path: str | Path | None = None,
) -> Any:
    """Loss curves: ``train`` (raw, faint, and its running mean over the last ``smooth``
    steps, by default a round tenth of the run, see :func:`~graphdl.viz.loss_stats.round_window`)
    and, when given, ``validation`` (spread over the same x range, e.g. one value per epoch).

    The y-axis stops just above the 99.5th percentile of ``train``: the few steps above it
    are drawn at the top as red triangles and counted in the legend. The curves stay in
    the lower three quarters, the legend in the band above them."""
    losses = np.asarray(train, dtype=float)
    if losses.size == 0:
        raise ValueError("plot_loss needs at least one training loss value")
    figure = _figure((8.0, 4.2))
    axes = figure.add_subplot()
    values = np.asarray(validation, dtype=float) if validation is not None and len(validation) else None
    cap = clip_level(losses if values is None else np.concatenate([losses, values]))
    steps = np.arange(1, losses.size + 1)
    window = smooth or round_window(losses.size)
    if window > 1:  # a long run is drawn as each bin's min and max (see envelope): the same picture
        axes.plot(*envelope(np.minimum(losses, cap)), color=RAW_LOSS, linewidth=0.6, label="train, per step")
        axes.plot(
            *envelope(np.minimum(running_mean(losses, window), cap)), color=MEAN_LOSS, linewidth=2.0,
            label=f"train, mean of the last {window} steps",
        )  # fmt: skip
    else:
        axes.plot(steps, np.minimum(losses, cap), color=MEAN_LOSS, linewidth=1.8, label="train")
    clipped = np.flatnonzero(losses > cap)
    if clipped.size:
        marked = spread_out(clipped + 1, losses.size)
        axes.plot(
            marked, np.full(marked.size, cap), linestyle="none", marker="^", markersize=5, color="#b91c1c",
            clip_on=False, label=f"{clipped.size} step{'s' if clipped.size > 1 else ''} above {cap:.3g} "
            f"(cut off; highest {losses.max():.3g})",
        )  # fmt: skip
        axes.axhline(cap, color="#d1d5db", linewidth=0.8, linestyle=":", zorder=0)
    if values is not None:
        at = np.linspace(losses.size / values.size, losses.size, values.size)
        axes.plot(at, values, color="#2563eb", linewidth=2.0, marker="o", markersize=3, label="validation")
    axes.set_xlim(0, losses.size)
    axes.set_ylim(0, cap / LEGEND_BAND)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=9, ncol=2 if clipped.size or values is not None else 1, framealpha=0.9)
    _save(figure, path)
    return figure


def activation_curve(op_class: type, xs: np.ndarray, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """An activation's values and derivative over ``xs``, computed by graphdl: one batch
    forward pass and ``get_grad`` (the grad of the batch mean, times the batch size)."""
    from graphdl.core.node import Variable

    x = Variable(np.asarray(xs, dtype=float), name="x", trainable=False)
    y = op_class([x], **options)
    values = np.asarray(y.forward(), dtype=float)
    derivative = np.asarray(x.get_grad(y), dtype=float) * len(xs)
    return values, derivative


def activation_gallery(path: str | Path | None = None) -> Any:
    """The feed-forward tutorial's activation figure: Logistic and Tanh, ReLU and LeakyReLU, each with its
    derivative (dashed), all computed by graphdl's own operators."""
    from graphdl.ops import LeakyRelu, Relu, Sigmoid, Tanh

    xs = np.linspace(-4.0, 4.0, 401)
    figure = _figure((10.0, 4.0))
    groups: list[tuple[str, list[tuple[str, type, dict[str, float], str]]]] = [
        ("Logistic and Tanh", [("Logistic σ", Sigmoid, {}, "#2563eb"), ("Tanh", Tanh, {}, "#ea580c")]),
        (
            "ReLU and LeakyReLU",
            [("ReLU", Relu, {}, "#16a34a"), ("LeakyReLU (slope 0.1)", LeakyRelu, {"negative_slope": 0.1}, "#9333ea")],
        ),
    ]
    for number, (heading, curves) in enumerate(groups):
        axes = figure.add_subplot(1, 2, number + 1)
        for order, (label, op_class, options, colour) in enumerate(curves):
            values, derivative = activation_curve(op_class, xs, **options)
            # the first curve is drawn wider underneath, so where two coincide both stay visible
            width, alpha = (4.5, 0.55) if order == 0 and number == 1 else (2.0, 1.0)
            axes.plot(xs, values, color=colour, linewidth=width, alpha=alpha, label=label)
            axes.plot(
                xs, derivative, color=colour, linewidth=width * 0.7, alpha=alpha, linestyle="--",
                label=f"{label.split()[0]}′",
            )  # fmt: skip
        axes.axhline(0, color="#9ca3af", linewidth=0.8)
        axes.axvline(0, color="#9ca3af", linewidth=0.8)
        axes.set_xlim(xs[0], xs[-1])
        axes.set_ylim(-1.25, 1.6 if number == 0 else 4.2)
        axes.set_title(heading + " (dashed: derivative)")
        axes.set_xlabel("x")
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=9)
    _save(figure, path)
    return figure


def init_histograms(
    samples: Mapping[str, Sequence[float] | np.ndarray],
    *,
    bins: int = 40,
    title: str = "Initial parameter values",
    path: str | Path | None = None,
) -> Any:
    """One histogram per entry of ``samples`` (label -> values), side by side."""
    if not samples:
        raise ValueError("init_histograms needs at least one sample set")
    figure = _figure((3.6 * len(samples), 3.4))
    figure.suptitle(title)
    colours = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#b45309")
    for number, (label, values) in enumerate(samples.items()):
        axes = figure.add_subplot(1, len(samples), number + 1)
        data = np.asarray(values, dtype=float)
        axes.hist(data, bins=bins, color=colours[number % len(colours)], alpha=0.85, edgecolor="white", linewidth=0.4)
        axes.set_title(label, fontsize=10)
        axes.set_xlabel("value")
        axes.grid(alpha=0.3)
        axes.text(
            0.02, 0.97, f"n={data.size}\nmean {data.mean():.3f}\nstd {data.std():.3f}", transform=axes.transAxes,
            va="top", fontsize=8, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )  # fmt: skip
    _save(figure, path)
    return figure


def plot_decision_boundary(
    predict: Any,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    bounds: tuple[float, float, float, float] | None = None,
    resolution: int = 200,
    threshold: float = 0.5,
    class_names: Sequence[str] | None = None,
    feature_names: tuple[str, str] = ("x1", "x2"),
    title: str = "Decision boundary",
    axes: Any = None,
    path: str | Path | None = None,
) -> Any:
    """A classifier's regions over a 2-D grid, with the data of each split on top.

    ``predict(points)`` takes a ``(M, 2)`` array and returns the model's outputs: shape
    ``(M,)`` for one output (a probability, a logit or a score, classified as
    ``output ≥ threshold``; the plane is shaded by the output and the boundary drawn at
    ``threshold``) or ``(M, K)`` for K classes (argmax regions). ``splits`` maps a split
    name (``"train"``, ``"dev"``, ``"test"``, …) to its ``(X, y)``: each split gets its
    own marker, each class its own colour. The grid is ``resolution`` × ``resolution``
    points over ``bounds`` = (x_min, x_max, y_min, y_max), by default the data's range
    plus a margin. Draws into ``axes`` when given (returns its figure), else into a new
    figure, written to ``path`` when given.
    """
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.lines import Line2D

    from graphdl.metrics import classify

    if not splits:
        raise ValueError("plot_decision_boundary needs at least one (X, y) split to draw")
    if not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"plot_decision_boundary: resolution must be an integer >= 2, got {resolution!r}")
    data = {name: (np.asarray(X, dtype=float), np.asarray(y).reshape(-1)) for name, (X, y) in splits.items()}
    for name, (X, y) in data.items():
        if X.ndim != 2 or X.shape[1] != 2 or len(X) != len(y):
            raise ValueError(f"plot_decision_boundary: split {name!r} needs X of shape (N, 2) and N labels")
    if bounds is None:
        every = np.concatenate([X for X, _ in data.values()])
        low, high = every.min(axis=0), every.max(axis=0)
        margin = 0.1 * (high - low) + 1e-9
        bounds = (low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1])
    grid_x, grid_y = np.meshgrid(
        np.linspace(bounds[0], bounds[1], resolution), np.linspace(bounds[2], bounds[3], resolution)
    )
    points = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    outputs = np.asarray(predict(points), dtype=float)
    if outputs.shape[0] != len(points):
        raise ValueError(f"plot_decision_boundary: predict gave {outputs.shape[0]} outputs for {len(points)} points")
    labels = np.concatenate([y for _, y in data.values()]).astype(int)
    n_classes = max(int(labels.max(initial=0)) + 1, outputs.shape[1] if outputs.ndim == 2 else 2)
    palette = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
    colours = [palette[k % len(palette)] for k in range(n_classes)]

    if axes is None:
        figure = _figure((7.0, 6.0))
        axes = figure.add_subplot()
    else:
        figure = axes.figure
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        shade = outputs.reshape(grid_x.shape)
        lightest = LinearSegmentedColormap.from_list("boundary", ["#bfdbfe", "#ffffff", "#fecaca"])
        spread = float(np.max(np.abs(shade - threshold))) or 1.0
        axes.contourf(grid_x, grid_y, shade, levels=21, cmap=lightest, vmin=threshold - spread, vmax=threshold + spread)
        axes.contour(grid_x, grid_y, shade, levels=[threshold], colors="black", linewidths=1.8)
    else:
        regions = classify(outputs, threshold).reshape(grid_x.shape)
        tints = ListedColormap([colour + "40" for colour in colours])
        axes.pcolormesh(grid_x, grid_y, regions, cmap=tints, vmin=-0.5, vmax=n_classes - 0.5, shading="auto")
        axes.contour(grid_x, grid_y, regions, levels=np.arange(n_classes) + 0.5, colors="black", linewidths=1.2)

    # the first split (usually train, the most points) small and light; the others larger, dark-edged
    markers = ("o", "s", "^", "D", "v", "P")
    split_handles = []
    for number, (name, (X, y)) in enumerate(data.items()):
        marker = markers[number % len(markers)]
        size, edge = (16, "white") if number == 0 else (34, "black")
        point_colours = [colours[int(k) % len(colours)] for k in y]
        axes.scatter(X[:, 0], X[:, 1], c=point_colours, marker=marker, s=size, edgecolors=edge, linewidths=0.6)
        split_handles.append(
            Line2D([], [], linestyle="none", marker=marker, markersize=6, color="#9ca3af", markeredgecolor=edge,
                   label=f"{name} ({len(X)})")
        )  # fmt: skip
    names = list(class_names) if class_names is not None else [f"class {k}" for k in range(n_classes)]
    class_handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=6,
            color=colours[k],
            label=names[k] if k < len(names) else str(k),
        )
        for k in range(n_classes)
    ]
    boundary = Line2D([], [], color="black", linewidth=1.8, label="decision boundary")
    axes.legend(handles=[*split_handles, *class_handles, boundary], loc="upper right", fontsize=8, framealpha=0.9)
    axes.set_xlim(bounds[0], bounds[1])
    axes.set_ylim(bounds[2], bounds[3])
    axes.set_xlabel(feature_names[0])
    axes.set_ylabel(feature_names[1])
    axes.set_title(title)
    _save(figure, path)
    return figure


def plot_confusion_matrix(
    matrix: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    *,
    title: str | None = None,
    axes: Any = None,
    path: str | Path | None = None,
) -> Any:
    """A confusion matrix ``m[true, predicted]`` (as :func:`graphdl.metrics.confusion_matrix`
    returns) as a heat map with the count written in every cell: rows are the true
    classes, columns the predicted ones, so correct answers lie on the diagonal; the
    non-zero counts off the diagonal (the mistakes) are written in bold red.

    ``class_names`` label the axes (default ``0 … K−1``); the default ``title`` gives the
    number and fraction correct. Draws into ``axes`` when given (to place the matrix in a
    larger figure), else into a new figure. Returns the figure."""
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix needs a square K×K matrix, got shape {counts.shape}")
    if not np.issubdtype(counts.dtype, np.number) or (counts < 0).any():
        raise ValueError("plot_confusion_matrix needs non-negative counts")
    size = counts.shape[0]
    names = [str(k) for k in range(size)] if class_names is None else [str(name) for name in class_names]
    if len(names) != size:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {size}×{size} matrix")
    if axes is None:
        side = min(9.0, 2.2 + 0.55 * size)
        figure = _figure((side + 0.9, side))
        axes = figure.add_subplot()
    else:
        figure = axes.figure
    largest = max(int(counts.max()), 1)
    image = axes.imshow(counts, cmap="Blues", vmin=0, vmax=largest)
    font = 11 if size <= 6 else 9
    for true in range(size):
        for predicted in range(size):
            value = counts[true, predicted]
            text = f"{value:g}" if np.issubdtype(counts.dtype, np.floating) else str(int(value))
            if value == 0:
                colour, weight = "#9ca3af", "normal"
            elif true != predicted:  # mistakes stand out even where the colour is pale
                colour, weight = "#dc2626", "bold"
            else:
                colour, weight = ("white" if value > 0.55 * largest else "#111827"), "normal"
            axes.text(predicted, true, text, ha="center", va="center", color=colour, fontsize=font, weight=weight)
    axes.set_xticks(range(size), names, rotation=30 if max(map(len, names)) > 3 else 0, ha="center")
    axes.set_yticks(range(size), names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    if title is None:
        total, correct = counts.sum(), np.trace(counts)
        title = (
            f"Confusion matrix: {correct:g} of {total:g} correct ({correct / total:.1%})"
            if total
            else "Confusion matrix"
        )
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8, label="count")
    _save(figure, path)
    return figure


def plot_layer_norms(
    norms: Mapping[str, Sequence[float]],
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
    *,
    title: str = "Weight-gradient norm per layer",
    path: str | Path | None = None,
) -> Any:
    """Grouped log-scale bars of each layer's weight-gradient norm (e.g. the values of
    :meth:`graphdl.nn.Module.weight_gradient_norms`), one group per layer and one colour per
    run: ``norms`` maps a run's key to its per-layer norms, first layer first; ``labels``
    (default: the keys) names the runs in the legend, in the order drawn.

    A log scale cannot draw 0: an exact zero gets no bar but a short stroke at the bottom
    and the words "exactly 0", and that run's legend entry says so."""
    labels = dict(labels) if labels is not None else {key: key for key in norms}
    if not labels:
        raise ValueError("plot_layer_norms needs the norms of at least one run")
    missing = [key for key in labels if key not in norms]
    if missing:
        raise ValueError(f"plot_layer_norms: no norms for {missing}")
    values = {key: np.asarray(norms[key], dtype=float) for key in labels}
    layer_count = len(next(iter(values.values())))
    if layer_count == 0 or any(len(series) != layer_count for series in values.values()):
        raise ValueError("plot_layer_norms: every run needs the same number of layers (at least one)")
    palette = ("#7c3aed", "#f59e0b", "#0d9488", "#dc2626", "#2563eb", "#6b7280")
    colours = dict(colours) if colours is not None else {}
    figure = _figure((8.5, 4.8))
    axes = figure.add_subplot()
    layers = np.arange(1, layer_count + 1)
    width = 0.76 / len(labels)
    positive = [n for series in values.values() for n in series if n > 0]
    any_zero = any(np.any(series == 0.0) for series in values.values())
    # room below the lowest bar for the "exactly 0" marks, above the highest for the legend
    bottom = min(positive) / (30 if any_zero else 10) if positive else 1e-20
    top = max(positive) * 30 if positive else 1.0
    for number, (key, label) in enumerate(labels.items()):
        series, zero = values[key], values[key] == 0.0
        colour = colours.get(key, palette[number % len(palette)])
        offset = (number - (len(labels) - 1) / 2) * width
        if zero.any():
            label += " (a log scale cannot draw 0)"
        bars = axes.bar(layers + offset, np.where(zero, np.nan, series), width, color=colour, label=label)
        axes.bar_label(bars, labels=["" if z else f"{n:.1e}" for n, z in zip(series, zero)], fontsize=8, padding=2)
        for x in (layers + offset)[zero]:
            axes.text(x, bottom * 3, "exactly 0", rotation=90, ha="center", va="bottom", fontsize=9, color="#111827")
            axes.plot([x - width / 2, x + width / 2], [bottom * 1.3] * 2, color=colour, lw=3)
    axes.set_yscale("log")
    axes.set_ylim(bottom, top)
    axes.set_xlim(0.4, layer_count + 0.6)
    ticks = [f"fc{k}" + (" (input side)" if k == 1 else " (output)" if k == layer_count else "") for k in layers]
    axes.set_xticks(layers, ticks)
    axes.set_xlabel("layer")
    axes.set_ylabel("L2 norm of the weight gradient (log scale)")
    axes.set_title(title, fontsize=11)
    axes.grid(axis="y", alpha=0.3, which="major")
    axes.legend(loc="upper left")
    _save(figure, path, dpi=100)
    return figure
