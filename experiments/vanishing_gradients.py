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

    PYTHONPATH=. python experiments/vanishing_gradients.py --out viz

Measured with the defaults (data seed 0, weight seed 102; about 3 s of CPU, mostly Graphviz drawing):

    sigmoid: layer 1 weight-gradient norm 1.7e-11, layer 2 3.4e-09, layer 3 1.4e-06, ...
             layer 4 5.3e-04, layer 5 3.0e-01   (~363x smaller per layer going back)
    relu:    layer 1 weight-gradient norm 1.2e-08, layer 2 6.1e-07, layer 3 5.1e-05, ...
             layer 4 3.7e-03, layer 5 4.2e-01   (~78x smaller per layer going back)
    first layer: ReLU's weight-gradient norm is 665 times Sigmoid's

The seed's paddle run printed 6.9e-11, 1.6e-08, 4.8e-06, 1.5e-03, 0.29 (Sigmoid) and
4.7e-08, 3.0e-06, 1.7e-04, 1.1e-02, 0.40 (ReLU): the same orders of magnitude.

With ``--bias -8`` (the setting of ``experiments/dead_relu.py``) every ReLU norm is exactly 0:
the script prints "relu: no gradient reaches layer 1 (norm exactly 0)" instead of a
shrink factor, and the bar plot marks those bars "exactly 0".

Writes DIR/vanishing_gradients.png (log-scale bars of the per-layer norms, Sigmoid vs
ReLU) and DIR/vanishing_graph.png (the Sigmoid net's graph: every node whose gradient
is below ``--threshold`` = 1e-7, over a million times smaller than the output layer's,
is filled violet: layers fc1 and fc2, the vanishing region of the network).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl import Node, datasets, init, nn, viz

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


def batch_gradient_norms(model: nn.MLP, head: nn.LossHead, X: np.ndarray, y: np.ndarray) -> list[float]:
    """Feed ``X`` and ``y`` as one batch, run ``backward()`` (the mean loss over the rows)
    and return the L2 norm of each layer's weight gradient, first layer first (the seed's
    ``print_grads``). Unlike ``Module.weight_gradient_norms()``, which only reads the
    gradients already there, this takes the gradient first."""
    for column, node in enumerate(model.inputs):
        node.set_value(X[:, column].copy())
    head.labels[0].set_value(y.astype(float))
    head.loss.backward()
    return list(model.weight_gradient_norms().values())


def norm_text(norm: float) -> str:
    """A norm for printing: ``1.2e-08``, or ``0 (exactly)`` when no gradient arrives at all."""
    return "0 (exactly)" if norm == 0.0 else f"{norm:.1e}"


def norms_text(norms: Sequence[float]) -> str:
    """``layer 1 weight-gradient norm 1.7e-11, layer 2 3.4e-09, …`` (exact zeros spelled out)."""
    listed = ", ".join(f"layer {k} {norm_text(norm)}" for k, norm in enumerate(norms[1:], start=2))
    return f"layer 1 weight-gradient norm {norm_text(norms[0])}, {listed}"


def net_parser(description: str, bias: float) -> argparse.ArgumentParser:
    """The options of the seed's net and data, shared with ``experiments/dead_relu.py``
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


def shrink_text(activation: str, norms: Sequence[float]) -> str:
    """How much the norm shrinks from the output layer back to layer 1, overall and per layer;
    or that no gradient reaches layer 1 at all (a ratio to 0 has no meaning)."""
    first, last = norms[0], norms[-1]
    if first == 0.0:
        return f"{activation}: no gradient reaches layer 1 (norm exactly 0)"
    shrink = last / first
    per_layer = shrink ** (1 / (len(norms) - 1))
    back = f"from layer {len(norms)} back to layer 1"
    return f"{activation}: {back} the norm shrinks {shrink:.1e}-fold, ~{per_layer:.0f}x a layer"


def first_layer_text(relu: float, sigmoid: float) -> str:
    """Compare the first layer's norms, ReLU against Sigmoid, saying so when either is exactly 0."""
    if relu == 0.0 and sigmoid == 0.0:
        return "first layer: no gradient reaches it with either activation (both norms exactly 0)"
    if relu == 0.0:
        return f"first layer: no gradient reaches it with ReLU (norm exactly 0); Sigmoid's norm is {sigmoid:.1e}"
    if sigmoid == 0.0:
        return f"first layer: no gradient reaches it with Sigmoid (norm exactly 0); ReLU's norm is {relu:.1e}"
    ratio = relu / sigmoid
    times = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"
    return f"first layer: ReLU's weight-gradient norm is {times} times Sigmoid's"


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    """Take one gradient with Sigmoid and with ReLU; print, plot and draw the per-layer norms."""
    args = parse_args(argv)
    X, y = moons_batch(args)

    norms: dict[str, list[float]] = {}
    loss_nodes = {}
    for activation in ACTIVATIONS:
        model, head = build_net(activation, args.bias, args.std, args.seed)
        norms[activation] = batch_gradient_norms(model, head, X, y)
        loss_nodes[activation] = head.loss
        print(f"{activation}: {norms_text(norms[activation])}")
    for activation in ACTIVATIONS:
        print(shrink_text(activation, norms[activation]))
    relu, sigmoid = norms["relu"][0], norms["sigmoid"][0]
    # ReLU's first-layer norm over Sigmoid's: nan when neither reaches layer 1, inf when only ReLU's does
    ratio = relu / sigmoid if sigmoid > 0 else float("nan") if relu == 0 else float("inf")
    print(first_layer_text(relu, sigmoid))

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        setting = f"w ~ N(0, {args.std:g}²), b = {args.bias:g}"
        path = plot_layer_norms(
            norms,
            labels={"sigmoid": "Sigmoid", "relu": "ReLU"},
            colours={"sigmoid": "#7c3aed", "relu": "#f59e0b"},
            title=f"Vanishing gradients: one full-batch gradient on {args.train} moons, {setting}",
            path=args.out / "vanishing_gradients.png",
        )
        print(f"wrote {path}")
        title = (
            f"Sigmoid MLP 2-3-3-3-3-1, one full-batch gradient on {args.train} moons ({setting})\n"
            f"violet: gradient below {args.threshold:g}"
            f" (parameters: the batch gradient; other nodes: the mean per-sample size, {args.train} × mean |grad|)"
        )
        path = render_net_graph(
            loss_nodes["sigmoid"],
            args.out / "vanishing_graph.png",
            title,
            show_values=False,
            vanishing_threshold=args.threshold,
        )
        print(f"wrote {path}")
    return {"norms": norms, "first_layer_ratio": ratio, "loss_nodes": loss_nodes}


