"""Sweep files that two processes or two users share: one sweep per file at a time, no
writes through planted links, standard JSON, and one-line errors for bad files and options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sweep_trials

import graphdl
from graphdl.cli import main
from graphdl.sweep import SweepBusy, SweepError, SweepWarning, read_records, summarize
from graphdl.sweep.lock import lock_path
from graphdl.sweep.summary import format_summary

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
HOLD = """
import sys, graphdl, sweep_trials
retry = sys.argv[3] == "retry"
graphdl.sweep(sweep_trials.gated, grid={"gate": [sys.argv[2]]}, seeds=range(16), out=sys.argv[1],
              progress=False, retry_failed=retry)
"""


def _start(out: Path, gate: Path, retry: str = "plain") -> subprocess.Popen:
    command = [sys.executable, "-c", HOLD, str(out), str(gate), retry]
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _holder_pid(out: Path, process: subprocess.Popen) -> int:
    """Wait until ``process`` holds the lock of ``out``; its pid as the lock file says."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            text = lock_path(out).read_text()
        except FileNotFoundError:
            text = ""
        if text.strip():
            return int(text)
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    raise AssertionError("the first sweep never took the lock")


def _keys(out: Path) -> list[tuple]:
    return [(json.dumps(r["point"]), r["seed"]) for r in map(json.loads, out.read_text().splitlines())]


@pytest.mark.parametrize("retry", ["plain", "retry"])
def test_a_second_sweep_on_a_file_in_use_is_refused_naming_the_file_and_pid(tmp_path, retry) -> None:
    out, gate = tmp_path / "runs.jsonl", tmp_path / "gate"
    first = _start(out, gate, retry)
    try:
        pid = _holder_pid(out, first)
        assert pid == first.pid
        with pytest.raises(SweepBusy, match=rf"{out} is being written by another sweep \(pid {pid}, lock file"):
            graphdl.sweep(sweep_trials.gated, grid={"gate": [str(gate)]}, seeds=range(16), out=out, progress=False)
        # the command: exit 2 and one line
        argv = ["sweep", "sweep_trials:gated", "--grid", f"gate={gate}", "--seeds", "0:16", "--out", str(out)]
        assert main([*argv, "--quiet"]) == 2
    finally:
        gate.touch()
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == 16  # nothing lost, nothing doubled
    assert not lock_path(out).exists()  # removed by its holder
    assert graphdl.sweep(sweep_trials.gated, grid={"gate": [str(gate)]}, seeds=range(16), out=out, progress=False)
    assert len(_keys(out)) == 16


@pytest.mark.slow  # two Python processes side by side (about 2 s)
def test_two_sweeps_started_together_never_double_a_run(tmp_path) -> None:
    out, gate = tmp_path / "runs.jsonl", tmp_path / "gate"
    gate.touch()
    processes = [_start(out, gate), _start(out, gate)]
    results = [(process.wait(timeout=30), process.communicate()[1]) for process in processes]
    for code, err in results:
        assert code == 0 or ("SweepBusy" in err and str(out) in err), err
    keys = _keys(out)
    assert len(keys) == len(set(keys))
    if all(code == 0 for code, _ in results):  # one ran after the other: everything once
        assert len(keys) == 16


def test_a_cut_off_line_is_repaired_through_a_fresh_temporary_not_a_planted_link(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    records = graphdl.sweep(sweep_trials.worker_pid, seeds=range(3), out=out, progress=False)
    text = out.read_text()
    out.write_text(text[:-20])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in (f".runs.jsonl.{os.getpid()}.partial", ".runs.jsonl.partial", "runs.jsonl.tmp"):
        (tmp_path / name).symlink_to(victim)
    with pytest.warns(SweepWarning):
        again = graphdl.sweep(sweep_trials.worker_pid, seeds=range(3), out=out, progress=False)
    assert victim.read_text() == "keep me"
    assert not out.is_symlink() and again[:2] == records[:2] and len(out.read_text().splitlines()) == 3


def test_a_symlinked_out_keeps_pointing_at_its_target_after_a_repair(tmp_path) -> None:
    storage = tmp_path / "shared"
    storage.mkdir()
    target, out = storage / "runs.jsonl", tmp_path / "runs.jsonl"
    out.symlink_to(target)
    graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=out, progress=False)
    target.write_text(target.read_text()[:-10])  # a cut-off last line: the next sweep rewrites the file
    with pytest.warns(SweepWarning):
        graphdl.sweep(sweep_trials.worker_pid, seeds=range(4), out=out, progress=False)
    assert out.is_symlink() and out.resolve() == target
    assert len(target.read_text().splitlines()) == 4


