"""All-zero initial parameters keep every hidden unit identical; random ones break the symmetry.

Repeats the parameter-initialisation section of the feed-forward network tutorial
(docs/sources.md; its ``Model_MLP_L2_V4``): the moons data (1000 points, noise 0.5,
640/160/200 split), a 2-5-1 network with Logistic activations on both layers, binary
cross-entropy and full-batch gradient descent with learning rate 0.2. With every weight
and bias 0, all five hidden units compute the same value, receive the same gradient and
make the same update, so they stay copies of each other for ever (the symmetric-weights
problem) and the network is no better than one with a single hidden unit. A Gaussian
N(0, 1) start, as the tutorial proposes, breaks the symmetry.

    PYTHONPATH=. python experiments/zero_init.py --out viz

Prints the weights of both layers after each of the first ``--show`` epochs (default 5, the
tutorial's whole run), as its ``print_weights`` does: after epoch 1 only the output weights
have moved (the hidden weights' gradients are exactly 0 while the output weights are 0), and
every column of the hidden layer is the same. Then, after ``--epochs`` epochs, the largest
difference between any two hidden units and the accuracies of both starts. The numbers go to
DIR/zero_init.json with ``--out DIR`` (``--write-results``:
experiments/results/zero_init.json; the README quotes them). Writes DIR/zero_init.png (each
hidden unit's parameters over the epochs, both starts).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphdl import datasets, init, nn, optim
from graphdl.cli import positive_float
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

HIDDEN = 5
RESULTS = Path(__file__).resolve().parent / "results" / "zero_init.json"


def hidden_weights(model: nn.MLP) -> np.ndarray:
    """The hidden layer's parameters as rows per unit: (w from x[0], w from x[1], bias)."""
    layer = model.layers[0]
    return np.array([[layer.w[0][j].value, layer.w[1][j].value, layer.biases[j].value] for j in range(HIDDEN)])


def describe_layers(model: nn.MLP) -> str:
    """The seed's ``print_weights``: each layer's weight matrix and bias vector."""
    lines = []
    for layer in model.layers:
        weights = np.array([[w.value for w in row] for row in layer.w])
        biases = np.array([b.value for b in layer.biases])
        lines.append(
            f"  {layer.name}.w =\n" + textwrap.indent(np.array2string(weights, precision=6, max_line_width=120), "    ")
        )
        lines.append(f"  {layer.name}.b = {np.array2string(biases, precision=6, max_line_width=120)}")
    return "\n".join(lines)


