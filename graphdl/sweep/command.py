"""``graphdl sweep MODULE:FUNCTION --grid NAME=V1,V2 --seeds 0:200 [--workers N | --scheduler ADDRESS]``."""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import multiprocessing
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphdl.arguments import positive_int as _workers  # --workers and --batch: whole numbers >= 1
from graphdl.sweep.grid import SweepError, parse_grid_option, parse_seeds_option
from graphdl.sweep.runner import sweep
from graphdl.sweep.summary import format_summary, plot_metric, summarize

DESCRIPTION = """\
Run FUNCTION(seed=s, NAME=value, ...) for every combination of the --grid values and every
seed, append each run's record to --out (JSON lines) as it finishes, then print a table per
grid point: runs, failures, mean ± standard deviation of each numeric metric. Running the
same command again skips the runs already in --out, so an interrupted sweep resumes.
FUNCTION must take its randomness from `seed` alone; then the records are the same on any
number of workers."""

EPILOG = """\
examples:
  graphdl sweep experiments/init_sensitivity.py:random_start --grid activation=relu,leaky_relu \\
      --seeds 0:200 --workers 2 --out runs.jsonl --plot final_loss
  graphdl sweep mytrials:fit --grid lr=0.01,0.1 --grid width=4,8 --seeds 0:10 --scheduler tcp://host:8786

Grid values are read as int (3), float (0.1, 1e-3), bool (true/false) or else text; quote a
number to keep it text ('"3"'). With --scheduler, a trial module that is a single .py file is
uploaded to the workers; they need graphdl (and anything else the trial imports) installed."""


