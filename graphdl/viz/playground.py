"""The animator's graph panel, in the spirit of TensorFlow Playground: every node of the
network is a box showing its output over the input grid as a small curve, filled by
its mean value over the training range (text in black or white, whichever reads on the
fill); edges that carry a weight are blue when it is positive, orange when negative,
and as thick as it is large."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphdl.core.graph import node_role
from graphdl.core.node import Node
from graphdl.viz.layout import BOX_HEIGHT, BOX_WIDTH, panel_positions
from graphdl.viz.recorder import Snapshot, TrainingRecorder
from graphdl.viz.style import ROLE_STYLES, text_colour

POSITIVE = "#2563eb"
NEGATIVE = "#ea580c"
NAME_SIZE = 9.5  # points: 13 px at the animator's 100 dpi, digits and capitals 9.6 px tall
VALUE_SIZE = 9.5


def _colour_map() -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("playground", [NEGATIVE, "#ffffff", POSITIVE])


def panel_colours(levels: int = 24) -> list[Any]:
    """Colours the panel paints with (fills along the colour map, edges, borders), for a
    GIF palette chosen before the fills appear."""
    cmap = _colour_map()
    borders = [style.border for style in ROLE_STYLES.values()]
    return [cmap(value) for value in np.linspace(0.0, 1.0, levels)] + [POSITIVE, NEGATIVE, *borders]


def weight_carriers(graph_nodes: list[Node]) -> dict[tuple[Node, Node], Node]:
    """Edge (parent, child) -> the parameter whose value the edge carries: edges leaving a
    parameter, and edges into a ``Mul`` from its one non-parameter side."""
    carriers: dict[tuple[Node, Node], Node] = {}
    for node in graph_nodes:
        parameters = [parent for parent in node.parents if node_role(parent) == "parameter"]
        for parent in node.parents:
            if node_role(parent) == "parameter":
                carriers[(parent, node)] = parent
            elif node.kind == "Mul" and len(parameters) == 1:
                carriers[(parent, node)] = parameters[0]
    return carriers


class GraphPanel:
    """Draws the recorder's graph (every node, data inputs and the loss included) into
    ``axes``; :meth:`update` recolours it for a snapshot. ``artists`` are the parts that
    change, in drawing order, and ``stamps`` the node names, whose colour follows the fill
    (all marked animated when ``animated``)."""

    def __init__(
        self, recorder: TrainingRecorder, axes: Any, train_range: tuple[float, float] | None, animated: bool = False
    ) -> None:
        from matplotlib.patches import FancyBboxPatch

        self.recorder = recorder
        graph = recorder.graph
        keys = graph.node_keys()
        self.keys = keys
        grid = recorder.grid
        self.mask = (
            (grid >= train_range[0]) & (grid <= train_range[1]) if train_range is not None else np.ones_like(grid, bool)
        )
        if not self.mask.any():
            self.mask = np.ones_like(grid, bool)
        positions = panel_positions(graph)
        self.cmap = _colour_map()
        recorded = recorder.snapshots[0].outputs
        means = [
            snapshot.outputs[keys[node]][self.mask].mean()
            for snapshot in recorder.snapshots
            for node in graph.nodes
            if keys[node] in recorded
        ]
        self.value_scale = max(float(np.max(np.abs(means))), 1e-12) if means else 1.0
        self.carriers = weight_carriers(graph.nodes)
        carried = {parameter.name for parameter in self.carriers.values()}
        weights = [abs(snapshot.parameters.get(name, 0.0)) for snapshot in recorder.snapshots for name in carried]
        self.weight_scale = max(max(weights, default=1.0), 1e-12)

        xs = [point[0] for point in positions.values()]
        ys = [point[1] for point in positions.values()]
        axes.set_xlim(min(xs) - BOX_WIDTH * 0.55, max(xs) + BOX_WIDTH * 0.55)
        axes.set_ylim(min(ys) - BOX_HEIGHT * 0.6, max(ys) + BOX_HEIGHT * 0.6)
        axes.axis("off")  # no fixed aspect: the graph fills the panel, boxes a little taller than wide
        heading = (
            "5  the graph: each box shows its node's output over x (fill = mean on the training range);\n"
            "    edges carry weights: blue > 0, orange < 0, width = size"
        )
        axes.set_title(heading, fontsize=10.5, loc="left")
        edges, boxes, curves, texts, names = [], [], [], [], []
        self.edges = []
        for node in graph.nodes:
            for parent in node.parents:
                (x0, y0), (x1, y1) = positions[parent], positions[node]
                start = (x0 + BOX_WIDTH / 2, y0)
                end = (x1 - BOX_WIDTH / 2, y1)
                (line,) = axes.plot(*zip(start, end), color="#9ca3af", linewidth=0.8, zorder=1, solid_capstyle="butt")
                carrier = self.carriers.get((parent, node))
                if carrier is not None:
                    self.edges.append((line, keys[carrier]))
                    edges.append(line)
        self.boxes = []
        self.curves = []
        self.labels = []
        for node in graph.nodes:
            x, y = positions[node]
            role = node_role(node)
            box = FancyBboxPatch(
                (x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
                boxstyle="round,pad=0.0,rounding_size=0.06", linewidth=1.4, zorder=2,
                edgecolor=ROLE_STYLES[role].border, facecolor="white",
            )  # fmt: skip
            axes.add_patch(box)
            boxes.append(box)
            key = keys[node]
            name = axes.text(x, y + BOX_HEIGHT / 2 - 0.04, key, ha="center", va="top", fontsize=NAME_SIZE, zorder=4)
            names.append(name)
            self.boxes.append((box, key, name))
            if role == "parameter" or key not in recorded:
                label = axes.text(x, y - BOX_HEIGHT * 0.2, "", ha="center", va="center", fontsize=VALUE_SIZE, zorder=4)
                self.labels.append((label, key))
                texts.append(label)
                continue
            series = recorder.series(key)
            low, high = float(series.min()), float(series.max())
            span = (high - low) or 1.0
            inner_w, inner_h = BOX_WIDTH * 0.84, BOX_HEIGHT * 0.42
            curve_x = x - inner_w / 2 + (grid - grid[0]) / (grid[-1] - grid[0]) * inner_w
            (curve,) = axes.plot(curve_x, np.full_like(grid, y), color="#111827", linewidth=1.2, zorder=3)
            self.curves.append((curve, key, y - BOX_HEIGHT / 2 + 0.06, inner_h, low, span))
            curves.append(curve)
        self.artists = edges + boxes + curves + texts
        self.stamps = names
        for artist in self.artists + self.stamps:
            artist.set_animated(animated)
        self.update(recorder.snapshots[0])

    def _fill(self, value: float) -> Any:
        return self.cmap(0.5 + 0.5 * float(np.clip(value / self.value_scale, -1.0, 1.0)))

    def update(self, snapshot: Snapshot) -> None:
        """Recolour boxes, text and edges and redraw the curves for ``snapshot``."""
        fills = {}
        for box, key, name in self.boxes:
            if key in snapshot.parameters:
                fill = self._fill(snapshot.parameters[key])
            elif key in snapshot.outputs:
                fill = self._fill(snapshot.outputs[key][self.mask].mean())
            else:
                fill = (1.0, 1.0, 1.0, 1.0)
            box.set_facecolor(fill)
            fills[key] = text_colour(fill)
            name.set_color(fills[key])
        for curve, key, bottom, height, low, span in self.curves:
            curve.set_ydata(bottom + (snapshot.outputs[key] - low) / span * height)
            curve.set_color(fills[key])
        for label, key in self.labels:
            value = snapshot.parameters.get(key)
            label.set_text(f"{round(value, 3) + 0.0:+.3f}" if value is not None else "")
            label.set_color(fills[key])
        for line, key in self.edges:
            weight = snapshot.parameters.get(key, 0.0)
            line.set_color(POSITIVE if weight >= 0 else NEGATIVE)
            line.set_linewidth(0.6 + 4.0 * abs(weight) / self.weight_scale)
