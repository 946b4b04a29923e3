"""Vanishing gradients: through five Sigmoid layers the first layer's gradient all but disappears.

Repeats the 梯度消失 (vanishing gradients) experiment of seed 000. The seed's
``Model_MLP_L5`` is a 2-3-3-3-3-1 MLP whose four hidden layers use one activation
(Sigmoid or ReLU) and whose output unit is a Sigmoid, trained with binary cross-entropy
on the first 640 points of ``make_moons(1000, noise=0.5)``. Every weight is drawn from
N(0, 0.01²) and every bias is 1. The seed takes ONE full-batch gradient and prints the
L2 norm of each layer's weight gradient; here the net is built with
``graphdl.nn.MLP`` (scalar nodes ``fc1.w[0,0]`` … ``fc5.a[0]``), the 640 points flow
through it as one batch and ``loss.backward()`` fills every node's gradient.

With Sigmoid, each layer multiplies the backward signal by a tiny weight (about 0.01)
and by σ'(z) ≈ σ'(1) ≈ 0.2, so the norm shrinks about 360-fold per layer and the first
layer gets almost nothing. ReLU's derivative is 1 where the unit is active (all units
are, since z ≈ 1), which removes the σ' factor: the shrinking is much slower, although
the tiny weights alone still shrink the signal about 80-fold per layer.

    PYTHONPATH=. python examples/vanishing_gradients.py --out viz

Measured with the defaults (data seed 0, weight seed 102; about 3 s of CPU, mostly Graphviz drawing):

    sigmoid: layer 1 weight-gradient norm 1.7e-11, layer 2 3.4e-09, layer 3 1.4e-06, ...
             layer 4 5.3e-04, layer 5 3.0e-01   (~363x smaller per layer going back)
    relu:    layer 1 weight-gradient norm 1.2e-08, layer 2 6.1e-07, layer 3 5.1e-05, ...
             layer 4 3.7e-03, layer 5 4.2e-01   (~78x smaller per layer going back)
    first layer: ReLU's weight-gradient norm is 665 times Sigmoid's

The seed's paddle run printed 6.9e-11, 1.6e-08, 4.8e-06, 1.5e-03, 0.29 (Sigmoid) and
4.7e-08, 3.0e-06, 1.7e-04, 1.1e-02, 0.40 (ReLU): the same orders of magnitude.

Writes DIR/vanishing_gradients.png (log-scale bars of the per-layer norms, Sigmoid vs
ReLU) and DIR/vanishing_graph.png (the Sigmoid net's graph: every node whose gradient
is below ``--threshold`` = 1e-7, over a million times smaller than the output layer's,
is filled violet: layers fc1 and fc2, the vanishing region of the network).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import datasets, init, nn, viz

ACTIVATIONS = ("sigmoid", "relu")
LAYER_SIZES = [3, 3, 3, 3, 1]  # the seed's fc1 … fc5 on 2 inputs


def build_net(
    activation: str, bias: float, std: float, seed: int, options: dict[str, Any] | None = None
) -> tuple[nn.MLP, nn.LossHead]:
    """The seed's Model_MLP_L5: 2-3-3-3-3-1, ``activation`` (with ``options``) in the hidden
    layers, a Sigmoid output and binary cross-entropy; weights ~ N(0, std²), every bias = ``bias``."""
    model = nn.MLP(2, LAYER_SIZES, activation=activation, output_activation="sigmoid", activation_options=options)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        init.normal(layer.weights, mean=0.0, std=std, rng=rng)
        init.constant(layer.biases, bias)
    return model, nn.attach_loss(model.outputs, "bce")


def weight_gradient_norms(model: nn.MLP, head: nn.LossHead, X: np.ndarray, y: np.ndarray) -> list[float]:
    """One full-batch gradient (mean loss over the rows of ``X``); the L2 norm of each
    layer's weight gradient, first layer first (the seed's ``print_grads``)."""
    for column, node in enumerate(model.inputs):
        node.set_value(X[:, column].copy())
    head.labels[0].set_value(y.astype(float))
    head.loss.backward()
    return list(model.weight_gradient_norms().values())


def net_parser(description: str, bias: float) -> argparse.ArgumentParser:
    """The options of the seed's net and data, shared with ``examples/dead_relu.py``
    (which takes the same net with other biases): --samples --train --noise --data-seed
    --seed --std --bias --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--samples", type=int, default=1000, help="moons generated (the seed: 1000)")
    parser.add_argument("--train", type=int, default=640, help="first points used as the batch (the seed: 640)")
    parser.add_argument("--noise", type=float, default=0.5, help="moons noise (the seed: 0.5)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the moons")
    parser.add_argument("--seed", type=int, default=102, help="seed of the weights (the seed's torch.seed(102))")
    parser.add_argument("--std", type=float, default=0.01, help="weights ~ N(0, std²) (the seed: 0.01)")
    parser.add_argument("--bias", type=float, default=bias, help=f"every bias (the seed: {bias:g})")
    parser.add_argument("--out", type=Path, default=None, help="directory for the two PNGs")
    return parser


