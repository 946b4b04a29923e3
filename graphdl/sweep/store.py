"""The ``out`` file of a sweep: one JSON record per line, appended as each run finishes.

Each append is flushed to the operating system at once, so a crashed or killed sweep
loses at most the line being written; it is fsync'd to the disk at most once every
``SYNC_SECONDS`` (and when the sweep ends), so a power cut loses at most that much. Reading
back tolerates exactly that: a last line cut off before its newline is reported (with its
beginning) and dropped (the file is rewritten atomically without it) and its run is redone.
A bad line anywhere else, or a whole last line that is no record, is an error: the file was
not written by a sweep alone, and nothing is deleted to guess around it.
"""

from __future__ import annotations

import json
import os
import stat
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from graphdl.core.files import write_atomically
from graphdl.sweep.grid import SweepError, run_key

SYNC_SECONDS = 1.0


class SweepWarning(UserWarning):
    """Something in the ``out`` file was repaired (a cut-off last line)."""


def check_out_path(out: str | os.PathLike[str]) -> Path:
    """``out`` as a Path to a regular file (existing or not) in an existing folder; a
    symbolic link is resolved to its target. Raises :class:`SweepError` for a folder, a
    device, pipe or socket, or a missing parent folder."""
    if not os.fspath(out):
        raise SweepError("out is an empty path; give the path of a .jsonl file")
    path = Path(out)
    if path.is_symlink():  # a link to shared storage: its target is the file read, appended and rewritten
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise SweepError(f"out {str(path)!r} is a folder; give the path of a .jsonl file inside it")
    if path.exists() and not path.is_file():  # /dev/zero would be read forever, /dev/null replaced on repair
        raise SweepError(
            f"out {str(path)!r} is not a regular file (a device, pipe or socket); use out=None to keep no file"
        )
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist; create it first"
        raise SweepError(f"out {str(path)!r}: the folder {str(folder)!r} {what}")
    return path


def is_record(data: Any) -> bool:
    """True for a sweep record: ``point`` (an object), ``seed`` (an int) and either
    ``metrics`` or ``error`` (an object)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("point"), dict)
        and isinstance(data.get("seed"), int)
        and not isinstance(data.get("seed"), bool)
        and (isinstance(data.get("metrics"), dict) or isinstance(data.get("error"), dict))
    )


def record_line(record: dict[str, Any]) -> str:
    """The line (with its newline) that stores ``record``: standard JSON (no NaN or Infinity,
    which :func:`graphdl.sweep.runner.run_trial` stores as null plus a ``non_finite`` field)."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def _torn(line: bytes) -> bool:
    """True when ``line`` can be the start of a record line cut off by a crash."""
    return line.startswith(_RECORD_START) or _RECORD_START.startswith(line)


_RECORD_START = b'{"point": '


def read_records(out: str | os.PathLike[str], repair: bool = False) -> list[dict[str, Any]]:
    """Every record in ``out``, in file order ([] when the file does not exist).

    A cut-off last line (a crash mid-write: no newline at its end, the start of a record) is
    reported with a :class:`SweepWarning` and left out; with ``repair`` (as a sweep reads it)
    it is also removed from the file (atomic rewrite). Any other unreadable line raises
    :class:`SweepError` naming the file and line, and the file is left as it is.
    """
    path = check_out_path(out)
    if not path.exists():
        return []
    raw = path.read_bytes()
    complete = raw.endswith(b"\n")
    lines = raw.split(b"\n")[: -1 if complete else None]
    records, offset = [], 0
    for number, line in enumerate(lines, start=1):
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        cut = False  # unreadable as JSON: maybe a record cut off by a crash
        try:
            data = json.loads(line.decode("utf-8"))
            problem = None if is_record(data) else "not a sweep record (point, seed and metrics or error)"
        except (UnicodeDecodeError, ValueError) as error:
            problem, cut = f"not JSON ({error})", True
        except RecursionError:
            problem = "not a sweep record (JSON nested too deeply)"
        if problem is None:
            records.append(data)
        elif number < len(lines) or complete or not (cut and _torn(line)):  # only an unfinished last record
            raise SweepError(
                f"{path}: line {number} is {problem}; the file was changed by something other than a sweep "
                "(or is no sweep file). Fix or move that line, or give another out file (nothing was deleted)"
            )
        else:
            action = "removed it; its run will be redone" if repair else "its run will be redone"
            shown = line[:60].decode("utf-8", errors="replace") + ("..." if len(line) > 60 else "")
            warnings.warn(
                f"{path}: the last line (line {number}, {len(line)} bytes: {shown!r}) is not a whole record, as "
                f"a crash while writing leaves it: {action}",
                SweepWarning,
                stacklevel=2,
            )
            if repair:
                _rewrite(path, raw[:start])
            return records
    if not complete and repair and raw:  # a whole last record, only its newline is missing
        _rewrite(path, raw + b"\n")
    return records


def rewrite_records(out: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Replace ``out`` by exactly ``records``, atomically."""
    _rewrite(Path(out), "".join(record_line(record) for record in records).encode("utf-8"))


def _rewrite(path: Path, data: bytes) -> None:
    write_atomically(path, data, durable=True, mode=stat.S_IMODE(path.stat().st_mode) if path.exists() else None)


class RecordWriter:
    """Appends records to ``out`` as they arrive: flushed at once, fsync'd at most every
    ``sync_seconds`` and on ``close()``."""

    def __init__(self, out: str | os.PathLike[str], sync_seconds: float = SYNC_SECONDS) -> None:
        self.path = check_out_path(out)
        try:
            self._file: TextIO = open(self.path, "a", encoding="utf-8")
        except OSError as error:
            raise SweepError(f"cannot write out {str(self.path)!r}: {error.strerror}") from None
        self._sync_seconds = sync_seconds
        self._synced_at = time.monotonic()

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and flush it to the operating system."""
        self._file.write(record_line(record))
        self._file.flush()
        if time.monotonic() - self._synced_at >= self._sync_seconds:
            self.sync()

    def sync(self) -> None:
        """Push everything written so far to the disk."""
        os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """Sync and close the file."""
        if not self._file.closed:
            self.sync()
            self._file.close()


def index_records(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{run key: record}``; the first record of a key wins."""
    index: dict[str, dict[str, Any]] = {}
    for record in records:
        index.setdefault(run_key(record["point"], record["seed"]), record)
    return index
