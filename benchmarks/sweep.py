"""How much faster ``graphdl.sweep`` runs the init-sensitivity sweep on 2 local workers than
in one process, and what each run costs the sweep machinery.

    PYTHONPATH=. python benchmarks/sweep.py            # writes its section of benchmarks/RESULTS.md

The workload is experiments/init_sensitivity.py's random-start sweep: ``random_start`` for
both activations × 200 seeds (400 runs of 10 000 per-sample SGD steps, the compiled loop).
Measured side by side, alternating, best of ``--repeats``:

* in-process (``executor=None``) against a 2-process pool (``executor="processes"``) and a
  Dask ``LocalCluster`` of 2 worker processes (with and without its start-up time);
* the command line, ``graphdl sweep ... --workers 1`` against ``--workers 2`` (each a fresh
  interpreter, so both include the imports);
* the overhead per run: a trial that does nothing, 2000 runs, records appended to a file,
  with one run per task and with the automatic batches.

Every timed sweep starts from an empty out file and all of them give the same records
(checked). The machine is shared: the load average at the start is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import graphdl
from graphdl.sweep.command import load_trial

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")
TRIAL = "experiments/init_sensitivity.py:random_start"
NOOPS = 2000  # runs of the trial that does nothing
BEGIN, END = "<!-- benchmarks/sweep.py: begin -->", "<!-- benchmarks/sweep.py: end -->"


def noop(seed: int) -> dict:
    """A trial with no work: what remains is the sweep's own cost per run."""
    return {"seed": seed}


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and of its finished (waited-for) children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def accounted(function, *args):
    """``(seconds, result, cores the rest of the machine used meanwhile)``; the last is right
    only when every process the call started has ended (not for a running Dask cluster)."""
    busy, own = busy_seconds(), own_seconds()
    elapsed, result = timed(function, *args)
    others = (busy_seconds() - busy) - (own_seconds() - own)
    return elapsed, result, max(0.0, others / elapsed)