def check_net_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (argparse error) data and weight options the experiment cannot run with."""
    if args.samples < 2 or not 1 <= args.train <= args.samples:
        parser.error("need --samples >= 2 and 1 <= --train <= --samples")
    if args.noise < 0 or args.std <= 0:
        parser.error("--noise must be >= 0 and --std > 0")


def moons_batch(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """The first ``--train`` points of ``make_moons(--samples, noise=--noise)``: the seed's batch."""
    X, y = datasets.make_moons(args.samples, noise=args.noise, seed=args.data_seed)
    return X[: args.train], y[: args.train]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = net_parser(__doc__.splitlines()[0], bias=1.0)
    parser.add_argument("--threshold", type=float, default=1e-7, help="gradients below this are drawn as vanishing")
    args = parser.parse_args(argv)
    check_net_args(parser, args)
    if args.threshold <= 0:
        parser.error("--threshold must be > 0")
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    """Take one gradient with Sigmoid and with ReLU; print, plot and draw the per-layer norms."""
    args = parse_args(argv)
    X, y = moons_batch(args)

    norms: dict[str, list[float]] = {}
    loss_nodes = {}
    for activation in ACTIVATIONS:
        model, head = build_net(activation, args.bias, args.std, args.seed)
        norms[activation] = weight_gradient_norms(model, head, X, y)
        loss_nodes[activation] = head.loss
        listed = ", ".join(f"layer {k} {norm:.1e}" for k, norm in enumerate(norms[activation][1:], start=2))
        print(f"{activation}: layer 1 weight-gradient norm {norms[activation][0]:.1e}, {listed}")
    for activation in ACTIVATIONS:
        first, last = norms[activation][0], norms[activation][-1]
        shrink = last / first
        per_layer = shrink ** (1 / (len(LAYER_SIZES) - 1))
        print(
            f"{activation}: from layer 5 back to layer 1 the norm shrinks {shrink:.1e}-fold, ~{per_layer:.0f}x a layer"
        )
    ratio = norms["relu"][0] / norms["sigmoid"][0]
    print(f"first layer: ReLU's weight-gradient norm is {ratio:.0f} times Sigmoid's")

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = plot_norms(norms, args, args.out / "vanishing_gradients.png")
        print(f"wrote {path}")
        title = (
            f"Sigmoid MLP 2-3-3-3-3-1, one full-batch gradient on {args.train} moons"
            f" (w ~ N(0, {args.std:g}²), b = {args.bias:g})\nviolet: gradient below {args.threshold:g}"
            f" (parameters: the batch gradient; other nodes: the mean per-sample size, {args.train} × mean |grad|)"
        )
        path = render_graph(loss_nodes["sigmoid"], args.out / "vanishing_graph.png", title, args.threshold)
        print(f"wrote {path}")
    return {"norms": norms, "first_layer_ratio": ratio, "loss_nodes": loss_nodes}


def plot_norms(norms: dict[str, list[float]], args: argparse.Namespace, path: Path) -> Path:
    """Grouped log-scale bars of each layer's weight-gradient norm, one colour per activation."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    layers = np.arange(1, len(LAYER_SIZES) + 1)
    width = 0.38
    colours = {"sigmoid": "#7c3aed", "relu": "#f59e0b"}
    names = {"sigmoid": "Sigmoid", "relu": "ReLU"}
    for offset, activation in zip((-width / 2, width / 2), ACTIVATIONS):
        bars = axes.bar(layers + offset, norms[activation], width, color=colours[activation], label=names[activation])
        axes.bar_label(bars, labels=[f"{n:.1e}" for n in norms[activation]], fontsize=8, padding=2)
    axes.set_yscale("log")
    top = max(max(values) for values in norms.values())
    bottom = min(min(values) for values in norms.values())
    axes.set_ylim(bottom / 10, top * 20)
    axes.set_xlim(0.4, len(LAYER_SIZES) + 0.6)
    axes.set_xticks(layers, [f"fc{k}" + (" (input side)" if k == 1 else " (output)" if k == 5 else "") for k in layers])
    axes.set_xlabel("layer (fully connected, 2-3-3-3-3-1)")
    axes.set_ylabel("L2 norm of the weight gradient (log scale)")
    setting = f"w ~ N(0, {args.std:g}²), b = {args.bias:g}"
    axes.set_title(f"Vanishing gradients: one full-batch gradient on {args.train} moons, {setting}", fontsize=11)
    axes.grid(axis="y", alpha=0.3, which="major")
    axes.legend(title="hidden activation", loc="upper left")
    figure.savefig(path, dpi=100)
    return path


def render_graph(loss: object, path: Path, title: str, threshold: float) -> Path:
    """Draw the whole scalar graph top to bottom with gradients (no values, no layer boxes:
    the layers then line up as rows), vanishing nodes marked; a palette PNG."""
    viz.render(
        loss,
        path,
        palette=128,
        show_values=False,
        rankdir="TB",
        cluster_separator=None,
        vanishing_threshold=threshold,
        title=title,
    )
    return path


if __name__ == "__main__":
    main()
