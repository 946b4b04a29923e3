"""``graphdl.sweep`` in this process and on a process pool: records, resume, failures, the
out file's repair and the errors for bad input. Dask: tests/test_sweep_dask.py."""

from __future__ import annotations

import json
import math
import os
import re

import pytest
import sweep_trials

import graphdl
from graphdl.sweep import SweepError, SweepWarning, metric_value, read_records, run_key
from graphdl.sweep.grid import parse_grid_option, parse_seeds_option, parse_value

GRID = {"activation": ["relu", "leaky_relu"], "steps": [10]}
SEEDS = range(3)


@pytest.fixture
def counter(tmp_path, monkeypatch):
    """The calls of the test trials, one line each (works across processes)."""
    path = tmp_path / "calls.txt"
    path.touch()
    monkeypatch.setenv(sweep_trials.COUNTER_ENV, str(path))
    return path


def calls(counter) -> int:
    return len(counter.read_text().splitlines())


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_records_are_point_seed_and_metrics_in_grid_order(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    records = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    assert [(r["point"]["activation"], r["seed"]) for r in records] == [
        ("relu", 0), ("relu", 1), ("relu", 2), ("leaky_relu", 0), ("leaky_relu", 1), ("leaky_relu", 2),
    ]  # fmt: skip
    direct = sweep_trials.seed_net_fit(seed=1, activation="leaky_relu", steps=10)
    assert records[4] == {"point": {"activation": "leaky_relu", "steps": 10}, "seed": 1, "metrics": direct}
    assert type(records[4]["metrics"]["w_11"]) is float  # numpy numbers are stored as plain numbers
    # relu and leaky_relu from the same seed start at the same parameters but train differently
    assert records[1]["metrics"]["final_loss"] != records[4]["metrics"]["final_loss"]
    assert lines(out) == records  # what is returned is what the file holds
    assert read_records(out) == records


def test_process_pool_gives_the_records_of_a_sequential_run(tmp_path) -> None:
    sequential = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=None, progress=False)
    out = tmp_path / "runs.jsonl"
    pooled = graphdl.sweep(
        sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, executor="processes", workers=2, out=out, progress=False
    )
    assert pooled == sequential
    batched = graphdl.sweep(
        sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, executor="processes", workers=2, batch=4, out=None,
        progress=False,
    )  # fmt: skip
    assert batched == sequential
    # the file holds them in the order they finished: the same records, one line each
    assert sorted(lines(out), key=lambda r: run_key(r["point"], r["seed"])) == sorted(
        sequential, key=lambda r: run_key(r["point"], r["seed"])
    )


class Interrupted(Exception):
    pass


def test_an_interrupted_sweep_resumes_without_rerunning_or_doubling(tmp_path, counter) -> None:
    out = tmp_path / "runs.jsonl"
    arrived = []

    def stop_after_four(record: dict) -> None:
        arrived.append(record)
        if len(arrived) == 4:
            raise Interrupted

    with pytest.raises(Interrupted):
        graphdl.sweep(
            sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False, on_record=stop_after_four
        )
    assert calls(counter) == 4 and lines(out) == arrived
    records = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    assert calls(counter) == 6  # only the two missing runs ran
    assert records[:4] == arrived
    assert len(lines(out)) == 6 and sorted(map(json.dumps, lines(out))) == sorted(map(json.dumps, records))
    graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    assert calls(counter) == 6 and len(lines(out)) == 6  # complete: nothing runs again
    # a bigger sweep over the same file runs only what is new
    more = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=range(4), out=out, progress=False)
    assert calls(counter) == 8 and len(more) == 8 and len(lines(out)) == 8


def test_a_raising_trial_is_recorded_and_the_sweep_goes_on(tmp_path, counter) -> None:
    out = tmp_path / "runs.jsonl"
    grid = {"scale": [2.0]}
    records = graphdl.sweep(sweep_trials.sometimes_fails, grid=grid, seeds=range(4), out=out, progress=False)
    assert [r.get("metrics") for r in records] == [{"value": 0.0}, None, {"value": 4.0}, None]
    failed = records[1]
    assert failed["point"] == {"scale": 2.0} and failed["seed"] == 1
    assert failed["error"]["type"] == "ValueError" and failed["error"]["message"] == "odd seed 1 refused"
    assert failed["error"]["traceback"].endswith("ValueError: odd seed 1 refused")
    assert "sometimes_fails" in failed["error"]["traceback"]
    assert lines(out) == records
    graphdl.sweep(sweep_trials.sometimes_fails, grid={"scale": [2.0]}, seeds=range(4), out=out, progress=False)
    assert calls(counter) == 4  # a failure is a result: not run again ...
    again = graphdl.sweep(
        sweep_trials.sometimes_fails, grid={"scale": [2.0]}, seeds=range(4), out=out, progress=False, retry_failed=True
    )
    assert calls(counter) == 6  # ... unless asked to
    assert again == records and len(lines(out)) == 4


