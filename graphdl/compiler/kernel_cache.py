"""The kernel cache on disk: generated kernel sources as Python files, and numba's machine
code for them (``__pycache__``, written by numba's ``cache=True``).

The cache is code that runs, so it is trusted only as far as it must be:

* the Python that runs is always the source just generated: a kernel file is compiled from
  that text, and the file on disk is rewritten (atomically) unless it holds exactly that
  text, so numba's machine code, which it keys by the file's size and time, belongs to it;
* the cache folders (the base, ``kernels/`` and ``__pycache__/``) are created with mode
  0o700 whatever the umask, and a folder that another user owns, or that its group or
  others can write, is not used at all (numba's index files are pickles it reads before
  any check): one :class:`KernelCacheWarning`, and the kernels are compiled in memory;
* the cache holds at most :data:`MAX_KERNELS` kernel files; the least recently used ones
  (and their machine code) are removed when a new one is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import sys
import warnings
from pathlib import Path
from types import ModuleType

from graphdl.core.files import write_atomically

__all__ = ["MAX_KERNELS", "KernelCacheWarning", "cache_dir", "load_kernels", "unsafe_folder"]

#: Kernel files kept in the cache; beyond it, the least recently used are removed.
MAX_KERNELS = 256
_PREFIX = "graphdl_kernel_"


class KernelCacheWarning(UserWarning):
    """The kernel cache folder is not safe to use; kernels are compiled without it."""


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$GRAPHDL_CACHE_DIR``, else the user cache directory
    (``$XDG_CACHE_HOME/graphdl`` or ``~/.cache/graphdl``), subdirectory ``kernels``."""
    configured = os.environ.get("GRAPHDL_CACHE_DIR")
    if configured:
        return Path(configured) / "kernels"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphdl" / "kernels"


def load_kernels(source: str, salt: bytes = b"") -> ModuleType:
    """The module that ``source`` (kernels decorated ``@njit(cache=True, ...)``) defines,
    compiled from that text. Its file in the cache is named by the hash of ``salt`` (what
    else the machine code depends on: versions, inlined helpers) and the source. When the
    cache folder is unsafe (:func:`unsafe_folder`), warns once and compiles the kernels
    without the disk cache. Raises ``OSError`` when the cache cannot be created or written."""
    digest = hashlib.sha256(salt + source.encode("utf-8")).hexdigest()[:24]
    name = _PREFIX + digest
    directory = cache_dir()
    problem = _prepare(directory)
    if problem is not None:
        warnings.warn(
            f"graphdl: not using the kernel cache {directory}: {problem}; compiling the kernels without it "
            "(set GRAPHDL_CACHE_DIR to a folder of your own)",
            KernelCacheWarning,
            stacklevel=2,
        )
        return _module(name, re.sub(r"^@njit\(cache=True", "@njit(cache=False", source, flags=re.M), f"<{name}>")
    path = directory / f"{name}.py"
    if _text(path) != source:  # missing, stale, foreign or a link: replaced whole
        write_atomically(path, source, mode=0o600)
        _remove_least_recent(directory, keep=path)
    else:
        os.utime(path)  # recently used
    return _module(name, source, str(path))


def unsafe_folder(path: Path) -> str | None:
    """Why ``path`` (an existing folder) must not hold code this process runs: not a
    folder, owned by another user, or writable by its group or others; None when safe."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"{path}: {error.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a folder"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return f"{path} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by its group or others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def _prepare(directory: Path) -> str | None:
    """Create the base folder, ``kernels/`` and ``__pycache__/`` (0o700); the reason the
    first unsafe one must not be used, or None. Raises ``OSError`` when one cannot be made."""
    base = directory.parent
    for folder in (base, directory, directory / "__pycache__"):
        if not os.path.lexists(folder):
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile: checked below
                folder.mkdir(mode=0o700)
                os.chmod(folder, 0o700)  # mkdir's mode is cut by the umask (e.g. to 0o500)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        # the base is the user's choice and may be reached through a link of theirs
        problem = unsafe_folder(folder.resolve() if folder == base else folder)
        if problem is not None:
            return problem
    return None


def _text(path: Path) -> str | None:
    """The text of the regular file ``path`` (not a link), or None."""
    try:
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            return file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _module(name: str, source: str, filename: str) -> ModuleType:
    """Run ``source`` as module ``name`` (its functions report ``filename`` as their file,
    which is where numba keeps their machine code)."""
    module = ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # the source just generated, never the file's text
    return module


def _remove_least_recent(directory: Path, keep: Path) -> None:
    """Keep at most :data:`MAX_KERNELS` kernel files: remove the least recently used ones
    and numba's files for them (``<kernel>.<function>-<line>.py<version>.nbi``, ``.nbc``)."""
    try:
        kernels = [e for e in os.scandir(directory) if e.name.startswith(_PREFIX) and e.name.endswith(".py")]
        kernels = [entry for entry in kernels if entry.path != str(keep)]
        kernels.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime)
        stale = {entry.name[: -len(".py")] for entry in kernels[: max(0, len(kernels) + 1 - MAX_KERNELS)]}
        compiled = list(os.scandir(directory / "__pycache__")) if stale else []
    except OSError:
        return
    for entry in [*kernels, *compiled]:
        if entry.name.split(".", 1)[0] in stale:
            Path(entry.path).unlink(missing_ok=True)
