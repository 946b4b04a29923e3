"""Seven activation functions and their derivatives, all computed by graphdl itself.

Repeats the activation-function sections of the feed-forward and multilayer-perceptron
tutorials (docs/sources.md): Logistic, Tanh, ReLU,
LeakyReLU, ELU, Softplus, Swish). For each activation the script builds a two-node graph
``x -> activation``, sets a whole grid of x values on ``x`` as one batch and runs one
forward pass (the curve) and one gradient sweep (the derivative).

A batch gradient is the gradient of the batch MEAN of the output, so for an input
holding N samples ``x.get_grad(out)`` is d out_i / d x_i divided by N: multiplying by N
gives the derivative at every grid point.

    PYTHONPATH=. python experiments/activations.py --out out/

Prints, per activation, the value and derivative at x = 0 and the largest derivative on the
grid, writes them to DIR/activations.json with ``--out DIR`` (``--write-results``:
experiments/results/activations.json) and, with ``--out DIR``,
DIR/activation_derivatives.png (one panel per activation).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphdl import Elu, LeakyRelu, Relu, Sigmoid, Softplus, Swish, Tanh
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.viz.plots import activation_curve

RESULTS = Path(__file__).resolve().parent / "results" / "activations.json"

ACTIVATIONS: dict[str, tuple[type, dict[str, float]]] = {
    "Logistic": (Sigmoid, {}),
    "Tanh": (Tanh, {}),
    "ReLU": (Relu, {}),
    "LeakyReLU (slope 0.1)": (LeakyRelu, {"negative_slope": 0.1}),
    "ELU (alpha 1)": (Elu, {"alpha": 1.0}),
    "Softplus": (Softplus, {}),
    "Swish": (Swish, {}),
}


def curve_and_derivative(name: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (f(grid), f'(grid)) for activation ``name``, both computed by graphdl
    (``graphdl.viz.plots.activation_curve``: one batch forward pass and one ``get_grad``)."""
    op_class, options = ACTIVATIONS[name]
    return activation_curve(op_class, grid, **options)


def main(argv: Sequence[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Compute every activation and its derivative on a grid; print a summary and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low", type=float, default=-4.0, help="left end of the x grid")
    parser.add_argument("--high", type=float, default=4.0, help="right end of the x grid")
    parser.add_argument("--points", type=int, default=401, help="number of grid points")
    parser.add_argument("--out", type=Path, default=None, help="directory for activation_derivatives.png")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if not (math.isfinite(args.low) and math.isfinite(args.high) and args.low < args.high):
        parser.error(f"need finite --low < --high, got [{args.low}, {args.high}]")
    if args.points < 2:
        parser.error(f"--points must be at least 2, got {args.points}")

    grid = np.linspace(args.low, args.high, args.points)
    zero = np.array([0.0])
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    summary: dict[str, dict[str, float]] = {}
    for name in ACTIVATIONS:
        results[name] = curve_and_derivative(name, grid)
        f0, d0 = curve_and_derivative(name, zero)
        summary[name] = {"value_at_0": f0[0], "derivative_at_0": d0[0], "largest_derivative": results[name][1].max()}
        print(
            f"{name}: value at 0 = {f0[0]:.4f}, derivative at 0 = {d0[0]:.4f}, "
            f"largest derivative on [{args.low:g}, {args.high:g}] = {results[name][1].max():.4f}"
        )
    settings = run_settings(args)
    save_results(args, RESULTS, {"settings": settings, "activations": summary})

    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        args.out.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
        for ax, (name, (values, derivative)) in zip(axes.flat, results.items()):
            ax.plot(grid, values, color="tab:blue", lw=2, label="f(x)")
            ax.plot(grid, derivative, color="tab:orange", lw=2, ls="--", label="f'(x)")
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.set_title(name)
            ax.set_xlabel("x")
            ax.grid(alpha=0.3)
        axes.flat[-1].axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        axes.flat[-1].legend(handles, labels, loc="center", fontsize=13, title="computed by graphdl")
        fig.suptitle("Activation functions (solid) and their derivatives (dashed)")
        fig.tight_layout()
        path = args.out / "activation_derivatives.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"figure written: {path}")
    return results


if __name__ == "__main__":
    main()