def test_a_trial_returning_no_dict_or_unstorable_values_is_a_failed_run(tmp_path) -> None:
    records = graphdl.sweep(sweep_trials.bad_return, grid={"kind": ["list", "set", "nan"]}, out=None, progress=False)
    assert records[0]["error"]["message"] == "the trial returned a list, not a dict of metrics"
    assert records[1]["error"] == {
        "type": "TypeError",
        "message": "metric 'values' is a set; metrics are numbers, strings, lists or dicts",
        "traceback": records[1]["error"]["traceback"],
    }
    # NaN is a number (a diverged run, kept), stored as standard JSON: null plus its text
    assert records[2]["metrics"]["loss"] is None and records[2]["non_finite"] == {"loss": "NaN"}
    assert math.isnan(metric_value(records[2], "loss"))


def test_a_cut_off_last_line_is_reported_and_its_run_redone(tmp_path, counter) -> None:
    out = tmp_path / "runs.jsonl"
    first = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    text = out.read_text(encoding="utf-8")
    out.write_text(text[: len(text) - 25], encoding="utf-8")  # a crash in the middle of the last record
    with pytest.warns(SweepWarning, match="its run will be redone"):
        assert read_records(out) == first[:5]  # reading alone leaves the file as it is
    assert out.read_text(encoding="utf-8") == text[: len(text) - 25]
    with pytest.warns(SweepWarning, match=r"runs.jsonl: the last line \(line 6, \d+ bytes: .*\) is not a whole record"):
        again = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    assert calls(counter) == 7  # six, then the one whose line was cut
    assert again == first and lines(out) == first


def test_a_complete_last_line_without_its_newline_is_kept(tmp_path, counter) -> None:
    out = tmp_path / "runs.jsonl"
    first = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    out.write_text(out.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    assert graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False) == first
    assert calls(counter) == 6 and out.read_text(encoding="utf-8").endswith("}\n")


def test_a_bad_line_inside_the_file_stops_the_sweep_and_deletes_nothing(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    text = out.read_text(encoding="utf-8").splitlines(keepends=True)
    text.insert(2, "a note I typed\n")
    out.write_text("".join(text), encoding="utf-8")
    with pytest.raises(SweepError, match=r"runs.jsonl: line 3 is not JSON"):
        graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=SEEDS, out=out, progress=False)
    assert out.read_text(encoding="utf-8") == "".join(text)


