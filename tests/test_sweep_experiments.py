"""The experiments' sweeps run through graphdl.sweep: the same numbers on 1 and 2 workers,
and a resumable runs file."""

from __future__ import annotations

import contextlib
import importlib
import io
import json

import numpy as np


def import_experiment(name: str):
    """The experiment imported under its own name: experiments/ is on the test session's
    path from the start (pyproject's pythonpath), so sweep worker processes, started by a
    fork server, import it by that name too."""
    return importlib.import_module(name)


def _quiet(function, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def test_init_sensitivity_sweep_is_the_same_on_two_workers_and_resumes(tmp_path) -> None:
    example = import_experiment("init_sensitivity")
    flags = ["--steps", "300", "--runs", "3", "--results", str(tmp_path / "results.json")]
    alone = _quiet(example.main, flags)["sweeps"]
    runs_file = tmp_path / "starts.jsonl"
    pooled = _quiet(example.main, [*flags, "--workers", "2", "--runs-file", str(runs_file)])["sweeps"]
    assert pooled == alone
    records = [json.loads(line) for line in runs_file.read_text().splitlines()]
    assert sorted((r["point"]["activation"], r["seed"]) for r in records) == sorted(
        (activation, seed) for activation in ("relu", "leaky_relu") for seed in range(3)
    )
    assert {r["point"]["steps"] for r in records} == {300}
    # each run is its seed's: run 2 of the sweep is random_start(seed=2) on its own
    direct = example.random_start(seed=2, activation="relu", steps=300)
    assert alone["relu"]["final_loss"][2] == direct["final_loss"] and alone["relu"]["inits"][2] == direct["init"]
    # a rerun with the same runs file reads the records instead of training again
    example.compiled_net.cache_clear()
    again = _quiet(example.main, [*flags, "--runs-file", str(runs_file)])["sweeps"]
    assert again == alone and example.compiled_net.cache_info().currsize == 0


def test_regularization_lambda_sweep_differs_by_lambda_only() -> None:
    example = import_experiment("regularization")
    alone = example.weight_decay_sweep([0.0, 3.0], 3, 0, 1)
    pooled = example.weight_decay_sweep([0.0, 3.0], 3, 0, 2)
    assert list(pooled) == [0.0, 3.0]
    for lam in (0.0, 3.0):
        for name, value in alone[lam].items():
            np.testing.assert_array_equal(pooled[lam][name], value)
    # a λ's fit is its trial's, drawn from the seed alone (not from what ran before it)
    direct = example.weight_decay_run(seed=0, lam=0.0, epochs=3)
    np.testing.assert_array_equal(alone[0.0]["test_loss"], direct["test_loss"])
    assert alone[3.0]["weight_norm"][-1] < alone[0.0]["weight_norm"][-1]
