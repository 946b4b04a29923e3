"""``graphdl.sweep``: run ``trial(seed=s, **point)`` for every grid point × seed, in this
process, on local worker processes or on a Dask cluster, streaming each record to a
JSON-lines file so that an interrupted sweep resumes where it stopped."""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import json
import math
import multiprocessing
import multiprocessing.context
import os
import pickle
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from graphdl.sweep.dask_pool import DaskPool
from graphdl.sweep.grid import SweepError, TrialError, check_grid, check_seeds, expand, run_key
from graphdl.sweep.lock import locked
from graphdl.sweep.store import RecordWriter, check_out_path, index_records, read_records, rewrite_records

Record = dict[str, Any]
TRACEBACK_LINES = 6  # the last lines of a failed trial's traceback kept in its record
TASKS_PER_WORKER = 32  # automatic batches: enough tasks per worker to balance the load at the end
MAX_BATCH = 16  # ... and few enough runs per task that records keep streaming in
MAX_LOSSES = 10  # times a run's task may be cancelled by someone else or lost by the cluster, and sent again
LOST_CHECK_SECONDS = 2.0  # how often a sweep on Dask looks for tasks the cluster lost


def run_trial(trial: Callable[..., Mapping[str, Any]], point: dict[str, Any], seed: int) -> Record:
    """One run, as a worker executes it: the record of ``trial(seed=seed, **point)``.

    Never raises for a failing trial: the record then holds ``error`` (type, message and
    the end of the traceback) instead of ``metrics``. The record is returned as it reads
    back from JSON, so in-memory and on-disk records are equal. A NaN or infinite metric
    value is stored as ``null``, and the record's ``non_finite`` field maps its name
    (``loss``, ``curve[3]``, ``stats.max``) to ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``:
    every line is standard JSON (:func:`graphdl.sweep.summary.metric_value` reads it back)."""
    record: Record = {"point": point, "seed": seed}
    try:
        with _global_generators_seeded(seed):
            metrics = trial(seed=seed, **point)
        if not isinstance(metrics, Mapping):
            raise TypeError(f"the trial returned a {type(metrics).__name__}, not a dict of metrics")
        non_finite: dict[str, str] = {}
        record["metrics"] = {str(name): _plain(value, str(name), non_finite) for name, value in metrics.items()}
        if non_finite:
            record["non_finite"] = non_finite
        return json.loads(json.dumps(record, ensure_ascii=False, allow_nan=False))
    # A failing run is data: recorded, and the sweep goes on. SystemExit too (a trial that
    # calls sys.exit, or a script's argparse error): it would end the whole sweep, or, raised
    # again from a worker process, the caller's program. Ctrl-C still stops the sweep.
    except (Exception, SystemExit) as error:
        lines = "".join(traceback.format_exception(type(error), error, error.__traceback__)).splitlines()
        record.pop("metrics", None)
        record["error"] = {
            "type": type(error).__name__,
            "message": str(error),
            "traceback": "\n".join(lines[-TRACEBACK_LINES:]),
        }
        return json.loads(json.dumps(record, ensure_ascii=False))


def run_batch(trial: Callable[..., Mapping[str, Any]], runs: list[tuple[dict[str, Any], int]]) -> list[Record]:
    """Several runs in one task (fewer round trips to the executor): their records, in order."""
    return [run_trial(trial, point, seed) for point, seed in runs]


@contextlib.contextmanager
def _global_generators_seeded(seed: int) -> Iterator[None]:
    """Seed Python's ``random`` and numpy's global generator with the run's seed for the
    length of the run, then put back their state: a trial that draws from them (instead of
    from ``seed`` as it should) is still the same run on every executor, and the caller's
    own draws are not disturbed."""
    numpy = sys.modules.get("numpy")
    python_state = random.getstate()
    numpy_state = numpy.random.get_state() if numpy is not None else None
    random.seed(seed)
    if numpy is not None:
        numpy.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(python_state)
        if numpy is not None:
            numpy.random.set_state(numpy_state)


def _plain(value: Any, where: str, non_finite: dict[str, str]) -> Any:
    """``value`` as standard JSON data: numpy numbers and arrays become numbers and lists;
    a NaN or infinite float becomes None, its text noted in ``non_finite[where]``."""
    if isinstance(value, float) and not math.isfinite(value):
        non_finite[where] = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}.{key}", non_finite) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]", non_finite) for index, item in enumerate(value)]
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy here
        return _plain(value.tolist(), where, non_finite)
    raise TypeError(f"metric {where!r} is a {type(value).__name__}; metrics are numbers, strings, lists or dicts")


