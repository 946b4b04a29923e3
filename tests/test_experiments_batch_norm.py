"""``experiments/batch_norm.py``: the same Sigmoid classifier with and without BatchNorm."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import load_experiment, run_experiment

from graphdl.results import read_results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = ["--seeds", "1", "--epochs", "2", "--snapshots", "0", "2", "--lr", "0.3"]


@pytest.fixture(scope="module")
def example():
    return load_experiment("batch_norm")


@pytest.fixture(scope="module")
def small_run(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_norm")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        returned, _ = run_experiment(example, [*SMALL, "--out", str(out)], out)
    return returned, buffer.getvalue(), out


def test_results_file_holds_both_variants(small_run) -> None:
    returned, output, out = small_run
    results = read_results(out / "batch_norm_experiment.json")
    assert results == returned  # JSON holds every float exactly
    assert results["settings"]["learning_rates"] == [0.3] and results["settings"]["snapshots"] == [0, 2]
    for variant in ("without", "with"):
        numbers = results["runs"]["lr=0.3"][variant]
        assert len(numbers["train_loss_curve_mean"]) == 2 and len(numbers["test_accuracy_curve_mean"]) == 2
        assert set(numbers["sigmoid_inputs"]) == {"0", "2"}
        line = f"lr=0.3    {variant:7s} batch norm: test accuracy {numbers['test_accuracy_mean']:.3f}"
        assert line in output


def test_both_variants_start_from_the_same_weights(example) -> None:
    """Same Linear weights; before training the normalised Sigmoid inputs have mean 0 and
    standard deviation 1 per unit (training mode, the whole set as one batch)."""
    plain, _ = example.build(False, 8, seed=5)
    normed, nodes = example.build(True, 8, seed=5)
    plain_weights = {p.name: p.value for p in plain.parameters()}
    normed_weights = {p.name: p.value for p in normed.parameters() if p.name.startswith("fc")}
    assert plain_weights == normed_weights
    X = example.load_split()[0][0]
    for variable, column in zip(normed.inputs, X.T):
        variable.set_value(np.ascontiguousarray(column))
    values = np.stack([node.forward() for node in nodes], axis=1)
    np.testing.assert_allclose(values.mean(axis=0), 0.0, atol=1e-12)
    # std √(σ²/(σ² + eps)) with eps = 1e-5: just under 1 for the units with a small σ²
    assert ((values.std(axis=0) > 0.99) & (values.std(axis=0) < 1.0)).all()
    assert [node.name for node in nodes][:2] == ["bn2.y[0]", "bn2.y[1]"]


def test_writes_two_figures(small_run) -> None:
    _, output, out = small_run
    for name in ("batch_norm.png", "batch_norm_activations.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name
        assert f"figure written: {out / name}" in output


def test_rejects_a_batch_size_that_leaves_one_flower(example) -> None:
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as errors:
        example.parse_args(["--batch-size", "7"])
    assert "leaves a batch of one flower" in errors.getvalue()


@pytest.mark.slow
def test_defaults_reproduce_the_committed_results(example, tmp_path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        results = example.main(["--results", str(tmp_path / "batch_norm.json")])
    committed = read_results(Path(example.__file__).parent / "results" / "batch_norm.json")
    for key, variants in committed["runs"].items():
        for variant, numbers in variants.items():
            assert results["runs"][key][variant]["test_accuracy_per_seed"] == numbers["test_accuracy_per_seed"]


def test_readme_quotes_the_committed_results() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    results = read_results(root / "experiments" / "results" / "batch_norm.json")
    for key in ("lr=0.001", "lr=0.3"):
        for variant in ("without", "with"):
            numbers = results["runs"][key][variant]
            assert f"{numbers['test_accuracy_mean']:.3f} ± {numbers['test_accuracy_std']:.3f}" in readme
    fast = results["runs"]["lr=0.3"]
    for variant in ("with", "without"):
        assert ", ".join(map(str, fast[variant]["epochs_to_threshold"])) in readme
        assert f"{fast[variant]['final_train_loss_mean']:.4f}" in readme
        assert f"{fast[variant]['test_accuracy_last10_mean']:.3f}" in readme
        assert f"{fast[variant]['sigmoid_inputs']['50']['saturated_fraction']:.0%}" in readme
    assert f"std {results['runs']['lr=0.001']['with']['sigmoid_inputs']['50']['std']:.2f}" in readme
