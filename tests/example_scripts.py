"""Load a script of ``experiments/`` as a module, so its tests can call its ``main(argv)``."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def load_example(name: str) -> ModuleType:
    """Import ``experiments/<name>.py`` under the module name ``<name>_example``, as
    ``python experiments/<name>.py`` would run it: with ``experiments/`` on ``sys.path`` (a script
    may import a sibling, as dead_relu.py takes the net of vanishing_gradients.py) and the
    module registered in ``sys.modules`` (dataclasses and pickling look it up there)."""
    if str(EXPERIMENTS) not in sys.path:
        sys.path.append(str(EXPERIMENTS))
    path = EXPERIMENTS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_example", path)
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


def node_fills(dot_path: Path) -> dict[str, str]:
    """``{node name: fill colour}`` of a DOT file written by ``graphdl.viz.render``."""
    dot = dot_path.read_text(encoding="utf-8")
    return {name: fill for fill, name in re.findall(r'fillcolor="([^"]+)".*tooltip="([^"]+)"', dot)}