@pytest.mark.parametrize("terminated", [True, False])
def test_a_file_that_is_no_sweep_file_is_left_alone(tmp_path, terminated) -> None:
    notes = tmp_path / "notes.txt"
    text = "remember to buy milk" + ("\n" if terminated else "")
    notes.write_text(text)
    with pytest.raises(SweepError, match=r"notes.txt: line 1 is not JSON.*nothing was deleted"):
        graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=notes, progress=False)
    assert notes.read_text() == text


def test_a_whole_last_line_that_is_no_record_is_an_error(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=out, progress=False)
    text = out.read_text() + '{"note": "mine"}\n'
    out.write_text(text)
    with pytest.raises(SweepError, match="line 3 is not a sweep record"):
        graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=out, progress=False)
    assert out.read_text() == text


def test_a_deeply_nested_line_is_a_one_line_error(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    out.write_text("[" * 200_000 + "]" * 200_000 + "\n")
    with pytest.raises(SweepError, match=r"line 1 is not a sweep record \(JSON nested too deeply\)"):
        read_records(out)


def test_non_finite_metrics_are_standard_json_and_summarised(tmp_path, capsys) -> None:
    out = tmp_path / "runs.jsonl"
    graphdl.sweep(sweep_trials.nan_metric, seeds=range(3), out=out, progress=False)
    for line in out.read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} is not standard JSON"))
    first, second = map(json.loads, out.read_text().splitlines()[:2])
    assert first["metrics"] == {"v": None, "peak": 1.0, "curve": [1.0, None]}
    assert first["non_finite"] == {"v": "NaN", "curve[1]": "-Infinity"}
    assert second["non_finite"] == {"v": "NaN", "peak": "Infinity", "curve[1]": "-Infinity"}
    (summary,) = summarize(read_records(out))
    assert summary.metrics["v"].nan == 3 and summary.metrics["v"].count == 0
    assert summary.metrics["peak"].high == float("inf")
    table = format_summary([summary])
    assert "v (mean ± std)" in table and "NaN (all 3)" in table
    # the command keeps the column and says why there is nothing to plot
    argv = ["sweep", "sweep_trials:nan_metric", "--seeds", "0:3", "--out", str(out), "--plot", "v", "--quiet"]
    assert main(argv) == 2
    printed, shown = capsys.readouterr()
    assert "NaN (all 3)" in printed and "3 runs already in" in printed and "nothing to do" in printed
    assert "metric 'v' is NaN in every run that has it (3 runs)" in shown and "the runs' metrics are" not in shown


@pytest.mark.parametrize("spec", ["..sweep_trials:gated", ".sweep_trials:gated", "a..b:gated", "3x:f"])
def test_a_relative_module_name_is_a_one_line_error(tmp_path, capsys, spec) -> None:
    assert main(["sweep", spec, "--seeds", "0:2", "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 2
    assert "is not a module name" in capsys.readouterr().err


def test_an_absurd_seed_range_is_refused_before_listing_it(tmp_path, capsys) -> None:
    argv = ["sweep", "sweep_trials:worker_pid", "--seeds", "0:1000000000000000", "--out", str(tmp_path / "r.jsonl")]
    assert main([*argv, "--quiet"]) == 2
    assert "--seeds 0:1000000000000000 gives 1,000,000,000,000,000 runs, more than a sweep takes" in (
        capsys.readouterr().err
    )
    with pytest.raises(SweepError, match="more than a sweep takes"):
        graphdl.sweep(sweep_trials.worker_pid, seeds=range(10**15), out=None, progress=False)
    with pytest.raises(SweepError, match="the grid times the seeds gives"):
        graphdl.sweep(sweep_trials.gated, grid={"gate": list(map(str, range(2000)))}, seeds=range(1000), out=None)
    with pytest.raises(SweepError, match="cannot be stored in a JSON file"):
        graphdl.sweep(sweep_trials.sometimes_fails, grid={"scale": [float("inf")]}, out=None, progress=False)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("/nonexistent_graphdl_dir/x.jsonl", "the folder '/nonexistent_graphdl_dir' does not exist; create it first"),
        ("/proc/x.jsonl", "/proc/x.jsonl"),
    ],
)
def test_an_out_file_that_cannot_be_written_is_a_one_line_error(capsys, out, message) -> None:
    assert main(["sweep", "sweep_trials:worker_pid", "--seeds", "0:2", "--out", out, "--quiet"]) == 2
    shown = capsys.readouterr().err
    assert shown.startswith("graphdl sweep: error: ") and message in shown and "Traceback" not in shown
    assert not Path(out).parent.exists() or Path(out).parent == Path("/proc")


def test_an_unterminated_last_line_that_is_whole_json_but_no_record_is_an_error(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=out, progress=False)
    text = out.read_text() + '{"point": {}}'
    out.write_text(text)
    with pytest.raises(SweepError, match="line 3 is not a sweep record"):
        graphdl.sweep(sweep_trials.worker_pid, seeds=range(2), out=out, progress=False)
    assert out.read_text() == text
