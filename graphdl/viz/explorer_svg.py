"""The graph as inline SVG for the explorer page: Graphviz's drawing (``dot -Tsvg`` of
:func:`~graphdl.viz.dot.to_dot`) when ``dot`` is on PATH, else the same boxes laid out
by :func:`~graphdl.viz.layout.layered_positions`.

Either way every graph node is a ``<g class="node">`` with an id made from its name and
``data-index`` (its position in ``Graph.nodes``); its filled outline has class ``shape``
and its value and grad lines have classes ``value-text`` and ``grad-text``, so the page's
script can recolour and relabel them. Edges that carry a weight get ``data-carrier``
(the index of that parameter). The SVG is re-serialised by ElementTree, so every name
ends up escaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from graphdl.core.graph import Graph, node_role
from graphdl.core.node import Node
from graphdl.viz.dot import node_label_rows, table_label, to_dot
from graphdl.viz.dot_program import run_dot
from graphdl.viz.layout import layered_positions
from graphdl.viz.playground import weight_carriers
from graphdl.viz.style import EDGE_COLOUR, FONT, ROLE_STYLES, cluster_of, display_text

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def node_ids(graph: Graph) -> list[str]:
    """An SVG/HTML id per node, made from its name: characters other than letters,
    digits, ``-`` and ``_`` become ``_``; clashes get ``-2``, ``-3``…"""
    ids: list[str] = []
    taken: set[str] = set()
    for node in graph.nodes:
        base = "node-" + (re.sub(r"[^A-Za-z0-9_-]", "_", node.name) or "_")
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def graph_svg(graph: Graph, *, use_dot: bool, show_grads: bool = True) -> str:
    """The SVG text of ``graph`` (Graphviz's layout when ``use_dot``)."""
    if use_dot:
        source = to_dot(
            graph, show_values=True, show_grads=show_grads, highlight_dead=False, legend=False, compact=True
        )
        return _mark_graphviz_svg(run_dot(source, "svg").decode("utf-8"), graph)
    return _draw_svg(graph, show_grads=show_grads)


# ------------------------------------------------------------------ Graphviz's drawing
def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _bounds(shape: ET.Element) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in _NUMBER.findall(shape.get("d") or shape.get("points") or "")]
    if len(numbers) < 2:
        return 0.0, 0.0, 0.0, 0.0
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _mark_graphviz_svg(svg: str, graph: Graph) -> str:
    start = svg.index("<svg")
    root = ET.fromstring(svg[start:])
    ids = node_ids(graph)
    index_of = {f"n{number}": number for number in range(len(graph.nodes))}
    carriers = _carrier_indices(graph)
    prefixes = list(dict.fromkeys(prefix for node in graph.nodes if (prefix := cluster_of(node.name, ".")) is not None))
    for group in root.iter(f"{{{SVG_NS}}}g"):
        classes = group.get("class", "")
        title = group.find(f"{{{SVG_NS}}}title")
        name = title.text if title is not None and title.text else ""
        if classes == "cluster" and name.startswith("cluster_"):  # to_dot's cluster_N: the N-th prefix
            group.set("data-layer", prefixes[int(name[8:])])
            group.attrib.pop("id", None)
            group.remove(title)  # type: ignore[arg-type]  # found just above
        elif classes == "node":
            if name not in index_of:  # the legend
                group.set("class", "legend")
                group.attrib.pop("id", None)
                continue
            number = index_of[name]
            group.set("id", ids[number])
            group.set("data-index", str(number))
            _mark_node_parts(group)
        elif classes == "edge":
            parent, _, child = name.partition("->")
            if parent in index_of and child in index_of:
                group.attrib.pop("id", None)
                group.set("data-from", str(index_of[parent]))
                group.set("data-to", str(index_of[child]))
                carrier = carriers.get((index_of[parent], index_of[child]))
                if carrier is not None:
                    group.set("data-carrier", str(carrier))
        if title is not None and classes in {"node", "edge", "legend"}:
            group.remove(title)  # no native tooltip over the page's own panel
    return _page_svg(root, "graph-svg")


