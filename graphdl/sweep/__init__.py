"""Sweeps: many independent runs of one trial function over a grid of settings × seeds,
in this process, on local processes or on a Dask cluster; resumable, nothing lost.

``graphdl.sweep`` is the function :func:`graphdl.sweep.runner.sweep`; the helpers are
importable from here: ``from graphdl.sweep import read_records, summarize``.
"""

from graphdl.sweep.grid import SweepError, TrialError, parse_grid_option, parse_seeds_option, parse_value, run_key
from graphdl.sweep.lock import SweepBusy
from graphdl.sweep.runner import run_trial, sweep
from graphdl.sweep.store import SweepWarning, read_records
from graphdl.sweep.summary import MetricStats, PointSummary, format_summary, metric_value, plot_metric, summarize

__all__ = [
    "MetricStats",
    "PointSummary",
    "SweepBusy",
    "SweepError",
    "SweepWarning",
    "TrialError",
    "format_summary",
    "metric_value",
    "parse_grid_option",
    "parse_seeds_option",
    "parse_value",
    "plot_metric",
    "read_records",
    "run_key",
    "run_trial",
    "summarize",
    "sweep",
]
