"""Load a script of ``experiments/`` as a module and run it, reading back the results file it writes."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from graphdl.results import read_results

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_experiment(name: str) -> ModuleType:
    """Import ``experiments/<name>.py`` under the module name ``<name>_experiment``, registered in
    ``sys.modules`` (dataclasses look their module up there)."""
    path = EXPERIMENTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_experiment", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no experiment script at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def run_experiment(module: ModuleType, argv: Sequence[str], folder: Path) -> tuple[Any, dict[str, Any]]:
    """``module.main(argv)`` with its results file in ``folder``: returns what main returned and
    what the results file holds (never the committed ``experiments/results`` file)."""
    path = folder / f"{module.__name__}.json"
    returned = module.main([*argv, "--results", str(path)])
    return returned, read_results(path)


def is_png(path: Path, min_size: int = 5000) -> bool:
    """``path`` is a PNG image of at least ``min_size`` bytes (a real picture, not an empty canvas)."""
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) >= min_size


def node_fills(dot_path: Path) -> dict[str, str]:
    """``{node name: fill colour}`` of a DOT file written by ``graphdl.viz.render``."""
    dot = dot_path.read_text(encoding="utf-8")
    return {name: fill for fill, name in re.findall(r'fillcolor="([^"]+)".*tooltip="([^"]+)"', dot)}