def sweep(
    trial: Callable[..., Mapping[str, Any]],
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Iterable[int] = (0,),
    executor: Any = None,
    out: str | os.PathLike[str] | None = "runs.jsonl",
    *,
    workers: int | None = None,
    batch: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    on_record: Callable[[Record], None] | None = None,
) -> list[Record]:
    """Run ``trial(seed=s, **point)`` for every point of ``grid`` and every seed in ``seeds``.

    Args:
        trial: a module-level function taking ``seed`` and one keyword per grid axis and
            returning a dict of metrics (numbers, strings, lists). It must draw all its
            randomness from ``seed`` (e.g. ``numpy.random.default_rng(seed)``), never from
            global state: then every run gives the same record on any executor, in any order.
            (Python's ``random`` and numpy's global generator are seeded with ``seed`` for
            the run, and restored after it, as a safety net.)
        grid: ``{name: [values]}``; the runs are the product of the axes. Values are numbers,
            booleans, strings or None. A setting held fixed is an axis with one value.
        seeds: the seeds run at every grid point (distinct whole numbers).
        executor: None runs in this process; ``"processes"`` a ``ProcessPoolExecutor`` of
            ``workers`` processes (default: one per core); a ``dask.distributed.Client`` (or a
            Dask cluster such as ``LocalCluster``) runs on its cluster; any other
            ``concurrent.futures.Executor`` is used as it is.
        out: the JSON-lines file each record is appended to as soon as it arrives; runs
            already in it (same point and seed) are not run again. None: no file. Its folder
            must exist; a symbolic link is followed to its target. The sweep holds a lock on
            it (``.<out>.lock``) from start to end: a second sweep on the same file is refused.
        workers: number of processes for ``executor="processes"``; for an executor you
            pass, how many runs it runs at once (it sizes the automatic batches; default 1).
        batch: runs sent to a worker in one task (their records arrive together). None:
            about ``TASKS_PER_WORKER`` tasks per worker, at most ``MAX_BATCH`` runs each, which
            keeps the executor's cost per run small for short runs; 1 for one run per task.
        retry_failed: run again the runs whose record in ``out`` is an error (their old
            records are removed first).
        progress: show a progress bar on stderr.
        on_record: called with each new record as it arrives.

    Returns:
        One record per run, in grid order then seed order: ``{"point": {...}, "seed": s,
        "metrics": {...}}``, or ``{"point", "seed", "error": {"type", "message",
        "traceback"}}`` for a run whose trial raised (the sweep goes on). A NaN or infinite
        metric is ``None`` there, with its text in the record's ``non_finite`` field
        (``{"loss": "NaN"}``), so that every line of ``out`` is standard JSON.

    Raises:
        SweepBusy: another sweep is writing ``out`` (the message names its pid).
        SweepError: bad grid, seeds, trial, executor or out file (before any run starts), an
            executor that broke down mid-sweep, or a run whose task was lost (cancelled by
            someone else, e.g. ``client.restart()``, or forgotten by the Dask scheduler) more
            than ``MAX_LOSSES`` times; lost tasks are otherwise sent again. The records that
            arrived stay in ``out``; the same call resumes.
    """
    if not callable(trial):
        raise TrialError(f"trial must be a function, got {trial!r}")
    checked_grid = check_grid(grid)
    runs = expand(checked_grid, check_seeds(seeds))
    _check_signature(trial, list(checked_grid))
    path = check_out_path(out) if out is not None else None
    _check_executor(executor, trial, workers)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise SweepError(f"batch must be a whole number of at least 1, got {batch!r}")
    # one sweep per out file, from reading it to its last record: two sweeps would run the same
    # runs twice, and a retry_failed rewrite would cut off the other sweep's appends
    with locked(path) if path is not None else contextlib.nullcontext():
        try:
            results = _sweep_locked(trial, runs, executor, path, workers, batch, retry_failed, progress, on_record)
        except OSError as error:  # the out file cannot be read or written (e.g. out=/proc/x.jsonl)
            if path is None or error.filename is None:
                raise
            raise SweepError(f"cannot use out {str(path)!r}: {error.strerror or error}") from None
    return [results[run_key(point, seed)] for point, seed in runs]


