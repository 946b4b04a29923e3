"""Results files: the numbers an experiment measured, written as JSON so that documents
quote them instead of retyping them.

An experiment script calls :func:`write_results` with its own name and the numbers it
printed; ``experiments/results/NAME.json`` then holds them (sorted keys, stable float
text), and :func:`read_results` gives them back to tests and documentation checks.
"""

from __future__ import annotations

import argparse
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


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a message shows it: relative to the current folder when it lies inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def add_results_arguments(parser: argparse.ArgumentParser, committed: Path) -> None:
    """Give an experiment script ``--write-results`` and ``--results FILE`` (see :func:`save_results`)."""
    parser.add_argument(
        "--write-results",
        action="store_true",
        help=f"replace the committed results file experiments/results/{committed.name} (the numbers the README quotes)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"write the numbers to this JSON file (default: OUT/{committed.name} with --out, else none)",
    )


def save_results(args: argparse.Namespace, committed: Path, results: Mapping[str, Any]) -> Path | None:
    """Write an experiment's ``results`` where its arguments say and print where.

    ``--results FILE`` wins; ``--write-results`` replaces ``committed`` (the file in
    ``experiments/results/`` that the README quotes); otherwise they go next to the figures,
    ``OUT/<committed name>`` with ``--out OUT``, or nowhere. Returns the path written, if any.
    """
    path = args.results
    if path is None and args.write_results:
        path = committed
    if path is None and getattr(args, "out", None) is not None:
        path = Path(args.out) / committed.name
    if path is None:
        print(f"results not saved (--out DIR writes DIR/{committed.name}, --write-results the committed file)")
        return None
    write_results(path, results)
    print(f"results written: {shown_path(path)}")
    return path


def run_settings(args: argparse.Namespace, *also_left_out: str) -> dict[str, Any]:
    """An experiment's arguments as its results record them: all but where files go
    (``out``, ``results``, ``write_results``) and ``also_left_out`` (e.g. ``"workers"``)."""
    left_out = {"out", "results", "write_results", *also_left_out}
    return {key: value for key, value in vars(args).items() if key not in left_out}
