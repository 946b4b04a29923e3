"""``Graph``: a view of every node upstream of some outputs, with tools to inspect it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np

from graphdl.core.node import Node, Operator, Value, Variable, topological_order


def node_role(node: Node) -> str:
    """What a node is for: ``"parameter"``, ``"input"``, ``"constant"``, ``"loss"``,
    ``"operator"`` or ``"gradient"`` (a node of a gradient graph): the node's ``role``."""
    return node.role


def format_value(value: Value | None, digits: int = 4) -> str:
    """A short text for a value: a number, or mean and size for a batch."""
    if value is None:
        return "—"
    if isinstance(value, np.ndarray):
        if value.size == 1:
            return f"{value[0]:.{digits}g}"
        return f"mean {value.mean():.{digits}g} (n={value.size})"
    return f"{value:.{digits}g}"


class Graph:
    """Every node reachable upstream from ``outputs``, in topological order.

    ``Graph(loss)`` or ``Graph(out_1, out_2)``. The order is computed iteratively, so
    very deep graphs (a 100 000-node chain) work.
    """

    def __init__(self, *outputs: Node | list[Node] | tuple[Node, ...]) -> None:
        flat: list[Node] = []
        for item in outputs:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        if not flat:
            raise ValueError("Graph needs at least one output node")
        for item in flat:
            if not isinstance(item, Node):
                raise TypeError(f"Graph outputs must be nodes, got {type(item).__name__} {item!r}")
        self.outputs: tuple[Node, ...] = tuple(flat)
        self.nodes: list[Node] = topological_order(self.outputs)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __contains__(self, node: object) -> bool:
        return node in set(self.nodes)

    def __repr__(self) -> str:
        kinds = Counter(node.kind for node in self.nodes)
        parts = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        outputs = ", ".join(repr(node.name) for node in self.outputs)
        return f"<Graph outputs=[{outputs}] {len(self.nodes)} nodes: {parts}>"

    def parameters(self) -> list[Variable]:
        """The trainable Variables, in topological order."""
        return [node for node in self.nodes if node_role(node) == "parameter"]  # type: ignore[misc]  # a node with that role is a Variable

    def inputs(self) -> list[Variable]:
        """The data Variables (``trainable=False``, not constants), in topological order."""
        return [node for node in self.nodes if node_role(node) == "input"]  # type: ignore[misc]  # a node with that role is a Variable

    def variables(self) -> list[Variable]:
        """Every Variable, constants included."""
        return [node for node in self.nodes if isinstance(node, Variable)]

    def operators(self) -> list[Operator]:
        """Every operator node."""
        return [node for node in self.nodes if isinstance(node, Operator)]

    def node(self, name: str) -> Node:
        """The node called ``name``; ``KeyError`` if none, ``ValueError`` if several."""
        found = [node for node in self.nodes if node.name == name]
        if not found:
            raise KeyError(f"no node named {name!r} in this graph")
        if len(found) > 1:
            kinds = ", ".join(node.kind for node in found)
            raise ValueError(f"the name {name!r} is ambiguous: {len(found)} nodes have it ({kinds})")
        return found[0]

    def sinks(self) -> list[Node]:
        """Nodes of this graph with no children inside it."""
        members = set(self.nodes)
        has_child = {parent for node in self.nodes for parent in node.parents if node in members}
        return [node for node in self.nodes if node not in has_child]

    # -------------------------------------------------------------- computation
    def forward(self) -> Value | list[Value]:
        """Compute the outputs; one value for one output, else a list."""
        values = [node.forward() for node in self.outputs]
        return values[0] if len(values) == 1 else values

    def backward(self) -> None:
        """``backward()`` of the single output."""
        if len(self.outputs) != 1:
            names = ", ".join(repr(node.name) for node in self.outputs)
            raise ValueError(f"backward() needs one output; this graph has {names}: call it on one of them")
        self.outputs[0].backward()

    def clear(self) -> None:
        """``clear()`` every output."""
        for node in self.outputs:
            node.clear()

    def validate(self, require_values: bool = True) -> Graph:
        """Check arity, cycles, unset inputs and batch sizes; raise ``ValueError``
        listing every problem with the node at fault. Returns the graph."""
        problems: list[str] = []
        try:
            topological_order(self.outputs)
        except ValueError as error:
            problems.append(str(error))
        sizes: dict[str, int] = {}
        for node in self.nodes:
            for parent in node.parents:
                if not isinstance(parent, Node):
                    problems.append(f"{node.kind} {node.name!r}: parent {parent!r} is not a node")
            if isinstance(node, Operator):
                try:
                    node.check_arity(len(node.parents))
                except ValueError as error:
                    problems.append(f"{node.kind} {node.name!r}: {error}")
            elif require_values and node.cached_value is None:
                problems.append(f"Variable {node.name!r} has no value")
            if isinstance(node, Variable) and isinstance(node.cached_value, np.ndarray):
                sizes[node.name] = node.cached_value.size
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{name!r}: {size}" for name, size in sizes.items())
            problems.append(f"inputs have different batch sizes ({listed})")
        if problems:
            raise ValueError("invalid graph:\n  " + "\n  ".join(problems))
        return self

    # ------------------------------------------------------------------- export
    def node_keys(self) -> dict[Node, str]:
        """A unique text key per node: its name, with ``#2``, ``#3``… for repeated names."""
        seen: Counter[str] = Counter()
        keys: dict[Node, str] = {}
        for node in self.nodes:
            seen[node.name] += 1
            keys[node] = node.name if seen[node.name] == 1 else f"{node.name}#{seen[node.name]}"
        return keys

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` keyed by node name (``#k`` added to repeated names),
        with node attributes ``kind``, ``role``, ``value``, ``grad``, ``options`` and
        edge attribute ``positions`` (argument positions of the parent)."""
        import networkx as nx

        graph = nx.DiGraph()
        keys = self.node_keys()
        for node in self.nodes:
            options = node.option_values() if isinstance(node, Operator) else {}
            graph.add_node(
                keys[node],
                name=node.name,
                kind=node.kind,
                role=node_role(node),
                value=node.cached_value,
                grad=node.grad,
                options=options,
            )
        for node in self.nodes:
            for position, parent in enumerate(node.parents):
                edge = (keys[parent], keys[node])
                if graph.has_edge(*edge):
                    graph.edges[edge]["positions"].append(position)
                else:
                    graph.add_edge(*edge, positions=[position])
        return graph

    def summary(self) -> str:
        """A readable table of every node: name, kind, parents, value and grad."""
        rows = [("name", "kind", "parents", "value", "grad")]
        for node in self.nodes:
            parents = ", ".join(parent.name for parent in node.parents) or "—"
            rows.append((node.name, node.kind, parents, format_value(node.cached_value), format_value(node.grad)))
        widths = [min(max(len(row[i]) for row in rows), 40) for i in range(5)]
        lines = []
        for number, row in enumerate(rows):
            lines.append("  ".join(cell[:40].ljust(width) for cell, width in zip(row, widths)).rstrip())
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        parameters = self.parameters()
        count = sum(1 if not isinstance(p.cached_value, np.ndarray) else p.cached_value.size for p in parameters)
        lines.append(f"{len(self.nodes)} nodes, {len(parameters)} trainable Variables ({count} numbers)")
        return "\n".join(lines)
