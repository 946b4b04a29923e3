"""Save and load parameters (and optimiser state) by node name, without pickle.

Two open formats, chosen by the file suffix:

* ``.json``: ``{"format": "graphdl-parameters", "version": 1, "parameters": {name: value},
  "optimizer": {...} | null, "metadata": {...}}``; floats are written with ``repr``
  so they round-trip exactly;
* ``.npz``: ``names`` (unicode array), ``values`` (float64) and ``header`` (the rest
  as JSON text); read with ``allow_pickle=False``.

Files are written atomically: a temporary file in the same directory, flushed and
fsynced, then ``os.replace``-d over the target, so a crash never leaves a half-written
checkpoint; the file gets the usual mode (the umask's) and the folder is fsynced after the
rename. Loading validates everything first (format, version, names, shapes, finiteness,
optimiser state) and only then assigns, so on any error the model keeps its current
values. An ``.npz`` file is a stranger's zip archive: the names, dtypes and shapes in its
``.npy`` headers and the sizes its entries declare are checked against the model before
any array data is read or decompressed.
"""

from __future__ import annotations

import io as _io
import json
import math
import os
import stat
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.core.files import remove_stray_temporaries, write_atomically
from graphdl.core.node import Variable
from graphdl.nn.module import unique_names
from graphdl.validation import FINITE, Count, short_repr

FORMAT = "graphdl-parameters"
VERSION = 1

__all__ = ["FORMAT", "VERSION", "CheckpointError", "LoadReport", "check_path", "load", "read", "save"]


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
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub mistakes the arrays for allow_pickle
    return buffer.getvalue()


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically and durably (:func:`graphdl.core.files.replacing`:
    a temporary file from ``mkstemp`` in the same folder, fsynced, renamed over ``path``, the
    folder fsynced); the file gets the usual mode (0666 minus the umask). A successful save
    also removes the temporary files that killed saves of the same path left behind."""
    write_atomically(path, payload, durable=True)
    remove_stray_temporaries(path)


def check_path(path: str | os.PathLike[str]) -> Path:
    """Check that a checkpoint can be written to ``path`` (a ``.json`` or ``.npz`` file
    in an existing, writable folder) without writing anything; returns it as a Path.
    Raises ``ValueError`` naming the path."""
    try:
        path = Path(path)
    except TypeError:
        raise TypeError(f"a checkpoint path must be a str or a path, got {type(path).__name__}") from None
    suffix = path.suffix.lower()
    if suffix not in (".json", ".npz"):
        raise ValueError(f"{path}: unknown checkpoint format {suffix!r}; use .json or .npz")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ValueError(f"{path}: the folder {str(directory)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a checkpoint file")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: the folder {str(directory)!r} is not writable")
    return path


# --------------------------------------------------------------------- reading
#: Every .npz entry together may declare at most this many times the file's size
#: (plus ``_SLACK`` bytes) uncompressed: a checkpoint graphdl writes is stored, not
#: compressed, so this only refuses archives that would balloon in memory.
_EXPANSION = 16
_SLACK = 1 << 20
#: Longest .npy header accepted (numpy's own default limit).
_NPY_HEADER_LIMIT = 10_000
#: Errors the standard library and numpy raise on a damaged archive or document.
_FILE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    OSError,
    EOFError,
    IndexError,
    OverflowError,
    RecursionError,
    NotImplementedError,
    RuntimeError,
    UnicodeError,
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    SyntaxError,
    tokenize.TokenError,  # numpy reads .npy headers with the tokenizer
)


@dataclass(frozen=True)
class _Model:
    """What the model loading a checkpoint holds: its parameter names with the shape of
    each current value (None when unset), and whether the names must match exactly."""

    shapes: dict[str, tuple[int, ...] | None]
    strict: bool


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and validate a checkpoint file on its own: ``{"parameters": {name: value},
    "optimizer": ..., "metadata": ..., "version": ...}``. Raises :class:`CheckpointError`
    naming the file (and the archive entry at fault)."""
    return _read(Path(path), None)


def _read(path: Path, model: _Model | None) -> dict[str, Any]:
    suffix = path.suffix.lower()
    try:
        if suffix not in (".json", ".npz"):
            raise CheckpointError(f"unknown checkpoint format {suffix!r}; use .json or .npz")
        try:
            handle = open_regular_file(path)
        except (OSError, ValueError) as error:  # ValueError: a NUL character in the path
            raise CheckpointError(f"cannot read checkpoint ({getattr(error, 'strerror', None) or error})") from None
        with handle:
            if suffix == ".json":
                try:
                    raw = handle.read()
                except OSError as error:
                    raise CheckpointError(f"cannot read checkpoint ({error.strerror or error})") from None
                document = _parse_json(raw, "the file")
            else:
                document = _parse_npz(handle, os.fstat(handle.fileno()).st_size, model)
        _check_document(document)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    return document


