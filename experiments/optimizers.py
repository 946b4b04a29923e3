"""SGD, Momentum, AdaGrad, RMSProp and Adam side by side, and the exponentially weighted average.

Repeats chapter 2 of the optimisation tutorial (docs/sources.md; 2.1 the exponentially
weighted average of 30 daily temperatures with β = 0.5 and 0.9; 2.2-2.5 Momentum,
AdaGrad, RMSProp, Adam) and the optimiser part of its chapter 5 (a tabular classifier with
Sigmoid hidden layers and cross-entropy, trained in batches of 8 for 50 epochs, where the
tutorial's SGD run gets 0.5475 and its Adam run 0.9625); the LSTM tutorial says the same:
Adam does better than SGD. Three experiments:

1. **The exponentially weighted average** (the tutorial's §2.1). The 30 temperatures are
   the tutorial's own, ``torch.manual_seed(0); torch.randn(30) * 10``, shipped in
   ``experiments/data/temperatures.txt``. s₁ = T₁, s_t = β·s_{t−1} + (1 − β)·T_t. The
   same numbers come out of ``graphdl.optim.Momentum``: feed each day's temperature as
   the gradient of a probe parameter (loss = w · T, so ∂loss/∂w = T) and read the
   optimiser's velocity; it equals the tutorial's loop exactly.
2. **A 2-D loss surface** f(x, y) = x²/20 + y², the elongated bowl of the textbook
   comparison (Saito, *Deep Learning from Scratch*, §6.1), built as a graphdl graph of
   two Variables. Every optimiser starts at (−7, 2) and takes 100 steps with its own
   learning rate (SGD 0.95, AdaGrad 1.5 and Adam 0.3 as in the book; Momentum 0.3 and
   RMSProp 0.2 chosen by hand, because graphdl's Momentum follows the tutorial, s₁ = g₁ and
   s_t = β·s_{t−1} + (1 − β)·g_t, so its step is lr·(average gradient)). SGD zig-zags
   across the narrow y direction, Momentum rolls past the minimum and swings back,
   AdaGrad and RMSProp first go straight down the steep y direction (each coordinate
   gets its own step size), RMSProp keeps hovering around the minimum (its step never
   shrinks), Adam curves in with a small overshoot.
3. **The same network trained five times** (the tutorial's chapter 5). Its phone-price
   table is not shipped, so Fisher's iris (graphdl.datasets.iris: 4 measurements, 3
   species) stands in, split 80/20 stratified and standardised. The net is the tutorial's
   first model scaled down: Linear-Sigmoid, Linear-Sigmoid, Linear (4-8-8-3),
   cross-entropy, batches of 8, 50 epochs, the same initial weights and the same batch
   order for every optimiser, one learning rate for all (0.01). The tutorial changed four
   things at once between its runs (SGD to Adam, lr 1e-3 to 1e-4, standardisation, a
   deeper net); here only the optimiser changes.

    PYTHONPATH=. python experiments/optimizers.py --out viz

Prints the numbers of all three and writes them to DIR/optimizers.json with ``--out DIR``
(``--write-results``: experiments/results/optimizers.json; the README quotes them). Writes
DIR/optimizers.png (trajectories on the surface and f per step), DIR/optimizers_mlp.png
(loss curves of the five runs, test accuracy) and DIR/ewa.png (raw and smoothed temperatures
with Momentum's velocity on top).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import Mul, Variable, datasets, nn, optim
from graphdl.cli import positive_float
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

OPTIMIZER_NAMES = ("SGD", "Momentum", "AdaGrad", "RMSProp", "Adam")
COLOURS = {"SGD": "#dc2626", "Momentum": "#ea580c", "AdaGrad": "#16a34a", "RMSProp": "#2563eb", "Adam": "#7c3aed"}
#: learning rates on the 2-D surface (SGD, AdaGrad and Adam as in Saito's comparison)
SURFACE_LR = {"SGD": 0.95, "Momentum": 0.3, "AdaGrad": 1.5, "RMSProp": 0.2, "Adam": 0.3}
SURFACE_START = (-7.0, 2.0)
CONVERGED = 1e-3  # f(x, y) below this counts as having reached the minimum
TEMPERATURES = Path(__file__).resolve().parent / "data" / "temperatures.txt"
RESULTS = Path(__file__).resolve().parent / "results" / "optimizers.json"


# ----------------------------------------------------------------------------- 1. EWA
def tutorial_temperatures() -> np.ndarray:
    """The tutorial's 30 daily temperatures (``torch.manual_seed(0); torch.randn(30) * 10``)."""
    return np.loadtxt(TEMPERATURES, comments="#")


