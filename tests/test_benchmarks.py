"""The side-by-side benchmark harness (benchmarks/side_by_side.py) runs: every workload in its
smallest graphdl-only configuration, so that a change to graphdl's API cannot silently break
the measurements of issue 21. Speed is never asserted here; only that each workload checks
its results, times what agrees, and reports what it cannot run."""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def side_by_side():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import side_by_side

        yield side_by_side
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture
def own_cache(monkeypatch, tmp_path):
    """The cold-cache workloads point GRAPHDL_CACHE_DIR at fresh folders: restored afterwards."""
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(tmp_path))


def test_every_workload_runs_small_and_checks_its_results(side_by_side, own_cache):
    config = side_by_side.Config.small()
    results = {name: side_by_side.run_workload(name, config) for name in side_by_side.WORKLOADS}
    for name in ("moons16", "moons64", "seed", "batch", "dag"):
        outcomes = results[name].numbers["outcomes"]
        timed = {key: o for key, o in outcomes.items() if o.seconds is not None}
        assert timed, f"{name}: nothing was timed: {[(k, o.note) for k, o in outcomes.items()]}"
        for key, outcome in timed.items():
            assert key.startswith("graphdl"), f"{name}: a peer ran in the graphdl-only configuration: {key}"
            assert outcome.seconds > 0 and outcome.deviation <= side_by_side.INTERPRETER_TOLERANCE, (name, key)
        assert results[name].text.startswith("| implementation |")
    for backend, numbers in results["compile64"].numbers.items():
        assert numbers["compile"] > 0 and numbers["first"] > 0, backend
    cold = results["cold16"].numbers["cold"]["graphdl:numpy"]
    assert cold["total"] == pytest.approx(cold["compile"] + cold["first_step"]) and cold["backend"] == "numpy"
    assert results["example"].text.startswith("Not run")

    targets = side_by_side.targets_table(results)
    assert targets.splitlines()[0] == "| target (issue 21) | measured in this run | verdict |"
    rows = targets.splitlines()[2:]
    assert any("random DAG" in row for row in rows) and any("MLP64 compile" in row for row in rows)
    assert all(row.endswith(("| met |", "| not met |", "| — |")) for row in rows)


def test_a_result_that_differs_is_reported_and_not_timed(side_by_side):
    config = side_by_side.Config.small()
    reference = np.array([1.0, 2.0])
    calls = []

    def right():
        calls.append("right")
        return reference

    def wrong():
        calls.append("wrong")
        return reference + 1e-3

    def broken():
        raise ValueError("this path cannot take a batch")

    contestants = [
        side_by_side.Contestant("right", right, right),
        side_by_side.Contestant("wrong", wrong, wrong),
        side_by_side.Contestant("broken", broken, broken),
    ]
    outcomes = side_by_side.measure(contestants, reference, config)
    assert outcomes["right"].seconds is not None and outcomes["right"].deviation == 0.0
    assert outcomes["wrong"].seconds is None and "not timed" in outcomes["wrong"].note
    assert outcomes["broken"].seconds is None and "cannot take a batch" in outcomes["broken"].note
    assert calls.count("wrong") == 1  # checked once, never timed


def test_peers_compute_the_same_step_as_graphdl(side_by_side):
    """The hand-written numpy MLP step (the reference every peer is checked against) is the
    interpreter's full-batch step."""
    points, labels = side_by_side.make_moons(6)
    init = side_by_side.initial_weights([2, 3, 3, 1])
    numpy_net = side_by_side.NumpyMLP(init, points, labels, side_by_side.MOONS_LR)
    for _ in range(2):
        numpy_net.step()
    interpreted = side_by_side.interpreted_mlp(init, points, labels, 2, side_by_side.MOONS_LR)
    np.testing.assert_allclose(numpy_net.params(), interpreted, rtol=0, atol=1e-12)