def wait_for_quiet(limit: float) -> None:
    """Wait (at most ``limit`` seconds) for half a second in which the machine is nearly idle:
    with other jobs running, processes of one session share that session's CPU (Linux
    autogroups), so a second worker only helps on idle cores."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy = busy_seconds()
        time.sleep(0.5)
        if busy_seconds() - busy < 0.15:
            return


def run_sweep(trial, grid, seeds, executor, folder: Path, workers: int | None = None, batch: int | None = None):
    out = folder / f"runs-{time.monotonic_ns()}.jsonl"
    return graphdl.sweep(
        trial, grid=grid, seeds=seeds, executor=executor, out=out, workers=workers, batch=batch, progress=False
    )


def run_cli(seeds: int, steps: int, workers: int, folder: Path) -> float:
    out = folder / f"cli-{workers}-{time.monotonic_ns()}.jsonl"
    command = [sys.executable, "-m", "graphdl", "sweep", TRIAL, "--grid", "activation=relu,leaky_relu"]
    command += ["--grid", f"steps={steps}", "--seeds", f"0:{seeds}", "--workers", str(workers)]
    command += ["--out", str(out), "--quiet"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="random starts per activation (default 200)")
    parser.add_argument("--steps", type=int, default=10_000, help="SGD steps per run (default 10 000)")
    parser.add_argument("--repeats", type=int, default=2, help="timings of each variant, best kept (default 2)")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="seconds to wait for an idle machine before a timing"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    os.chdir(ROOT)
    trial = load_trial(TRIAL)
    grid = {"activation": ["relu", "leaky_relu"], "steps": [args.steps]}
    seeds = range(args.seeds)
    runs = 2 * args.seeds
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {}
    busy: dict[str, list[float]] = {}  # cores the other jobs used during each timing
    reference = None
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for _ in range(args.repeats):
            for name, executor, workers in (("sequential", None, None), ("processes", "processes", 2)):
                wait_for_quiet(args.quiet_wait)
                elapsed, records, others = accounted(run_sweep, trial, grid, seeds, executor, folder, workers)
                reference = reference or records
                assert records == reference, f"{name}: records differ from the sequential run"
                times.setdefault(name, []).append(elapsed)
                busy.setdefault(name, []).append(others)
            wait_for_quiet(args.quiet_wait)
            start = time.perf_counter()
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
                with Client(cluster) as client:
                    started = time.perf_counter()
                    elapsed, records = timed(run_sweep, trial, grid, seeds, client, folder)
                    assert records == reference, "dask: records differ from the sequential run"
                    times.setdefault("dask", []).append(elapsed)
                    times.setdefault("dask_startup", []).append(started - start + elapsed)
                    for batch in (1, None):
                        overhead, _ = timed(run_sweep, noop, None, range(NOOPS), client, folder, None, batch)
                        times.setdefault(f"noop_dask_{batch}", []).append(overhead / NOOPS)
            for workers in (1, 2):
                wait_for_quiet(args.quiet_wait)
                elapsed, _, others = accounted(run_cli, args.seeds, args.steps, workers, folder)
                times.setdefault(f"cli_{workers}", []).append(elapsed)
                busy.setdefault(f"cli_{workers}", []).append(others)
            for name, executor, workers, batch in (
                ("noop_sequential", None, None, None),
                ("noop_processes_1", "processes", 2, 1),
                ("noop_processes_None", "processes", 2, None),
            ):
                elapsed, _ = timed(run_sweep, noop, None, range(NOOPS), executor, folder, workers, batch)
                times.setdefault(name, []).append(elapsed / NOOPS)
    best = {name: min(values) for name, values in times.items()}
    others = {name: values[times[name].index(best[name])] for name, values in busy.items()}
    report = format_report(best, others, args, runs, (load, os.getloadavg()[0]))
    print(report)
    if not args.no_write:
        write_section(report)
    return report


def format_report(
    best: dict[str, float], others: dict[str, float], args: argparse.Namespace, runs: int, load: tuple[float, float]
) -> str:
    sequential = best["sequential"]
    per_run = sequential / runs
    cpu = platform.processor() or platform.machine()
    micro = {name: f"{seconds * 1e6:.0f} µs" for name, seconds in best.items()}
    rows = [
        ("in-process (`executor=None`)", "sequential", 1.0),
        ("2-process pool (`executor=\"processes\"`)", "processes", sequential / best["processes"]),
        ("Dask LocalCluster, 2 worker processes (cluster already up)", "dask", sequential / best["dask"]),
        ("Dask LocalCluster, 2 worker processes, including its start-up", "dask_startup",
         sequential / best["dask_startup"]),
        ("`graphdl sweep --workers 1` (fresh interpreter, imports included)", "cli_1", 1.0),
        ("`graphdl sweep --workers 2` (process pool)", "cli_2", best["cli_1"] / best["cli_2"]),
    ]  # fmt: skip
    lines = [
        BEGIN,
        "## Sweeps: the init-sensitivity sweep on 2 local workers (`benchmarks/sweep.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cpu}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, by `benchmarks/sweep.py` in one process: "
        f"`random_start` of experiments/init_sensitivity.py, both activations × {args.seeds} seeds = {runs} runs "
        f"of {args.steps:,} per-sample SGD steps ({per_run * 1e3:.1f} ms per run in-process). Best of "
        f"{args.repeats}, variants alternated; every variant gave the same records as the in-process run. "
        f"The machine was shared with other jobs (1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} "
        f"at the end, on {os.cpu_count()} cores). Linux shares the CPU between sessions (autogroups), not "
        "processes: while other jobs keep the cores busy, a second worker process of this session gets no more "
        "CPU, so the speed-up only shows on idle cores. Each timing waited (up to "
        f"{args.quiet_wait:.0f} s) for a quiet half second; the last column is the CPU the other jobs used "
        "during that timing (from /proc/stat, minus this benchmark's own).",
        "",
        "| how | wall time | speed-up vs one process | other jobs' CPU meanwhile |",
        "|---|---|---|---|",
        *(
            f"| {label} | {best[key]:.2f} s | {ratio:.2f}× | "
            + (f"{others[key]:.2f} cores |" if key in others else "not measured |")
            for label, key, ratio in rows
        ),
        "",
        f"Overhead per run: a trial that returns at once, {NOOPS} runs, each record appended to the out file; "
        "one run per task, and the automatic batches (16 runs per task here):",
        "",
        "| executor | one run per task | automatic batches |",
        "|---|---|---|",
        f"| in-process | {micro['noop_sequential']} | |",
        f"| 2-process pool | {micro['noop_processes_1']} | {micro['noop_processes_None']} |",
        f"| Dask LocalCluster, 2 workers | {micro['noop_dask_1']} | {micro['noop_dask_None']} |",
        "",
        f"A run of this sweep costs {per_run * 1e3:.1f} ms in-process; the sweep's own cost per run (automatic "
        f"batches) is {100 * best['noop_processes_None'] / per_run:.1f}% of that on the process pool and "
        f"{100 * best['noop_dask_None'] / per_run:.1f}% on Dask (one run per task: "
        f"{100 * best['noop_processes_1'] / per_run:.1f}% and {100 * best['noop_dask_1'] / per_run:.1f}%). "
        f"Starting a Dask LocalCluster took {best['dask_startup'] - best['dask']:.1f} s.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(report: str) -> None:
    """Replace this script's section of RESULTS.md (or append it), leaving the rest as it is."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# graphdl benchmarks\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        text = before + report + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + report
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