def open_regular_file(path: Path) -> Any:
    """``path`` opened for binary reading, if it is a regular file (or a link to one).

    A device such as ``/dev/zero``, a pipe or a socket has no end a reader can trust:
    reading it would fill memory (or wait forever on a pipe's open), so it is an
    ``OSError`` saying what it is, raised before opening it."""
    kind = stat.S_IFMT(os.stat(path).st_mode)
    if kind not in (stat.S_IFREG, stat.S_IFDIR):  # a folder fails on open, with its own message
        raise OSError(f"not a regular file but a {_FILE_KINDS.get(kind, 'special file')}")
    handle = open(path, "rb")
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since the check
        handle.close()
        raise OSError("not a regular file")
    return handle


_FILE_KINDS = {stat.S_IFCHR: "device", stat.S_IFBLK: "device", stat.S_IFIFO: "pipe", stat.S_IFSOCK: "socket"}


def _parse_json(raw: bytes | str, where: str) -> dict[str, Any]:
    def reject_constant(token: str) -> None:
        raise CheckpointError(f"non-finite number {token} in {where}")

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        document = json.loads(text, parse_constant=reject_constant)
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{where} is nested too deeply to be a graphdl checkpoint") from None
    except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError, integers of > 4300 digits
        raise CheckpointError(f"corrupted or truncated JSON in {where} ({error})") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"not a graphdl checkpoint ({where}: top level is not an object)")
    return document


@dataclass(frozen=True)
class _Entry:
    """An .npy entry of the archive, known from its header alone."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int  # bytes of the .npy header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _parse_npz(handle: Any, size: int, model: _Model | None) -> dict[str, Any]:
    where = ""
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = _archive_entries(archive, size)
            entries: dict[str, _Entry] = {}
            for key, info in infos.items():
                where = f"entry {info.filename!r}"
                entries[key] = _npy_header(archive, info)
            where = ""
            _check_shapes(entries, model)
            names_entry = entries["names"]
            where = f"entry {names_entry.info.filename!r}"
            names = _read_strings(archive, names_entry)
            if len(set(names)) != len(names):
                raise CheckpointError("duplicate parameter names in the file")
            header_entry = entries["header"]
            where = f"entry {header_entry.info.filename!r}"
            header = _parse_json(_read_strings(archive, header_entry)[0], where)
            parameters: dict[str, Any] = {}
            if "values" in entries:
                where = f"entry {entries['values'].info.filename!r}"
                parameters = dict(zip(names, _read_floats(archive, entries["values"]).tolist()))
            else:
                stored = {key[len("value:") :] for key in entries if key.startswith("value:")}
                if stored != set(names):
                    extra = sorted(stored - set(names))
                    lacking = sorted(set(names) - stored)
                    raise CheckpointError(
                        f"the 'value:NAME' entries do not match 'names' (no value for {_listing(lacking)}; "
                        f"values without a name: {_listing(extra)})"
                    )
                for name in names:
                    entry = entries[f"value:{name}"]
                    where = f"entry {entry.info.filename!r}"
                    parameters[name] = _read_floats(archive, entry).tolist()
    except CheckpointError as error:
        message = str(error)
        raise CheckpointError(
            f"{where}: {message}" if where and not message.startswith("entry ") else message
        ) from None
    except _FILE_ERRORS as error:
        raise CheckpointError(
            f"corrupted or truncated .npz checkpoint ({where or 'zip directory'}: {_reason(error)})"
        ) from None
    if "parameters" in header:
        raise CheckpointError("entry 'header.npy': corrupted header (holds 'parameters')")
    return {**header, "parameters": parameters}


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _archive_entries(archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by array name, checked for names and declared sizes."""
    infos: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"unexpected entry {info.filename!r} (a graphdl .npz holds .npy arrays only)")
        key = info.filename[: -len(".npy")]
        if key not in ("names", "header", "values") and not key.startswith("value:"):
            raise CheckpointError(f"unexpected entry {info.filename!r} (not a graphdl checkpoint array)")
        if key in infos:
            raise CheckpointError(f"entry {info.filename!r} appears twice")
        total += info.file_size
        if total > _EXPANSION * size + _SLACK:
            raise CheckpointError(
                f"entry {info.filename!r}: the archive declares {total} bytes uncompressed, more than "
                f"{_EXPANSION} times its {size} bytes: refused before decompressing"
            )
        infos[key] = info
    if "names" not in infos or "header" not in infos:
        raise CheckpointError("not a graphdl checkpoint (no 'names'/'header' arrays)")
    if "values" in infos and any(key.startswith("value:") for key in infos):
        raise CheckpointError("holds both 'values' and 'value:NAME' arrays")
    return infos


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    """Shape and dtype of an .npy entry from its header; no data is read."""
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=_NPY_HEADER_LIMIT)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=_NPY_HEADER_LIMIT)
        else:
            raise CheckpointError(f".npy format version {version} is not supported (1.0 and 2.0 are)")
        offset = stream.tell()
    if dtype.hasobject:
        raise CheckpointError("object arrays are refused (reading them would need pickle)")
    entry = _Entry(info, tuple(int(n) for n in shape), dtype, offset)
    if info.file_size != offset + entry.nbytes:
        raise CheckpointError(
            f"the header declares shape {entry.shape} of {dtype} ({entry.nbytes} bytes) but the entry "
            f"holds {info.file_size - offset} bytes"
        )
    return entry


