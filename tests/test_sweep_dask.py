"""``graphdl.sweep`` on a Dask LocalCluster of 2 worker processes (one cluster for the module):
the records of a sequential run, also when a worker is killed mid-sweep."""

from __future__ import annotations

import json
import os
import re
import signal

import pytest
import sweep_trials

import graphdl

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

GRID = {"activation": ["relu", "leaky_relu"], "steps": [10]}


@pytest.fixture(scope="module")
def client():
    # the workers are spawned processes; they import sweep_trials through the sys.path they inherit
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_dask_process_pool_and_sequential_records_are_identical(client, tmp_path) -> None:
    sequential = graphdl.sweep(sweep_trials.seed_net_fit, grid=GRID, seeds=range(3), out=None, progress=False)
    pooled = graphdl.sweep(
        sweep_trials.seed_net_fit, grid=GRID, seeds=range(3), executor="processes", workers=2, out=None, progress=False
    )
    out = tmp_path / "runs.jsonl"
    trial = sweep_trials.seed_net_fit
    on_dask = graphdl.sweep(trial, grid=GRID, seeds=range(3), executor=client, out=out, progress=False)
    on_cluster = graphdl.sweep(trial, grid=GRID, seeds=range(3), executor=client.cluster, out=None, progress=False)
    assert on_dask == on_cluster == pooled == sequential
    assert len(out.read_text().splitlines()) == 6
    # both workers took part
    runs = graphdl.sweep(sweep_trials.slow_pid, seeds=range(6), executor=client, out=None, progress=False)
    pids = {record["metrics"]["pid"] for record in runs}
    assert pids == set(client.run(os.getpid).values()) and os.getpid() not in pids


def test_a_killed_worker_s_runs_are_rescheduled_and_the_records_complete(client, tmp_path) -> None:
    """SIGKILL one worker process as the first record arrives: Dask reruns its runs on the
    other worker (and the nanny's restarted one); every record arrives, equal to a sequential run."""
    pids = client.run(os.getpid)  # {worker address: pid}
    killed = []

    def kill_one_worker(record: dict) -> None:
        if not killed:  # a worker that has runs in hand (running or queued)
            busy = {address: keys for address, keys in client.processing().items() if keys}
            address = next(iter(busy))
            os.kill(pids[address], signal.SIGKILL)
            killed.append(busy[address])

    out = tmp_path / "runs.jsonl"
    grid = {"activation": ["relu", "leaky_relu"], "pause": [0.15]}
    records = graphdl.sweep(
        sweep_trials.slow_fit, grid=grid, seeds=range(4), executor=client, out=out, progress=False,
        on_record=kill_one_worker,
    )  # fmt: skip
    assert killed and killed[0]  # it died with runs in hand, and yet:
    sequential = graphdl.sweep(
        sweep_trials.seed_net_fit, grid={"activation": ["relu", "leaky_relu"]}, seeds=range(4), out=None, progress=False
    )
    assert [r["metrics"] for r in records] == [r["metrics"] for r in sequential]
    assert sorted(json.loads(line)["seed"] for line in out.read_text().splitlines()) == [0, 0, 1, 1, 2, 2, 3, 3]
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the killed worker