def test_bad_input_is_refused_before_any_run(tmp_path, counter) -> None:
    trial = sweep_trials.seed_net_fit
    cases = [
        ({"grid": ["relu"]}, "grid must be a mapping"),
        ({"grid": {"activation": []}}, "grid axis 'activation' has no values"),
        ({"grid": {"activation": "relu"}}, "grid axis 'activation' must be a list of values, got 'relu'"),
        ({"grid": {"activation": ["relu", "relu"]}}, "grid axis 'activation' lists 'relu' twice"),
        ({"grid": {"seed": [1]}}, "grid axis 'seed' is reserved"),
        ({"grid": {"activation": [["relu"]]}}, r"value \['relu'\] is a list"),
        ({"grid": {"steps": [float("nan")]}}, "NaN cannot key a run"),
        ({"grid": {"activation": ["relu"]}, "seeds": []}, "seeds is empty"),
        ({"grid": {"activation": ["relu"]}, "seeds": [1, 2, 1]}, "seeds lists 1 more than once"),
        ({"grid": {"activation": ["relu"]}, "seeds": [0.5]}, "seed 0.5 is not a whole number"),
        ({"grid": {"width": [3]}}, r"cannot be called with the keywords seed, width: .*'activation'"),
        ({"grid": {"activation": ["relu"]}, "out": tmp_path}, "is a folder"),
        ({"grid": {"activation": ["relu"]}, "out": ""}, "^out is an empty path; give the path of a .jsonl file$"),
        ({"grid": {"activation": ["relu"]}, "out": os.devnull}, "is not a regular file"),
        ({"grid": {"activation": ["relu"]}, "executor": "threads"}, "executor must be None, 'processes'"),
        ({"grid": {"activation": ["relu"]}, "executor": "processes", "workers": 0}, "workers must be"),
        ({"grid": {"activation": ["relu"]}, "executor": "processes", "batch": 0}, "batch must be"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SweepError, match=message):
            graphdl.sweep(trial, **{"out": None, "progress": False, **kwargs})
    # problems of the trial itself are TypeErrors too
    with pytest.raises(TypeError, match="trial .*<lambda> cannot be sent to worker processes: define it"):
        graphdl.sweep(lambda seed: {}, executor="processes", out=None, progress=False)

    def nested(seed: int) -> dict:
        return {}

    with pytest.raises(TypeError, match="trial .*<locals>.nested cannot be sent to worker processes"):
        graphdl.sweep(nested, executor="processes", out=None, progress=False)
    with pytest.raises(TypeError, match="trial must be a function, got 'fit'"):
        graphdl.sweep("fit", out=None, progress=False)
    assert calls(counter) == 0


def test_values_and_seeds_from_the_command_line() -> None:
    assert [parse_value(text) for text in ("3", "-2", "0.1", "1e-3", "true", "False", "relu", '"3"', "inf")] == [
        3, -2, 0.1, 0.001, True, False, "relu", "3", math.inf,
    ]  # fmt: skip
    assert [type(parse_value(text)) for text in ("3", "3.0")] == [int, float]
    assert parse_grid_option("lr=0.01,0.1") == ("lr", [0.01, 0.1])
    assert parse_seeds_option("0:5") == [0, 1, 2, 3, 4]
    assert parse_seeds_option("10:20:5") == [10, 15]
    assert parse_seeds_option("4,1,9") == [4, 1, 9]
    for bad in ("lr", "=1", "lr=1,,2"):
        with pytest.raises(SweepError, match="--grid"):
            parse_grid_option(bad)
    for bad in ("a:b", "5:1", "1:2:3:4"):
        with pytest.raises(SweepError, match="--seeds"):
            parse_seeds_option(bad)
    # the key of a run names its point and seed whatever the order of the axes
    assert run_key({"a": 1, "b": "x"}, 3) == run_key({"b": "x", "a": 1}, 3) != run_key({"a": 1.0, "b": "x"}, 3)


def test_a_dead_worker_process_stops_the_sweep_with_its_records_kept(tmp_path) -> None:
    out = tmp_path / "runs.jsonl"
    with pytest.raises(SweepError, match=r"the executor failed: BrokenProcessPool: .*the same call resumes"):
        graphdl.sweep(
            sweep_trials.dies_on_seed_one, seeds=[0, 2, 1], executor="processes", workers=1, out=out, progress=False
        )
    assert lines(out) == [
        {"point": {}, "seed": 0, "metrics": {"seed_squared": 0}},
        {"point": {}, "seed": 2, "metrics": {"seed_squared": 4}},
    ]


def test_progress_bar_counts_runs_and_failures(capsys) -> None:
    graphdl.sweep(sweep_trials.sometimes_fails, grid={"scale": [1.0]}, seeds=range(4), out=None)
    shown = capsys.readouterr().err
    assert "4/4" in shown and "failed=2" in shown and "run" in shown


def test_a_cut_off_last_line_is_dropped_with_a_warning_that_shows_it(tmp_path, counter) -> None:
    out = tmp_path / "runs.jsonl"
    grid = {"scale": [1.0]}
    first = graphdl.sweep(sweep_trials.sometimes_fails, grid=grid, seeds=[0, 2], out=out, progress=False)
    lines_before = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text(lines_before[0] + '{"point": {"scale": 1.0}, "seed": 2, "metr', encoding="utf-8")
    shown = re.escape("""'{"point": {"scale": 1.0}, "seed": 2, "metr')""")
    with pytest.warns(SweepWarning, match=rf"line 2, \d+ bytes: {shown}"):
        again = graphdl.sweep(sweep_trials.sometimes_fails, grid=grid, seeds=[0, 2], out=out, progress=False)
    assert again == first and calls(counter) == 3 and lines(out) == first


def test_global_generators_are_seeded_per_run_and_restored() -> None:
    import random

    import numpy as np

    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    alone = graphdl.sweep(sweep_trials.global_draws, seeds=[5, 6], out=None, progress=False)
    assert (random.random(), np.random.rand()) == expected  # the caller's streams are untouched
    pooled = graphdl.sweep(sweep_trials.global_draws, seeds=[6, 5], executor="processes", out=None, progress=False)
    assert alone == pooled[::-1]
    random.seed(5)
    np.random.seed(5)
    assert alone[0]["metrics"] == {"python": random.random(), "numpy": np.random.rand()}


def test_importing_graphdl_does_not_import_dask() -> None:
    import subprocess
    import sys

    code = "import sys, graphdl; graphdl.sweep; print(sorted({'dask', 'distributed'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("executor", [None, "processes"])
def test_a_trial_calling_sys_exit_is_a_failed_run_not_the_end_of_the_sweep(tmp_path, executor) -> None:
    out = tmp_path / "runs.jsonl"
    records = graphdl.sweep(
        sweep_trials.exits_on_odd, grid={}, seeds=range(3), executor=executor, out=out, progress=False
    )
    assert [r.get("metrics") for r in records] == [{"seed": 0}, None, {"seed": 2}]
    assert records[1]["error"]["type"] == "SystemExit" and records[1]["error"]["message"] == "seed 1: giving up"
    assert sorted(lines(out), key=lambda record: record["seed"]) == records  # the file: in the order runs finished


class LosingPool:
    """An executor whose first ``lose`` tasks holding seed 1 are lost: their futures never
    complete, and ``lost`` reports them (as Dask's pool does for a task the cluster forgot).
    The other tasks run at once, in this thread."""

    def __init__(self, lose: int) -> None:
        self.lose, self.lost_futures = lose, []

    def submit(self, function, *args):
        import concurrent.futures

        future = concurrent.futures.Future()
        if any(seed == 1 for _, seed in args[1]) and len(self.lost_futures) < self.lose:
            self.lost_futures.append(future)
        else:
            future.set_result(function(*args))
        return future

    def lost(self, futures) -> list:
        return [future for future in futures if future in self.lost_futures]


def test_a_lost_task_is_sent_again_and_its_records_arrive_once(monkeypatch) -> None:
    from graphdl.sweep import runner

    monkeypatch.setattr(runner, "LOST_CHECK_SECONDS", 0.01)
    pool, records = LosingPool(lose=3), []
    runs = [({}, seed) for seed in range(4)]
    runner._run_on(pool, sweep_trials.worker_pid, runs, 2, records.append, None, pool.lost)  # noqa: SLF001
    assert sorted(record["seed"] for record in records) == [0, 1, 2, 3]  # each once, seed 1's after 3 losses
    assert len(pool.lost_futures) == 3 and all(future.cancelled() for future in pool.lost_futures)


def test_a_run_lost_again_and_again_stops_the_sweep_naming_it(monkeypatch) -> None:
    from graphdl.sweep import runner

    monkeypatch.setattr(runner, "LOST_CHECK_SECONDS", 0.01)
    pool, records = LosingPool(lose=runner.MAX_LOSSES + 1), []
    runs = [({"scale": 2.0}, seed) for seed in range(3)]
    message = rf"the run \{{'scale': 2.0\}} seed 1 was lost {runner.MAX_LOSSES + 1} times .*the same call resumes"
    with pytest.raises(SweepError, match=message):
        runner._run_on(pool, sweep_trials.sometimes_fails, runs, 1, records.append, "runs.jsonl", pool.lost)  # noqa: SLF001
    assert sorted(record["seed"] for record in records) == [0, 2]
    assert all(future.cancelled() for future in pool.lost_futures)


class SilentCluster:
    """A stand-in for a Dask client whose tasks never finish and whose scheduler knows the
    task states in ``states`` (key -> state; a missing key: unknown)."""

    def __init__(self) -> None:
        self.states: dict = {}
        self.scheduler = self.loop = self
        self.tasks: list = []

    def submit(self, function, *args, pure):
        from types import SimpleNamespace

        self.tasks.append(SimpleNamespace(key=f"task-{len(self.tasks)}", status="pending"))
        return self.tasks[-1]

    def add_callback(self, *args) -> None:
        pass  # no outcome is ever delivered

    def get_task_status(self, keys) -> dict:
        return {key: self.states.get(key) for key in keys}

    def sync(self, function, callback_timeout, **kwargs):
        return function(**kwargs)


def test_the_dask_pool_calls_a_task_lost_when_seen_so_twice_and_never_a_task_not_yet_arrived(monkeypatch) -> None:
    from graphdl.sweep import dask_pool

    cluster = SilentCluster()
    pool = dask_pool.DaskPool(cluster)
    known, unseen, cancelled = (pool.submit(sweep_trials.worker_pid, 0) for _ in range(3))
    futures = [known, unseen, cancelled]
    cluster.states[cluster.tasks[0].key] = "processing"
    assert pool.lost(futures) == [] == pool.lost(futures)  # the unseen task may still be on its way
    del cluster.states[cluster.tasks[0].key]  # the scheduler forgot it
    cluster.tasks[2].status = "cancelled"  # the client was told, the future was not
    assert pool.lost(futures) == []  # once is not enough
    assert pool.lost(futures) == [known, cancelled]
    monkeypatch.setattr(dask_pool, "UNSEEN_GRACE_SECONDS", 0.0)  # now it has had the time to arrive
    assert pool.lost([unseen]) == []
    assert pool.lost([unseen]) == [unseen]