class WeightTrace:
    """Trainer callback: keeps the hidden layer's parameters after every epoch and prints
    both layers after the first ``show`` epochs."""

    def __init__(self, model: nn.MLP, show: int) -> None:
        self.model = model
        self.show = show
        self.history = [hidden_weights(model)]
        self.shown_logs: dict[str, float] = {}

    def on_epoch(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.history.append(hidden_weights(self.model))
        if epoch <= self.show:
            self.shown_logs = dict(logs)
            print(
                f"after epoch {epoch} (training loss {logs['train_loss']:.6f}, "
                f"dev accuracy {logs['dev_accuracy']:.3f}):"
            )
            print(describe_layers(self.model))


def train(start: str, data: tuple, epochs: int, lr: float, seed: int, show: int) -> dict:
    """Train the seed's 2-5-1 Logistic net from ``start`` ("zero" or "gaussian")."""
    train_set, dev_set, test_set = data
    model = nn.MLP(2, [HIDDEN, 1], activation="sigmoid", output_activation="sigmoid", init="zeros")
    if start == "gaussian":
        init.normal(model, 0.0, 1.0, rng=seed)
    trace = WeightTrace(model, show)
    trainer = Trainer(model, optim.SGD(model, lr=lr), loss="bce", metric="accuracy", progress=False)
    history = trainer.fit(train_set, dev_set, epochs=epochs, batch_size=None, shuffle=False, callbacks=[trace])
    weights = np.array(trace.history)  # (epochs + 1, unit, parameter)
    final = weights[-1]
    return {
        "weights": weights,
        "unit_gap": float(np.abs(final[:, None, :] - final[None, :, :]).max()),
        "train_loss": history.train_loss,
        "dev_accuracy": history.dev_metric[-1] if history.dev_metric else float("nan"),
        "test_accuracy": trainer.evaluate(test_set)["accuracy"],
        "after_shown_epochs": trace.shown_logs,
    }


def plot(results: dict[str, dict], path: Path) -> Path:
    """Each hidden unit's parameters over the epochs, one panel per start and parameter."""
    from matplotlib.figure import Figure

    labels = ("weight from x[0]", "weight from x[1]", "bias")
    figure = Figure(figsize=(13, 6.5), layout="constrained")
    axes = figure.subplots(2, 3, sharex=True)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for row, (start, result) in enumerate(results.items()):
        weights = result["weights"]
        epochs = np.arange(len(weights))
        for column, label in enumerate(labels):
            ax = axes[row, column]
            for unit in range(HIDDEN):
                width = 6 - unit if start == "zero" else 1.8  # identical lines stay visible as nested strokes
                ax.plot(epochs, weights[:, unit, column], color=colours[unit], lw=width, label=f"unit {unit}")
            ax.set_title(f"{start} init: hidden {label}")
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("epoch")
        axes[row, 0].set_ylabel(f"{start} init\nvalue (dev accuracy {result['dev_accuracy']:.3f})")
    axes[0, 0].legend(title="hidden unit", fontsize=8)
    gap = results["zero"]["unit_gap"]
    figure.suptitle(
        "Feed-forward tutorial, moons, 2-5-1 Logistic net: from all zeros the five hidden units stay identical "
        f"({'exactly equal' if gap == 0 else f'max difference {gap:.1e}'}),\n"
        "their lines lie on top of each other; from N(0, 1) they learn different things"
    )
    figure.savefig(path, dpi=100)
    return path


def main(argv: Sequence[str] | None = None) -> dict[str, dict]:
    """Train from zeros and from N(0, 1); print the weights and the accuracies; plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000, help="full-batch gradient descent epochs (default 2000)")
    parser.add_argument("--lr", type=positive_float, default=0.2, help="learning rate (default 0.2, the seed's)")
    parser.add_argument(
        "--show",
        type=int,
        default=5,
        help="print both layers after each of the first N epochs (default 5, as the seed)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the Gaussian start")
    parser.add_argument("--out", type=Path, default=None, help="directory for zero_init.png")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.show < 0:
        parser.error(f"--show must be at least 0, got {args.show}")

    X, y = datasets.make_moons(1000, noise=0.5, seed=args.seed)  # shuffled; the seed takes the first 640/160/200
    data = datasets.train_dev_test_split(X, y, (640, 160, 200), shuffle=False)
    results = {}
    for start in ("zero", "gaussian"):
        print(f"== {start} initialisation")
        show = args.show if start == "zero" else 0  # the seed prints the zero start's weights
        result = results[start] = train(start, data, args.epochs, args.lr, args.seed, show)
        print(
            f"{start} init, after {args.epochs} epochs: largest difference between two hidden units "
            f"{result['unit_gap']:.6g}"
        )
        print(
            f"{start} init: training loss {result['train_loss'][-1]:.4f}, dev accuracy {result['dev_accuracy']:.3f},"
            f" test accuracy {result['test_accuracy']:.3f}"
        )
    summary = {
        "settings": run_settings(args),
        **{
            start: {
                "unit_gap": result["unit_gap"],
                "final_train_loss": result["train_loss"][-1],
                "dev_accuracy": result["dev_accuracy"],
                "test_accuracy": result["test_accuracy"],
                "after_shown_epochs": result["after_shown_epochs"],
            }
            for start, result in results.items()
        },
    }
    save_results(args, RESULTS, summary)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"figure written: {plot(results, args.out / 'zero_init.png')}")
    return results


if __name__ == "__main__":
    main()
