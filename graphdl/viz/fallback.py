"""The graph drawn with matplotlib when Graphviz's ``dot`` is missing: same roles,
colours and labels as the DOT output, layered left to right."""

from __future__ import annotations

import io
from typing import Any

from graphdl.core.graph import Graph, node_role
from graphdl.viz.dot import node_label_rows
from graphdl.viz.layout import layered_positions
from graphdl.viz.style import (
    DEAD_BORDER,
    DEAD_FILL,
    EDGE_COLOUR,
    ROLE_STYLES,
    VANISHING_BORDER,
    VANISHING_FILL,
    display_text,
    is_dead,
    is_vanishing,
)

LAYER_WIDTH = 2.5  # inches between layers
ROW_HEIGHT = 1.15  # inches between rows


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
    height = max(ys) - min(ys) + 2 * margin_y + (0.4 if title else 0.0)
    figure = Figure(figsize=(width, height), dpi=110)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(min(xs) - margin_x, max(xs) + margin_x)
    axes.set_ylim(min(ys) - margin_y, max(ys) + margin_y + (0.4 if title else 0.0))
    axes.axis("off")
    if title:
        axes.text(
            (min(xs) + max(xs)) / 2,
            max(ys) + margin_y,
            display_text(title),
            ha="center",
            va="center",
            fontsize=13,
            parse_math=False,  # names are shown literally: "$x$" is not mathtext
        )
    boxes = {}
    for node, (x, y) in points.items():
        style = ROLE_STYLES[node_role(node)]
        dead = highlight_dead and is_dead(node)
        vanishing = vanishing_threshold is not None and is_vanishing(node, vanishing_threshold)
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
                zorder=2,
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
    # Text boxes get their size at draw time; the arrows are clipped to them, so draw once first.
    FigureCanvasAgg(figure).draw()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=format, facecolor="white")
    return buffer.getvalue()