def plot_layer_norms(
    norms: Mapping[str, Sequence[float]],
    labels: Mapping[str, str],
    colours: Mapping[str, str],
    title: str,
    path: Path,
) -> Path:
    """Grouped log-scale bars of each layer's weight-gradient norm, one colour per activation
    (in the order of ``labels``; ``norms`` maps the same keys to the per-layer norms).

    A log scale cannot draw 0: an exact zero gets no bar but a short stroke at the bottom
    and the words "exactly 0", and that activation's legend entry says so. Shared by
    ``experiments/dead_relu.py``, where every ReLU norm is exactly 0."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    layer_count = len(next(iter(norms.values())))
    layers = np.arange(1, layer_count + 1)
    width = 0.76 / len(labels)
    values = {key: np.asarray(norms[key], dtype=float) for key in labels}
    positive = [n for series in values.values() for n in series if n > 0]
    any_zero = any(np.any(series == 0.0) for series in values.values())
    # room below the lowest bar for the "exactly 0" marks, above the highest for the legend
    bottom = min(positive) / (30 if any_zero else 10) if positive else 1e-20
    top = max(positive) * 30 if positive else 1.0
    for number, (key, label) in enumerate(labels.items()):
        series, zero = values[key], values[key] == 0.0
        offset = (number - (len(labels) - 1) / 2) * width
        if zero.any():
            label += " (a log scale cannot draw 0)"
        bars = axes.bar(layers + offset, np.where(zero, np.nan, series), width, color=colours[key], label=label)
        axes.bar_label(bars, labels=["" if z else f"{n:.1e}" for n, z in zip(series, zero)], fontsize=8, padding=2)
        for x in (layers + offset)[zero]:
            axes.text(x, bottom * 3, "exactly 0", rotation=90, ha="center", va="bottom", fontsize=9, color="#111827")
            axes.plot([x - width / 2, x + width / 2], [bottom * 1.3] * 2, color=colours[key], lw=3)
    axes.set_yscale("log")
    axes.set_ylim(bottom, top)
    axes.set_xlim(0.4, layer_count + 0.6)
    ticks = [f"fc{k}" + (" (input side)" if k == 1 else " (output)" if k == layer_count else "") for k in layers]
    axes.set_xticks(layers, ticks)
    axes.set_xlabel("layer (fully connected, 2-3-3-3-3-1)")
    axes.set_ylabel("L2 norm of the weight gradient (log scale)")
    axes.set_title(title, fontsize=11)
    axes.grid(axis="y", alpha=0.3, which="major")
    axes.legend(title="hidden activation", loc="upper left")
    figure.savefig(path, dpi=100)
    return path


def render_net_graph(
    loss: Node, path: Path, title: str, *, show_values: bool, vanishing_threshold: float | None = None
) -> Path:
    """Draw the whole scalar graph top to bottom with gradients (and values if ``show_values``;
    no layer boxes, so the layers line up as rows) into a palette PNG: dead units greyed, and
    with ``vanishing_threshold`` every node whose gradient is below it filled violet.
    Shared by ``experiments/dead_relu.py``."""
    viz.render(
        loss,
        path,
        palette=128,
        show_values=show_values,
        rankdir="TB",
        cluster_separator=None,
        vanishing_threshold=vanishing_threshold,
        title=title,
    )
    return path


if __name__ == "__main__":
    main()