def test_the_command_line_on_a_running_scheduler(client, tmp_path, capsys) -> None:
    from graphdl.cli import main

    out = tmp_path / "runs.jsonl"
    address = client.scheduler.address
    argv = ["sweep", "sweep_trials:seed_net_fit", "--grid", "activation=relu", "--grid", "steps=10", "--seeds", "0:4"]
    assert main([*argv, "--scheduler", address, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^relu +10 +4 +0 ", printed, re.MULTILINE) and "4 runs: 4 run now" in printed
    grid = {"activation": ["relu"], "steps": [10]}
    sequential = graphdl.sweep(sweep_trials.seed_net_fit, grid=grid, seeds=range(4), out=None, progress=False)
    assert sorted(map(json.dumps, map(json.loads, out.read_text().splitlines()))) == sorted(map(json.dumps, sequential))


@pytest.mark.slow
def test_an_unreachable_scheduler_is_named(tmp_path, capsys) -> None:
    from graphdl.cli import main

    argv = ["sweep", "sweep_trials:worker_pid", "--seeds", "0:2", "--scheduler", "tcp://127.0.0.1:9"]
    assert main([*argv, "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_that_keeps_killing_workers_is_recorded_as_killed_worker(tmp_path) -> None:
    """Dask retries a run whose worker died; after ``allowed-failures`` deaths it gives up on that
    run (KilledWorker), which is recorded as its failure while the other runs complete. All three
    runs start in one batch: the sweep splits it to find the run at fault."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):
        records = graphdl.sweep(
            sweep_trials.dies_on_seed_one, seeds=[0, 2, 1], executor=client, batch=3, out=tmp_path / "r.jsonl",
            progress=False,
        )  # fmt: skip
    assert [record.get("metrics") for record in records] == [{"seed_squared": 0}, {"seed_squared": 4}, None]
    assert records[2]["error"]["type"] == "KilledWorker"


@pytest.mark.slow
def test_workers_with_dask_start_a_local_cluster(tmp_path, capsys) -> None:
    from graphdl.cli import main

    argv = ["sweep", "sweep_trials:worker_pid", "--seeds", "0:6", "--workers", "2", "--dask"]
    assert main([*argv, "--out", str(tmp_path / "r.jsonl"), "--quiet"]) == 0
    pids = {json.loads(line)["metrics"]["pid"] for line in (tmp_path / "r.jsonl").read_text().splitlines()}
    assert os.getpid() not in pids and "6 runs: 6 run now" in capsys.readouterr().out


@pytest.mark.slow  # over 2 s: .ci/run runs it with -m slow
def test_a_cluster_restart_mid_sweep_still_gives_every_record(client, tmp_path) -> None:
    """client.restart() replaces every worker and drops every task; the sweep sends its
    unfinished runs again and the records equal a sequential run."""
    restarted = []

    def restart_once(record: dict) -> None:
        if not restarted:
            restarted.append(set(client.run(os.getpid).values()))
            client.restart()

    out = tmp_path / "runs.jsonl"
    grid = {"activation": ["relu", "leaky_relu"], "pause": [0.1]}
    records = graphdl.sweep(
        sweep_trials.slow_fit, grid=grid, seeds=range(3), executor=client, batch=1, out=out, progress=False,
        on_record=restart_once,
    )  # fmt: skip
    assert restarted and not restarted[0] & set(client.run(os.getpid).values())  # all workers are new
    sequential = graphdl.sweep(
        sweep_trials.seed_net_fit, grid={"activation": ["relu", "leaky_relu"]}, seeds=range(3), out=None, progress=False
    )
    assert [r["metrics"] for r in records] == [r["metrics"] for r in sequential]
    assert len(out.read_text().splitlines()) == 6


def sweep_within(seconds: float, **arguments) -> list[dict]:
    """``graphdl.sweep(**arguments)`` in a thread; fails the test if it has not returned after ``seconds``."""
    import threading

    outcome: dict = {}

    def run() -> None:
        try:
            outcome["records"] = graphdl.sweep(**arguments)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the sweep still waits after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["records"]


@pytest.mark.slow  # over 2 s with the cluster's start
def test_a_cancellation_while_a_result_is_fetched_sends_the_run_again(client, tmp_path, monkeypatch) -> None:
    """What ``client.restart()`` does now and then: the first tasks to finish are cancelled
    after they finished and before their results reached the client (here: as the client
    starts fetching them). The results are gone; their runs go again and every record
    arrives once. (Dask's own executor view of a client never settles such a future: a
    sweep waiting on it waited forever.)"""
    import asyncio

    gather = client._gather_remote  # noqa: SLF001 - the moment a result is being fetched
    cancelled: list = []

    async def cancel_then_gather(*args, **kwargs):
        if not cancelled:
            cancelled.extend(client._gather_keys)  # noqa: SLF001 - the keys this gather fetches
            await client.cancel([distributed.Future(key, client) for key in cancelled], asynchronous=True)
            while any((await client.scheduler.get_task_status(keys=cancelled)).values()):  # until it forgot them
                await asyncio.sleep(0.01)
        return await gather(*args, **kwargs)

    monkeypatch.setattr(client, "_gather_remote", cancel_then_gather)
    out = tmp_path / "runs.jsonl"
    grid = {"activation": ["relu"], "pause": [0.05]}
    records = sweep_within(
        60, trial=sweep_trials.slow_fit, grid=grid, seeds=range(4), executor=client, batch=1, out=out, progress=False
    )
    assert cancelled  # it did happen
    sequential = graphdl.sweep(
        sweep_trials.seed_net_fit, grid={"activation": ["relu"]}, seeds=range(4), out=None, progress=False
    )
    assert [r["metrics"] for r in records] == [r["metrics"] for r in sequential]
    assert sorted(json.loads(line)["seed"] for line in out.read_text().splitlines()) == [0, 1, 2, 3]


@pytest.mark.slow  # waits for two checks of the scheduler
def test_a_task_the_scheduler_forgets_is_found_lost_and_sent_again(client, tmp_path, monkeypatch) -> None:
    """As the first record arrives, the scheduler is made to forget a task of the sweep
    without the client being told (its future stays pending forever): the sweep finds it
    lost at its next checks and sends its run again; every record arrives once."""
    from graphdl.sweep import dask_pool, runner
    from graphdl.sweep.dask_pool import DaskPool

    monkeypatch.setattr(runner, "LOST_CHECK_SECONDS", 0.2)
    monkeypatch.setattr(dask_pool, "UNSEEN_GRACE_SECONDS", 1.0)  # forgotten maybe before any check saw it
    submit, sent = DaskPool.submit, []
    monkeypatch.setattr(DaskPool, "submit", lambda pool, *args: sent.append(args[1]) or submit(pool, *args))
    forgotten: list = []

    def forget_a_pending_task(record: dict) -> None:
        if not forgotten:
            forgotten.extend(key for key, state in list(client.futures.items()) if state.status == "pending")
            message = {"op": "client-releases-keys", "keys": forgotten[-1:], "client": client.id}
            client._send_to_scheduler(message)  # noqa: SLF001 - what a scheduler losing track of a task looks like

    out = tmp_path / "runs.jsonl"
    grid = {"activation": ["relu", "leaky_relu"], "pause": [0.1]}
    records = sweep_within(
        60, trial=sweep_trials.slow_fit, grid=grid, seeds=range(3), executor=client, batch=1, out=out,
        progress=False, on_record=forget_a_pending_task,
    )  # fmt: skip
    assert forgotten and forgotten[-1] not in client.futures  # found lost: the sweep cancelled it...
    assert len(sent) == 7  # ... and sent its run again, once
    sequential = graphdl.sweep(
        sweep_trials.seed_net_fit, grid={"activation": ["relu", "leaky_relu"]}, seeds=range(3), out=None, progress=False
    )
    assert [r["metrics"] for r in records] == [r["metrics"] for r in sequential]
    assert sorted(json.loads(line)["seed"] for line in out.read_text().splitlines()) == [0, 0, 1, 1, 2, 2]


@pytest.mark.slow  # a second Python process beside the cluster
def test_a_sweep_on_dask_holds_the_out_file_for_its_whole_length(client, tmp_path) -> None:
    """The lock is the client's: while a Dask sweep runs, a second process's sweep on the
    same file is refused; a Dask sweep is refused while another process holds the file."""
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    from graphdl.sweep import SweepBusy
    from graphdl.sweep.lock import lock_path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")])}
    out, gate = tmp_path / "runs.jsonl", tmp_path / "gate"
    grid = {"gate": [str(gate)]}
    outcome: dict = {}

    def on_dask() -> None:
        outcome["records"] = graphdl.sweep(
            sweep_trials.gated, grid=grid, seeds=range(4), executor=client, out=out, progress=False
        )

    thread = threading.Thread(target=on_dask)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (lock_path(out).exists() and lock_path(out).read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.01)
        command = ["sweep", "sweep_trials:gated", "--grid", f"gate={gate}", "--seeds", "0:4", "--out", str(out)]
        second = subprocess.run(
            [sys.executable, "-m", "graphdl", *command, "--quiet"], env=env, capture_output=True, text=True, timeout=120
        )
        assert second.returncode == 2
        assert f"{out} is being written by another sweep (pid {os.getpid()}" in second.stderr
    finally:
        gate.touch()
        thread.join(60)
    assert len(outcome["records"]) == 4 and len(out.read_text().splitlines()) == 4
    # the other way round: a process holds the file, the Dask sweep is refused
    gate.unlink()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, graphdl, sweep_trials\n"
         "graphdl.sweep(sweep_trials.gated, grid={'gate': [sys.argv[2]]}, seeds=range(8), out=sys.argv[1], "
         "progress=False)", str(out), str(gate)],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while lock_path(out).read_text().strip() != str(holder.pid) if lock_path(out).exists() else True:
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.01)
        with pytest.raises(SweepBusy, match=rf"pid {holder.pid}"):
            graphdl.sweep(sweep_trials.gated, grid=grid, seeds=range(8), executor=client, out=out, progress=False)
    finally:
        gate.touch()
        assert holder.wait(30) == 0
    assert len(out.read_text().splitlines()) == 8
