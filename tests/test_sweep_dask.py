"""``graphdl.sweep`` on a Dask LocalCluster of 2 worker processes (one cluster for the module):
the records of a sequential run, also when a worker is killed mid-sweep."""

from __future__ import annotations

import json
import os
import signal

import pytest
import sweep_trials

import graphdl

distributed = pytest.importorskip("distributed")

GRID = {"activation": ["relu", "leaky_relu"], "steps": [10]}


@pytest.fixture(scope="module")
def client():
    # the workers are spawned processes; they import sweep_trials through the sys.path they inherit
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, worker_dashboard_address=None
        ) as cluster,
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
    assert on_dask == pooled == sequential
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
