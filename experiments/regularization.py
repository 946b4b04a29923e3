"""Under-fitting, over-fitting, weight decay and dropout, trained with graphdl.

Repeats sections 4.4-4.6 of the multilayer-perceptron tutorial and chapter 3 of the
optimisation tutorial (docs/sources.md) with graphdl's toolkit (``nn.Dense``,
``nn.DropoutLayer``, ``optim.SGD``/``Adam``, ``train.Trainer``, squared or logistic loss).
The train and test losses are the tutorial's ``evaluate_loss``: ``Trainer.evaluate`` on the
whole set (dropout off) after epoch 1, every 20 epochs (§4.4) or every 5 (§4.5 and the
dropout runs) and after the last.

1. **Polynomial features (§4.4).** y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε,
   ε ~ N(0, 0.1²), x ~ N(0, 1); features xⁱ/i! for i = 0…19; 100 training and 100
   test samples. A linear model without bias (the constant feature is the bias), torch's
   default init U(±1/√k), mean squared loss, SGD lr 0.01, batches of 10, 400 epochs,
   fitted on the first 4 features (the tutorial's "normal"), the first 2 ("under-fitting":
   the model cannot represent the cubic) and all 20 ("over-fitting", 1500 epochs; all as
   in the tutorial, including its 100 training samples for this run). The script prints
   whether the 20-feature run over-fits by the tutorial's own criterion (train loss clearly
   below test loss), and why: how far the high-order weights moved from their random start
   and how many test x lie outside the training range.
2. **Weight decay (§4.5, the concise version).** y = 0.01·Σxᵢ + 0.05 + ε with
   d = 200 inputs, ε ~ N(0, 0.01²), only 20 training samples (100 test); w and b drawn
   from N(0, 1); mean squared loss, SGD lr 0.003, batches of 5, 100 epochs, weight decay
   λ = 0 and λ = 3 on the weights only (``decay_params=``: the bias is not decayed, as in
   the tutorial's parameter groups). ``weight_decay=λ`` adds λ·w to the gradient, i.e. it is
   the gradient of the tutorial's penalty λ/2·‖w‖². ``--lambdas`` takes up to 10 different
   values, each gets its own panel and colour. The λ runs go through ``graphdl.sweep``
   (``--workers N`` runs them on N processes); every λ gets the same data, initial weights
   and shuffles (drawn from ``--seed`` alone), so the runs differ by λ only.
3. **Dropout (§4.6, and §3.1 of the optimisation tutorial).** First the optimisation
   tutorial's demonstration: with dropout p = 0.8 on the 5×15 input of y = Σ x·w, the kept
   inputs are scaled by 1/(1 − p) = 5 and the weights whose inputs were all dropped get a
   zero gradient. Then the tutorial's net shape (two ReLU hidden layers, dropout 0.2 after
   the first and 0.5 after the second, linear output) on a task small enough for scalar
   nodes: 40 noisy two-moons points (noise 0.35; 300 test points), 20 units per hidden
   layer, logistic loss, full-batch Adam lr 0.01, 300 epochs, with and without the dropout
   layers. The Trainer draws fresh masks every step and evaluates with masks of 1.

Run (the three figures go into DIR)::

    PYTHONPATH=. python experiments/regularization.py --out viz

Prints the numbers of all three parts and writes them to DIR/regularization.json with
``--out DIR`` (``--write-results``: experiments/results/regularization.json; the README
quotes them); writes DIR/regularization_polynomial.png, DIR/regularization_weight_decay.png
and DIR/regularization_dropout.png.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import graphdl
from graphdl import Add, Mul, Variable, datasets, init, nn, optim
from graphdl.cli import positive_int
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.train import Trainer

TRUE_POLY_WEIGHTS = np.array([5.0, 1.2, -3.4, 5.6])
MAX_DEGREE = 20  # features x^0/0! … x^19/19!
POLY_FITS = {"normal": 4, "under-fitting": 2, "over-fitting": MAX_DEGREE}  # the seed's labels
HIGH_ORDER = 8  # x^8/8! … x^19/19! are < 0.03 for |x| < 2.4: SGD barely moves their weights
OVERFIT_RATIO = 1.5  # "train loss clearly below test loss": test/train at least this
MAX_LAMBDAS = 10  # one colour each from matplotlib's tab10
WEIGHT_DECAY_STREAM = 2  # the λ runs' own random stream of --seed, apart from the other parts' draws
DROPOUT1, DROPOUT2 = 0.2, 0.5  # the seed's drop probabilities after hidden layers 1 and 2
LOGIT_SHADE = 3.0  # the boundary plots shade logits clipped to ±3 (probabilities 0.05 … 0.95)
RESULTS = Path(__file__).resolve().parent / "results" / "regularization.json"


# ---------------------------------------------------------------------------- helpers
class LossLog:
    """Trainer callback: the mean loss on the whole training and test sets in evaluation
    mode (``Trainer.evaluate``, dropout off; the tutorial's ``evaluate_loss``) after epoch 1,
    every ``every`` epochs and after the last one, with ‖w‖ of ``weights`` at the same epochs."""

    def __init__(
        self,
        train: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        weights: Sequence[Variable] = (),
        every: int = 1,
    ) -> None:
        self.data = {"train": train, "test": test}
        self.weights = list(weights)
        self.every = every
        self.epochs: list[int] = []  # 1-based epochs at which the losses were recorded
        self.losses: dict[str, list[float]] = {"train": [], "test": []}
        self.weight_norm: list[float] = []

    def _record(self, trainer: Trainer, epoch: int) -> None:
        self.epochs.append(epoch)
        for part, data in self.data.items():
            self.losses[part].append(trainer.evaluate(data)["loss"])
        if self.weights:
            self.weight_norm.append(weight_norm(self.weights))

    def on_epoch(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if epoch == 1 or epoch % self.every == 0:  # the Trainer counts epochs from 1
            self._record(trainer, epoch)

    def on_fit_end(self, trainer: Trainer, history: Any) -> None:
        if history.epochs and self.epochs[-1] != history.epochs[-1]:
            self._record(trainer, history.epochs[-1])


def weight_norm(weights: Sequence[Variable]) -> float:
    """‖w‖₂ of scalar weight Variables."""
    return float(np.sqrt(sum(float(w.value) ** 2 for w in weights)))


def linear_model(n_in: int, bias: bool, name: str = "linear") -> tuple[nn.Model, nn.Dense]:
    """A one-output linear model ``Σ xᵢ·wᵢ (+ b)`` over input Variables ``x[i]``."""
    inputs = [Variable(name=f"x[{i}]", trainable=False) for i in range(n_in)]
    dense = nn.Dense(n_in, 1, None, name, bias=bias, init="zeros")
    return nn.Model(inputs, dense(inputs), modules=[dense]), dense


# ------------------------------------------------------------ 1. polynomial features
def polynomial_data(n_train: int, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's data: x ~ N(0, 1), features xⁱ/i! (i < 20), labels from the true
    cubic plus N(0, 0.1²) noise. Returns (x, features (N, 20), labels)."""
    x = rng.normal(size=n_train + n_test)
    factorials = np.array([math.gamma(i + 1) for i in range(MAX_DEGREE)])
    features = x[:, None] ** np.arange(MAX_DEGREE) / factorials
    labels = features[:, :4] @ TRUE_POLY_WEIGHTS + rng.normal(scale=0.1, size=len(x))
    return x, features, labels


def fit_polynomial(
    features: np.ndarray, labels: np.ndarray, n_train: int, n_features: int, epochs: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Fit the first ``n_features`` features as the tutorial does; returns the per-epoch
    train/test losses and the weights."""
    model, dense = linear_model(n_features, bias=False)
    bound = 1.0 / math.sqrt(n_features)  # torch.nn.Linear's default initialisation
    init.uniform(dense, -bound, bound, rng=rng)
    initial_weights = np.array([float(w.value) for w in dense.weights])
    train = (features[:n_train, :n_features], labels[:n_train])
    test = (features[n_train:, :n_features], labels[n_train:])
    log = LossLog(train, test, every=20)  # the seed evaluates after epoch 1 and every 20
    trainer = Trainer(model, optim.SGD(model, lr=0.01), loss="mse", progress=False)
    trainer.fit(train, epochs=epochs, batch_size=10, seed=int(rng.integers(2**31)), callbacks=[log])
    return {
        "epochs": np.array(log.epochs),
        "train_loss": np.array(log.losses["train"]),
        "test_loss": np.array(log.losses["test"]),
        "weights": np.array([float(w.value) for w in dense.weights]),
        "initial_weights": initial_weights,
        "predict": trainer.predict,
    }


def overfitting_check(poly: dict[str, dict[str, Any]], x: np.ndarray, n_train: int) -> dict[str, Any]:
    """Does the 20-feature fit over-fit (the tutorial's criterion: train loss clearly below
    test loss, here test/train ≥ ``OVERFIT_RATIO``), and the facts that explain it: how far
    the weights of the high powers moved from their random start and how far the test x
    reach beyond the training x, where those barely-trained powers take over."""
    fit, normal = poly["over-fitting"], poly["normal"]
    ratio = float(fit["test_loss"][-1] / fit["train_loss"][-1])
    train_x, test_x = x[:n_train], x[n_train:]
    moved = np.abs(fit["weights"] - fit["initial_weights"])
    return {
        "ratio": ratio,
        "normal_ratio": float(normal["test_loss"][-1] / normal["train_loss"][-1]),
        "overfits": ratio >= OVERFIT_RATIO,
        "high_order_moved": float(moved[HIGH_ORDER:].max()),
        "train_max_abs_x": float(np.abs(train_x).max()),
        "high_order_max_feature": float(np.abs(train_x).max() ** HIGH_ORDER / math.factorial(HIGH_ORDER)),
        "test_max_abs_x": float(np.abs(test_x).max()),
        "test_outside": int(np.sum((test_x < train_x.min()) | (test_x > train_x.max()))),
    }


# --------------------------------------------------------------------- 2. weight decay
def weight_decay_data(
    n_train: int, n_test: int, n_inputs: int, rng: np.random.Generator
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """d2l's ``synthetic_data``: X ~ N(0, 1), y = X·0.01 + 0.05 + N(0, 0.01²)."""

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, n_inputs))
        return X, X @ np.full(n_inputs, 0.01) + 0.05 + rng.normal(scale=0.01, size=n)

    return draw(n_train), draw(n_test)


