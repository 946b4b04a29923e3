"""Graphviz's ``dot`` program: whether it is on PATH, and running it on DOT text. The
renderer, the animator's graph panel and the explorer page all lay out through here."""

from __future__ import annotations

import shutil
import subprocess

__all__ = ["dot_available", "run_dot"]


def dot_available() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH right now."""
    return shutil.which("dot") is not None


def run_dot(source: str, format: str) -> bytes:
    """Lay out and draw DOT ``source`` with the ``dot`` program; returns the image bytes."""
    executable = shutil.which("dot")
    if executable is None:
        raise FileNotFoundError("Graphviz's `dot` program is not on PATH")
    result = subprocess.run([executable, f"-T{format}"], input=source.encode("utf-8"), capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"dot failed (exit {result.returncode}): {message}")
    return result.stdout
