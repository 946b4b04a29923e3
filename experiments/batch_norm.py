"""Batch normalisation: the same classifier with and without BatchNorm, from the same weights.

The phone-price chapter of the tutorial *Deep-learning basics, part 2* (深度學習基礎—2; see
docs/sources.md) adds batch normalisation "to control the distribution of the data and speed
up convergence" and lists it among the ways to improve its classifier: three Linear layers
(20-128-256-4) with Sigmoid after the hidden ones, cross-entropy, SGD with lr 1e-3,
batches of 8, 50 epochs, raw (unstandardised) features in its first run.

The phone-price table cannot ship, so Fisher's iris stands in (4 measurements in cm,
3 species; 120 flowers for training and 30 for testing, one fixed split), unstandardised
like the tutorial's first run. The network is the tutorial's scaled down: 4-8-8-3 with
Sigmoid hidden units. With batch normalisation every hidden layer is
Linear → BatchNorm → Sigmoid (``nn.BatchNorm``: the batch's mean and variance while
training, the running estimates when evaluating). Both networks start from the same
Linear weights (PyTorch's default initialisation, U(±1/√fan_in)) and see the same
batches; they are trained at the tutorial's learning rate (1e-3) and at a larger one
(0.3) for 50 epochs of batches of 8, for several seeds (initial weights and batch order).

Recorded: the training loss and test accuracy after every epoch, and the values that enter
the second hidden layer's Sigmoid for every training flower (``fc2.z[j]`` without batch
normalisation, ``bn2.y[j]`` with it, computed in evaluation mode) before training and
after a few epochs, for the first seed.

    PYTHONPATH=. python experiments/batch_norm.py --out viz

Writes, with ``--out DIR``, DIR/batch_norm.json (``--write-results``:
experiments/results/batch_norm.json) and DIR/batch_norm.png (curves) and
DIR/batch_norm_activations.png (distributions).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import graphdl as gd
from graphdl import datasets, nn, optim
from graphdl.cli import positive_float, positive_int
from graphdl.results import add_results_arguments, save_results
from graphdl.train import Trainer

RESULTS = Path(__file__).resolve().parent / "results" / "batch_norm.json"
TUTORIAL_LR = 1e-3


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=50, help="passes over the training set (50)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="flowers per step (default 8)")
    parser.add_argument("--hidden", type=positive_int, default=8, help="units per hidden layer (default 8)")
    parser.add_argument("--seeds", type=positive_int, default=5, help="seeds per configuration (default 5)")
    parser.add_argument(
        "--lr",
        type=positive_float,
        nargs="+",
        default=[TUTORIAL_LR, 0.3],
        help="SGD learning rates (default: the tutorial's 0.001 and 0.3)",
    )
    parser.add_argument(
        "--snapshots",
        type=int,
        nargs="+",
        default=[0, 5, 50],
        help="epochs after which the Sigmoid inputs are recorded (0: before training; default 0 5 50)",
    )
    add_results_arguments(parser, RESULTS)
    parser.add_argument("--out", type=Path, default=None, help="directory for the two figures")
    args = parser.parse_args(argv)
    bad = [epoch for epoch in args.snapshots if not 0 <= epoch <= args.epochs]
    if bad:
        parser.error(f"--snapshots must lie between 0 and --epochs ({args.epochs}), got {bad[0]}")
    if 120 % args.batch_size == 1:
        parser.error(f"--batch-size {args.batch_size} leaves a batch of one flower, which batch statistics cannot use")
    return args


def load_split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Iris, unstandardised: 120 training and 30 test flowers (one fixed split)."""
    data = datasets.iris()
    train, _, test = datasets.train_dev_test_split(data.X, data.y, (120, 0, 30), seed=0)
    return train, test


def build(batch_norm: bool, hidden: int, seed: int) -> tuple[nn.Model, list[gd.Node]]:
    """The 4-h-h-3 classifier and the nodes that enter the second hidden layer's Sigmoid.
    The Linear weights depend on ``seed`` only, so both variants start from the same ones."""
    inputs = [gd.Variable(name=f"x[{i}]", trainable=False) for i in range(4)]
    hidden_activation = None if batch_norm else "sigmoid"
    fc1 = nn.Dense(4, hidden, hidden_activation, "fc1", init="zeros")
    fc2 = nn.Dense(hidden, hidden, hidden_activation, "fc2", init="zeros")
    fc3 = nn.Dense(hidden, 3, None, "fc3", init="zeros")
    gd.init.pytorch_linear_default((fc1, fc2, fc3), rng=np.random.default_rng(seed))
    if not batch_norm:
        outputs = fc3(fc2(fc1(inputs)))
        return nn.Model(inputs, outputs, modules=[fc1, fc2, fc3]), list(fc2.z)
    bn1 = nn.BatchNorm(hidden, name="bn1", activation="sigmoid")
    bn2 = nn.BatchNorm(hidden, name="bn2", activation="sigmoid")
    outputs = fc3(bn2(fc2(bn1(fc1(inputs)))))
    sigmoid_inputs = [node.parents[0] for node in bn2.outputs]  # bn2.y[j]
    return nn.Model(inputs, outputs, modules=[fc1, bn1, fc2, bn2, fc3]), sigmoid_inputs


