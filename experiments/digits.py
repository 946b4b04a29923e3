"""Handwritten digits (8×8 pixels, 10 classes) with a scalar-node MLP, softmax cross-entropy and Adam.

The second multi-class example after ``iris.py``, in the manner of the optimisation
tutorial's chapter 5 (the phone-price classifier, docs/sources.md): standardised inputs
(the tutorial's StandardScaler, fitted on the training set), Sigmoid hidden units, one
linear output per class, the multi-class cross-entropy, Adam and mini-batches, the accuracy
of argmax over the outputs on a held-out test set. The data is scikit-learn's copy of the
UCI digits (1797 images, 64 pixels each), split 1150 / 288 / 359 (train / dev / test).

This is a big graph for scalar autograd: a 64-32-10 MLP has 2410 parameters and
4918 nodes, each weight its own ``Variable`` and ``Mul``; the Trainer compiles it
(``graphdl.compile``) to one straight-line Python function over numpy batches. The
tutorial's lr 1e-4 and batch 8 for 50 epochs would mean 7200 steps; here Adam gets lr 0.01
with batches of 32 for 10 epochs (360 steps).

    PYTHONPATH=. python experiments/digits.py --out viz

Needs scikit-learn (graphdl never downloads data): without it the script says so in one
line and exits with status 1.

Prints the learning curve, the compile and step times, the accuracies ("test accuracy: ...")
and the confusion matrix (``graphdl.metrics.classification_report``); writes the numbers to
DIR/digits.json with ``--out DIR`` (``--write-results``: experiments/results/digits.json;
the README quotes them) and, with ``--out DIR``, DIR/digits_confusion.png (the confusion
matrix and the test digits the net got wrong, most confident mistakes first). The confidence
p is read off the graph: exp(−cross-entropy) with the net's answer fed as the label.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import Graph, datasets, nn, optim
from graphdl.cli import non_negative_int, positive_float, positive_int
from graphdl.metrics import classification_report, confusion_text
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

RESULTS = Path(__file__).resolve().parent / "results" / "digits.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=positive_int, default=32, help="Sigmoid hidden units (default 32)")
    parser.add_argument("--epochs", type=non_negative_int, default=10, help="passes over the training set (10)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="samples per Adam step (default 32)")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the shuffling and the init")
    parser.add_argument(
        "--samples", type=positive_int, default=None, help="use only the first N images (default: all 1797)"
    )
    parser.add_argument("--errors", type=non_negative_int, default=12, help="misclassified digits to draw (12)")
    parser.add_argument("--out", type=Path, default=None, help="directory for digits_confusion.png")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 20:
        parser.error(f"--samples must be at least 20 (to split into train, dev and test), got {args.samples}")
    return args


def load_digits() -> datasets.Dataset:
    """graphdl.datasets.digits(), or a one-line message and exit status 1 without scikit-learn."""
    try:
        return datasets.digits()
    except ImportError as error:
        raise SystemExit(f"experiments/digits.py: {error}") from None


class Timing:
    """Trainer callback: the compile time (the Trainer compiles before ``on_fit_start``),
    the time of every optimisation step, the evaluation after every epoch, and a line of
    the learning curve per epoch."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.compile_seconds = 0.0
        self.step_seconds: list[float] = []
        self.evaluation_seconds = 0.0
        self.last = started

    def on_fit_start(self, trainer: Trainer) -> None:
        self.last = time.perf_counter()
        self.compile_seconds = self.last - self.started

    def on_step(self, trainer: Trainer, step: int, loss: float) -> None:
        now = time.perf_counter()
        self.step_seconds.append(now - self.last)
        self.last = now

    def on_epoch(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        self.evaluation_seconds += now - self.last
        self.last = now
        print(
            f"epoch {epoch:3d}: train loss {logs['train_loss']:.4f}, dev loss {logs['dev_loss']:.4f}, "
            f"dev accuracy {logs['dev_accuracy']:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train on the digits, print timings, accuracies and the confusion matrix, plot with ``--out``."""
    args = parse_args(argv)
    data = load_digits()
    X, y = (data.X, data.y) if args.samples is None else (data.X[: args.samples], data.y[: args.samples])
    raw_train, raw_dev, raw_test = datasets.train_dev_test_split(X, y, (0.64, 0.16, 0.2), seed=args.seed)
    train, dev, test = datasets.standardise(raw_train, raw_dev, raw_test)
    classes = len(data.target_names)
    print(f"digits: {len(train[0])} train / {len(dev[0])} dev / {len(test[0])} test images of 8x8 pixels, 10 classes")

    model = nn.MLP(X.shape[1], [args.hidden, classes], activation="sigmoid", rng=args.seed)
    trainer = Trainer(model, optim.Adam(model, lr=args.lr), loss="cross_entropy", metric="accuracy", progress=False)
    nodes = len(Graph(trainer.loss).nodes)
    print(f"model: {X.shape[1]}-{args.hidden}-{classes} MLP, {len(model.parameters())} parameters, {nodes} nodes")
    timing = Timing(time.perf_counter())
    history = trainer.fit(
        train, dev, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, callbacks=[timing]
    )
    train_seconds = time.perf_counter() - timing.started
    step_ms = 1000.0 * float(np.median(timing.step_seconds)) if timing.step_seconds else float("nan")
    print(f"compile time: {timing.compile_seconds:.2f} s")
    print(
        f"step time: {step_ms:.1f} ms (median of {len(timing.step_seconds)} steps of {args.batch_size} images); "
        f"evaluation after the epochs {timing.evaluation_seconds:.2f} s; training {train_seconds:.1f} s in all"
    )

    splits = {"train": train, "dev": dev, "test": test}
    report = classification_report(trainer, splits, classes)
    for name in splits:
        print(f"{name} accuracy: {report[f'{name}_accuracy']:.3f}")
    print(f"test loss: {report['test_loss']:.4f}")
    print("test confusion matrix (rows: true digit, columns: predicted):")
    print(confusion_text(report["confusion"], data.target_names))
    confidence = answer_probability(trainer, test[0], report["predictions"])
    summary = {
        "settings": run_settings(args),
        **{key: report[key] for key in ("train_accuracy", "dev_accuracy", "test_accuracy", "test_loss", "confusion")},
        "test_size": len(test[1]),
        "parameters": len(model.parameters()),
        "nodes": nodes,
        # wall-clock figures of this run on this machine: informative, not reproducible
        "timing": {"compile_seconds": timing.compile_seconds, "step_ms": step_ms, "train_seconds": train_seconds},
    }
    save_results(args, RESULTS, summary)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = plot(report, confidence, raw_test[0], args, args.out / "digits_confusion.png")
        print(f"figure written: {path}")
    return {
        **report,
        "confidence": confidence,
        "history": history,
        "parameters": len(model.parameters()),
        "nodes": nodes,
        "compile_seconds": timing.compile_seconds,
        "step_ms": step_ms,
    }


def answer_probability(trainer: Trainer, X: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """The net's probability of each of its ``answers`` on the rows of ``X``, from the graph:
    graphdl has no softmax node, but its loss SoftmaxCrossEntropy is −log softmax(logits)[label],
    so exp(−loss) with the answer fed as the label is the softmax probability of the answer."""
    for variable, column in zip(trainer.inputs, np.asarray(X, dtype=float).T):
        variable.set_value(np.ascontiguousarray(column))
    trainer.labels[0].set_value(np.asarray(answers, dtype=float))
    return np.exp(-np.asarray(trainer.loss.forward(), dtype=float))


def plot(
    report: dict[str, Any], confidence: np.ndarray, images: np.ndarray, args: argparse.Namespace, path: Path
) -> Path:
    """The test confusion matrix beside the misclassified test digits (raw pixels ``images``),
    most confident first (``confidence``: the net's probability of its answer)."""
    from matplotlib.figure import Figure

    from graphdl.viz.plots import plot_confusion_matrix

    matrix, predicted, labels = report["confusion"], report["predictions"], report["labels"]
    mistakes = np.flatnonzero(predicted != labels)
    wrong = mistakes[np.argsort(-confidence[mistakes], kind="stable")][: args.errors]

    figure = Figure(figsize=(14, 6.6), layout="constrained")
    left, right = figure.subfigures(1, 2, width_ratios=[1.25, 1])
    total, correct = int(matrix.sum()), int(np.trace(matrix))
    plot_confusion_matrix(
        matrix, axes=left.subplots(), title=f"Test set: {correct} of {total} correct ({correct / total:.1%})"
    )
    columns = min(4, max(1, int(np.ceil(np.sqrt(len(wrong))))))
    rows = max(1, -(-len(wrong) // columns))
    grid = right.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel()[len(wrong) :]:
        axes.set_axis_off()
    for axes, index in zip(grid.ravel(), wrong):
        axes.imshow(images[index].reshape(8, 8), cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(
            f"true {int(labels[index])}, said {predicted[index]}\n(p = {confidence[index]:.2f})",
            fontsize=10,
        )
    if len(wrong) == 0:
        grid[0, 0].text(0.0, 0.5, "no misclassified test digits", fontsize=12)
    shown = f"all {len(mistakes)}" if len(wrong) == len(mistakes) else f"{len(wrong)} of {len(mistakes)}"
    right.suptitle(
        f"Misclassified test digits ({shown}), most confident first\np = the net's probability of its answer"
    )
    figure.suptitle(
        f"Digits (8x8), 64-{args.hidden}-10 MLP (Sigmoid), softmax cross-entropy, Adam lr {args.lr}, "
        f"batch {args.batch_size}, {args.epochs} epochs"
    )
    figure.savefig(path, dpi=100, facecolor="white")
    return path


if __name__ == "__main__":
    main()
