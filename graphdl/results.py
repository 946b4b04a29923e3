"""Results files: the numbers an experiment measured, written as JSON so that documents
quote them instead of retyping them.

An experiment script calls :func:`write_results` with its own name and the numbers it
printed; ``experiments/results/NAME.json`` then holds them (sorted keys, stable float
text), and :func:`read_results` gives them back to tests and documentation checks.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.core.files import write_atomically


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays become numbers and lists."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"results: {where} is {number}, which JSON cannot hold")
        return number
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"results: {where} is a {type(value).__name__}, not a number, string, list or mapping")


def write_results(path: str | os.PathLike[str], results: Mapping[str, Any]) -> Path:
    """Write ``results`` (numbers, strings, lists and mappings of them) to ``path`` as JSON.

    The file is replaced atomically, so a reader never sees half of it. Returns the path.
    """
    path = Path(path)
    text = json.dumps(_plain(results, path.stem), indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    return path


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping that :func:`write_results` wrote to ``path``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable results file ({error})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a readable results file (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a results file holds a JSON object, found {type(data).__name__}")
    return data