def _sweep_locked(
    trial: Callable[..., Mapping[str, Any]],
    runs: list[tuple[dict[str, Any], int]],
    executor: Any,
    path: Any,
    workers: int | None,
    batch: int | None,
    retry_failed: bool,
    progress: bool,
    on_record: Callable[[Record], None] | None,
) -> dict[str, Record]:
    """The records of ``runs`` by run key: those already in ``path``, and the others run now."""
    done: dict[str, Record] = {}
    if path is not None:
        existing = read_records(path, repair=True)
        wanted = {run_key(point, seed) for point, seed in runs}
        if retry_failed and any("error" in r and run_key(r["point"], r["seed"]) in wanted for r in existing):
            existing = [r for r in existing if "error" not in r or run_key(r["point"], r["seed"]) not in wanted]
            rewrite_records(path, existing)
        done = {key: record for key, record in index_records(existing).items() if key in wanted}
    pending = [(point, seed) for point, seed in runs if run_key(point, seed) not in done]

    results: dict[str, Record] = dict(done)
    if pending:
        writer = RecordWriter(path) if path is not None else None
        pool, owned, slots = _resolve_executor(executor, workers)
        bar = _progress(len(pending), progress)
        failures = 0

        def arrived(record: Record) -> None:
            nonlocal failures
            if writer is not None:
                writer.append(record)
            results[run_key(record["point"], record["seed"])] = record
            failures += "error" in record
            bar.update({"failed": failures})
            if on_record is not None:
                on_record(record)

        try:
            if pool is None:
                for point, seed in pending:
                    arrived(run_trial(trial, point, seed))
            else:
                size = batch if batch is not None else _auto_batch(len(pending), slots)
                find_lost = pool.lost if isinstance(pool, DaskPool) else None
                _run_on(pool, trial, pending, size, arrived, path, find_lost)
        finally:
            bar.close()
            if writer is not None:
                writer.close()
            if owned:
                pool.shutdown(wait=True, cancel_futures=True)
    return results