def sigmoid_inputs(trainer: Trainer, nodes: Sequence[gd.Node], X: np.ndarray) -> np.ndarray:
    """The values of ``nodes`` for every row of ``X``, in evaluation mode, as (rows, units)."""
    trainer.model.eval()
    for variable, column in zip(trainer.inputs, np.asarray(X, dtype=float).T):
        variable.set_value(np.ascontiguousarray(column))
    values = np.stack([np.asarray(node.forward(), dtype=float) for node in nodes], axis=1)
    trainer.model.train()
    return values


class Snapshots:
    """Trainer callback: the Sigmoid inputs after the chosen epochs (counted from 1)."""

    def __init__(self, nodes: Sequence[gd.Node], X: np.ndarray, epochs: Sequence[int]) -> None:
        self.nodes, self.X, self.epochs = list(nodes), X, set(epochs)
        self.values: dict[int, np.ndarray] = {}

    def on_epoch(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if epoch in self.epochs:
            self.values[epoch] = sigmoid_inputs(trainer, self.nodes, self.X)


def run(batch_norm: bool, lr: float, seed: int, train: Any, test: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Train one variant at one learning rate with one seed."""
    model, nodes = build(batch_norm, args.hidden, seed)
    trainer = Trainer(model, optim.SGD(model, lr=lr), loss="cross_entropy", metric="accuracy", progress=False)
    snapshots = Snapshots(nodes, train[0], args.snapshots)
    if 0 in args.snapshots:
        snapshots.values[0] = sigmoid_inputs(trainer, nodes, train[0])
    started = time.perf_counter()
    history = trainer.fit(train, test, epochs=args.epochs, batch_size=args.batch_size, seed=seed, callbacks=[snapshots])
    return {
        "train_loss": list(history.train_loss),
        "test_accuracy": list(history.dev_metric),
        "seconds": time.perf_counter() - started,
        "sigmoid_inputs": snapshots.values,
    }


def _first_epoch_reaching(curve: Sequence[float], level: float) -> int | None:
    hits = [epoch for epoch, value in enumerate(curve, start=1) if value >= level]
    return hits[0] if hits else None


def summarise(runs: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Mean and spread over seeds of one variant at one learning rate."""
    final_accuracy = np.array([r["test_accuracy"][-1] for r in runs])
    final_loss = np.array([r["train_loss"][-1] for r in runs])
    reached = [_first_epoch_reaching(r["test_accuracy"], threshold) for r in runs]
    return {
        "test_accuracy_mean": float(final_accuracy.mean()),
        "test_accuracy_std": float(final_accuracy.std()),
        "test_accuracy_per_seed": final_accuracy.tolist(),
        # the test accuracy of one epoch jumps by a flower or two: the last 10 epochs' mean is steadier
        "test_accuracy_last10_mean": float(np.mean([r["test_accuracy"][-10:] for r in runs])),
        "final_train_loss_mean": float(final_loss.mean()),
        "final_train_loss_std": float(final_loss.std()),
        "epochs_to_threshold": reached,
        "train_loss_curve_mean": np.mean([r["train_loss"] for r in runs], axis=0).tolist(),
        "test_accuracy_curve_mean": np.mean([r["test_accuracy"] for r in runs], axis=0).tolist(),
        "seconds_mean": float(np.mean([r["seconds"] for r in runs])),
    }


def distribution(values: np.ndarray) -> dict[str, float]:
    """Summary of Sigmoid inputs: spread, and the share in the Sigmoid's flat tails (|v| > 4,
    where its slope is below 0.018)."""
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "saturated_fraction": float(np.mean(np.abs(values) > 4.0)),
    }


def plot_curves(summary: dict[str, Any], args: argparse.Namespace, path: Path) -> Path:
    """Training loss and test accuracy per epoch, mean over seeds, for each learning rate."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4.0 * len(args.lr)), layout="constrained")
    grid = figure.subplots(len(args.lr), 2, squeeze=False)
    for row, lr in zip(grid, args.lr):
        for variant, colour in (("without", "#6b7280"), ("with", "#2563eb")):
            numbers = summary[f"lr={lr:g}"][variant]
            epochs = range(1, len(numbers["train_loss_curve_mean"]) + 1)
            label = f"{variant} batch normalisation"
            row[0].plot(epochs, numbers["train_loss_curve_mean"], color=colour, label=label)
            row[1].plot(epochs, numbers["test_accuracy_curve_mean"], color=colour, label=label)
        row[0].set_title(f"lr {lr:g}: training loss (mean over {args.seeds} seeds)")
        row[1].set_title(f"lr {lr:g}: test accuracy (mean over {args.seeds} seeds)")
        row[1].set_ylim(0, 1.02)
        row[1].axhline(1 / 3, color="#9ca3af", linestyle=":", linewidth=1)
        for axes in row:
            axes.set_xlabel("epoch")
            axes.legend(fontsize=9)
    figure.suptitle(f"Iris, 4-{args.hidden}-{args.hidden}-3 Sigmoid network, SGD, batches of {args.batch_size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path


def plot_distributions(snapshots: dict[str, Any], args: argparse.Namespace, path: Path) -> Path:
    """Histograms of the second hidden layer's Sigmoid inputs at the recorded epochs (first seed)."""
    from matplotlib.figure import Figure

    epochs = sorted(args.snapshots)
    rows = [(lr, variant) for lr in args.lr for variant in ("without", "with")]
    figure = Figure(figsize=(3.6 * len(epochs), 2.3 * len(rows)), layout="constrained")
    grid = figure.subplots(len(rows), len(epochs), squeeze=False, sharex=True)
    for axes_row, (lr, variant) in zip(grid, rows):
        for axes, epoch in zip(axes_row, epochs):
            values = np.asarray(snapshots[f"lr={lr:g}"][variant][str(epoch)])
            axes.hist(
                values.ravel(), bins=np.linspace(-10, 10, 61), color="#2563eb" if variant == "with" else "#6b7280"
            )
            axes.axvspan(-10, -4, color="#fee2e2", zorder=0)
            axes.axvspan(4, 10, color="#fee2e2", zorder=0)
            axes.set_title(f"lr {lr:g}, {variant} BN, epoch {epoch}", fontsize=9)
            axes.set_yticks([])
    for axes in grid[-1]:
        axes.set_xlabel("Sigmoid input")
    figure.suptitle(
        "What the second hidden layer's Sigmoid receives, every training flower and unit (first seed);"
        " red: |input| > 4, where its slope is below 0.018"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    return path


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train both variants at every learning rate for every seed; print, write results, plot."""
    args = parse_args(argv)
    train, test = load_split()
    print(f"iris: {len(train[0])} training and {len(test[0])} test flowers, unstandardised")
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    snapshots: dict[str, Any] = {}
    for lr in args.lr:
        key = f"lr={lr:g}"
        summary[key], snapshots[key] = {}, {}
        for variant in ("without", "with"):
            runs = [run(variant == "with", lr, seed, train, test, args) for seed in range(args.seeds)]
            summary[key][variant] = summarise(runs, threshold=0.9)
            first = runs[0]["sigmoid_inputs"]
            snapshots[key][variant] = {str(epoch): first[epoch] for epoch in sorted(first)}
            summary[key][variant]["sigmoid_inputs"] = {str(e): distribution(v) for e, v in sorted(first.items())}
    elapsed = time.perf_counter() - started
    for key, variants in summary.items():
        for variant, numbers in variants.items():
            spread = numbers["sigmoid_inputs"]
            last = str(max(int(e) for e in spread))
            print(
                f"{key:9s} {variant:7s} batch norm: test accuracy {numbers['test_accuracy_mean']:.3f} "
                f"± {numbers['test_accuracy_std']:.3f} (last 10 epochs {numbers['test_accuracy_last10_mean']:.3f}), "
                f"final training loss {numbers['final_train_loss_mean']:.4f}, "
                f"first epoch with test accuracy ≥ 0.9: {numbers['epochs_to_threshold']}, "
                f"Sigmoid inputs at epoch {last}: std {spread[last]['std']:.2f}, "
                f"{spread[last]['saturated_fraction']:.0%} beyond ±4"
            )
    print(f"{2 * len(args.lr) * args.seeds} runs in {elapsed:.1f} s")
    results = {
        "settings": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "hidden": args.hidden,
            "seeds": args.seeds,
            "learning_rates": args.lr,
            "snapshots": sorted(args.snapshots),
            "train_flowers": len(train[0]),
            "test_flowers": len(test[0]),
        },
        "runs": summary,
        "timing": {  # this machine's: kept apart from the numbers the README quotes
            "seconds": elapsed,
            "seconds_per_run": {
                key: {variant: numbers.pop("seconds_mean") for variant, numbers in variants.items()}
                for key, variants in summary.items()
            },
        },
    }
    save_results(args, RESULTS, results)
    if args.out is not None:
        for figure in (
            plot_curves(summary, args, args.out / "batch_norm.png"),
            plot_distributions(snapshots, args, args.out / "batch_norm_activations.png"),
        ):
            print(f"figure written: {figure}")
    return results


if __name__ == "__main__":
    main()
