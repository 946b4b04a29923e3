"""Three iris species told apart by an MLP trained with softmax cross-entropy and Adam.

Repeats, on a data set that ships with graphdl, the multi-class recipe of the optimisation
tutorial's chapter 5 (the phone-price classifier, docs/sources.md): features standardised
with the training set's mean and standard deviation (the tutorial's StandardScaler), a
fully connected net with Sigmoid hidden units and one linear output (logit) per class, the
multi-class cross-entropy loss (PyTorch's nn.CrossEntropyLoss there: softmax, then −log
of the true class's probability), Adam, mini-batches of 8 for 50 epochs, and the test
accuracy of argmax over the outputs. The tutorial's net (20-128-256-4, later 5 layers) is
far larger than 4 flower measurements need; here 4-8-3, every weight a scalar node
(``graphdl.nn.MLP``), trained by ``graphdl.train.Trainer``. The tutorial's learning rate
1e-4 goes with its 200-step epochs (1600 phones in batches of 8); with 12 steps per epoch
here Adam gets lr 0.01.

    PYTHONPATH=. python experiments/iris.py --out viz

The 150 flowers are split 96 / 24 / 30 (train / dev / test, shuffled with ``--seed``).
Prints the learning curve every 10 epochs, the final accuracies ("test accuracy: ...") and
the test confusion matrix (``graphdl.metrics.classification_report``); writes the numbers to
DIR/iris.json with ``--out DIR`` (``--write-results``: experiments/results/iris.json; the
README quotes them) and, with ``--out DIR``, DIR/iris_confusion.png (loss and accuracy per
epoch, and the confusion matrix).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import Graph, datasets, nn, optim
from graphdl.cli import non_negative_int, positive_float, positive_int
from graphdl.metrics import classification_report, confusion_text
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

RESULTS = Path(__file__).resolve().parent / "results" / "iris.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=positive_int, default=8, help="Sigmoid hidden units (default 8)")
    parser.add_argument("--epochs", type=non_negative_int, default=50, help="passes over the training set (50)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="samples per Adam step (default 8)")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the shuffling and the init")
    parser.add_argument("--out", type=Path, default=None, help="directory for iris_confusion.png")
    add_results_arguments(parser, RESULTS)
    return parser.parse_args(argv)


class EpochReport:
    """Trainer callback: prints the learning curve every ``every`` epochs."""

    def __init__(self, every: int, epochs: int) -> None:
        self.every, self.epochs = every, epochs

    def on_epoch(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if epoch % self.every == 0 or epoch == self.epochs:
            print(
                f"epoch {epoch:3d}: train loss {logs['train_loss']:.4f}, dev loss {logs['dev_loss']:.4f}, "
                f"dev accuracy {logs['dev_accuracy']:.3f}"
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train on iris, print the accuracies and the confusion matrix, plot with ``--out``."""
    args = parse_args(argv)
    data = datasets.iris()
    train, dev, test = datasets.standardise(
        *datasets.train_dev_test_split(data.X, data.y, (0.64, 0.16, 0.2), seed=args.seed)
    )
    classes = len(data.target_names)
    print(f"iris: {len(train[0])} train / {len(dev[0])} dev / {len(test[0])} test flowers, {classes} species")

    model = nn.MLP(data.X.shape[1], [args.hidden, classes], activation="sigmoid", rng=args.seed)
    trainer = Trainer(model, optim.Adam(model, lr=args.lr), loss="cross_entropy", metric="accuracy", progress=False)
    nodes = len(Graph(trainer.loss).nodes)
    print(f"model: {data.X.shape[1]}-{args.hidden}-{classes} MLP, {len(model.parameters())} parameters, {nodes} nodes")
    history = trainer.fit(
        train,
        dev,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        callbacks=[EpochReport(10, args.epochs)],
    )

    report = classification_report(trainer, {"train": train, "dev": dev, "test": test}, classes)
    for name in ("train", "dev", "test"):
        print(f"{name} accuracy: {report[f'{name}_accuracy']:.3f}")
    print(f"test loss: {report['test_loss']:.4f}")
    print("test confusion matrix (rows: true species, columns: predicted):")
    print(confusion_text(report["confusion"], data.target_names))
    summary = {
        "settings": run_settings(args),
        **{key: report[key] for key in ("train_accuracy", "dev_accuracy", "test_accuracy", "test_loss", "confusion")},
        "test_size": len(test[1]),
    }
    save_results(args, RESULTS, summary)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = plot(history, report["confusion"], data.target_names, args, args.out / "iris_confusion.png")
        print(f"figure written: {path}")
    return {**report, "history": history}


def plot(history: Any, matrix: np.ndarray, names: Sequence[str], args: argparse.Namespace, path: Path) -> Path:
    """Loss and accuracy per epoch (train and dev) beside the test confusion matrix."""
    from matplotlib.figure import Figure

    from graphdl.viz.plots import plot_confusion_matrix

    figure = Figure(figsize=(15, 4.6), layout="constrained")
    loss_axes, accuracy_axes, matrix_axes = figure.subplots(1, 3, width_ratios=[1, 1, 1.05])
    epochs = np.arange(1, len(history.train_loss) + 1)
    if len(epochs):
        loss_axes.plot(epochs, history.train_loss, color="#dc2626", lw=2, label="train (mean over the epoch's batches)")
        loss_axes.plot(epochs, history.dev_loss, color="#2563eb", lw=2, label="dev (after the epoch)")
        accuracy_axes.plot(epochs, history.train_metric, color="#dc2626", lw=2, label="train")
        accuracy_axes.plot(epochs, history.dev_metric, color="#2563eb", lw=2, ls="--", label="dev")
    loss_axes.set_ylim(bottom=0)
    loss_axes.set_title("Softmax cross-entropy per epoch")
    loss_axes.set_ylabel("mean cross-entropy (nats)")
    accuracy_axes.set_ylim(0, 1.02)
    accuracy_axes.set_title("Accuracy per epoch")
    accuracy_axes.set_ylabel("fraction classified correctly")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        if len(epochs):
            axes.legend(loc="best")
        else:
            axes.text(0.5, 0.5, "no training (--epochs 0)", ha="center", va="center", transform=axes.transAxes)
    total, correct = int(matrix.sum()), int(np.trace(matrix))
    plot_confusion_matrix(
        matrix, names, axes=matrix_axes, title=f"Test set: {correct} of {total} correct ({correct / total:.1%})"
    )
    figure.suptitle(
        f"Iris, 4-{args.hidden}-3 MLP (Sigmoid), softmax cross-entropy, Adam lr {args.lr}, "
        f"batch {args.batch_size}, {args.epochs} epochs"
    )
    figure.savefig(path, dpi=100, facecolor="white")
    return path


if __name__ == "__main__":
    main()