def _mark_node_parts(group: ET.Element) -> None:
    shapes = [
        element
        for element in group.iter()
        if _tag(element) in {"path", "polygon", "ellipse"} and element.get("fill") not in (None, "none", "transparent")
    ]
    if not shapes:
        return
    shapes[0].set("class", "shape")
    left, _, right, _ = _bounds(shapes[0])
    centre = f"{(left + right) / 2:.2f}"
    for text in group.iter(f"{{{SVG_NS}}}text"):
        content = text.text or ""
        for prefix, css in (("value ", "value-text"), ("mean ", "value-text"), ("grad ", "grad-text")):
            if content.startswith(prefix):
                text.set("class", css)
                text.set("text-anchor", "middle")
                text.set("x", centre)


def _carrier_indices(graph: Graph) -> dict[tuple[int, int], int]:
    index = {node: number for number, node in enumerate(graph.nodes)}
    return {
        (index[parent], index[child]): index[weight] for (parent, child), weight in weight_carriers(graph.nodes).items()
    }


# ------------------------------------------------------------------ without Graphviz
CHAR_WIDTH = 0.58  # of the font size: Helvetica's mean advance, for sizing boxes
LINE_GAP = 1.3
LAYER_GAP = 46.0
ROW_GAP = 16.0
PAD = 8.0
MIN_WIDTH = 104.0  # room for the longest number line the page writes later (as Graphviz's width=1.45)


def _font(attributes: str) -> tuple[float, str | None]:
    size = re.search(r'POINT-SIZE="([\d.]+)"', attributes)
    colour = re.search(r'COLOR="(#[0-9a-fA-F]{6})"', attributes)
    return (float(size.group(1)) if size else 10.0), (colour.group(1) if colour else None)


def _draw_svg(graph: Graph, *, show_grads: bool) -> str:
    """Boxes and arrows like Graphviz's, laid out left to right by topological generation."""
    ids = node_ids(graph)
    index = {node: number for number, node in enumerate(graph.nodes)}
    boxes: dict[Node, tuple[list[tuple[str, float, str | None]], float, float]] = {}
    for node in graph.nodes:
        rows = node_label_rows(node, show_values=True, show_grads=show_grads, dead=False, vanishing=False, compact=True)
        lines = [(text, *_font(font)) for text, font in rows]
        width = max(MIN_WIDTH, max(len(text) * size * CHAR_WIDTH for text, size, _ in lines) + 2 * PAD)
        height = sum(size * LINE_GAP for _, size, _ in lines) + PAD
        boxes[node] = (lines, width, height)
    positions = layered_positions(graph)
    layers = sorted({layer for layer, _ in positions.values()})
    layer_width = {layer: max(boxes[node][1] for node, (at, _) in positions.items() if at == layer) for layer in layers}
    row_height = max(height for _, _, height in boxes.values()) + ROW_GAP
    left_of: dict[float, float] = {}
    x = 10.0
    for layer in layers:
        left_of[layer] = x
        x += layer_width[layer] + LAYER_GAP
    row_numbers = [row for _, row in positions.values()]
    top = min(row_numbers)
    centres = {
        node: (left_of[layer] + layer_width[layer] / 2, 10.0 + (row - top) * row_height + row_height / 2)
        for node, (layer, row) in positions.items()
    }
    total_width = x - LAYER_GAP + 10.0
    total_height = (max(row_numbers) - top + 1) * row_height + 20.0
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {
            "viewBox": f"0 0 {total_width:.1f} {total_height:.1f}",
            "class": "graph-svg",
            "style": f"max-width: {total_width:.0f}px",
        },
    )
    scene = ET.SubElement(root, f"{{{SVG_NS}}}g", {"class": "graph"})
    carriers = _carrier_indices(graph)
    for node in graph.nodes:
        for parent in node.parents:
            _edge(scene, centres[parent], boxes[parent][1], centres[node], boxes[node][1])
            edge = scene[-1]
            edge.set("data-from", str(index[parent]))
            edge.set("data-to", str(index[node]))
            carrier = carriers.get((index[parent], index[node]))
            if carrier is not None:
                edge.set("data-carrier", str(carrier))
    for node in graph.nodes:
        _box(scene, node, ids[index[node]], index[node], centres[node], boxes[node])
    return ET.tostring(root, encoding="unicode")


