"""Dead ReLU: with every bias at −8 no ReLU ever fires, so every weight gradient is exactly 0.

Repeats the dead-ReLU experiment of the feed-forward network tutorial (docs/sources.md)
with the network of its vanishing-gradient section (``experiments/vanishing_gradients.py``):
a 2-3-3-3-3-1 MLP with ReLU hidden layers and a Sigmoid output, binary cross-entropy,
weights ~ N(0, 0.01²), one full-batch gradient on the first 640 points of
``make_moons(1000, noise=0.5)``; only the biases change, from 1 to −8. Each pre-activation
is then about −8 (the tiny weights cannot lift it above 0), every hidden ReLU outputs 0
with derivative 0 on every sample, and no gradient reaches any weight: the tutorial prints
0.0 for all five layers and notes that the parameters can never be updated. Its remedy is
LeakyReLU (PyTorch's default slope 0.01, which the tutorial uses): the derivative is 0.01
instead of 0, so every gradient is non-zero — though tiny in the first layers, since each layer multiplies the
signal by 0.01 and by a weight of about 0.01 (the tutorial says so too). The output bias
gets the same gradient in both runs: it feeds the Sigmoid output directly, without a
hidden unit in between.

    PYTHONPATH=. python experiments/dead_relu.py --out viz

Prints the per-layer norms and how many gradients are exactly 0 and units dead; writes them
to DIR/dead_relu.json with ``--out DIR`` (``--write-results``:
experiments/results/dead_relu.json; the README quotes them). Writes DIR/dead_relu_graph.png
(the ReLU net's graph, every dead unit greyed, values and gradients shown) and
DIR/dead_relu.png (log-scale bars of the per-layer norms: LeakyReLU bars, ReLU marked
"exactly 0", which a log scale cannot draw).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import datasets, init, nn, viz
from graphdl.results import add_results_arguments, run_settings, save_results
from graphdl.viz.plots import plot_layer_norms
from graphdl.viz.style import is_dead

LAYER_SIZES = [3, 3, 3, 3, 1]  # the tutorial's fc1 … fc5 on 2 inputs
RESULTS = Path(__file__).resolve().parent / "results" / "dead_relu.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="moons generated (the tutorial: 1000)")
    parser.add_argument("--train", type=int, default=640, help="first points used as the batch (the tutorial: 640)")
    parser.add_argument("--noise", type=float, default=0.5, help="moons noise (the tutorial: 0.5)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the moons")
    parser.add_argument("--seed", type=int, default=102, help="seed of the weights (the tutorial's torch.seed(102))")
    parser.add_argument("--std", type=float, default=0.01, help="weights ~ N(0, std²) (the tutorial: 0.01)")
    parser.add_argument("--bias", type=float, default=-8.0, help="every bias (default -8)")
    parser.add_argument("--slope", type=float, default=0.01, help="LeakyReLU's negative slope (PyTorch's default 0.01)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the two PNGs")
    add_results_arguments(parser, RESULTS)
    args = parser.parse_args(argv)
    if args.samples < 2 or not 1 <= args.train <= args.samples:
        parser.error("need --samples >= 2 and 1 <= --train <= --samples")
    if args.noise < 0 or args.std <= 0:
        parser.error("--noise must be >= 0 and --std > 0")
    if not 0 < args.slope < 1:
        parser.error("--slope must be between 0 and 1")
    return args


def build_net(
    activation: str, bias: float, std: float, seed: int, options: dict[str, Any] | None = None
) -> tuple[nn.MLP, nn.LossHead]:
    """The tutorial's Model_MLP_L5: 2-3-3-3-3-1, ``activation`` (with ``options``) in the hidden
    layers, a Sigmoid output and binary cross-entropy; weights ~ N(0, std²), every bias = ``bias``."""
    model = nn.MLP(2, LAYER_SIZES, activation=activation, output_activation="sigmoid", activation_options=options)
    init.normal_weights(model, std=std, bias=bias, rng=np.random.default_rng(seed))
    return model, nn.attach_loss(model.outputs, "bce")


def norms_text(norms: Sequence[float]) -> str:
    """``layer 1 weight-gradient norm 0 (exactly), layer 2 …`` (exact zeros spelled out)."""
    texts = ["0 (exactly)" if norm == 0.0 else f"{norm:.1e}" for norm in norms]
    listed = ", ".join(f"layer {k} {text}" for k, text in enumerate(texts[1:], start=2))
    return f"layer 1 weight-gradient norm {texts[0]}, {listed}"


def zero_gradients_text(zero: int, total: int) -> str:
    """``every weight gradient is exactly 0`` / ``no weight gradient …`` / ``5 of 36 weight gradients …``."""
    if zero == total:
        return "every weight gradient is exactly 0"
    if zero == 0:
        return "no weight gradient is exactly 0"
    return f"{zero} of {total} weight gradients are exactly 0"


def graph_title(bias: float, samples: int, relu: dict[str, Any]) -> str:
    """The title of the ReLU net's graph, every claim in it from the measured ``relu`` counts."""
    dead, units = len(relu["dead_units"]), relu["hidden_units"]
    if dead:
        greyed = f"grey: {dead} of {units} hidden ReLUs dead on every sample (z < 0, so a = 0 and da/dz = 0)"
    else:
        greyed = f"none of the {units} hidden ReLUs is dead on every sample (nothing greyed)"
    zeros = zero_gradients_text(relu["zero_weight_grads"], len(relu["weight_grads"]))
    return (
        f"ReLU MLP 2-3-3-3-3-1 with every bias {bias:g}, one full-batch gradient on {samples} moons\n{greyed}: {zeros}"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """One gradient with ReLU and with LeakyReLU, biases −8; print, plot and draw it."""
    args = parse_args(argv)
    X, y = datasets.make_moons(args.samples, noise=args.noise, seed=args.data_seed)
    X, y = X[: args.train], y[: args.train]
    setting = f"biases {args.bias:g}"

    norms: dict[str, list[float]] = {}
    results: dict[str, Any] = {"norms": norms}
    for activation, options in (("relu", None), ("leaky_relu", {"negative_slope": args.slope})):
        model, head = build_net(activation, args.bias, args.std, args.seed, options)
        norms[activation] = nn.batch_weight_gradient_norms(model, head, X, y)
        print(f"{activation}, {setting}: {norms_text(norms[activation])}")
        hidden = model.layers[:-1]
        weights = [w for layer in model.layers for w in layer.weights]
        biases = [b for layer in hidden for b in layer.biases]
        units = [unit for layer in hidden for unit in layer.outputs]
        dead = [unit for unit in units if is_dead(unit)]
        weight_grads = np.array([float(w.grad) for w in weights])
        bias_grads = np.array([float(b.grad) for b in biases])
        zero_weights, zero_biases = int(np.sum(weight_grads == 0.0)), int(np.sum(bias_grads == 0.0))
        if activation == "relu":
            results["relu_loss"] = head.loss
            print(
                f"ReLU, {setting}: {zero_weights} of {len(weights)} weight gradients and {zero_biases} of"
                f" {len(biases)} hidden-bias gradients are exactly 0"
            )
            where = f"derivative 0 on all {len(X)} samples"
            print(f"ReLU, {setting}: {len(dead)} of {len(units)} hidden units are dead ({where})")
        else:
            largest = float(np.max(np.abs(weight_grads)))
            print(
                f"LeakyReLU (slope {args.slope:g}), {setting}: {len(weights) - zero_weights} of {len(weights)} weight"
                f" gradients and {len(biases) - zero_biases} of {len(biases)} hidden-bias gradients are non-zero,"
                f" largest |weight gradient| {largest:.1e}"
            )
        output_bias = model.layers[-1].biases[0]
        results[activation] = {
            "weight_grads": weight_grads,
            "hidden_bias_grads": bias_grads,
            "zero_weight_grads": zero_weights,
            "zero_hidden_bias_grads": zero_biases,
            "dead_units": [unit.name for unit in dead],
            "hidden_units": len(units),
            "output_bias_grad": float(output_bias.grad),
        }
    print(
        f"both: the output bias {output_bias.name} gets gradient {results['relu']['output_bias_grad']:.2f} (ReLU)"
        f" and {results['leaky_relu']['output_bias_grad']:.2f} (LeakyReLU): no hidden unit lies in its path"
    )
    summary: dict[str, Any] = {
        "settings": run_settings(args),
        "norms": norms,
    }
    for activation in ("relu", "leaky_relu"):
        run = results[activation]
        summary[activation] = {
            "weights": len(run["weight_grads"]),
            "zero_weight_grads": run["zero_weight_grads"],
            "hidden_biases": len(run["hidden_bias_grads"]),
            "zero_hidden_bias_grads": run["zero_hidden_bias_grads"],
            "hidden_units": run["hidden_units"],
            "dead_units": len(run["dead_units"]),
            "largest_weight_grad": float(np.max(np.abs(run["weight_grads"]))),
            "output_bias_grad": run["output_bias_grad"],
        }
    save_results(args, RESULTS, summary)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        relu = results["relu"]
        heading = "Dead ReLU" if relu["zero_weight_grads"] == len(relu["weight_grads"]) else "ReLU vs LeakyReLU"
        path = args.out / "dead_relu.png"
        plot_layer_norms(
            norms,
            labels={"relu": "ReLU", "leaky_relu": f"LeakyReLU (slope {args.slope:g})"},
            colours={"relu": "#6b7280", "leaky_relu": "#0d9488"},
            title=(
                f"{heading}: one full-batch gradient on {args.train} moons,"
                f" w ~ N(0, {args.std:g}²), every bias {args.bias:g}"
            ),
            path=path,
        )
        print(f"wrote {path}")
        title = graph_title(args.bias, len(X), results["relu"])
        path = args.out / "dead_relu_graph.png"
        # the whole scalar graph top to bottom, no layer boxes, so the layers line up as rows
        viz.render(
            results["relu_loss"], path, palette=128, show_values=True, rankdir="TB", cluster_separator=None, title=title
        )
        print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