def fit_weight_decay(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    lam: float,
    epochs: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """The tutorial's ``train_concise(wd)``: w, b ~ N(0, 1), SGD lr 0.003 with weight decay
    ``lam`` on the weights only, batches of 5."""
    model, dense = linear_model(train[0].shape[1], bias=True)
    init.normal(model, rng=rng)  # the seed's param.data.normal_() for w and b
    sgd = optim.SGD(model, lr=0.003, weight_decay=lam, decay_params=dense.weights)
    log = LossLog(train, test, dense.weights, every=5)  # the seed: every 5 epochs
    trainer = Trainer(model, sgd, loss="mse", progress=False)
    trainer.fit(train, epochs=epochs, batch_size=5, seed=int(rng.integers(2**31)), callbacks=[log])
    return {
        "epochs": np.array(log.epochs),
        "train_loss": np.array(log.losses["train"]),
        "test_loss": np.array(log.losses["test"]),
        "weight_norm": np.array(log.weight_norm),
        "bias": float(dense.biases[0].value),
    }


def weight_decay_run(seed: int, lam: float, epochs: int = 100) -> dict[str, Any]:
    """One λ of the weight-decay sweep (the trial ``graphdl.sweep`` runs), drawn from ``seed``
    alone: every λ gets the same data and the same initial weights and shuffles, so the runs
    differ by λ only."""
    rng = np.random.default_rng([seed, WEIGHT_DECAY_STREAM])
    train, test = weight_decay_data(20, 100, 200, rng)
    fit = fit_weight_decay(train, test, lam, epochs, rng)
    return {name: value.tolist() if isinstance(value, np.ndarray) else value for name, value in fit.items()}


def weight_decay_sweep(lambdas: Sequence[float], epochs: int, seed: int, workers: int) -> dict[float, dict[str, Any]]:
    """``{λ: fit}`` for every λ through ``graphdl.sweep``, on ``workers`` processes."""
    records = graphdl.sweep(
        weight_decay_run,
        grid={"lam": list(lambdas), "epochs": [epochs]},
        seeds=[seed],
        executor="processes" if workers > 1 else None,
        workers=workers,
        out=None,
        progress=False,
    )
    decay = {}
    for record in records:
        if "error" in record:
            raise RuntimeError(f"the run with λ = {record['point']['lam']} raised: {record['error']['traceback']}")
        metrics = record["metrics"]
        decay[record["point"]["lam"]] = {
            name: np.asarray(value) if isinstance(value, list) else value for name, value in metrics.items()
        }
    return decay


# --------------------------------------------------------------------------- 3. dropout
def dropout_gradients(rng: np.random.Generator, p: float = 0.8) -> dict[str, np.ndarray]:
    """The optimisation tutorial's §3.1: y = Σ x·w over 15 integer inputs (0-9), 5 samples; the gradient of
    Σ_samples y with respect to w, without dropout and with dropout ``p`` on the inputs
    (a DropoutLayer, masks drawn as the Trainer draws them). Returns both gradients,
    ``x`` and the ``masks`` (5, 15)."""
    x = rng.integers(0, 10, size=(5, 15)).astype(float)
    start = rng.normal(size=15)
    result = {"x": x}
    for label in ("without", "with"):
        inputs = [Variable(x[:, i], name=f"x[{i}]", trainable=False) for i in range(15)]
        weights = [Variable(float(v), name=f"w[{i}]") for i, v in enumerate(start)]
        nodes: list[Any] = inputs
        if label == "with":
            layer = nn.DropoutLayer(p, name="drop")
            nodes = layer(inputs)
            masks = nn.draw_masks(nn.dropout_nodes(nodes), len(x), rng)
            for mask, values in masks.items():
                mask.set_value(values)
            result["masks"] = np.stack([masks[mask] for mask in layer.masks], axis=1)
        y = Add([Mul([node, w]) for node, w in zip(nodes, weights)], name="y")
        y.backward()  # gradients of the batch mean; × 5 gives the seed's y.sum()
        result[label] = np.array([float(w.grad) for w in weights]) * len(x)
    return result


def dropout_net(hidden: int, use_dropout: bool, rng: np.random.Generator) -> nn.Model:
    """The seed's Net: Linear-ReLU-[Dropout 0.2]-Linear-ReLU-[Dropout 0.5]-Linear, on 2 inputs."""
    inputs = [Variable(name=f"x[{i}]", trainable=False) for i in range(2)]
    fc1 = nn.Dense(2, hidden, "relu", "fc1", rng=rng)
    fc2 = nn.Dense(hidden, hidden, "relu", "fc2", rng=rng)
    fc3 = nn.Dense(hidden, 1, None, "fc3", rng=rng)
    modules: list[nn.Module] = [fc1]
    nodes = fc1(inputs)
    if use_dropout:
        drop1 = nn.DropoutLayer(DROPOUT1, "drop1")
        nodes = drop1(nodes)
        modules.append(drop1)
    nodes = fc2(nodes)
    modules.append(fc2)
    if use_dropout:
        drop2 = nn.DropoutLayer(DROPOUT2, "drop2")
        nodes = drop2(nodes)
        modules.append(drop2)
    modules.append(fc3)
    return nn.Model(inputs, fc3(nodes), modules=modules)


def fit_dropout(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    use_dropout: bool,
    hidden: int,
    epochs: int,
    seed: int,
) -> dict[str, Any]:
    """Train the net (same initial weights with and without dropout) full-batch with Adam."""
    model = dropout_net(hidden, use_dropout, np.random.default_rng(seed))
    log = LossLog(train, test, every=5)  # as in §4.5; evaluating every epoch would cost ~4 s more
    trainer = Trainer(model, optim.Adam(model, lr=0.01), loss="bce_logits", progress=False)
    history = trainer.fit(train, epochs=epochs, batch_size=None, seed=seed, callbacks=[log])
    return {
        "epochs": np.array(log.epochs),
        "train_loss": np.array(log.losses["train"]),
        "test_loss": np.array(log.losses["test"]),
        "noisy_train_loss": np.array(history.train_loss),  # during training, with dropout masks
        "test_accuracy": float(np.mean((trainer.predict(test[0]) >= 0.0) == test[1])),
        "predict": trainer.predict,
    }


# ----------------------------------------------------------------------------- figures
def _loss_axes(ax: Any, fit: dict[str, Any], title: str, colour: str = "tab:blue") -> None:
    """A fit's recorded train (solid) and test (dashed) losses against the epoch, log scale."""
    ax.semilogy(fit["epochs"], fit["train_loss"], color=colour, lw=1.8, label="train")
    ax.semilogy(fit["epochs"], fit["test_loss"], color=colour, lw=1.8, ls="--", label="test")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3, which="both")