def _edge(
    scene: ET.Element, start: tuple[float, float], start_width: float, end: tuple[float, float], end_width: float
) -> None:
    x0, y0 = start[0] + start_width / 2, start[1]
    x1, y1 = end[0] - end_width / 2, end[1]
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-9)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    bx, by = x1 - 7 * ux, y1 - 7 * uy
    head = [(x1, y1), (bx - 3.5 * uy, by + 3.5 * ux), (bx + 3.5 * uy, by - 3.5 * ux)]
    group = ET.SubElement(scene, f"{{{SVG_NS}}}g", {"class": "edge"})
    ET.SubElement(
        group,
        f"{{{SVG_NS}}}path",
        {"fill": "none", "stroke": EDGE_COLOUR, "d": f"M{x0:.1f},{y0:.1f}L{bx:.1f},{by:.1f}"},
    )
    points = " ".join(f"{px:.1f},{py:.1f}" for px, py in head)
    ET.SubElement(group, f"{{{SVG_NS}}}polygon", {"fill": EDGE_COLOUR, "stroke": EDGE_COLOUR, "points": points})


def _box(
    scene: ET.Element,
    node: Node,
    node_id: str,
    number: int,
    centre: tuple[float, float],
    box: tuple[Sequence[tuple[str, float, str | None]], float, float],
) -> None:
    lines, width, height = box
    style = ROLE_STYLES[node_role(node)]
    group = ET.SubElement(scene, f"{{{SVG_NS}}}g", {"class": "node", "id": node_id, "data-index": str(number)})
    x, y = centre[0] - width / 2, centre[1] - height / 2
    outline: dict[str, Any] = {"stroke": style.border, "stroke-width": "1.4", "fill": "none"}
    if style.dashed:
        outline["stroke-dasharray"] = "5,2"
    if style.rounded:
        outline["rx"] = outline["ry"] = "6"
    if style.peripheries > 1:
        ET.SubElement(
            group,
            f"{{{SVG_NS}}}rect",
            {
                **outline,
                "x": f"{x - 4:.1f}",
                "y": f"{y - 4:.1f}",
                "width": f"{width + 8:.1f}",
                "height": f"{height + 8:.1f}",
            },
        )
    attributes = {**outline, "fill": style.fill, "class": "shape"}
    attributes.update({"x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{width:.1f}", "height": f"{height:.1f}"})
    ET.SubElement(group, f"{{{SVG_NS}}}rect", attributes)
    baseline = y + PAD / 2
    for text, size, colour in lines:
        baseline += size * LINE_GAP
        element = ET.SubElement(
            group,
            f"{{{SVG_NS}}}text",
            {
                "x": f"{centre[0]:.1f}",
                "y": f"{baseline - size * 0.3:.1f}",
                "text-anchor": "middle",
                "font-family": "Helvetica,Arial,sans-serif",
                "font-size": f"{size:g}",
            },
        )
        if colour:
            element.set("fill", colour)
        for prefix, css in (("value ", "value-text"), ("mean ", "value-text"), ("grad ", "grad-text")):
            if text.startswith(prefix):
                element.set("class", css)
        element.text = text


# ------------------------------------------------------------------ layers of big graphs
#: A graph with more nodes than this, in at least two layers, opens on its overview.
OVERVIEW_NODES = 60


def layer_members(graph: Graph) -> dict[str, list[int]]:
    """Node indices by layer: nodes named ``prefix.rest`` grouped by prefix, in order of
    first appearance (only layers of at least two nodes)."""
    layers: dict[str, list[int]] = {}
    for number, node in enumerate(graph.nodes):
        prefix = cluster_of(node.name, ".")
        if prefix is not None:
            layers.setdefault(prefix, []).append(number)
    return {prefix: members for prefix, members in layers.items() if len(members) >= 2}


