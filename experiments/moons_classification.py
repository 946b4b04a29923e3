"""Binary classification of noisy moons with a 2-5-1 Logistic network, built twice.

Repeats the feed-forward network tutorial's binary classification experiment
(docs/sources.md): 1000 moons points with noise 0.5, the first 640 for training, the next
160 for development and the last 200 for testing; a two-layer network (2 inputs, 5
Logistic hidden units, 1 Logistic output) with weights drawn from N(0, 1) and zero biases;
binary cross-entropy; full-batch gradient descent for 1000 epochs, keeping the parameters
of the epoch with the best dev accuracy (as the tutorial's ``RunnerV2`` training loop
does); loss and accuracy curves for train and dev; the decision boundary over a 200 × 200
grid (40 000 points) on [−π, π]², with the three splits on top; and the test accuracy of
the best model (the tutorial reports 0.76 with lr 0.2 on its own data).

It trains the same network twice, from the same initial weights:

* **hand-built graph** (the tutorial's first version, its own Linear/Logistic/BCE
  operators): every node is created explicitly with graphdl nodes (Variables ``x1``,
  ``x2``, ``label``; per hidden unit two ``Mul``, an ``Add`` and a ``Logistic``; the
  output unit; the ``LogLoss`` node) and trained by setting the whole training set as
  arrays on the input Variables, ``loss.backward()``, ``update(lr)`` on every
  parameter (the interpreter, no compilation);
* **toolkit** (the tutorial's second version, with predefined operators and a runner):
  ``nn.MLP(2, [5, 1], activation="sigmoid", output_activation="sigmoid")``,
  ``optim.SGD`` and ``train.Trainer`` with ``loss="bce"``, ``batch_size=None`` (the
  whole set), a best-dev-accuracy checkpoint and ``restore_best=True``; the Trainer
  compiles the graph with ``graphdl.compile``.

Both record the same numbers each epoch (as the Trainer does: the training loss at the
start of the epoch's step, train accuracy and dev loss/accuracy after it; the tutorial's
runner takes the train accuracy before the step, one epoch earlier), so the two runs must
agree to rounding error; the script prints the largest differences. The interpreter and
the compiled program evaluate the same formulas in the same order, so they agree exactly.

    PYTHONPATH=. python experiments/moons_classification.py --out viz

Prints "<run>: test accuracy A (loss L)" for both runs and "the two runs agree: yes/no";
writes the numbers to DIR/moons_classification.json with ``--out DIR`` (``--write-results``:
experiments/results/moons_classification.json; the README quotes them); with ``--out DIR``
writes DIR/moons_curves.png (loss and accuracy per epoch) and DIR/moons_boundary.png (the
decision boundary with the train/dev/test points).
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import Add, Logistic, LogLoss, Mul, Node, Variable, datasets, nn, optim
from graphdl.cli import positive_float
from graphdl.metrics import accuracy
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

HIDDEN = 5
TUTORIAL_TEST_ACCURACY = 0.76  # the tutorial's "[Test] score/loss: 0.7600/0.4883"
RESULTS = Path(__file__).resolve().parent / "results" / "moons_classification.json"
GRID_BOUNDS = (-math.pi, math.pi, -math.pi, math.pi)

Split = tuple[np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- data
def make_splits(n_samples: int, noise: float, seed: int) -> dict[str, Split]:
    """The tutorial's data: shuffled moons with Gaussian noise, then the first 64 % for
    training, the next 16 % for development and the rest for testing (640/160/200)."""
    X, y = datasets.make_moons(n_samples, shuffle=True, noise=noise, seed=seed)
    n_train, n_dev = round(0.64 * n_samples), round(0.16 * n_samples)
    train, dev, test = datasets.train_dev_test_split(X, y, (n_train, n_dev, n_samples - n_train - n_dev), shuffle=False)
    return {"train": train, "dev": dev, "test": test}


def initial_weights(seed: int) -> dict[str, np.ndarray]:
    """The tutorial's Linear initialisation: weights from N(0, 1), biases zero.
    ``W1[i, j]`` connects input i to hidden unit j, ``W2[j]`` hidden unit j to the output."""
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0, (2, HIDDEN)), "b1": np.zeros(HIDDEN), "W2": rng.normal(0.0, 1.0, HIDDEN),
            "b2": np.zeros(1)}  # fmt: skip


# --------------------------------------------------------------- the two networks
class HandBuiltNet:
    """The 2-5-1 network as explicit graphdl nodes: the input, label and parameter
    Variables, the output probability ``a2`` and the per-sample ``loss``."""

    def __init__(
        self,
        inputs: tuple[Variable, Variable, Variable],
        layer1: tuple[list[list[Variable]], list[Variable]],
        layer2: tuple[list[Variable], Variable],
        probability: Node,
        loss: Node,
    ) -> None:
        self.x1, self.x2, self.label = inputs
        self.W1, self.b1 = layer1
        self.W2, self.b2 = layer2
        self.probability, self.loss = probability, loss

    def parameters(self) -> list[Variable]:
        """W1 row by row, b1, W2, b2: the order of :func:`parameter_vector`."""
        return [*self.W1[0], *self.W1[1], *self.b1, *self.W2, self.b2]


def build_hand_net(init: dict[str, np.ndarray]) -> HandBuiltNet:
    """Create every node of the network, one by one, and set the initial weights."""
    # the data: two input features and the 0/1 label (not trainable)
    x1 = Variable(name="x1", trainable=False)
    x2 = Variable(name="x2", trainable=False)
    label = Variable(name="label", trainable=False)

    # layer 1: hidden unit j computes a1[j] = Logistic(x1·W1[0,j] + x2·W1[1,j] + b1[j])
    W1 = [[Variable(float(init["W1"][i, j]), name=f"W1[{i},{j}]") for j in range(HIDDEN)] for i in range(2)]
    b1 = [Variable(float(init["b1"][j]), name=f"b1[{j}]") for j in range(HIDDEN)]
    hidden = []
    for j in range(HIDDEN):
        x1_w = Mul([x1, W1[0][j]], name=f"x1*W1[0,{j}]")
        x2_w = Mul([x2, W1[1][j]], name=f"x2*W1[1,{j}]")
        z1 = Add([x1_w, x2_w, b1[j]], name=f"z1[{j}]")
        hidden.append(Logistic([z1], name=f"a1[{j}]"))

    # layer 2: the output probability a2 = Logistic(Σ_j a1[j]·W2[j] + b2)
    W2 = [Variable(float(init["W2"][j]), name=f"W2[{j}]") for j in range(HIDDEN)]
    b2 = Variable(float(init["b2"][0]), name="b2")
    weighted = [Mul([hidden[j], W2[j]], name=f"a1[{j}]*W2[{j}]") for j in range(HIDDEN)]
    z2 = Add([*weighted, b2], name="z2")
    probability = Logistic([z2], name="a2")

    # the loss: binary cross-entropy −(y·log a2 + (1 − y)·log(1 − a2)) per sample
    loss = LogLoss([label, probability], name="bce")
    return HandBuiltNet((x1, x2, label), (W1, b1), (W2, b2), probability, loss)


def build_toolkit_net(init: dict[str, np.ndarray]) -> nn.MLP:
    """The same network from the toolkit, with the same initial weights."""
    model = nn.MLP(2, [HIDDEN, 1], activation="sigmoid", output_activation="sigmoid", init="zeros")
    fc1, fc2 = model.layers
    for i in range(2):
        for j in range(HIDDEN):
            fc1.w[i][j].set_value(float(init["W1"][i, j]))
    for j in range(HIDDEN):
        fc1.biases[j].set_value(float(init["b1"][j]))
        fc2.w[j][0].set_value(float(init["W2"][j]))
    fc2.biases[0].set_value(float(init["b2"][0]))
    return model


def toolkit_parameters(model: nn.MLP) -> list[Variable]:
    """The MLP's parameters in the hand-built order (W1 row by row, b1, W2, b2)."""
    fc1, fc2 = model.layers
    return [*fc1.w[0], *fc1.w[1], *fc1.biases, *(row[0] for row in fc2.w), *fc2.biases]