def plot_polynomial(
    fits: dict[str, dict[str, Any]], x: np.ndarray, labels: np.ndarray, n_train: int, path: Path
) -> None:
    """Train/test loss per epoch for the three fits, and the fitted curves."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7.5), layout="constrained")
    axes = figure.subplots(2, 2)
    colours = {"normal": "tab:green", "under-fitting": "tab:orange", "over-fitting": "tab:red"}
    for ax, (name, fit) in zip(axes.flat, fits.items()):
        title = f"{name}: first {POLY_FITS[name]} features"
        if "overfitting_check" in fit:
            check = fit["overfitting_check"]
            verdict = "over-fits" if check["overfits"] else "does not over-fit in this draw"
            title = f"the tutorial's '{name}': first {POLY_FITS[name]} features\n"
            title += f"final test/train loss {check['ratio']:.2f}: {verdict}"
        _loss_axes(ax, fit, title, colours[name])
        ax.set_ylim(1e-3, 1e2)  # the seed's axes
        ax.set_ylabel("mean squared error (log)")
        ax.axhline(0.01, color="grey", lw=0.8, ls=":", label="noise variance 0.01")
        ax.legend(loc="center right" if name == "under-fitting" else "upper right")
    ax = axes[1, 1]
    grid = np.linspace(-3.0, 3.0, 200)
    factorials = np.array([math.gamma(i + 1) for i in range(MAX_DEGREE)])
    grid_features = grid[:, None] ** np.arange(MAX_DEGREE) / factorials
    ax.scatter(x[:n_train], labels[:n_train], s=10, color="black", alpha=0.6, label="training samples")
    ax.plot(grid, grid_features[:, :4] @ TRUE_POLY_WEIGHTS, color="grey", lw=4, alpha=0.5, label="true cubic")
    for name, fit in fits.items():
        curve = fit["predict"](grid_features[:, : POLY_FITS[name]])
        ax.plot(grid, curve, color=colours[name], lw=1.6, label=f"{name} fit")
    ax.set_ylim(labels.min() - 5, labels.max() + 5)
    ax.set_title("fitted functions")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    figure.suptitle("MLP tutorial §4.4: a linear model on the polynomial features xⁱ/i! (SGD, lr 0.01, batch 10)")
    figure.savefig(path, dpi=100)


def plot_weight_decay(fits: dict[float, dict[str, Any]], path: Path) -> Any:
    """Train/test loss per epoch for each λ (one panel each), and ‖w‖ per epoch; returns the figure."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.3 * (len(fits) + 1) + 0.4, 4.2), layout="constrained")
    axes = figure.subplots(1, len(fits) + 1)
    if len(fits) > MAX_LAMBDAS:
        raise ValueError(f"plot_weight_decay draws at most {MAX_LAMBDAS} values of λ, got {len(fits)}")
    colours = [colormaps["tab10"](i) for i in range(len(fits))]
    for ax, (lam, fit), colour in zip(axes[:-1], fits.items(), colours, strict=True):
        _loss_axes(ax, fit, f"λ = {lam:g}", colour)
        ax.set_ylabel("mean squared error (log)")
        ax.legend()
    ax = axes[-1]
    for (lam, fit), colour in zip(fits.items(), colours, strict=True):
        ax.plot(fit["epochs"], fit["weight_norm"], color=colour, lw=1.8, label=f"λ = {lam:g}")
    ax.set_title("size of the weights")
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖w‖₂ (the bias is not decayed)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    figure.suptitle("MLP tutorial §4.5: weight decay, d = 200 inputs, 20 training samples (SGD lr 0.003, batch 5)")
    figure.savefig(path, dpi=100)
    return figure