def overview_svg(graph: Graph) -> str | None:
    """The overview of a big graph drawn by Graphviz: one box per layer (``g.layer-box``
    with ``data-layer``, opening the layer in the full graph on click), the other nodes as
    in the full graph (``g.node`` with ``data-index``), one arrow between connected
    boxes (drawn with Graphviz's ``dot``). None for a small graph or a graph without two
    layers."""
    layers = layer_members(graph)
    if len(graph.nodes) <= OVERVIEW_NODES or len(layers) < 2:
        return None
    box_of: dict[int, str] = {}
    for number, prefix in enumerate(layers):
        for member in layers[prefix]:
            box_of[member] = f"layer{number}"
    index = {node: number for number, node in enumerate(graph.nodes)}
    lines = [
        "digraph overview {",
        f'  graph [rankdir=LR, nodesep=0.3, ranksep=0.5, fontname="{FONT}"];',
        f'  node [fontname="{FONT}", penwidth=1.4, margin="0.12,0.06"];',
        f'  edge [color="{EDGE_COLOUR}", arrowsize=0.8];',
    ]
    for number, (prefix, members) in enumerate(layers.items()):
        parameters = sum(1 for member in members if node_role(graph.nodes[member]) == "parameter")
        label = table_label(
            [
                (display_text(prefix), 'POINT-SIZE="16"'),
                (f"{parameters} parameters · {len(members)} nodes", 'POINT-SIZE="12" COLOR="#374151"'),
                ("grad norm —", 'POINT-SIZE="12" COLOR="#1e3a8a"'),
                ("click to open", 'POINT-SIZE="11" COLOR="#6b7280"'),
            ]
        )
        lines.append(f'  layer{number} [label={label}, shape=box, style="rounded,filled,dashed", fillcolor="#f9fafb"];')
    for node in graph.nodes:
        number = index[node]
        if number in box_of:
            continue
        style = ROLE_STYLES[node_role(node)]
        rows = node_label_rows(node, show_values=True, show_grads=True, dead=False, vanishing=False, compact=True)
        styles = ",".join(["filled"] + (["rounded"] if style.rounded else []) + (["dashed"] if style.dashed else []))
        lines.append(
            f'  n{number} [label={table_label(rows)}, shape={style.shape}, style="{styles}", '
            f'fillcolor="{style.fill}", color="{style.border}", peripheries={style.peripheries}];'
        )
    seen: set[tuple[str, str]] = set()
    for node in graph.nodes:
        for parent in node.parents:
            start = box_of.get(index[parent], f"n{index[parent]}")
            end = box_of.get(index[node], f"n{index[node]}")
            if start != end and (start, end) not in seen:
                seen.add((start, end))
                lines.append(f"  {start} -> {end};")
    lines.append("}")
    svg = run_dot("\n".join(lines), "svg").decode("utf-8")
    root = ET.fromstring(svg[svg.index("<svg") :])
    ids = node_ids(graph)
    names = list(layers)
    for group in root.iter(f"{{{SVG_NS}}}g"):
        title = group.find(f"{{{SVG_NS}}}title")
        name = title.text if title is not None and title.text else ""
        if group.get("class") == "node" and name.startswith("layer"):
            group.set("class", "layer-box")
            group.set("data-layer", names[int(name[5:])])
            group.attrib.pop("id", None)
            for text in group.iter(f"{{{SVG_NS}}}text"):
                if (text.text or "").startswith("grad norm"):
                    text.set("class", "norm-text")
        elif group.get("class") == "node" and name.startswith("n"):
            number = int(name[1:])
            group.set("id", "overview-" + ids[number])
            group.set("data-index", str(number))
            _mark_node_parts(group)
        elif group.get("class") == "edge":
            group.set("class", "overview-edge")
            group.attrib.pop("id", None)
        if title is not None:
            group.remove(title)
    return _page_svg(root, "graph-svg overview-svg")


def gradient_svg(graph: Graph, *, use_dot: bool) -> str | None:
    """The SVG of the gradient graph of ``graph`` (``graphdl.grad(sink, parameters)``, built
    on a copy; see :class:`~graphdl.viz.explorer_sweep.GraphCopy`), without grad lines. Its
    nodes are ``g.gnode`` groups with ids ``grad-node-…`` (apart from the forward graph's
    ``g.node``) and ``data-index`` into the gradient graph's nodes. None without one."""
    from graphdl.viz.explorer_sweep import GraphCopy

    try:
        gradient = GraphCopy(graph).gradient
    except ValueError:
        return None
    if gradient is None:
        return None
    svg = graph_svg(gradient, use_dot=use_dot, show_grads=False)
    return svg.replace('class="node"', 'class="gnode"').replace('id="node-', 'id="grad-node-')


def _page_svg(root: ET.Element, classes: str) -> str:
    """``root`` as the page's inline SVG text: no native link tooltips, the page's classes,
    and a size that follows the page but is never drawn larger than Graphviz's size (pt)."""
    for link in root.iter(f"{{{SVG_NS}}}a"):
        link.attrib.pop(f"{{{XLINK_NS}}}title", None)
    root.set("class", classes)
    for attribute in ("width", "height"):
        root.attrib.pop(attribute, None)
    width = float(root.get("viewBox", "0 0 0 0").split()[2])
    root.set("style", f"max-width: {width * 4 / 3:.0f}px")
    return ET.tostring(root, encoding="unicode")
