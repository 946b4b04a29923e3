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
from graphdl.core.node import Node, Operator, Variable, check_value, operator_classes, topological_order
from graphdl.io import _atomic_write, open_regular_file
from graphdl.validation import Count, Flag, check_option, short_repr

FORMAT = "graphdl-graph"
VERSION = 1

__all__ = ["GraphFormatError", "graph_from_dict", "graph_to_dict", "load_graph", "operator_kinds", "save_graph"]


class GraphFormatError(ValueError):
    """A graph document is invalid; the message names the node at fault."""


def operator_kinds() -> dict[str, type[Operator]]:
    """Every operator class defined so far, by kind (each registers when its class is defined)."""
    return operator_classes()


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
            entry["options"] = node.option_values()
        nodes.append(entry)
    return {"format": FORMAT, "version": VERSION, "nodes": nodes, "outputs": [ids[node] for node in flat]}


_VARIABLE_FIELDS = {"id", "name", "kind", "trainable", "constant", "value"}
_OPERATOR_FIELDS = {"id", "name", "kind", "parents", "options"}
_DOCUMENT_FIELDS = {"format", "version", "nodes", "outputs"}
_ID = Count()
_FLAG = Flag()
#: Longest node name a graph file may hold.
MAX_NAME_LENGTH = 10_000


def _describe(entry: Any, position: int) -> str:
    if not isinstance(entry, dict):
        return f"node #{position}"
    return f"node {short_repr(entry.get('name'))} (id {short_repr(entry.get('id'))})"


def _refuse(entry: Any, position: int, field: str | None, message: str) -> GraphFormatError:
    where = _describe(entry, position) + (f", field {field!r}" if field else "")
    return GraphFormatError(f"{where}: {message}")


def _check_field(entry: Any, position: int, field: str, check: Any, *args: Any) -> Any:
    """``check(value, *args)``, with any refusal a GraphFormatError naming the node and field."""
    try:
        return check(entry[field], *args)
    except (TypeError, ValueError, OverflowError) as error:
        raise _refuse(entry, position, field, str(error)) from None


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string, got {short_repr(value)}")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} is {len(value)} characters long (at most {MAX_NAME_LENGTH})")
    return value


def _check_kind(value: Any, kinds: dict[str, type[Operator]]) -> str:
    if value != "Variable" and (not isinstance(value, str) or value not in kinds):
        raise ValueError(f"unknown kind {short_repr(value)}")
    return value


def _check_parents(value: Any, cls: type[Operator]) -> list[int]:
    if not isinstance(value, list):
        raise TypeError(f"must be a list of node ids, got {type(value).__name__}")
    cls.check_arity(len(value))
    return [_ID.check(parent, "a parent id") for parent in value]


def _check_option_names(value: Any, cls: type[Operator]) -> dict[str, Any]:
    expected = list(cls.options)
    if not isinstance(value, dict) or set(value) != set(expected):
        shown = sorted(value, key=str) if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"{cls.__name__} takes options {expected}, got {short_repr(shown)}")
    return value


def _check_value(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, list) and any(isinstance(item, bool) for item in value)):
        raise TypeError("bad value (true/false is not a number)")
    try:
        return check_value(_Named(name), value)
    except (TypeError, ValueError) as error:
        raise type(error)(f"bad value ({error})") from None


def _check_entry(entry: Any, position: int, kinds: dict[str, type[Operator]]) -> dict[str, Any]:
    """One node of the file checked field by field; returns the checked fields."""
    if not isinstance(entry, dict):
        raise _refuse(entry, position, None, f"must be an object, got {type(entry).__name__}")
    for field in ("id", "name", "kind"):
        if field not in entry:
            raise _refuse(entry, position, field, "missing")
    node_id = _check_field(entry, position, "id", _ID.check, "a node id")
    name = _check_field(entry, position, "name", _check_name, "a node name")
    kind = _check_field(entry, position, "kind", _check_kind, kinds)
    allowed = _VARIABLE_FIELDS if kind == "Variable" else _OPERATOR_FIELDS
    unknown = sorted(set(entry) - allowed, key=str)
    if unknown:
        raise _refuse(entry, position, str(unknown[0]), f"{kind} nodes have no such field")
    checked: dict[str, Any] = {"id": node_id, "name": name, "kind": kind}
    if kind == "Variable":
        checked["trainable"] = (
            _check_field(entry, position, "trainable", _FLAG.check, "trainable") if "trainable" in entry else True
        )
        checked["constant"] = (
            _check_field(entry, position, "constant", _FLAG.check, "constant") if "constant" in entry else False
        )
        checked["value"] = _check_field(entry, position, "value", _check_value, name) if "value" in entry else None
        if checked["constant"] and (checked["trainable"] or checked["value"] is None):
            raise _refuse(entry, position, "constant", "a constant has a value and is not trainable")
        return checked
    cls = kinds[kind]
    for field in ("parents", "options"):
        if field not in entry and (field == "parents" or cls.options):
            raise _refuse(entry, position, field, "missing")
    checked["parents"] = _check_field(entry, position, "parents", _check_parents, cls)
    options = _check_field(entry, position, "options", _check_option_names, cls) if "options" in entry else {}
    checked["options"] = {}
    for option, value in options.items():
        try:
            checked["options"][option] = check_option(cls, option, value)
        except (TypeError, ValueError) as error:
            raise _refuse(entry, position, f"options.{option}", str(error)) from None
    return checked


