"""Dead ReLU: with every bias at −8 no ReLU ever fires, so every weight gradient is exactly 0.

Repeats the 死亡 ReLU (dead ReLU) experiment of seed 000 with the network of its
vanishing-gradient section (``experiments/vanishing_gradients.py``): a 2-3-3-3-3-1 MLP with
ReLU hidden layers and a Sigmoid output, binary cross-entropy, weights ~ N(0, 0.01²),
one full-batch gradient on the first 640 points of ``make_moons(1000, noise=0.5)``;
only the biases change, from 1 to −8. Each pre-activation is then about −8 (the tiny
weights cannot lift it above 0), every hidden ReLU outputs 0 with derivative 0 on every
sample, and no gradient reaches any weight: the seed prints 0.0 for all five layers
and notes that the parameters can never be updated. Its remedy is LeakyReLU (the
seed's paddle default slope 0.01): the derivative is 0.01 instead of 0, so every
gradient is non-zero — though tiny in the first layers, since each layer multiplies
the signal by 0.01 and by a weight of about 0.01 (the seed says so too).

    PYTHONPATH=. python experiments/dead_relu.py --out viz

Measured with the defaults (data seed 0, weight seed 102; about 3 s of CPU, mostly Graphviz drawing):

    relu, biases -8: layer 1 weight-gradient norm 0 (exactly), layer 2 0 (exactly), ...
                     layer 5 0 (exactly)
    ReLU, biases -8: 36 of 36 weight gradients and 12 of 12 hidden-bias gradients are exactly 0
    ReLU, biases -8: 12 of 12 hidden units are dead (derivative 0 on all 640 samples)
    leaky_relu, biases -8: layer 1 weight-gradient norm 1.9e-16, layer 2 1.0e-13, layer 3 8.4e-10, ...
                           layer 4 6.0e-06, layer 5 6.8e-02
    LeakyReLU (slope 0.01), biases -8: 36 of 36 weight gradients and 12 of 12 hidden-bias gradients
                           are non-zero, largest |weight gradient| 3.9e-02

(the output bias fc5.b[0] gets −0.49 in both runs: it feeds the Sigmoid output
directly, without a hidden unit in between). The seed's paddle run printed 0.0 for
every ReLU layer and 2.3e-16, 1.9e-13, 1.7e-09, 1.2e-05, 0.070 for LeakyReLU.

Writes DIR/dead_relu_graph.png (the ReLU net's graph, every dead unit greyed, values and
gradients shown) and DIR/dead_relu.png (log-scale bars of the per-layer norms: LeakyReLU
bars, ReLU marked "exactly 0", which a log scale cannot draw).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

# the seed's net, data, options and pictures: this experiment is the vanishing-gradient one with biases -8
from vanishing_gradients import (
    batch_gradient_norms,
    build_net,
    check_net_args,
    moons_batch,
    net_parser,
    norms_text,
    plot_layer_norms,
    render_net_graph,
)

from graphdl.viz.style import is_dead


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = net_parser(__doc__.splitlines()[0], bias=-8.0)
    parser.add_argument("--slope", type=float, default=0.01, help="LeakyReLU's negative slope (paddle's default 0.01)")
    args = parser.parse_args(argv)
    check_net_args(parser, args)
    if not 0 < args.slope < 1:
        parser.error("--slope must be between 0 and 1")
    return args


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
    X, y = moons_batch(args)
    setting = f"biases {args.bias:g}"

    norms: dict[str, list[float]] = {}
    results: dict[str, Any] = {"norms": norms}
    for activation, options in (("relu", None), ("leaky_relu", {"negative_slope": args.slope})):
        model, head = build_net(activation, args.bias, args.std, args.seed, options)
        norms[activation] = batch_gradient_norms(model, head, X, y)
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

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        relu = results["relu"]
        heading = "Dead ReLU" if relu["zero_weight_grads"] == len(relu["weight_grads"]) else "ReLU vs LeakyReLU"
        path = plot_layer_norms(
            norms,
            labels={"relu": "ReLU", "leaky_relu": f"LeakyReLU (slope {args.slope:g})"},
            colours={"relu": "#6b7280", "leaky_relu": "#0d9488"},
            title=(
                f"{heading}: one full-batch gradient on {args.train} moons,"
                f" w ~ N(0, {args.std:g}²), every bias {args.bias:g}"
            ),
            path=args.out / "dead_relu.png",
        )
        print(f"wrote {path}")
        title = graph_title(args.bias, len(X), results["relu"])
        path = render_net_graph(results["relu_loss"], args.out / "dead_relu_graph.png", title, show_values=True)
        print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
