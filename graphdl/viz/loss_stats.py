"""The loss statistics every training picture shares (the animator's loss panel, the
loss plot, the explorer page, the demo's progress bar): running means, the round
window they use, how the figure is named, where the y-axis is cut, and the thinning of
long runs for drawing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LOSS_POINTS = 3000  # a loss curve is drawn with at most this many points (an envelope of longer runs)


def running_mean(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each position (shorter at the start)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return data
    sums = np.cumsum(np.insert(data, 0, 0.0))
    counts = np.minimum(np.arange(1, data.size + 1), window)
    return (sums[1:] - sums[np.arange(1, data.size + 1) - counts]) / counts


def round_window(steps: int) -> int:
    """A round running-mean window for a run of ``steps``: the largest of 1, 2, 5, 10,
    20, 50, 100, 200, … that is at most a tenth of the run (100 for 1500 steps)."""
    target = max(1, steps // 10)
    window = 1
    for power in range(0, 13):
        for mantissa in (1, 2, 5):
            if mantissa * 10**power <= target:
                window = mantissa * 10**power
    return window


def recent_mean(losses: Sequence[float], window: int, done: int | None = None) -> float:
    """The mean of the ``window`` losses before position ``done`` (default: the end)."""
    done = len(losses) if done is None else done
    if done <= 0:
        return float("nan")
    return float(np.mean(np.asarray(losses[max(0, done - window) : done], dtype=float)))


def loss_figure_name(window: int, symbol: str = "|y − ŷ|") -> str:
    """How the run's one loss figure is named everywhere: ``mean |y − ŷ| over the last 100 steps``."""
    return f"mean {symbol} over the last {window} step{'s' if window != 1 else ''}"


def clip_level(losses: np.ndarray) -> float:
    """Where loss plots cut the y-axis: just above the 99.5th percentile, so a few early
    spikes do not flatten the rest; the spikes above it are marked, not hidden."""
    if losses.size == 0:
        return 1.0
    level = float(np.percentile(losses, 99.5)) * 1.08
    return level if level > 0 else float(losses.max()) or 1.0


def spread_out(steps: np.ndarray, span: int, limit: int = 120) -> np.ndarray:
    """At most about ``limit`` of the sorted ``steps`` (1 to ``span``), one per stretch of
    ``span / limit`` steps: markers that would merge into a bar stay apart."""
    if steps.size <= limit:
        return steps
    stretch = math.ceil(span / limit)
    _, first = np.unique(steps // stretch, return_index=True)
    return steps[first]


def envelope(values: np.ndarray, limit: int = LOSS_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` to draw ``values`` (one per step, steps from 1) with at most about
    ``limit`` points: a long run becomes the min and max of each bin, so spikes stay visible."""
    steps = np.arange(1, values.size + 1, dtype=float)
    if values.size <= limit:
        return steps, values
    bins = math.ceil(values.size / (limit // 2))
    usable = values.size - values.size % bins
    blocks = values[:usable].reshape(-1, bins)
    centres = steps[:usable].reshape(-1, bins).mean(axis=1)
    ys = np.stack([blocks.min(axis=1), blocks.max(axis=1)], axis=1).ravel()
    xs = np.repeat(centres, 2)
    if usable < values.size:
        xs = np.append(xs, steps[usable:])
        ys = np.append(ys, values[usable:])
    return xs, ys
