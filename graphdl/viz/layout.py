"""A layered left-to-right layout without Graphviz (networkx topological generations),
used by the fallback drawing and the animator's graph panel."""

from __future__ import annotations

from graphdl.core.graph import Graph
from graphdl.core.node import Node
from graphdl.viz.dot_program import dot_available, run_dot


def layered_positions(graph: Graph, sweeps: int = 4) -> dict[Node, tuple[float, float]]:
    """Positions ``(layer, row)`` for every node: layers are the topological generations
    (leaves moved next to their first consumer, as Graphviz does), rows are ordered by
    the mean row of the neighbours to keep edges short, then centred on 0."""
    import networkx as nx

    keys = graph.node_keys()
    by_key = {key: node for node, key in keys.items()}
    digraph = graph.to_networkx()
    layer: dict[Node, int] = {}
    for number, generation in enumerate(nx.topological_generations(digraph)):
        for key in generation:
            layer[by_key[key]] = number
    members = set(graph.nodes)
    for node in reversed(graph.nodes):
        if not node.parents:
            consumers = [layer[child] for child in node.children if child in members]
            if consumers:
                layer[node] = max(0, min(consumers) - 1)
    count = max(layer.values()) + 1
    layers: list[list[Node]] = [[] for _ in range(count)]
    for node in graph.nodes:  # topological order keeps the start deterministic
        layers[layer[node]].append(node)
    row = {node: float(index) for nodes in layers for index, node in enumerate(nodes)}
    children = {node: [child for child in node.children if child in members] for node in graph.nodes}
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        for nodes in layers if downward else list(reversed(layers)):
            centres = {node: _centre(node, row, children[node], downward) for node in nodes}
            nodes.sort(key=lambda node: (centres[node], row[node]))
            for index, node in enumerate(nodes):
                row[node] = float(index)
    positions = {}
    for number, nodes in enumerate(layers):
        offset = (len(nodes) - 1) / 2
        for index, node in enumerate(nodes):
            positions[node] = (float(number), index - offset)
    return positions


def _centre(node: Node, row: dict[Node, float], children: list[Node], downward: bool) -> float:
    """The mean row of a node's parents (downward sweeps) or children (upward sweeps)."""
    near = list(node.parents) if downward else children
    near = near or list(node.parents) + children
    return sum(row[other] for other in near) / len(near) if near else row[node]


BOX_WIDTH = 1.0  # inches: node boxes in the animator's graph panel
BOX_HEIGHT = 0.62


def panel_positions(graph: Graph) -> dict[Node, tuple[float, float]]:
    """Node centres in inches for a left-to-right drawing of fixed-size boxes: laid out by
    Graphviz's ``dot`` when it is on PATH, otherwise by :func:`layered_positions`."""
    if dot_available():
        ids = {node: f"n{number}" for number, node in enumerate(graph.nodes)}
        lines = [
            "digraph panel {",
            "  graph [rankdir=LR, nodesep=0.12, ranksep=0.5];",
            f'  node [shape=box, fixedsize=true, width={BOX_WIDTH}, height={BOX_HEIGHT}, label=""];',
        ]
        lines += [f"  {ids[node]};" for node in graph.nodes]
        lines += [f"  {ids[parent]} -> {ids[node]};" for node in graph.nodes for parent in node.parents]
        lines.append("}")
        plain = run_dot("\n".join(lines), "plain").decode("utf-8")
        by_id = {key: node for node, key in ids.items()}
        positions = {}
        for line in plain.splitlines():
            parts = line.split()
            if parts and parts[0] == "node":
                positions[by_id[parts[1]]] = (float(parts[2]), float(parts[3]))
        return positions
    return {
        node: (layer * (BOX_WIDTH + 0.45), -row * (BOX_HEIGHT + 0.25))
        for node, (layer, row) in layered_positions(graph).items()
    }
