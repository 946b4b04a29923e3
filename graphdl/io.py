"""Save and load parameters (and optimiser state) by node name, without pickle.

Two open formats, chosen by the file suffix:

* ``.json``: ``{"format": "graphdl-parameters", "version": 1, "parameters": {name: value},
  "optimizer": {...} | null, "metadata": {...}}``; floats are written with ``repr``
  so they round-trip exactly;
* ``.npz``: ``names`` (unicode array), ``values`` (float64) and ``header`` (the rest
  as JSON text); read with ``allow_pickle=False``.

Files are written atomically: a temporary file in the same directory, flushed and
fsynced, then ``os.replace``-d over the target, so a crash never leaves a half-written
checkpoint. Loading validates everything first (format, version, names, shapes,
finiteness, optimiser state) and only then assigns, so on any error the model keeps its
current values.
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.core.node import Variable
from graphdl.nn.module import unique_names

FORMAT = "graphdl-parameters"
VERSION = 1

__all__ = ["FORMAT", "VERSION", "CheckpointError", "LoadReport", "load", "read", "save"]


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or does not fit the model; the message names the file."""


@dataclass
class LoadReport:
    """What :func:`load` did: names loaded, and (with ``strict=False``) names skipped."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def _parameters(target: Any) -> list[Variable]:
    if target is None:
        return []
    if isinstance(target, Variable):
        return [target]
    if hasattr(target, "parameters") and callable(target.parameters):
        target = target.parameters()
    params = list(target)
    for item in params:
        if not isinstance(item, Variable):
            raise TypeError(f"save/load handle Variables, got {type(item).__name__} {item!r}")
    return params


def _json_value(value: Any, name: str) -> float | list[float]:
    if value is None:
        raise ValueError(f"Variable {name!r} has no value to save")
    if isinstance(value, np.ndarray):
        return value.tolist()
    return float(value)


# ---------------------------------------------------------------------- saving
def save(
    path: str | os.PathLike[str],
    params: Any,
    optimizer: Any = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the values of ``params`` (a model or a list of Variables), keyed by node
    name, plus ``optimizer.state_dict()`` if given, to ``path`` (``.json`` or ``.npz``).
    Names must be unique. Returns the path."""
    path = Path(path)
    named = unique_names(_parameters(params))
    values = {name: _json_value(var.value, name) for name, var in named.items()}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "metadata": dict(metadata or {}),
    }
    suffix = path.suffix.lower()
    if suffix == ".json":
        payload = json.dumps({**header, "parameters": values}, indent=1, allow_nan=False).encode()
    elif suffix == ".npz":
        payload = _npz_bytes(values, header)
    else:
        raise ValueError(f"{path}: unknown checkpoint format {suffix!r}; use .json or .npz")
    _atomic_write(path, payload)
    return path


def _npz_bytes(values: dict[str, float | list[float]], header: dict[str, Any]) -> bytes:
    if any(isinstance(v, list) for v in values.values()):
        # batch-valued Variables are rare; keep each array under its own key
        arrays = {f"value:{name}": np.asarray(v, dtype=np.float64) for name, v in values.items()}
        arrays["names"] = np.array(list(values), dtype=np.str_)
    else:
        arrays = {
            "names": np.array(list(values), dtype=np.str_),
            "values": np.array(list(values.values()), dtype=np.float64),
        }
    arrays["header"] = np.array(json.dumps(header, allow_nan=False), dtype=np.str_)
    buffer = _io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _atomic_write(path: Path, payload: bytes) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------- reading