def _auto_batch(runs: int, workers: int) -> int:
    return max(1, min(MAX_BATCH, runs // (TASKS_PER_WORKER * workers)))


def _run_on(
    pool: concurrent.futures.Executor | DaskPool,
    trial: Callable[..., Any],
    pending: list[tuple[dict[str, Any], int]],
    size: int,
    arrived: Callable[[Record], None],
    path: Any,
    find_lost: Callable[[list[concurrent.futures.Future]], list[concurrent.futures.Future]] | None = None,
) -> None:
    """Send ``pending`` to ``pool`` in tasks of ``size`` runs and pass on each record as its
    task finishes. With ``find_lost`` (Dask: :meth:`DaskPool.lost`), after every
    ``LOST_CHECK_SECONDS`` in which nothing arrived, the tasks that will never finish are
    looked for and their runs sent again: the wait never outlasts the cluster's memory of a task."""
    running: dict[concurrent.futures.Future, list[tuple[dict[str, Any], int]]] = {}
    losses: dict[str, int] = {}

    def send(runs: list[tuple[dict[str, Any], int]]) -> None:
        running[pool.submit(run_batch, trial, runs)] = runs

    def send_again(runs: list[tuple[dict[str, Any], int]], how: str, error: BaseException | None = None) -> None:
        for point, seed in runs:
            key = run_key(point, seed)
            losses[key] = losses.get(key, 0) + 1
            if losses[key] > MAX_LOSSES:
                raise SweepError(
                    f"the run {point} seed {seed} was lost {losses[key]} times (its task {how}; last: "
                    f"{type(error).__name__ if error is not None else 'no outcome'}), so the sweep stops{_kept(path)}"
                ) from error
        send(runs)

    for start in range(0, len(pending), size):
        send(pending[start : start + size])
    next_check, quiet = time.monotonic() + LOST_CHECK_SECONDS, True  # quiet: nothing arrived since the last check
    try:
        while running:
            timeout = max(0.0, next_check - time.monotonic()) if find_lost is not None else None
            finished, _ = concurrent.futures.wait(running, timeout, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in [future for future in running if future in finished]:  # in the order sent
                runs = running.pop(future)
                try:
                    records = future.result()
                except concurrent.futures.CancelledError as error:
                    # not by this sweep (it cancels only on its way out): e.g. client.restart()
                    # dropped every task on the cluster; the runs go again
                    send_again(runs, "was cancelled by someone else, e.g. client.restart()", error)
                    continue
                except Exception as error:
                    if type(error).__name__ != "KilledWorker":
                        raise _executor_failed(error, path) from error
                    if len(runs) > 1:  # find the run that takes its workers down: one run per task
                        for run in runs:
                            send([run])
                        continue
                    # Dask gave up on this run after it took down several workers (a crash
                    # inside the trial, e.g. out of memory): its failure, the others go on
                    (point, seed), message = runs[0], str(error)
                    records = [{"point": point, "seed": seed, "error": {"type": "KilledWorker", "message": message}}]
                for record in records:
                    arrived(record)
            quiet = quiet and not finished
            if find_lost is not None and time.monotonic() >= next_check:
                # only while nothing arrives: the checks cost nothing while the sweep goes well,
                # and a lost task is found at the latest when the others are done
                for future in find_lost(list(running)) if quiet else []:
                    runs = running.pop(future)
                    future.cancel()  # its task too, should it ever run: its records are never taken
                    send_again(runs, "was lost by the cluster: cancelled or no longer known to the scheduler")
                next_check, quiet = time.monotonic() + LOST_CHECK_SECONDS, True
    finally:  # on an error or KeyboardInterrupt: stop the queued runs, keep what arrived
        for future in running:
            future.cancel()


def _executor_failed(error: Exception, path: Any) -> SweepError:
    """The error for an executor (not a trial: run_trial records those) that broke down."""
    hint = ""
    if isinstance(error, (ImportError, AttributeError, pickle.UnpicklingError)) or "serializ" in str(error):
        hint = " (graphdl and the trial's module must be importable on the workers and the Dask scheduler)"
    return SweepError(f"the executor failed: {type(error).__name__}: {error}{hint}{_kept(path)}")


def _kept(path: Any) -> str:
    """The end of a mid-sweep error's message: where the finished runs are."""
    return f"; the runs that finished are in {path}, the same call resumes" if path is not None else ""


def _check_signature(trial: Callable[..., Any], names: list[str]) -> None:
    try:
        signature = inspect.signature(trial)
    except (TypeError, ValueError):  # builtins and some C callables: let the first run tell
        return
    try:
        signature.bind(seed=0, **dict.fromkeys(names))
    except TypeError as error:
        axes = ", ".join(["seed", *names])
        raise TrialError(f"trial {_name(trial)} cannot be called with the keywords {axes}: {error}") from None


def _name(trial: Callable[..., Any]) -> str:
    module = getattr(trial, "__module__", None) or "?"
    return f"{module}.{getattr(trial, '__qualname__', repr(trial))}"


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "get_executor")


def _is_dask_cluster(executor: Any) -> bool:
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "scheduler_address")


def _check_executor(executor: Any, trial: Callable[..., Any], workers: int | None) -> None:
    """Raise :class:`SweepError` for an executor (or worker count) this sweep cannot use."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers must be a whole number of at least 1, got {workers!r}")
    if executor is None or _is_dask_client(executor) or _is_dask_cluster(executor):
        return  # Dask pickles with cloudpickle, which also sends lambdas and nested functions
    if executor == "processes" or isinstance(executor, concurrent.futures.ProcessPoolExecutor):
        _check_picklable(trial)
    elif isinstance(executor, str) or not callable(getattr(executor, "submit", None)):
        raise SweepError(f"executor must be None, 'processes', a dask Client or an Executor, got {executor!r}")


def _worker_context() -> multiprocessing.context.BaseContext:
    """Worker processes started by a fork server where the platform has one: forking this
    process itself is unsafe once it runs threads (numba's parallel kernels, a Dask client,
    a browser driver), since a lock held by another thread at the fork stays held in the
    child forever. The server imports numpy and graphdl once, so workers start warm."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["numpy", "graphdl"])
    return context


def _resolve_executor(executor: Any, workers: int | None) -> tuple[Any, bool, int]:
    """``(executor to submit to, whether this sweep owns it, runs it runs at once)``; the
    executor is None for in-process runs. An executor of unknown size counts as
    ``workers`` or 1 (then the automatic batch is a single run)."""
    if executor is None:
        return None, False, 1
    if executor == "processes":
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context())
        return pool, True, workers or os.cpu_count() or 1
    if _is_dask_client(executor):  # Dask reschedules the runs of a worker that dies
        on_client = DaskPool(executor)
        return on_client, False, on_client.slots()
    if _is_dask_cluster(executor):  # a LocalCluster or any Dask cluster object: a client of our own
        from distributed import Client

        own_client = DaskPool(Client(executor), owned=True)
        return own_client, True, own_client.slots()
    return executor, False, workers or 1


def _check_picklable(trial: Callable[..., Any]) -> None:
    qualname = getattr(trial, "__qualname__", "")
    try:
        pickle.dumps(trial)
        problem = "<locals>" in qualname or "<lambda>" in qualname
    except Exception:
        problem = True
    if problem:
        raise TrialError(
            f"trial {_name(trial)} cannot be sent to worker processes: define it with def at the top level "
            "of a module the workers can import (not a lambda, not inside a function), or use executor=None"
        )


def _progress(total: int, enabled: bool) -> Any:
    from graphdl.train.progress import progress_bar

    return progress_bar(total, enabled=enabled, unit="run")
