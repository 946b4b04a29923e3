"""What a sweep found, per grid point: runs, failures, and the mean and spread of each
numeric metric; as a table and as a plot of one metric."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphdl.sweep.grid import SweepError, run_key


@dataclass
class MetricStats:
    """One numeric metric over the successful runs of a grid point (bools count as 0/1;
    runs where the metric is missing, None or NaN are left out and counted in ``missing``,
    the NaN ones also in ``nan``). With no number at all, ``count`` is 0 and the statistics NaN."""

    count: int
    mean: float
    std: float  # sample standard deviation, 0 for a single value
    low: float
    high: float
    missing: int
    boolean: bool = False  # every value was True/False: the mean is the fraction True
    nan: int = 0  # runs where the metric is NaN (a diverged run)


@dataclass
class PointSummary:
    """The runs of one grid point."""

    point: dict[str, Any]
    runs: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # error type -> count
    metrics: dict[str, MetricStats] = field(default_factory=dict)


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def metric_value(record: Mapping[str, Any], metric: str) -> Any:
    """The value of ``metric`` in a successful record, with a NaN or infinity (stored as
    null plus the record's ``non_finite`` text) given back as the float it was."""
    value = record["metrics"].get(metric)
    if value is None:
        text = (record.get("non_finite") or {}).get(metric)
        if isinstance(text, str) and text in _NON_FINITE:
            return _NON_FINITE[text]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


def _spread(values: list[float]) -> float:
    """The sample standard deviation (0 for one value, NaN when a value is infinite)."""
    if not all(math.isfinite(value) for value in values):
        return math.nan
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def numeric_values(records: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    """The values of ``metric`` in the successful ``records`` that have a number (not NaN) for it."""
    values = (_number(metric_value(record, metric)) for record in records if "metrics" in record)
    return [value for value in values if value is not None]


def nan_count(records: Iterable[Mapping[str, Any]], metric: str) -> int:
    """How many successful ``records`` have NaN for ``metric``."""
    return sum(_is_nan(metric_value(record, metric)) for record in records if "metrics" in record)


def group_by_point(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """``{point key: records}`` in the order the points first appear."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault(run_key(record["point"], None), []).append(record)
    return groups


def summarize(records: Iterable[Mapping[str, Any]]) -> list[PointSummary]:
    """One :class:`PointSummary` per grid point, in the order the points first appear.
    A metric is summarised when at least one successful run gives it a number or NaN."""
    summaries = []
    for group in group_by_point(records).values():
        summary = PointSummary(dict(group[0]["point"]), runs=len(group))
        ok = [record for record in group if "metrics" in record]
        for record in group:
            if "error" in record:
                summary.failed += 1
                kind = str(record["error"].get("type", "error"))
                summary.errors[kind] = summary.errors.get(kind, 0) + 1
        names = list(dict.fromkeys(name for record in ok for name in record["metrics"]))
        for name in names:
            values, nans = numeric_values(ok, name), nan_count(ok, name)
            if values:
                summary.metrics[name] = MetricStats(
                    count=len(values),
                    mean=statistics.fmean(values),
                    std=_spread(values),
                    low=min(values),
                    high=max(values),
                    missing=len(ok) - len(values),
                    boolean=all(isinstance(r["metrics"].get(name), bool) for r in ok if name in r["metrics"]),
                    nan=nans,
                )
            elif nans:
                nan = math.nan
                summary.metrics[name] = MetricStats(0, nan, nan, nan, nan, missing=len(ok), nan=nans)
        summaries.append(summary)
    return summaries


def point_label(point: Mapping[str, Any]) -> str:
    """``activation=relu lr=0.1`` (``(no grid)`` for the empty point)."""
    return " ".join(f"{name}={value}" for name, value in point.items()) or "(no grid)"


def format_summary(summaries: list[PointSummary], metrics: Iterable[str] | None = None) -> str:
    """A plain-text table: one row per grid point with its runs, failures and, per metric,
    ``mean ± std`` (``k/n true`` for a True/False metric; ``[n]`` after it when only n runs
    have a number for it, ``k NaN`` when k runs gave NaN)."""
    if metrics is None:
        metrics = list(dict.fromkeys(name for summary in summaries for name in summary.metrics))
    metrics = list(metrics)
    axes = list(dict.fromkeys(name for summary in summaries for name in summary.point))
    flags = {name for name in metrics if all(s.metrics[name].boolean for s in summaries if name in s.metrics)}
    header = [*axes, "runs", "failed", *(name if name in flags else f"{name} (mean ± std)" for name in metrics)]
    rows = [header]
    for summary in summaries:
        row = [str(summary.point.get(name, "")) for name in axes]
        failed = str(summary.failed)
        if summary.errors:
            failed += " (" + ", ".join(f"{count} {kind}" for kind, count in summary.errors.items()) + ")"
        row += [str(summary.runs), failed]
        for name in metrics:
            stats = summary.metrics.get(name)
            if stats is None:
                row.append("-")
            elif stats.count == 0:
                row.append(f"NaN (all {stats.nan})" if stats.nan == stats.missing else f"- ({stats.nan} NaN)")
            else:
                text = f"{stats.mean:.4g} ± {stats.std:.2g}"
                if stats.boolean:
                    text = f"{round(stats.mean * stats.count)}/{stats.count} true"
                row.append(
                    text + (f" [{stats.count}]" if stats.missing else "") + (f" ({stats.nan} NaN)" if stats.nan else "")
                )
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def plot_metric(records: Iterable[Mapping[str, Any]], metric: str, path: str | os.PathLike[str]) -> Path:
    """A PNG of ``metric`` per grid point: every run's value as a dot, with the box of the
    quartiles and the mean marked. Returns the path written."""
    from matplotlib.figure import Figure

    groups = list(group_by_point(records).values())
    values = [numeric_values(group, metric) for group in groups]
    if not any(values):
        ok = [record for group in groups for record in group if "metrics" in record]
        known = sorted({name for record in ok for name in record["metrics"]})
        nans = nan_count(ok, metric)
        if nans:
            raise SweepError(f"metric {metric!r} is NaN in every run that has it ({nans} runs): nothing to plot")
        if metric in known:
            raise SweepError(f"metric {metric!r} has no number in any run (it is text or null): nothing to plot")
        raise SweepError(f"no run has a numeric metric {metric!r}; the runs' metrics are: {', '.join(known) or 'none'}")
    labels = [point_label(group[0]["point"]) for group in groups]
    figure = Figure(figsize=(max(5.0, 1.3 * len(groups) + 2.0), 4.5), layout="constrained")
    axes = figure.subplots()
    positions = list(range(1, len(groups) + 1))
    filled = [(position, data) for position, data in zip(positions, values) if data]
    axes.boxplot([data for _, data in filled], positions=[p for p, _ in filled], widths=0.5, showfliers=False)
    for position, data in filled:
        spread = [position + 0.18 * ((index * 0.618) % 1.0 - 0.5) for index in range(len(data))]
        axes.scatter(spread, data, s=9, alpha=0.5, color="tab:blue", zorder=3)
        axes.scatter([position], [statistics.fmean(data)], marker="D", color="tab:red", zorder=4)
    axes.set_xticks(positions, [f"{label}\n(n={len(data)})" for label, data in zip(labels, values)], fontsize=9)
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} per grid point\n(dots: runs, box: quartiles, red diamond: mean)", fontsize=10)
    axes.grid(alpha=0.3, axis="y")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