def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and validate a checkpoint file on its own: ``{"parameters": {name: value},
    "optimizer": ..., "metadata": ..., "version": ...}``. Raises :class:`CheckpointError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read checkpoint ({error.strerror or error})") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            document = _parse_json(raw)
        elif suffix == ".npz":
            document = _parse_npz(raw)
        else:
            raise CheckpointError(f"unknown checkpoint format {suffix!r}; use .json or .npz")
        _check_document(document)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return document


def _parse_json(raw: bytes) -> dict[str, Any]:
    def reject_constant(token: str) -> None:
        raise CheckpointError(f"non-finite number {token} in the file")

    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"corrupted or truncated JSON checkpoint ({error})") from None
    if not isinstance(document, dict):
        raise CheckpointError("not a graphdl checkpoint (top level is not an object)")
    return document


def _parse_npz(raw: bytes) -> dict[str, Any]:
    try:
        with np.load(_io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CheckpointError(f"corrupted or truncated .npz checkpoint ({error})") from None
    if "header" not in arrays or "names" not in arrays:
        raise CheckpointError("not a graphdl checkpoint (no 'header'/'names' arrays)")
    try:
        header = json.loads(str(arrays["header"][()]))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise CheckpointError(f"corrupted header ({error})") from None
    if not isinstance(header, dict):
        raise CheckpointError("corrupted header (not an object)")
    names = [str(name) for name in arrays["names"].reshape(-1)]
    if "values" in arrays:
        values = arrays["values"]
        if values.dtype.kind != "f" or values.shape != (len(names),):
            raise CheckpointError(f"'values' has shape {values.shape}, expected ({len(names)},)")
        parameters: dict[str, Any] = dict(zip(names, values.tolist()))
    else:
        parameters = {}
        for name in names:
            if f"value:{name}" not in arrays:
                raise CheckpointError(f"no value stored for {name!r}")
            parameters[name] = arrays[f"value:{name}"].tolist()
    if len(parameters) != len(names):
        raise CheckpointError("duplicate parameter names in the file")
    return {**header, "parameters": parameters}


def _check_document(document: dict[str, Any]) -> None:
    if document.get("format") != FORMAT:
        raise CheckpointError(f"not a graphdl checkpoint (format {document.get('format')!r})")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"bad format version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"format version {version} is newer than this graphdl reads ({VERSION}): upgrade")
    parameters = document.get("parameters")
    if not isinstance(parameters, dict):
        raise CheckpointError("'parameters' is missing or not a mapping")
    for name, value in parameters.items():
        if isinstance(value, list):
            ok = bool(value) and all(_is_finite_number(v) for v in value)
        else:
            ok = _is_finite_number(value)
        if not ok:
            raise CheckpointError(f"parameter {name!r} has an invalid value {value!r:.60}")
    if document.get("metadata") is not None and not isinstance(document["metadata"], dict):
        raise CheckpointError("'metadata' must be a mapping")


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, list):
        return (len(value),)
    if isinstance(value, np.ndarray):
        return value.shape
    return ()


# --------------------------------------------------------------------- loading
def load(
    path: str | os.PathLike[str],
    params: Any,
    optimizer: Any = None,
    *,
    strict: bool = True,
) -> LoadReport:
    """Load values saved by :func:`save` into ``params`` (a model or Variables), by name.

    Checks every name and shape first. With ``strict=True`` (default) any missing or
    unexpected name is an error listing them; with ``strict=False`` matching names are
    loaded and the others reported. The optimiser state is restored when ``optimizer``
    is given (the file must hold one). On any error nothing is changed and a
    :class:`CheckpointError` names the file.
    """
    path = Path(path)
    document = read(path)
    try:
        named = unique_names(_parameters(params))
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot load by name: {error}") from None
    stored = document["parameters"]
    missing = [name for name in named if name not in stored]
    unexpected = [name for name in stored if name not in named]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing from the file: {_listing(missing)}")
        if unexpected:
            parts.append(f"not in the model: {_listing(unexpected)}")
        raise CheckpointError(f"{path}: names do not match the model ({'; '.join(parts)})")
    updates = []
    for name, variable in named.items():
        if name not in stored:
            continue
        value = stored[name]
        current = variable.value
        if current is not None and _shape(current) != _shape(value):
            raise CheckpointError(
                f"{path}: parameter {name!r} has shape {_shape(value)} in the file but {_shape(current)} in the model"
            )
        updates.append((variable, np.asarray(value, dtype=np.float64) if isinstance(value, list) else float(value)))
    optimizer_state = None
    if optimizer is not None:
        if document.get("optimizer") is None:
            raise CheckpointError(f"{path}: the file holds no optimiser state")
        try:
            optimizer.check_state_dict(document["optimizer"])
        except ValueError as error:
            raise CheckpointError(f"{path}: optimiser state does not fit: {error}") from None
        optimizer_state = document["optimizer"]
    for variable, value in updates:
        variable.set_value(value)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    return LoadReport(
        loaded=[variable.name for variable, _ in updates],
        missing=missing,
        unexpected=unexpected,
        metadata=dict(document.get("metadata") or {}),
    )


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