def _check_document(document: Any) -> tuple[list[dict[str, Any]], list[int]]:
    """Every field of a graph document checked (types, ranges, references), before
    anything is built. Refusals are :class:`GraphFormatError`s naming the node and field."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GraphFormatError('not a graphdl graph document (no "format": "graphdl-graph")')
    unknown = sorted(set(document) - _DOCUMENT_FIELDS, key=str)
    if unknown:
        raise GraphFormatError(f"field {short_repr(unknown[0])}: a graph document has no such field")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        raise GraphFormatError(f"field 'version': unsupported graph format version {short_repr(version)}")
    raw = document.get("nodes")
    if not isinstance(raw, list) or not raw:
        raise GraphFormatError("field 'nodes': must be a non-empty list")
    kinds = operator_kinds()
    entries: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    for position, entry in enumerate(raw):
        checked = _check_entry(entry, position, kinds)
        if checked["id"] in seen:
            raise _refuse(entry, position, "id", f"id {checked['id']} is used by node #{seen[checked['id']]} too")
        seen[checked["id"]] = position
        entries.append(checked)
    for position, entry in enumerate(entries):
        for parent in entry.get("parents", []):
            if parent not in seen:
                raise _refuse(entry, position, "parents", f"parent id {parent} does not exist")
    outputs = document.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise GraphFormatError("field 'outputs': must be a non-empty list of node ids")
    for output in outputs:
        if isinstance(output, bool) or not isinstance(output, int) or output not in seen:
            raise GraphFormatError(f"field 'outputs': {short_repr(output)} is not the id of a node")
    return entries, outputs


def _order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries in an order where parents come first; a cycle is an error naming a node on it."""
    by_id = {entry["id"]: entry for entry in entries}
    placed: set[int] = set()
    order: list[dict[str, Any]] = []
    on_path: set[int] = set()
    for root in entries:
        if root["id"] in placed:
            continue
        stack = [(root, iter(root.get("parents", [])))]
        on_path.add(root["id"])
        while stack:
            entry, pending = stack[-1]
            for parent_id in pending:
                if parent_id in placed:
                    continue
                parent = by_id[parent_id]
                if parent_id in on_path:
                    raise GraphFormatError(
                        f"{_describe(parent, 0)}, field 'parents': "
                        f"the graph has a cycle through node {short_repr(parent['name'])}"
                    )
                on_path.add(parent_id)
                stack.append((parent, iter(parent.get("parents", []))))
                break
            else:
                stack.pop()
                on_path.discard(entry["id"])
                placed.add(entry["id"])
                order.append(entry)
    return order


class _Named:
    """Stands in for a Variable in error messages while a value is checked."""

    kind = "Variable"

    def __init__(self, name: str) -> None:
        self.name = name


def graph_from_dict(document: Any) -> Graph:
    """Build new nodes from :func:`graph_to_dict` output; returns a :class:`Graph` of the
    outputs (use ``graph.node(name)`` to reach a node). Every field is checked first
    with the constructors' own rules; raises :class:`GraphFormatError` naming the node
    (id and name) and the field."""
    entries, outputs = _check_document(document)
    order = _order(entries)
    kinds = operator_kinds()
    built: dict[int, Node] = {}
    for position, entry in enumerate(order):
        name = entry["name"]
        try:
            if entry["kind"] == "Variable":
                built[entry["id"]] = Variable(
                    entry["value"], name=name, trainable=entry["trainable"], _constant=entry["constant"]
                )
            else:
                parents = [built[parent] for parent in entry["parents"]]
                built[entry["id"]] = kinds[entry["kind"]](parents, name=name, **entry["options"])
        except (TypeError, ValueError) as error:
            raise _refuse(entry, position, None, str(error)) from None
    return Graph(*[built[output] for output in outputs])


def save_graph(path: str | os.PathLike[str], *outputs: Node, values: bool = True) -> Path:
    """Write :func:`graph_to_dict` as JSON, atomically."""
    path = Path(path)
    text = json.dumps(graph_to_dict(*outputs, values=values), indent=1, allow_nan=False)
    _atomic_write(path, text.encode())
    return path


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Read a graph written by :func:`save_graph`. Any problem with the file is a
    :class:`GraphFormatError` naming the file, and the node and field at fault."""
    path = Path(path)
    try:
        try:
            with open_regular_file(path) as handle:
                raw = handle.read()
        except (OSError, ValueError) as error:  # ValueError: a NUL character in the path
            raise GraphFormatError(f"cannot read the file ({getattr(error, 'strerror', None) or error})") from None
        try:
            document = json.loads(raw.decode("utf-8"))
        except RecursionError:
            raise GraphFormatError("nested too deeply to be a graph document") from None
        except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, integers of > 4300 digits
            raise GraphFormatError(f"not valid JSON ({error})") from None
        return graph_from_dict(document)
    except GraphFormatError as error:
        raise GraphFormatError(f"{path}: {error}") from None
