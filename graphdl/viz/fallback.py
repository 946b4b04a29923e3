"""The graph drawn with matplotlib when Graphviz's ``dot`` is missing: same roles,
colours and labels as the DOT output, layered left to right."""

from __future__ import annotations

import io
import math
from typing import Any

from graphdl.core.graph import Graph, node_role
from graphdl.core.node import Node
from graphdl.viz.dot import legend_entries, node_label_rows
from graphdl.viz.layout import layered_positions
from graphdl.viz.style import (
    DEAD_BORDER,
    DEAD_FILL,
    EDGE_COLOUR,
    ROLE_STYLES,
    VANISHING_BORDER,
    VANISHING_FILL,
    is_dead,
    is_vanishing,
    title_lines,
)

LAYER_WIDTH = 2.5  # inches between layers
ROW_HEIGHT = 1.15  # inches between rows
TITLE_LINE = 0.3  # inches per title line
LEGEND_ROW = 0.3  # inches below the graph per row of the key
LEGEND_ENTRY_WIDTH = 2.6  # inches a key entry may take


def draw_with_matplotlib(
    graph: Graph,
    format: str,
    *,
    show_values: bool = True,
    show_grads: bool = True,
    rankdir: str = "LR",
    highlight_dead: bool = True,
    vanishing_threshold: float | None = None,
    title: str | None = None,
    legend: bool = True,
    **_ignored: Any,
) -> bytes:
    """The picture as ``format`` bytes (png, svg or pdf)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    positions = layered_positions(graph)
    vertical = rankdir in {"TB", "BT"}
    points = {}
    for node, (layer, row) in positions.items():
        x, y = layer * LAYER_WIDTH, -row * ROW_HEIGHT
        if rankdir == "RL":
            x = -x
        if vertical:
            x, y = row * LAYER_WIDTH, -layer * ROW_HEIGHT * 1.4
            if rankdir == "BT":
                y = -y
        points[node] = (x, y)
    xs = [point[0] for point in points.values()]
    ys = [point[1] for point in points.values()]
    margin_x, margin_y = LAYER_WIDTH * 0.55, ROW_HEIGHT * 0.7
    width = max(xs) - min(xs) + 2 * margin_x
    lines = title_lines(title) if title else []
    top = TITLE_LINE * len(lines) + (TITLE_LINE / 2 if lines else 0.0)
    marks = {node: _marks(node, highlight_dead, vanishing_threshold) for node in graph.nodes}
    key = legend_entries(
        [node_role(node) for node in graph.nodes],
        [mark for index, mark in enumerate(("dead", "vanishing")) if any(flags[index] for flags in marks.values())],
        vanishing_threshold,
    )
    columns = max(1, min(len(key), int(width // LEGEND_ENTRY_WIDTH)))
    bottom = LEGEND_ROW * math.ceil(len(key) / columns) if legend else 0.0
    height = max(ys) - min(ys) + 2 * margin_y + top + bottom
    figure = Figure(figsize=(width, height), dpi=110)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(min(xs) - margin_x, max(xs) + margin_x)
    axes.set_ylim(min(ys) - margin_y - bottom, max(ys) + margin_y + top)
    axes.axis("off")
    if lines:
        axes.text(
            (min(xs) + max(xs)) / 2,
            max(ys) + margin_y + top / 2,
            "\n".join(lines),
            ha="center",
            va="center",
            fontsize=13,
            parse_math=False,  # names are shown literally: "$x$" is not mathtext
        )
    boxes = {}
    for node, (x, y) in points.items():
        style = ROLE_STYLES[node_role(node)]
        dead, vanishing = marks[node]
        rows = node_label_rows(node, show_values=show_values, show_grads=show_grads, dead=dead, vanishing=vanishing)
        text = "\n".join(line for line, _ in rows)
        boxes[node] = axes.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=7.5,
            linespacing=1.3,
            parse_math=False,
            zorder=3,
            bbox={
                "boxstyle": "round,pad=0.45" if style.rounded else "square,pad=0.45",
                "facecolor": DEAD_FILL if dead else VANISHING_FILL if vanishing else style.fill,
                "edgecolor": DEAD_BORDER if dead else VANISHING_BORDER if vanishing else style.border,
                "linewidth": 2.4 if (dead or vanishing) else 1.3,
                "linestyle": "--" if style.dashed else "-",
            },
        )
    for node in graph.nodes:
        for parent in node.parents:
            axes.annotate(
                "",
                xy=points[node],
                xytext=points[parent],
                zorder=4,  # after the boxes, whose drawing sizes the patches the arrows end at
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": EDGE_COLOUR,
                    "linewidth": 1.0,
                    "shrinkA": 2,
                    "shrinkB": 2,
                    "patchA": boxes[parent].get_bbox_patch(),
                    "patchB": boxes[node].get_bbox_patch(),
                    "connectionstyle": "arc3,rad=0.0",
                },
            )
    if legend:
        _draw_legend(figure, key, columns)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, facecolor="white")
    return buffer.getvalue()


def _marks(node: Node, highlight_dead: bool, vanishing_threshold: float | None) -> tuple[bool, bool]:
    """Whether ``node`` is drawn as a dead unit and as a vanishing gradient."""
    dead = highlight_dead and is_dead(node)
    return dead, vanishing_threshold is not None and is_vanishing(node, vanishing_threshold)


def _draw_legend(figure: Any, entries: list[tuple[str, str, str]], columns: int) -> None:
    """The key of :func:`~graphdl.viz.dot.legend_entries` along the bottom edge, ``columns`` entries a row."""
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=fill, edgecolor=border, label=text) for text, fill, border in entries]
    figure.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8, frameon=False, borderaxespad=0.3)
