"""The runs of a sweep: grid points × seeds, checked, and the key that names each run."""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: A grid value: what a run key can hold exactly and JSON gives back unchanged.
GridValue = int | float | bool | str | None
#: ``(point, seed)``: the keyword arguments of one run besides its seed, and the seed.
Run = tuple[dict[str, GridValue], int]
#: The most runs one sweep takes (a million records is a file of a few hundred MB).
MAX_RUNS = 1_000_000


class SweepError(ValueError):
    """A sweep that cannot start or go on: bad grid, seeds, trial, executor or ``out`` file."""


class TrialError(SweepError, TypeError):
    """A trial the sweep cannot use: not callable, not callable with ``seed`` and the grid's
    names, or not sendable to worker processes (a lambda or a nested function)."""


def check_grid(grid: Mapping[str, Iterable[Any]] | None) -> dict[str, list[GridValue]]:
    """``grid`` as ``{name: [values]}``; raises :class:`SweepError` naming the bad axis or value."""
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise SweepError(f"grid must be a mapping {{name: [values]}}, got {type(grid).__name__}")
    checked: dict[str, list[GridValue]] = {}
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise SweepError(f"grid axis {name!r} is not a keyword-argument name")
        if name == "seed":
            raise SweepError("grid axis 'seed' is reserved: pass the seeds as seeds=...")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SweepError(f"grid axis {name!r} must be a list of values, got {values!r}")
        values = list(values)
        if not values:
            raise SweepError(f"grid axis {name!r} has no values")
        keys = set()
        for value in values:
            _check_value(name, value)
            key = _canonical(value)
            if key in keys:
                raise SweepError(f"grid axis {name!r} lists {value!r} twice")
            keys.add(key)
        checked[name] = values
    return checked


def _check_value(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise SweepError(
            f"grid axis {name!r}: value {value!r} is a {type(value).__name__}; "
            "grid values are numbers, booleans, strings or None (they key the runs in the out file)"
        )
    if isinstance(value, float) and math.isnan(value):
        raise SweepError(f"grid axis {name!r}: NaN cannot key a run (NaN != NaN)")
    if isinstance(value, float) and math.isinf(value):
        raise SweepError(f"grid axis {name!r}: {value} cannot be stored in a JSON file (standard JSON has no infinity)")


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """``seeds`` as a list of distinct ints; raises :class:`SweepError` on anything else,
    and on more than :data:`MAX_RUNS` seeds (counted before listing them)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise SweepError(f"seeds must be a list or range of whole numbers, got {seeds!r}")
    if isinstance(seeds, range):
        check_count(len(seeds), f"seeds {seeds!r}")
    checked = []
    for seed in seeds:
        try:
            if isinstance(seed, bool):
                raise TypeError
            checked.append(operator.index(seed))  # numpy integers too
        except TypeError:
            raise SweepError(f"seed {seed!r} is not a whole number") from None
    if not checked:
        raise SweepError("seeds is empty: a sweep needs at least one seed")
    if len(set(checked)) != len(checked):
        twice = sorted({seed for seed in checked if checked.count(seed) > 1})
        raise SweepError(f"seeds lists {twice[0]} more than once")
    return checked


def check_count(count: int, what: str) -> None:
    """Raise :class:`SweepError` when ``what`` gives more than :data:`MAX_RUNS` runs."""
    if count > MAX_RUNS:
        raise SweepError(f"{what} gives {count:,} runs, more than a sweep takes ({MAX_RUNS:,}); split it up")


def expand(grid: Mapping[str, list[GridValue]], seeds: list[int]) -> list[Run]:
    """Every ``(point, seed)``: grid points in the grid's order (last axis fastest), seeds inner.
    Raises :class:`SweepError` for more than :data:`MAX_RUNS` runs (counted first)."""
    check_count(math.prod(len(values) for values in grid.values()) * len(seeds), "the grid times the seeds")
    names = list(grid)
    points = [dict(zip(names, values)) for values in itertools.product(*grid.values())]
    return [(point, seed) for point in points for seed in seeds]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def run_key(point: Mapping[str, Any], seed: Any) -> str:
    """The canonical JSON text that names a run: the same point and seed give the same key,
    whatever the order of the grid's axes. ``1`` and ``1.0`` are different values."""
    return _canonical({"point": dict(point), "seed": seed})


def parse_value(text: str) -> GridValue:
    """A command-line grid value: ``3`` → int, ``0.1`` / ``1e-3`` → float, ``true`` /
    ``false`` → bool, anything else (or a quoted ``"3"``) → str."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return stripped[1:-1]
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return stripped
    if math.isnan(number):
        raise SweepError(f"grid value {text!r}: NaN cannot key a run")
    return number


def parse_grid_option(text: str) -> tuple[str, list[GridValue]]:
    """``NAME=V1,V2,...`` → ``(NAME, [values])`` (values parsed by :func:`parse_value`)."""
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise SweepError(f"--grid {text!r}: expected NAME=VALUE1,VALUE2,...")
    parsed = [parse_value(value) for value in values.split(",")]
    if any(value == "" for value in parsed):
        raise SweepError(f"--grid {text!r}: an empty value (two commas in a row, or a trailing comma?)")
    return name, parsed


def parse_seeds_option(text: str) -> list[int]:
    """``A:B`` (range(A, B)), ``A:B:STEP``, or a comma list ``1,4,9``."""
    span: Sequence[int]
    try:
        if ":" in text:
            parts = [int(part) for part in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] == 0):
                raise ValueError
            span = range(*parts)
        else:
            span = [int(part) for part in text.split(",")]
    except ValueError:
        raise SweepError(f"--seeds {text!r}: expected START:STOP, START:STOP:STEP or a list 1,4,9") from None
    check_count(len(span), f"--seeds {text}")  # counted before listing: 0:10**15 is refused at once
    seeds = list(span)
    if not seeds:
        raise SweepError(f"--seeds {text!r} gives no seeds")
    return seeds
