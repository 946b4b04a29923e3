"""A graph's structure as JSON and back: nodes (kind, name, options, values), edges
(parent ids) and outputs. Loading validates everything — unknown kinds, cycles,
dangling parents, wrong arity, bad options or values — with the node named, and only
then builds new nodes (the file is data: nothing in it is executed or unpickled)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.core.graph import Graph
from graphdl.core.node import Node, Operator, Variable, check_value, topological_order
from graphdl.io import _atomic_write

FORMAT = "graphdl-graph"
VERSION = 1

__all__ = ["GraphFormatError", "graph_from_dict", "graph_to_dict", "load_graph", "operator_kinds", "save_graph"]


class GraphFormatError(ValueError):
    """A graph document is invalid; the message names the node at fault."""


def operator_kinds() -> dict[str, type[Operator]]:
    """Every operator class defined so far, by kind (class name)."""
    import graphdl.nn  # noqa: F401 - registers Dropout

    kinds: dict[str, type[Operator]] = {}
    stack = list(Operator.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.formula is not Operator.formula:  # skip marker bases such as Loss
            kinds.setdefault(cls.kind, cls)
    return kinds


def _value(value: Any) -> Any:
    if value is None:
        return None
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def graph_to_dict(*outputs: Node | Iterable[Node], values: bool = True) -> dict[str, Any]:
    """The structure of everything upstream of ``outputs`` as a JSON-ready dict.
    ``values=False`` leaves out the values of non-constant Variables."""
    flat: list[Node] = []
    for item in outputs:
        flat.extend([item] if isinstance(item, Node) else list(item))
    order = topological_order(flat)
    ids = {node: index for index, node in enumerate(order)}
    nodes = []
    for node in order:
        entry: dict[str, Any] = {"id": ids[node], "name": node.name, "kind": node.kind}
        if isinstance(node, Variable):
            entry["trainable"] = node.trainable
            entry["constant"] = node.constant
            entry["value"] = _value(node.value) if (values or node.constant) else None
        else:
            entry["parents"] = [ids[parent] for parent in node.parents]
            entry["options"] = node.option_values()  # type: ignore[attr-defined]
        nodes.append(entry)
    return {"format": FORMAT, "version": VERSION, "nodes": nodes, "outputs": [ids[node] for node in flat]}


def _describe(entry: Any, position: int) -> str:
    if isinstance(entry, dict) and "name" in entry:
        return f"node {entry.get('name')!r} (id {entry.get('id')!r})"
    return f"node #{position}"


def _order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries in an order where parents come first; a cycle is an error naming a node on it."""
    by_id = {entry["id"]: entry for entry in entries}
    placed: set[Any] = set()
    order: list[dict[str, Any]] = []
    state: dict[Any, int] = {}
    for root in entries:
        if root["id"] in placed:
            continue
        stack = [(root, iter(root.get("parents", [])))]
        state[root["id"]] = 1
        while stack:
            entry, pending = stack[-1]
            for parent_id in pending:
                if parent_id in placed:
                    continue
                if state.get(parent_id) == 1:
                    raise GraphFormatError(f"the graph has a cycle through node {by_id[parent_id]['name']!r}")
                state[parent_id] = 1
                stack.append((by_id[parent_id], iter(by_id[parent_id].get("parents", []))))
                break
            else:
                stack.pop()
                placed.add(entry["id"])
                order.append(entry)
    return order


def _check_entries(document: Any) -> tuple[list[dict[str, Any]], dict[str, type[Operator]]]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GraphFormatError("not a graphdl graph document")
    if not isinstance(document.get("version"), int) or document["version"] > VERSION:
        raise GraphFormatError(f"unsupported graph format version {document.get('version')!r}")
    entries = document.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise GraphFormatError("'nodes' must be a non-empty list")
    kinds = operator_kinds()
    seen: set[Any] = set()
    for position, entry in enumerate(entries):
        where = _describe(entry, position)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise GraphFormatError(f"{where}: every node needs an id, a kind and a non-empty name")
        if not isinstance(entry.get("id"), int) or entry["id"] in seen:
            raise GraphFormatError(f"{where}: ids must be distinct integers")
        seen.add(entry["id"])
        kind = entry.get("kind")
        if kind == "Variable":
            continue
        if kind not in kinds:
            raise GraphFormatError(f"{where}: unknown kind {kind!r}")
        parents = entry.get("parents")
        if not isinstance(parents, list):
            raise GraphFormatError(f"{where}: 'parents' must be a list of ids")
        try:
            kinds[kind].check_arity(len(parents))
        except ValueError as error:
            raise GraphFormatError(f"{where}: {error}") from None
        options = entry.get("options", {})
        expected = set(kinds[kind].options)
        if not isinstance(options, dict) or set(options) != expected:
            raise GraphFormatError(f"{where}: {kind} takes options {sorted(expected)}, got {options!r}")
    for position, entry in enumerate(entries):
        for parent in entry.get("parents", []):
            if parent not in seen:
                raise GraphFormatError(f"{_describe(entry, position)}: parent id {parent!r} does not exist")
    outputs = document.get("outputs")
    if not isinstance(outputs, list) or not outputs or any(output not in seen for output in outputs):
        raise GraphFormatError("'outputs' must list ids of existing nodes")
    return entries, kinds


class _Named:
    """Stands in for a Variable in error messages while a value is checked."""

    kind = "Variable"

    def __init__(self, name: str) -> None:
        self.name = name


def graph_from_dict(document: Any) -> Graph:
    """Build new nodes from :func:`graph_to_dict` output; returns a :class:`Graph` of the
    outputs (use ``graph.node(name)`` to reach a node). Raises :class:`GraphFormatError`."""
    entries, kinds = _check_entries(document)
    order = _order(entries)
    for entry in order:  # values are checked before any node is built
        if entry["kind"] == "Variable" and entry.get("value") is not None:
            try:
                check_value(_Named(entry["name"]), entry["value"])  # type: ignore[arg-type]
            except (TypeError, ValueError) as error:
                raise GraphFormatError(f"{_describe(entry, 0)}: bad value ({error})") from None
    built: dict[Any, Node] = {}
    for entry in order:
        name = entry["name"]
        if entry["kind"] == "Variable":
            built[entry["id"]] = Variable(
                entry.get("value"),
                name=name,
                trainable=bool(entry.get("trainable", True)),
                _constant=bool(entry.get("constant", False)),
            )
        else:
            cls = kinds[entry["kind"]]
            parents = [built[parent] for parent in entry["parents"]]
            try:
                built[entry["id"]] = cls(parents, name=name, **entry.get("options", {}))
            except (TypeError, ValueError) as error:
                raise GraphFormatError(f"{_describe(entry, 0)}: {error}") from None
    return Graph(*[built[output] for output in document["outputs"]])


def save_graph(path: str | os.PathLike[str], *outputs: Node, values: bool = True) -> Path:
    """Write :func:`graph_to_dict` as JSON, atomically."""
    path = Path(path)
    text = json.dumps(graph_to_dict(*outputs, values=values), indent=1, allow_nan=False)
    _atomic_write(path, text.encode())
    return path


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Read a graph written by :func:`save_graph`; errors name the file and the node."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return graph_from_dict(document)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, GraphFormatError) as error:
        raise GraphFormatError(f"{path}: {error}") from None