# ----------------------------------------------------------------------- training
class Run:
    """What one training run produced: per-epoch curves, the best epoch (by dev
    accuracy), test loss and accuracy of the best parameters, those parameters (in the
    hand-built order), the output probability on the grid and a ``predict`` function."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.train_loss: list[float] = []
        self.train_accuracy: list[float] = []
        self.dev_loss: list[float] = []
        self.dev_accuracy: list[float] = []
        self.best_epoch = 0  # counted from 1; 0 until an epoch has run
        self.test_loss = math.nan
        self.test_accuracy = math.nan
        self.parameters = np.zeros(0)
        self.grid_probability = np.zeros(0)
        self.predict: Callable[[np.ndarray], np.ndarray] | None = None


def grid_points(resolution: int) -> np.ndarray:
    """The tutorial's grid: resolution² points over [−π, π]² (200² = 40 000)."""
    x_min, x_max, y_min, y_max = GRID_BOUNDS
    gx, gy = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def train_hand_built(
    init: dict[str, np.ndarray], splits: dict[str, Split], lr: float, epochs: int, grid: np.ndarray
) -> Run:
    """Full-batch gradient descent on the hand-built graph with the interpreter."""
    net = build_hand_net(init)
    params = net.parameters()
    run = Run("hand-built graph")

    def feed(X: np.ndarray, y: np.ndarray | None = None) -> None:
        net.x1.set_value(X[:, 0])  # a new point: every cached value downstream is dropped
        net.x2.set_value(X[:, 1])
        if y is not None:
            net.label.set_value(y)

    def evaluate(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        feed(X, y)
        probability = np.asarray(net.probability.forward())
        return float(np.mean(net.loss.forward())), accuracy(probability, y, 0.5)

    X_train, y_train = splits["train"]
    best_accuracy, best_values = -math.inf, [float(p.value) for p in params]
    for epoch in range(1, epochs + 1):  # counted from 1, as the Trainer counts them
        feed(X_train, y_train)  # the whole training set as one batch of 640 samples
        net.loss.backward()  # grads of the MEAN loss over the batch, in every p.grad
        run.train_loss.append(float(np.mean(net.loss.value)))
        for param in params:
            param.update(lr=lr)  # p ← p − lr·p.grad; the point's caches stay until the next feed
        for name, losses, scores in (
            ("train", None, run.train_accuracy),
            ("dev", run.dev_loss, run.dev_accuracy),
        ):
            loss, score = evaluate(*splits[name])
            scores.append(score)
            if losses is not None:
                losses.append(loss)
        if run.dev_accuracy[-1] > best_accuracy:  # the tutorial's "best accuracy performence has been updated"
            best_accuracy, run.best_epoch = run.dev_accuracy[-1], epoch
            best_values = [float(p.value) for p in params]
    for param, value in zip(params, best_values):  # the tutorial's runner.load_model(best)
        param.set_value(value)
    run.test_loss, run.test_accuracy = evaluate(*splits["test"])
    run.parameters = np.array(best_values)

    def predict(points: np.ndarray) -> np.ndarray:
        feed(points)
        return np.asarray(net.probability.forward(), dtype=float).copy()

    run.predict = predict
    run.grid_probability = predict(grid)
    return run


def train_toolkit(
    init: dict[str, np.ndarray], splits: dict[str, Split], lr: float, epochs: int, grid: np.ndarray
) -> Run:
    """The same training with nn.MLP, optim.SGD and train.Trainer (the tutorial's second runner)."""
    model = build_toolkit_net(init)
    trainer = Trainer(model, optim.SGD(model, lr=lr), loss="bce", metric="accuracy", progress=False)
    with tempfile.TemporaryDirectory() as folder:
        history = trainer.fit(
            splits["train"], splits["dev"], epochs=epochs, batch_size=None, shuffle=False,
            checkpoint=Path(folder) / "best_moons.npz", restore_best=True,
        )  # fmt: skip
    test = trainer.evaluate(splits["test"])
    run = Run("toolkit")
    run.train_loss, run.train_accuracy = list(history.train_loss), list(history.train_metric)
    run.dev_loss, run.dev_accuracy = list(history.dev_loss), list(history.dev_metric)
    run.best_epoch = history.best_epoch or 0
    run.test_loss, run.test_accuracy = test["loss"], test["accuracy"]
    run.parameters = np.array([float(p.value) for p in toolkit_parameters(model)])
    run.predict = trainer.predict
    run.grid_probability = trainer.predict(grid)
    return run


def _gap(first: Sequence[float] | np.ndarray, second: Sequence[float] | np.ndarray) -> float:
    return float(np.max(np.abs(np.subtract(first, second)), initial=0.0))


def largest_differences(a: Run, b: Run) -> dict[str, float]:
    """Largest absolute differences between two runs' records (and the number of grid
    points they classify differently)."""
    return {
        "parameters": _gap(a.parameters, b.parameters),
        "losses": max(_gap(a.train_loss, b.train_loss), _gap(a.dev_loss, b.dev_loss), abs(a.test_loss - b.test_loss)),
        "accuracies": max(
            _gap(a.train_accuracy, b.train_accuracy),
            _gap(a.dev_accuracy, b.dev_accuracy),
            abs(a.test_accuracy - b.test_accuracy),
        ),
        "grid probabilities": _gap(a.grid_probability, b.grid_probability),
        "grid classes": float(np.sum((a.grid_probability >= 0.5) != (b.grid_probability >= 0.5))),
    }


# ------------------------------------------------------------------------ figures
def plot_curves(hand: Run, toolkit: Run, path: Path, subtitle: str) -> Path:
    """Loss and accuracy per epoch, train and dev, for both runs (they coincide)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.3), layout="constrained")
    loss_axes, score_axes = figure.subplots(1, 2)
    epochs = np.arange(1, len(hand.train_loss) + 1)
    for axes, key, label in ((loss_axes, "loss", "BCE loss"), (score_axes, "accuracy", "accuracy")):
        for split, colour in (("train", "#e4007f"), ("dev", "#2563eb")):
            axes.plot(epochs, getattr(hand, f"{split}_{key}"), color=colour, linewidth=3.5, alpha=0.45,
                      label=f"{split} — hand-built graph")  # fmt: skip
            axes.plot(epochs, getattr(toolkit, f"{split}_{key}"), color=colour, linewidth=1.2, linestyle="--",
                      label=f"{split} — toolkit")  # fmt: skip
        axes.axvline(
            hand.best_epoch,
            color="#6b7280",
            linewidth=1,
            linestyle=":",
            label=f"best dev accuracy (epoch {hand.best_epoch})",
        )
        axes.set_xlabel("epoch (one full-batch gradient step each)")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
    loss_axes.set_title("Loss")
    score_axes.set_title("Accuracy (output ≥ 0.5 → class 1)")
    loss_axes.legend(loc="upper right", fontsize=8)
    score_axes.legend(loc="lower right", fontsize=8)
    figure.suptitle(f"Moons, 2-5-1 Logistic network: thick = hand-built graph, dashed = toolkit ({subtitle})")
    figure.savefig(path, dpi=100)
    return path


def plot_boundary(hand: Run, toolkit: Run, splits: dict[str, Split], path: Path, resolution: int) -> Path:
    """The best model's decision boundary over the tutorial's grid, with the three splits."""
    from graphdl.viz.plots import plot_decision_boundary

    agree = "agree" if np.array_equal(hand.grid_probability >= 0.5, toolkit.grid_probability >= 0.5) else "DISAGREE"
    figure = plot_decision_boundary(
        hand.predict,
        splits,
        bounds=GRID_BOUNDS,
        resolution=resolution,
        class_names=["class 0 (outer moon)", "class 1 (inner moon)"],
        title=(
            f"Best model (epoch {hand.best_epoch}): test accuracy {hand.test_accuracy:.3f}\n"
            f"{resolution}×{resolution} = {resolution**2:,} grid points; hand-built and toolkit {agree}"
        ),
    )
    figure.savefig(path, dpi=100, facecolor="white")
    return path


# --------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="moons points, split 64/16/20 %% (default 1000)")
    parser.add_argument("--noise", type=float, default=0.5, help="standard deviation of the moons noise (0.5)")
    parser.add_argument("--epochs", type=int, default=1000, help="full-batch gradient steps (default 1000)")
    parser.add_argument(
        "--lr", type=positive_float, default=0.2, help="learning rate (default 0.2; the tutorial's first run: 2.0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the initial weights")
    parser.add_argument("--grid", type=int, default=200, help="grid points per axis for the boundary (200² = 40 000)")
    parser.add_argument("--out", type=Path, default=None, help="directory for moons_curves.png and moons_boundary.png")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if args.samples < 20:
        parser.error("--samples must be at least 20 (every split needs points)")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if not (args.noise >= 0 and math.isfinite(args.noise)):
        parser.error("--noise must be a non-negative number")
    if args.grid < 2:
        parser.error("--grid must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train both networks from the same weights, compare them, print and plot."""
    args = parse_args(argv)
    splits = make_splits(args.samples, args.noise, args.seed)
    init = initial_weights(args.seed)
    grid = grid_points(args.grid)
    sizes = "/".join(str(len(y)) for _, y in splits.values())
    print(f"moons: {args.samples} points, noise {args.noise}, train/dev/test {sizes}; 2-5-1 Logistic network, BCE")
    print(f"full-batch gradient descent: lr {args.lr}, {args.epochs} epochs, weights N(0, 1), biases 0")

    runs = [
        train_hand_built(init, splits, args.lr, args.epochs, grid),
        train_toolkit(init, splits, args.lr, args.epochs, grid),
    ]
    for run in runs:
        print(
            f"{run.name}: best dev accuracy {run.dev_accuracy[run.best_epoch - 1]:.4f} at epoch {run.best_epoch}, "
            f"final train loss {run.train_loss[-1]:.4f}, final train accuracy {run.train_accuracy[-1]:.4f}"
        )
        print(f"{run.name}: test accuracy {run.test_accuracy:.4f} (loss {run.test_loss:.4f})")
    hand, toolkit = runs
    differences = largest_differences(hand, toolkit)
    agree = (
        differences["parameters"] < 1e-9
        and differences["losses"] < 1e-9
        and differences["accuracies"] == 0.0
        and hand.best_epoch == toolkit.best_epoch
    )
    print("largest difference between the runs: " + ", ".join(f"{k} {v:.1e}" for k, v in differences.items()))
    print(f"the two runs agree: {'yes' if agree else 'no'}")
    print(f"the tutorial reports test accuracy {TUTORIAL_TEST_ACCURACY:.2f} (its own data and initial weights)")
    summary = {
        "settings": run_settings(args),
        **{
            key: {
                "best_epoch": run.best_epoch,
                "best_dev_accuracy": run.dev_accuracy[run.best_epoch - 1],
                "test_accuracy": run.test_accuracy,
                "test_loss": run.test_loss,
            }
            for key, run in (("hand_built", hand), ("toolkit", toolkit))
        },
        "largest_differences": differences,
        "agree": agree,
    }
    save_results(args, RESULTS, summary)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        subtitle = f"noise {args.noise}, lr {args.lr}, seed {args.seed}"
        for path in (
            plot_curves(hand, toolkit, args.out / "moons_curves.png", subtitle),
            plot_boundary(hand, toolkit, splits, args.out / "moons_boundary.png", args.grid),
        ):
            print(f"wrote {path}")
    return {"hand": hand, "toolkit": toolkit, "differences": differences, "agree": agree, "splits": splits}


if __name__ == "__main__":
    main()
