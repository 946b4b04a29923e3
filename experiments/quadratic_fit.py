"""Fit y = x² on [0, 2] with a two-unit LeakyReLU network built node by node.

This is the script of the tutorial graphdl grew from ("ReLU and fitting a quadratic",
see docs/sources.md): every node is created and connected by hand, with the tutorial's
names, and trained one sample at a time with plain SGD on the loss |label − prediction|.

    PYTHONPATH=. python experiments/quadratic_fit.py --init fig8 --out out/

Initialisations (``--init``):

* ``fig8``: the values of the tutorial's figure 8, the fit it expected.
* ``fig7``: figure 8's values with w_11 and w_12 lowered by 0.3 (the tutorial's figure 7),
  which the tutorial says needs over 10 000 steps and bends the curve another way.
* ``random``: U(−1, 1) for every parameter, as the tutorial's first version. Random
  starts sometimes fail, more often with ``--relu`` (plain ReLU), as the tutorial
  warns: a ReLU unit whose pre-activation is negative on all of [0, 2] never learns
  again. The parameters come from ``init_rng(seed)``, a stream independent of the data's;
  ``experiments/init_sensitivity.py`` measures this over many starts.

Prints the loss every 100 steps and, at the end, "mean loss of the last 100 steps: X";
writes the numbers to ``--results`` (default experiments/results/quadratic_fit.json). With
``--out DIR`` it writes DIR/quadratic_loss.png (loss per step) and DIR/quadratic_fit.png
(the fitted curve against x²).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphdl import Add, LeakyRelu, Mul, Relu, ValueLoss, Variable
from graphdl.results import write_results
from graphdl.tutorial_net import FIG7_INIT, FIG8_INIT, init_rng, quadratic_data
from graphdl.viz.plots import plot_loss

REPORT_EVERY = 100
FIT_THRESHOLD = 0.15  # a running mean of the loss below this counts as fitted
RESULTS = Path(__file__).resolve().parent / "results" / "quadratic_fit.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fit y = x² on [0, 2] with the tutorial's node-by-node network.")
    parser.add_argument("--init", choices=["fig8", "fig7", "random"], default="fig8", help="initial parameters")
    parser.add_argument("--steps", type=int, default=1500, help="training samples, one SGD step each (default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data (and of --init random)")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--relu", action="store_true", help="plain ReLU instead of LeakyReLU(0.1)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the loss and fit PNGs")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="JSON file for the numbers (default: experiments/results/quadratic_fit.json)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Build, train and (with ``--out``) plot. Returns the losses and final parameters."""
    args = parse_args(argv)
    Activation = Relu if args.relu else LeakyRelu

    # 1.1 first linear map. x is data, not a parameter: the tutorial used a plain
    # Variable() for it, which in graphdl would make it trainable; trainable=False
    # tells optimisers and Graph.parameters() to leave it alone and spares backward()
    # computing a gradient nobody uses.
    x = Variable(name="x", trainable=False)
    w_11 = Variable(name="w_11")
    w_12 = Variable(name="w_12")
    mul_11 = Mul([x, w_11], name="mul_11")
    mul_12 = Mul([x, w_12], name="mul_12")
    b_11 = Variable(name="b_11")
    b_12 = Variable(name="b_12")
    add_11 = Add([mul_11, b_11], name="add_11")
    add_12 = Add([mul_12, b_12], name="add_12")
    # 1.2 the activation: the non-linear part
    relu_11 = Activation([add_11], name="relu_11")
    relu_12 = Activation([add_12], name="relu_12")
    # 1.3 second linear map
    w_21 = Variable(name="w_21")
    w_22 = Variable(name="w_22")
    mul_21 = Mul([relu_11, w_21], name="mul_21")
    mul_22 = Mul([relu_12, w_22], name="mul_22")
    b_21 = Variable(name="b_21")
    add_21 = Add([mul_21, mul_22, b_21], name="add_21")
    # 1.4 the loss: |label - prediction|
    label = Variable(name="label", trainable=False)
    loss = ValueLoss([label, add_21], name="loss")

    # 2 initial parameters
    params = [w_11, w_12, b_11, b_12, w_21, w_22, b_21]
    if args.init == "random":
        values = init_rng(args.seed).uniform(-1.0, 1.0, size=len(params)).tolist()
    else:
        values = FIG8_INIT if args.init == "fig8" else FIG7_INIT
    for param, value in zip(params, values):
        param.set_value(value)
    print(f"init {args.init}:", [round(param.value, 4) for param in params])

    # 3 data: x ~ U(0, 2), label = x²
    data_x, data_label = quadratic_data(args.steps, seed=args.seed)

    # 4 training: one sample per step, every parameter updated with the gradient of
    # the same point, then clear() before the next sample
    losses = []
    for i in range(len(data_x)):
        x.set_value(data_x[i])
        label.set_value(data_label[i])
        loss.forward()
        for param in params:
            param.get_grad()
            param.update(lr=args.lr)
        if i % REPORT_EVERY == 0:
            print(f"[{i}] loss={loss.value:.4f}", [round(param.value, 4) for param in params])
        losses.append(loss.value)
        loss.clear()

    last = losses[-REPORT_EVERY:]
    print(f"mean loss of the last {len(last)} steps: {np.mean(last):.4f}")
    running = np.convolve(losses, np.ones(REPORT_EVERY) / REPORT_EVERY, mode="valid")
    below = np.flatnonzero(running < FIT_THRESHOLD)
    steps_to_fit = int(below[0]) + REPORT_EVERY if below.size else None
    reached = f"after {steps_to_fit} steps" if steps_to_fit is not None else "never"
    print(f"mean of the last {REPORT_EVERY} losses first below {FIT_THRESHOLD}: {reached}")
    results = {
        "settings": {key: value for key, value in vars(args).items() if key not in ("out", "results")},
        "last_100_mean": float(np.mean(last)),
        "steps_to_fit": steps_to_fit,
        "params": {param.name: param.value for param in params},
    }
    print(f"results written: {write_results(args.results, results)}")

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        # the fitted curve: one forward pass over a batch of x values
        show_x = np.linspace(0.0, 2.0, 201)
        x.set_value(show_x)
        fitted = add_21.forward()
        title = f"init {args.init}, {'ReLU' if args.relu else 'LeakyReLU'}, {args.steps} steps, lr {args.lr}"
        loss_path, fit_path = args.out / "quadratic_loss.png", args.out / "quadratic_fit.png"
        ylabel = "|label − prediction|"
        plot_loss(
            losses, smooth=REPORT_EVERY, xlabel="step (one sample each)", ylabel=ylabel, title=title, path=loss_path
        )
        plot_fit(show_x, fitted, fit_path, title)
        for path in (loss_path, fit_path):
            print(f"wrote {path}")
    return {"losses": losses, "params": {param.name: param.value for param in params}}


def plot_fit(show_x: np.ndarray, fitted: np.ndarray, path: Path, title: str) -> Path:
    """The network's output against y = x² on [0, 2]."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4.5), layout="constrained")
    axes = figure.subplots()
    axes.plot(show_x, show_x**2, color="black", linewidth=2, label="y = x²")
    axes.plot(show_x, fitted, color="tab:orange", linewidth=2, linestyle="--", label="network")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main()