def plot_dropout(
    fits: dict[str, dict[str, Any]],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    path: Path,
) -> None:
    """Loss curves with and without dropout, and each net's decision boundary
    (``plot_decision_boundary`` on the logits, boundary at logit 0)."""
    from matplotlib.figure import Figure

    from graphdl.viz.plots import plot_decision_boundary

    figure = Figure(figsize=(15, 4.8), layout="constrained")
    axes = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1, 1]})
    colours = {"without dropout": "tab:red", "with dropout": "tab:blue"}
    ax = axes[0]
    for name, fit in fits.items():
        ax.semilogy(fit["epochs"], fit["train_loss"], color=colours[name], lw=1.8, label=f"{name}: train")
        ax.semilogy(fit["epochs"], fit["test_loss"], color=colours[name], lw=1.8, ls="--", label=f"{name}: test")
    ax.set_title("logistic loss (evaluated with dropout off)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("logistic loss (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=9)
    every = np.concatenate([train[0], test[0]])
    low, high = every.min(axis=0) - 0.3, every.max(axis=0) + 0.3
    for ax, (name, fit) in zip(axes[1:], fits.items()):
        plot_decision_boundary(
            lambda points, predict=fit["predict"]: np.clip(predict(points), -LOGIT_SHADE, LOGIT_SHADE),
            {"test": test, "train": train},
            bounds=(low[0], high[0], low[1], high[1]),
            resolution=150,
            threshold=0.0,  # the net outputs logits: class 1 where the logit is >= 0
            feature_names=("x₁", "x₂"),
            title=f"{name}: test accuracy {fit['test_accuracy']:.2f}",
            axes=ax,
        )
        ax.get_legend().set_loc("lower left")  # the upper right holds class-0 points
    figure.suptitle(
        f"MLP tutorial §4.6: dropout {DROPOUT1} and {DROPOUT2} after the two ReLU layers, "
        f"{len(train[0])} noisy moons training points\n"
        f"(shading: the net's logit, red > 0 > blue, full colour from ±{LOGIT_SHADE:g}; "
        "black line: the decision boundary, logit 0)"
    )
    figure.savefig(path, dpi=100)


# -------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the three experiments, print their numbers and (with --out) write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poly-epochs", type=positive_int, default=400, help="epochs for the 4- and 2-feature fits")
    parser.add_argument("--overfit-epochs", type=positive_int, default=1500, help="epochs for the 20-feature fit")
    parser.add_argument("--wd-epochs", type=positive_int, default=100, help="epochs of the weight-decay runs")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.0, 3.0], help="weight-decay strengths λ")
    parser.add_argument("--dropout-epochs", type=positive_int, default=300, help="epochs of the dropout runs")
    parser.add_argument("--hidden", type=positive_int, default=20, help="units per hidden layer of the dropout net")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, initial weights and shuffling")
    parser.add_argument("--out", type=Path, default=None, help="directory for the three PNG figures")
    parser.add_argument("--workers", type=positive_int, default=1, help="processes for the λ sweep")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if any(lam < 0 for lam in args.lambdas):
        parser.error("--lambdas must be >= 0")
    if len(set(args.lambdas)) != len(args.lambdas):
        parser.error(f"--lambdas must be different values, got {' '.join(f'{lam:g}' for lam in args.lambdas)}")
    if len(args.lambdas) > MAX_LAMBDAS:
        parser.error(f"--lambdas takes at most {MAX_LAMBDAS} values (one panel and colour each)")
    rng = np.random.default_rng(args.seed)

    print("== polynomial features (MLP tutorial §4.4): true weights", TRUE_POLY_WEIGHTS.tolist())
    x, features, labels = polynomial_data(100, 100, rng)
    poly: dict[str, dict[str, Any]] = {}
    for name, k in POLY_FITS.items():
        epochs = args.overfit_epochs if k == MAX_DEGREE else args.poly_epochs
        fit = poly[name] = fit_polynomial(features, labels, 100, k, epochs, rng)
        print(
            f"{name} ({k} features, {epochs} epochs): train loss {fit['train_loss'][-1]:.4g}, "
            f"test loss {fit['test_loss'][-1]:.4g}"
        )
        print(f"  fitted weights: {np.round(fit['weights'][:4], 3).tolist()}", end="")
        extra = fit["weights"][4:]
        print(f", the other {len(extra)} sum to |w| = {np.abs(extra).sum():.3g}" if len(extra) else "")
    check = poly["over-fitting"]["overfitting_check"] = overfitting_check(poly, x, 100)
    verdict = (
        "it over-fits (train loss clearly below test loss)"
        if check["overfits"]
        else "it does NOT over-fit in this draw (the seed's criterion: train loss clearly below test loss)"
    )
    print(f"  test/train loss ratio {check['ratio']:.3g} (4 features: {check['normal_ratio']:.3g}): {verdict}")
    print(
        f"  the weights of x^{HIGH_ORDER}/{HIGH_ORDER}! … x^{MAX_DEGREE - 1}/{MAX_DEGREE - 1}! moved at most "
        f"{check['high_order_moved']:.2g} from their random start (on the training x, |x| <= "
        f"{check['train_max_abs_x']:.2f}, x^{HIGH_ORDER}/{HIGH_ORDER}! <= {check['high_order_max_feature']:.2g} "
        f"and the higher powers are smaller); {check['test_outside']} test x lie outside the training range, "
        f"the largest |x| is {check['test_max_abs_x']:.2f}"
    )

    print("== weight decay (MLP tutorial §4.5): d = 200 inputs, 20 training samples")
    decay = weight_decay_sweep(args.lambdas, args.wd_epochs, args.seed, args.workers)
    for lam, fit in decay.items():
        print(
            f"lambda = {lam:g}: train loss {fit['train_loss'][-1]:.4g}, test loss {fit['test_loss'][-1]:.4g}, "
            f"L2 norm of w {fit['weight_norm'][-1]:.4g}"
        )

    print("== dropout (optimisation tutorial §3.1): gradient of w in y = sum(x · w), 5 samples × 15 inputs")
    demo = dropout_gradients(rng)
    print(f"  without dropout: {demo['without'].round(3).tolist()}")
    print(f"  with dropout p = 0.8 (kept inputs × 5): {demo['with'].round(3).tolist()}")
    zeros = [int(np.sum(np.abs(demo[label]) < 1e-12)) for label in ("without", "with")]
    print(f"  zero gradients: {zeros[0]} of 15 without dropout, {zeros[1]} of 15 with dropout")

    print(f"== dropout (MLP tutorial §4.6): 40 noisy moons, hidden {args.hidden}-{args.hidden}, Adam, full batch")
    X, y = datasets.make_moons(340, noise=0.35, seed=args.seed)
    moons_train, moons_test = (X[:40], y[:40]), (X[40:], y[40:])
    drop: dict[str, dict[str, Any]] = {}
    init_seed = int(rng.integers(2**31))
    for name, use in (("without dropout", False), ("with dropout", True)):
        fit = drop[name] = fit_dropout(moons_train, moons_test, use, args.hidden, args.dropout_epochs, init_seed)
        gap = fit["test_loss"][-1] - fit["train_loss"][-1]
        print(
            f"{name}: train loss {fit['train_loss'][-1]:.4g}, test loss {fit['test_loss'][-1]:.4g}, "
            f"gap {gap:.4g}, test accuracy {fit['test_accuracy']:.3f}"
        )
    settings = run_settings(args, "workers")
    summary = {
        "settings": settings,
        "polynomial": {
            name: {
                "train_loss": fit["train_loss"][-1],
                "test_loss": fit["test_loss"][-1],
                "weights": fit["weights"][:4],
            }
            for name, fit in poly.items()
        },
        "overfitting_check": {key: check[key] for key in ("ratio", "normal_ratio", "overfits", "high_order_moved")},
        "weight_decay": {
            f"{lam:g}": {"train_loss": fit["train_loss"][-1], "test_loss": fit["test_loss"][-1]}
            for lam, fit in decay.items()
        },
        "dropout_zero_gradients": {"without": zeros[0], "with": zeros[1]},
        "dropout": {
            name: {
                "train_loss": fit["train_loss"][-1],
                "test_loss": fit["test_loss"][-1],
                "gap": fit["test_loss"][-1] - fit["train_loss"][-1],
                "test_accuracy": fit["test_accuracy"],
            }
            for name, fit in drop.items()
        },
    }
    save_results(args, RESULTS, summary)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        paths = [args.out / f"regularization_{part}.png" for part in ("polynomial", "weight_decay", "dropout")]
        plot_polynomial(poly, x, labels, 100, paths[0])
        plot_weight_decay(decay, paths[1])
        plot_dropout(drop, moons_train, moons_test, paths[2])
        for path in paths:
            print(f"wrote {path}")
    return {"polynomial": poly, "weight_decay": decay, "dropout_gradients": demo, "dropout": drop}


if __name__ == "__main__":
    main()