def _check_shapes(entries: dict[str, _Entry], model: _Model | None) -> None:
    """Check dtypes and shapes from the headers against each other and the model."""
    names, header = entries["names"], entries["header"]
    if names.dtype.kind != "U" or len(names.shape) != 1:
        raise _entry_error(names, f"'names' must be a 1-D unicode array, got {names.dtype} of shape {names.shape}")
    if header.dtype.kind != "U" or header.shape != ():
        raise _entry_error(header, f"'header' must be one string, got {header.dtype} of shape {header.shape}")
    count = names.shape[0]
    if model is not None and model.strict:
        if count > len(model.shapes):
            raise _entry_error(names, f"the file holds {count} parameters, more than the model's {len(model.shapes)}")
        longest = max((len(name) for name in model.shapes), default=0)
        if count and names.dtype.itemsize > 4 * longest:
            raise _entry_error(
                names,
                f"parameter names in the file are up to {names.dtype.itemsize // 4} characters long, "
                f"longer than any name in the model ({longest})",
            )
    if "values" in entries:
        values = entries["values"]
        if values.dtype.kind != "f" or values.shape != (count,):
            raise _entry_error(
                values, f"'values' must be float with shape ({count},), got {values.dtype} of shape {values.shape}"
            )
    for key, entry in entries.items():
        if not key.startswith("value:"):
            continue
        name = key[len("value:") :]
        if entry.dtype.kind != "f" or len(entry.shape) != 1 or entry.shape[0] < 1:
            raise _entry_error(entry, f"parameter {name!r} must be a non-empty 1-D float array, got {entry.dtype}")
        current = model.shapes.get(name) if model is not None else None
        if current is not None and current != entry.shape:
            raise _entry_error(
                entry, f"parameter {name!r} has shape {entry.shape} in the file but {current} in the model"
            )


def _entry_error(entry: _Entry, message: str) -> CheckpointError:
    return CheckpointError(f"entry {entry.info.filename!r}: {message}")


def _read_data(archive: zipfile.ZipFile, entry: _Entry) -> np.ndarray:
    with archive.open(entry.info) as stream:
        stream.read(entry.offset)
        data = stream.read(entry.nbytes)
        if len(data) != entry.nbytes or stream.read(1):
            raise CheckpointError(f"holds {len(data)} data bytes, its header declares {entry.nbytes}")
    return np.frombuffer(data, dtype=entry.dtype).reshape(entry.shape)


def _read_strings(archive: zipfile.ZipFile, entry: _Entry) -> list[str]:
    array = _read_data(archive, entry)
    return [str(item) for item in array.reshape(-1)]


def _read_floats(archive: zipfile.ZipFile, entry: _Entry) -> np.ndarray:
    return _read_data(archive, entry).astype(np.float64)


def _check_document(document: dict[str, Any]) -> None:
    if document.get("format") != FORMAT:
        raise CheckpointError(f"not a graphdl checkpoint (format {short_repr(document.get('format'))})")
    try:
        version = _VERSION_RULE.check(document.get("version"), "the format version")
    except (TypeError, ValueError) as error:
        raise CheckpointError(str(error)) from None
    if version < 1:
        raise CheckpointError(f"bad format version {version}")
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
            raise CheckpointError(f"parameter {short_repr(name)} has an invalid value {short_repr(value)}")
    if document.get("metadata") is not None and not isinstance(document["metadata"], dict):
        raise CheckpointError("'metadata' must be a mapping")


_VERSION_RULE = Count()


def _is_finite_number(value: Any) -> bool:
    try:
        FINITE.check(value, "value")
    except (TypeError, ValueError):
        return False
    return True


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
    try:
        named = unique_names(_parameters(params))
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot load by name: {error}") from None
    model = _Model({name: _shape_or_none(variable.value) for name, variable in named.items()}, strict)
    document = _read(path, model)
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
        current = model.shapes[name]
        if current is not None and current != _shape(value):
            raise CheckpointError(
                f"{path}: parameter {name!r} has shape {_shape(value)} in the file but {current} in the model"
            )
        updates.append((variable, np.asarray(value, dtype=np.float64) if isinstance(value, list) else float(value)))
    optimizer_state = None
    if optimizer is not None:
        if document.get("optimizer") is None:
            raise CheckpointError(f"{path}: the file holds no optimiser state")
        try:
            optimizer_state = optimizer.check_state_dict(document["optimizer"])
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"{path}: optimiser state does not fit: {error}") from None
    for variable, value in updates:
        variable.set_value(value)
    if optimizer_state is not None:
        optimizer.load_state_dict(document["optimizer"])
    return LoadReport(
        loaded=[variable.name for variable, _ in updates],
        missing=missing,
        unexpected=unexpected,
        metadata=dict(document.get("metadata") or {}),
    )


def _shape_or_none(value: Any) -> tuple[int, ...] | None:
    return None if value is None else _shape(value)


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
