"""The animator's graph panel, in the spirit of TensorFlow Playground: every node of the
network is a box showing its output over the input grid as a small curve, filled by
its mean value over the training range; edges that carry a weight are blue when it is
positive, orange when negative, and as thick as it is large."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphdl.core.graph import node_role
from graphdl.core.node import Node
from graphdl.viz.layout import BOX_HEIGHT, BOX_WIDTH, panel_positions
from graphdl.viz.recorder import Snapshot, TrainingRecorder

POSITIVE = "#2563eb"
NEGATIVE = "#ea580c"


def _colour_map() -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("playground", [NEGATIVE, "#ffffff", POSITIVE])


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
    """Draws the recorder's graph into ``axes``; :meth:`update` recolours it for a snapshot."""

    def __init__(self, recorder: TrainingRecorder, axes: Any, train_range: tuple[float, float] | None) -> None:
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
        means = [
            snapshot.outputs[keys[node]][self.mask].mean()
            for snapshot in recorder.snapshots
            for node in graph.nodes
            if keys[node] in snapshot.outputs
        ]
        self.value_scale = max(float(np.max(np.abs(means))), 1e-12) if means else 1.0
        self.carriers = weight_carriers(graph.nodes)
        carried = {parameter.name for parameter in self.carriers.values()}
        weights = [abs(snapshot.parameters.get(name, 0.0)) for snapshot in recorder.snapshots for name in carried]
        self.weight_scale = max(max(weights, default=1.0), 1e-12)

        xs = [point[0] for point in positions.values()]
        ys = [point[1] for point in positions.values()]
        axes.set_xlim(min(xs) - BOX_WIDTH * 0.7, max(xs) + BOX_WIDTH * 0.7)
        axes.set_ylim(min(ys) - BOX_HEIGHT * 0.7, max(ys) + BOX_HEIGHT * 0.7)
        axes.set_aspect("equal")
        axes.axis("off")
        heading = (
            "5  the graph: boxes show each node's output over x (fill = mean on the training range);\n"
            "    edges carry weights: blue > 0, orange < 0, width = size"
        )
        axes.set_title(heading, fontsize=10, loc="left")
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
        self.boxes = []
        self.curves = []
        self.labels = []
        for node in graph.nodes:
            x, y = positions[node]
            role = node_role(node)
            box = FancyBboxPatch(
                (x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT,
                boxstyle="round,pad=0.0,rounding_size=0.06", linewidth=1.2, zorder=2,
                edgecolor="#b45309" if role == "parameter" else "#374151", facecolor="white",
            )  # fmt: skip
            axes.add_patch(box)
            key = keys[node]
            axes.text(x, y + BOX_HEIGHT / 2 - 0.05, key, ha="center", va="top", fontsize=8, zorder=4)
            self.boxes.append((box, key))
            if role == "parameter" or key not in recorder.snapshots[0].outputs:
                label = axes.text(x, y - BOX_HEIGHT * 0.17, "", ha="center", va="center", fontsize=8.5, zorder=4)
                self.labels.append((label, key))
                continue
            series = recorder.series(key)
            low, high = float(series.min()), float(series.max())
            span = (high - low) or 1.0
            inner_w, inner_h = BOX_WIDTH * 0.84, BOX_HEIGHT * 0.5
            curve_x = x - inner_w / 2 + (grid - grid[0]) / (grid[-1] - grid[0]) * inner_w
            (curve,) = axes.plot(curve_x, np.full_like(grid, y), color="#111827", linewidth=1.1, zorder=3)
            self.curves.append((curve, key, y - BOX_HEIGHT / 2 + 0.06, inner_h, low, span))
        self.update(recorder.snapshots[0])

    def _fill(self, value: float) -> Any:
        return self.cmap(0.5 + 0.5 * float(np.clip(value / self.value_scale, -1.0, 1.0)))

    def update(self, snapshot: Snapshot) -> None:
        """Recolour boxes and edges and redraw the curves for ``snapshot``."""
        for box, key in self.boxes:
            if key in snapshot.parameters:
                box.set_facecolor(self._fill(snapshot.parameters[key]))
            elif key in snapshot.outputs:
                box.set_facecolor(self._fill(snapshot.outputs[key][self.mask].mean()))
        for curve, key, bottom, height, low, span in self.curves:
            curve.set_ydata(bottom + (snapshot.outputs[key] - low) / span * height)
        for label, key in self.labels:
            value = snapshot.parameters.get(key)
            label.set_text(f"{round(value, 3) + 0.0:+.3f}" if value is not None else "")
        for line, key in self.edges:
            weight = snapshot.parameters.get(key, 0.0)
            line.set_color(POSITIVE if weight >= 0 else NEGATIVE)
            line.set_linewidth(0.6 + 4.0 * abs(weight) / self.weight_scale)