def add_sweep_command(commands: Any) -> argparse.ArgumentParser:
    """Register the ``sweep`` subcommand on the CLI's subparsers."""
    parser = commands.add_parser(
        "sweep",
        help="run a trial function over a grid of settings x seeds, resumable, on local workers or Dask",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("trial", metavar="MODULE:FUNCTION", help="importable module (or path/to/file.py) and function")
    parser.add_argument(
        "--grid", action="append", default=[], metavar="NAME=V1,V2", help="one grid axis; repeat for more axes"
    )
    parser.add_argument("--seeds", required=True, help="START:STOP (as range), START:STOP:STEP, or a list 1,4,9")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_workers, default=None, metavar="N", help="run on N local worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask cluster of this scheduler")
    parser.add_argument(
        "--dask", action="store_true", help="with --workers: start a Dask LocalCluster instead of a process pool"
    )
    parser.add_argument(
        "--batch", type=_workers, default=None, metavar="N", help="runs per task sent to a worker (default: automatic)"
    )
    parser.add_argument("--out", default="runs.jsonl", help="JSON-lines file of the records (default runs.jsonl)")
    parser.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    parser.add_argument("--plot", metavar="METRIC", help="plot this metric per grid point to a PNG")
    parser.add_argument("--png", type=Path, default=None, metavar="FILE", help="--plot's file (default OUT_METRIC.png)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def load_trial(spec: str) -> Callable[..., Any]:
    """The function named by ``MODULE:FUNCTION``; MODULE is a dotted module name (looked up
    from the current folder too) or a path to a ``.py`` file (imported under its file name,
    with its folder put on ``sys.path`` so that worker processes can import it too)."""
    module_text, colon, function_name = spec.rpartition(":")
    if not colon or not module_text or not function_name:
        raise SweepError(f"{spec!r}: expected MODULE:FUNCTION, e.g. mytrials:fit or path/to/trials.py:fit")
    if module_text.endswith(".py") or os.sep in module_text or "/" in module_text:
        path = Path(module_text)
        if not path.is_file():
            raise SweepError(f"{spec!r}: no file {module_text}")
        folder, module_name = str(path.resolve().parent), path.stem
    elif all(part.isidentifier() for part in module_text.split(".")):
        folder, module_name = os.getcwd(), module_text
    else:  # ".trials" would be a relative import, which needs a package
        raise SweepError(
            f"{spec!r}: {module_text!r} is not a module name (such as mytrials or pkg.trials) nor a .py file"
        )
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SweepError(f"{spec!r}: cannot import {module_name}: {error}") from None
    if module_text.endswith(".py") and Path(module.__file__ or "").resolve() != Path(module_text).resolve():
        raise SweepError(f"{spec!r}: the name {module_name} is already taken by {module.__file__}; rename the file")
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SweepError(f"{spec!r}: module {module_name} has no function {function_name}")
    return function


def run_sweep_command(args: argparse.Namespace, own_process: bool = False) -> int:
    """Run ``graphdl sweep``; returns the exit status. ``own_process``: this is the
    ``graphdl`` program's own fresh process (not a call from a running program), so its
    local workers may be forked from it."""
    cluster = client = pool = None
    try:
        if args.dask and args.workers is None:
            raise SweepError("--dask goes with --workers N (the number of local Dask workers)")
        trial = load_trial(args.trial)
        grid: dict[str, list[Any]] = {}
        for option in args.grid:
            name, values = parse_grid_option(option)
            if name in grid:
                raise SweepError(f"--grid {name}=... is given twice; list all its values in one --grid")
            grid[name] = values
        seeds = parse_seeds_option(args.seeds)
        executor: Any = None
        if args.scheduler or args.dask:
            cluster, client = _dask_client(args.scheduler, args.workers)
            _upload_module(client, trial)
            executor = client
        elif args.workers is not None and args.workers > 1:
            executor = "processes"
            if own_process:
                pool = executor = _forked_pool(args.workers)
        new: list[dict[str, Any]] = []
        records = sweep(
            trial, grid, seeds, executor, args.out, workers=args.workers, batch=args.batch,
            retry_failed=args.retry_failed, progress=not args.quiet, on_record=new.append,
        )  # fmt: skip
    except SweepError as error:
        print(f"graphdl sweep: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"graphdl sweep: interrupted; the finished runs are in {args.out}, run again to resume", file=sys.stderr)
        return 130
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    failed = [record for record in records if "error" in record]
    print(format_summary(summarize(records)))
    if new:
        resumed = len(records) - len(new)
        print(f"{len(records)} runs: {len(new)} run now, {resumed} already in {args.out}; {len(failed)} failed")
    else:
        print(
            f"{len(records)} runs already in {args.out}; nothing to do" + (f" ({len(failed)} failed)" if failed else "")
        )
    if args.plot:
        png = args.png or Path(args.out).with_name(f"{Path(args.out).stem}_{args.plot}.png")
        try:
            print(f"wrote {plot_metric(records, args.plot, png)}")
        except SweepError as error:
            print(f"graphdl sweep: error: {error}", file=sys.stderr)
            return 2
    if failed:
        _report_failures(failed, len(records), str(args.out))
        return 1
    return 0


def _report_failures(failed: list[dict[str, Any]], total: int, out: str) -> None:
    """The count of failed runs, the first one's traceback, and where to see the others."""
    first, what = failed[0], failed[0]["error"]
    print(f"first failure: {first['point']} seed {first['seed']}: {what['type']}: {what['message']}")
    if what.get("traceback"):
        print("  " + what["traceback"].replace("\n", "\n  "), file=sys.stderr)
    print(
        f"graphdl sweep: {len(failed)} of {total} runs failed; each failed run's record in {out} holds its "
        f"traceback (see them with: grep '\"error\"' {shlex.quote(out)}); --retry-failed runs them again",
        file=sys.stderr,
    )


def _forked_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """Worker processes forked from the ``graphdl`` program itself: the quickest start, and
    safe there, since it runs no threads of its own (no parallel numba kernel, no Dask
    client: the trials run in the workers). Called from a running program, which may run
    such threads, the sweep starts its workers from a fork server instead."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _dask_client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("Dask is not installed: pip install 'graphdl[sweep]' (dask[distributed])") from None
    if scheduler:
        try:
            return None, Client(scheduler, timeout="10s")
        except OSError as error:
            raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    return cluster, Client(cluster)


def _upload_module(client: Any, trial: Callable[..., Any]) -> None:
    """Send a single-file trial module to the workers (a module of an installed package
    is left to the workers' own installation)."""
    module = sys.modules.get(trial.__module__)
    path = getattr(module, "__file__", None)
    if module is None or path is None or "." in module.__name__ or "-packages" in path:
        return
    client.upload_file(path)