def exponentially_weighted_average(values: np.ndarray, beta: float) -> np.ndarray:
    """The tutorial's loop: the first average is the first value, then s_t = β·s_{t−1} + (1 − β)·y_t."""
    averages = [float(values[0])]
    for value in values[1:]:
        averages.append(averages[-1] * beta + (1 - beta) * float(value))
    return np.array(averages)


def momentum_velocity(values: np.ndarray, beta: float) -> np.ndarray:
    """Feed ``values`` to ``graphdl.optim.Momentum`` as successive gradients and return its
    velocity after each step. The graph is loss = w · T with the day's temperature T as
    data, so ∂loss/∂w = T."""
    temperature = Variable(name="T", trainable=False)
    probe = Variable(0.0, name="w")
    loss = Mul([probe, temperature], name="loss")
    optimizer = optim.Momentum([probe], lr=1.0, beta=beta)
    velocities = []
    for value in values:
        temperature.set_value(float(value))  # a new point: every cached value and grad is dropped
        loss.backward()
        optimizer.step()
        velocities.append(float(optimizer.state["velocity"][0]))
    return np.array(velocities)


# ------------------------------------------------------------------------ 2. surface
def surface_value(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """f(x, y) = x²/20 + y² on numpy arrays (for the contour lines)."""
    return x**2 / 20.0 + y**2


def descend_surface(name: str, lr: float, steps: int) -> dict[str, Any]:
    """Minimise f(x, y) = x²/20 + y², built as a graphdl graph of two Variables, with
    optimiser ``name`` from :data:`SURFACE_START`. Returns the path (steps + 1, 2), f at
    every point and the number of steps until f < :data:`CONVERGED` (None if never)."""
    x, y = Variable(SURFACE_START[0], name="x"), Variable(SURFACE_START[1], name="y")
    f = x * x / 20 + y * y
    optimizer = optim.OPTIMIZERS[name]([x, y], lr=lr)
    path = [(x.value, y.value)]
    values = [float(f.forward())]
    for _ in range(steps):
        f.backward()
        optimizer.step()
        f.clear()  # step() keeps the old point's caches; read f at the new point
        path.append((x.value, y.value))
        values.append(float(f.forward()))
    values_array = np.array(values)
    below = np.nonzero(values_array < CONVERGED)[0]
    return {
        "lr": lr,
        "path": np.array(path),
        "values": values_array,
        "steps_to_converge": int(below[0]) if below.size else None,
    }


# --------------------------------------------------------------------------- 3. MLP
def stratified_split(
    X: np.ndarray, y: np.ndarray, train_fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split keeping each class's share (the tutorial's ``train_test_split(..., stratify=y)``)."""
    rng = np.random.default_rng(seed)
    train_rows, test_rows = [], []
    for label in np.unique(y):
        rows = rng.permutation(np.nonzero(y == label)[0])
        cut = round(train_fraction * len(rows))
        train_rows.append(rows[:cut])
        test_rows.append(rows[cut:])
    train_index, test_index = np.sort(np.concatenate(train_rows)), np.sort(np.concatenate(test_rows))
    return (X[train_index], y[train_index]), (X[test_index], y[test_index])


def iris_problem(seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Iris split 80/20 (stratified) and standardised with the training set's mean and std."""
    X, y = datasets.iris()
    (X_train, y_train), (X_test, y_test) = stratified_split(X, y, 0.8, seed)
    train, test = datasets.standardise((X_train, y_train), (X_test, y_test))
    return train, test


def train_classifier(
    name: str,
    lr: float,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    hidden: Sequence[int],
    epochs: int,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """Train Linear-Sigmoid-…-Linear with cross-entropy and optimiser ``name``. The weights
    come from ``seed`` and the batches are shuffled with ``seed``: every optimiser starts
    from the same point and sees the same batches."""
    n_classes = int(np.max(train[1])) + 1
    model = nn.MLP(train[0].shape[1], [*hidden, n_classes], activation="sigmoid", rng=seed)
    initial_parameters = np.array([p.value for p in model.parameters()])
    trainer = Trainer(
        model, optim.OPTIMIZERS[name](model, lr=lr), loss="cross_entropy", metric="accuracy", progress=False
    )
    initial_loss = trainer.evaluate(train)["loss"]
    history = trainer.fit(train, epochs=epochs, batch_size=batch_size, seed=seed)
    return {
        "lr": lr,
        "initial_parameters": initial_parameters,
        "initial_loss": initial_loss,
        "train_loss": np.array(history.train_loss),
        "train_accuracy": history.train_metric[-1],
        "test_accuracy": trainer.evaluate(test)["accuracy"],
    }


# ------------------------------------------------------------------------- figures
def plot_ewa(temperatures: np.ndarray, ewa: dict[float, dict[str, np.ndarray]], path: Path) -> None:
    """Raw temperatures and their EWA for each β, with Momentum's velocity on top."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0 * len(ewa), 4.4), layout="constrained")
    days = np.arange(1, len(temperatures) + 1)
    axes = figure.subplots(1, len(ewa), sharey=True, squeeze=False)[0]
    for ax, (beta, curves) in zip(axes, ewa.items()):
        ax.plot(days, temperatures, color="#9ca3af", linewidth=0.8, zorder=1)
        ax.scatter(days, temperatures, color="#1f77b4", s=22, zorder=2, label="daily temperature (the tutorial's data)")
        ax.plot(
            days,
            curves["ewa"],
            color="#dc2626",
            linewidth=2.2,
            zorder=3,
            label="exponentially weighted average (the tutorial's loop)",
        )
        ax.plot(
            days,
            curves["momentum"],
            linestyle="none",
            marker="o",
            markersize=8,
            markerfacecolor="none",
            markeredgecolor="black",
            zorder=4,
            label="velocity of graphdl.optim.Momentum",
        )
        ax.axhline(0.0, color="black", linewidth=0.5, alpha=0.4)
        ax.set_title(f"β = {beta:g}: each day weighs {1 - beta:g}, yesterday's average {beta:g}")
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("temperature (torch.randn × 10, seed 0)")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
    figure.suptitle("Exponentially weighted average of 30 temperatures: larger β, smoother and later")
    figure.savefig(path, dpi=100, facecolor="white")


def plot_surface(runs: dict[str, dict[str, Any]], path: Path) -> None:
    """One contour panel per optimiser with its path, and f per step for all of them."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(15.0, 7.4), layout="constrained")
    axes = figure.subplots(2, 3)
    grid_x, grid_y = np.meshgrid(np.linspace(-10, 10, 241), np.linspace(-5, 5, 161))
    levels = np.geomspace(0.02, 25, 11)
    for ax, (name, run) in zip(axes.flat, runs.items()):
        ax.contour(grid_x, grid_y, surface_value(grid_x, grid_y), levels=levels, colors="#9ca3af", linewidths=0.7)
        points = run["path"]
        ax.plot(*SURFACE_START, marker="*", color="black", markersize=13, linestyle="none")
        ax.plot(0, 0, marker="+", color="black", markersize=14, markeredgewidth=1.5, linestyle="none")
        ax.plot(points[:, 0], points[:, 1], "-o", color=COLOURS[name], markersize=3, linewidth=1.2)
        steps = run["steps_to_converge"]
        reached = f"f < {CONVERGED:g} after {steps} steps" if steps is not None else f"f ≥ {CONVERGED:g} throughout"
        ax.set_title(f"{name} (lr {run['lr']:g}): {reached}")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_aspect("equal")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    ax = axes.flat[len(runs)]
    for name, run in runs.items():
        ax.semilogy(run["values"], color=COLOURS[name], linewidth=1.8, label=f"{name} (lr {run['lr']:g})")
    ax.axhline(CONVERGED, color="black", linestyle=":", linewidth=1, label=f"f = {CONVERGED:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x, y)  (log scale)")
    ax.set_title("f along each path")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    steps = len(next(iter(runs.values()))["path"]) - 1
    figure.suptitle(
        f"Five optimisers on f(x, y) = x²/20 + y² (grey contours), {steps} steps each "
        "from ★ (−7, 2) towards the minimum + at (0, 0)"
    )
    figure.savefig(path, dpi=100, facecolor="white")


def plot_classifier(runs: dict[str, dict[str, Any]], test_labels: np.ndarray, description: str, path: Path) -> None:
    """Training loss per epoch of the five runs in one plot, and their test accuracy."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13.0, 4.8), layout="constrained")
    loss_ax, accuracy_ax = figure.subplots(1, 2, width_ratios=[2.0, 1.0])
    for name, run in runs.items():
        epochs = np.arange(0, len(run["train_loss"]) + 1)
        curve = np.concatenate([[run["initial_loss"]], run["train_loss"]])
        style = "--" if name == "Momentum" else "-"  # Momentum lies almost on SGD
        loss_ax.semilogy(epochs, curve, style, color=COLOURS[name], linewidth=2, label=f"{name} (lr {run['lr']:g})")
    loss_ax.set_xlabel("epoch (0: before training)")
    loss_ax.set_ylabel("cross-entropy, mean over the epoch (log scale)")
    loss_ax.set_title("Training loss: same net, same initial weights, same batches")
    loss_ax.grid(alpha=0.3, which="both")
    loss_ax.legend()
    names = list(runs)
    accuracies = [runs[name]["test_accuracy"] for name in names]
    bars = accuracy_ax.bar(names, accuracies, color=[COLOURS[name] for name in names])
    for bar, value in zip(bars, accuracies):
        accuracy_ax.text(bar.get_x() + bar.get_width() / 2, value + 0.01, f"{value:.3f}", ha="center", va="bottom")
    chance = 1.0 / len(np.unique(test_labels))
    accuracy_ax.axhline(chance, color="black", linestyle=":", linewidth=1, label=f"chance (1/{round(1 / chance)})")
    accuracy_ax.legend(loc="upper left", fontsize=8.5)
    accuracy_ax.set_ylim(0, 1.15)
    accuracy_ax.set_ylabel("test accuracy")
    accuracy_ax.set_title("Accuracy on the held-out 20%")
    accuracy_ax.tick_params(axis="x", labelsize=9)
    figure.suptitle(description)
    figure.savefig(path, dpi=100, facecolor="white")


# ---------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[0.5, 0.9], help="β values of the EWA demo")
    parser.add_argument("--surface-steps", type=int, default=100, help="steps on the 2-D surface (default 100)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs of the classifier (default 50, as the tutorial)")
    parser.add_argument(
        "--lr", type=positive_float, default=0.01, help="learning rate of every classifier run (default 0.01)"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="batch size (default 8, as the tutorial)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[8, 8], help="hidden layer widths (default 8 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the batch order")
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNGs")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if not all(0.0 <= beta < 1.0 for beta in args.betas):
        parser.error(f"--betas must lie in [0, 1), got {args.betas}")
    for flag, value in (("--surface-steps", args.surface_steps), ("--epochs", args.epochs)):
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    if args.batch_size < 1 or min(args.hidden) < 1:
        parser.error("--batch-size and --hidden widths must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the three experiments, print their numbers, write the figures with ``--out``."""
    args = parse_args(argv)

    print("1. Exponentially weighted average of the tutorial's 30 temperatures")
    temperatures = tutorial_temperatures()
    print("   temperatures:", " ".join(f"{t:.2f}" for t in temperatures))
    ewa: dict[float, dict[str, np.ndarray]] = {}
    for beta in args.betas:
        seed_loop = exponentially_weighted_average(temperatures, beta)
        velocity = momentum_velocity(temperatures, beta)
        ewa[beta] = {"ewa": seed_loop, "momentum": velocity}
        roughness = float(np.abs(np.diff(seed_loop)).mean())
        print(
            f"   beta {beta:g}: last average {seed_loop[-1]:.4f}, mean day-to-day change {roughness:.3f} "
            f"(raw data {np.abs(np.diff(temperatures)).mean():.3f}); "
            f"largest difference from Momentum's velocity: {np.abs(seed_loop - velocity).max():.3g}"
        )

    print(f"2. f(x, y) = x^2/20 + y^2 from (-7, 2), {args.surface_steps} steps")
    surface: dict[str, dict[str, Any]] = {}
    for name in OPTIMIZER_NAMES:
        run = surface[name] = descend_surface(name, SURFACE_LR[name], args.surface_steps)
        steps = run["steps_to_converge"]
        reached = f"f < {CONVERGED:g} after {steps} steps" if steps is not None else f"f never below {CONVERGED:g}"
        print(
            f"   {name:8s} (lr {run['lr']:g}): {reached}; f after {args.surface_steps} steps = {run['values'][-1]:.2e}"
        )

    hidden = "-".join(str(width) for width in args.hidden)
    print(
        f"3. Iris, 4-{hidden}-3 Sigmoid net, cross-entropy, batch {args.batch_size}, "
        f"{args.epochs} epochs, lr {args.lr:g}"
    )
    train, test = iris_problem(args.seed)
    classifier: dict[str, dict[str, Any]] = {}
    for name in OPTIMIZER_NAMES:
        run = classifier[name] = train_classifier(
            name, args.lr, train, test, args.hidden, args.epochs, args.batch_size, args.seed
        )
        print(
            f"   {name:8s}: training loss {run['initial_loss']:.4f} before, {run['train_loss'][-1]:.4f} in the last "
            f"epoch; test accuracy {run['test_accuracy']:.3f}"
        )
    summary = {
        "settings": run_settings(args),
        "ewa": {
            f"{beta:g}": {
                "last_average": runs["ewa"][-1],
                "largest_difference_from_momentum": np.abs(runs["ewa"] - runs["momentum"]).max(),
            }
            for beta, runs in ewa.items()
        },
        "surface": {
            name: {"lr": run["lr"], "steps_to_converge": run["steps_to_converge"], "final_value": run["values"][-1]}
            for name, run in surface.items()
        },
        "classifier": {
            name: {
                "initial_loss": run["initial_loss"],
                "last_epoch_loss": run["train_loss"][-1],
                "test_accuracy": run["test_accuracy"],
            }
            for name, run in classifier.items()
        },
    }
    save_results(args, RESULTS, summary)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        paths = [args.out / "ewa.png", args.out / "optimizers.png", args.out / "optimizers_mlp.png"]
        plot_ewa(temperatures, ewa, paths[0])
        plot_surface(surface, paths[1])
        description = (
            f"Iris ({len(train[0])} train / {len(test[0])} test), 4-{hidden}-3 Sigmoid net, cross-entropy, "
            f"batch {args.batch_size}, {args.epochs} epochs, lr {args.lr:g} for every optimiser"
        )
        plot_classifier(classifier, test[1], description, paths[2])
        for path in paths:
            print(f"figure written: {path}")
    return {"temperatures": temperatures, "ewa": ewa, "surface": surface, "classifier": classifier}


if __name__ == "__main__":
    main()
