"""``experiments/improvements.py``: the tutorial's improvements one at a time on the digits."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from experiment_scripts import load_experiment, run_experiment

from graphdl.results import read_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = ["baseline", "bce", "leaky", "adam", "layernorm"]
SMALL = ["--seeds", "2", "--epochs", "1", "--train", "64", "--hidden", "4"]


@pytest.fixture(scope="module")
def example():
    pytest.importorskip("sklearn", reason="the digits come from scikit-learn")
    return load_experiment("improvements")


@pytest.fixture(scope="module")
def small_run(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("improvements")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        returned, _ = run_experiment(example, [*SMALL, "--out", str(out)], out)
    return returned, buffer.getvalue(), out


def test_results_file_holds_every_step_over_every_seed(small_run) -> None:
    returned, output, out = small_run
    results = read_results(out / "improvements_experiment.json")
    assert results == returned  # JSON holds every float exactly
    assert sorted(results["steps"]) == sorted(STEPS)
    assert results["settings"]["seeds"] == 2 and results["settings"]["train_images"] == 64
    for key in STEPS:
        numbers = results["steps"][key]
        assert len(numbers["test_accuracy_per_seed"]) == 2
        assert 0.0 <= numbers["test_accuracy_mean"] <= 1.0
        assert results["timing"]["step_ms_mean"][key] > 0.0 and "step_ms_mean" not in numbers
        assert len(numbers["mean_step_loss"]) == 4  # 64 images in batches of 16, one epoch
        assert f"{numbers['test_accuracy_mean']:.3f} ± {numbers['test_accuracy_std']:.3f}" in output
    assert f"results written: {out / 'improvements_experiment.json'}" in output


def test_claims_are_checked_with_their_numbers(small_run) -> None:
    results = small_run[0]
    claims = {claim["claim"]: claim for claim in results["claims"]}
    assert len(claims) == 7
    bce, base = results["steps"]["bce"], results["steps"]["baseline"]
    higher = claims["BCE: the final score is higher than with MSE"]
    gap = bce["test_accuracy_mean"] - base["test_accuracy_mean"]
    assert higher["holds"] == (gap > max(bce["test_accuracy_std"], base["test_accuracy_std"]))
    assert f"{bce['test_accuracy_mean']:.3f}" in higher["evidence"]
    # 4 steps are too few to measure noise: said so, not guessed
    assert claims["BCE: the loss is noisier"]["holds"] is None


def test_same_initial_weights_for_every_step(example) -> None:
    first = {}
    for step in example.STEPS:
        model, _, _ = example.build(step, 4, seed=3)
        weights = {p.name: p.value for p in model.parameters() if p.name.startswith("fc")}
        assert not first or weights == first, step.key
        first = weights
    _, loss, labels = example.build(example.STEPS[4], 4, seed=3)
    assert "ln1.gamma[3]" in {node.name for node in loss.ancestors()}


def test_writes_the_figure(small_run) -> None:
    _, output, out = small_run
    data = (out / "improvements.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000
    assert f"figure written: {out / 'improvements.png'}" in output


@pytest.mark.slow
def test_defaults_reproduce_the_committed_results(example, tmp_path) -> None:
    """The defaults (under a minute) give the numbers the README quotes, up to timing."""
    from pathlib import Path

    with contextlib.redirect_stdout(io.StringIO()):
        results = example.main(["--results", str(tmp_path / "improvements.json")])
    committed = read_results(Path(example.__file__).parent / "results" / "improvements.json")
    for key in STEPS:
        assert results["steps"][key]["test_accuracy_per_seed"] == committed["steps"][key]["test_accuracy_per_seed"]
    assert [c["holds"] for c in results["claims"]] == [c["holds"] for c in committed["claims"]]


def test_readme_quotes_the_committed_results() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    results = read_results(root / "experiments" / "results" / "improvements.json")
    for key in STEPS:
        numbers = results["steps"][key]
        accuracy = f"{numbers['test_accuracy_mean']:.3f} ± {numbers['test_accuracy_std']:.3f}"
        assert f"| {accuracy} | " in readme, key  # the time per step next to it is this machine's: not compared
    for claim in results["claims"]:
        for number in re.findall(r"\d\.\d{3}", claim["evidence"]):
            assert number in readme, (claim["claim"], number)
