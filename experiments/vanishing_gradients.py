"""Vanishing gradients: through five Sigmoid layers the first layer's gradient all but disappears.

Repeats the vanishing-gradient experiment of the feed-forward network tutorial
(docs/sources.md). Its ``Model_MLP_L5`` is a 2-3-3-3-3-1 MLP whose four hidden layers use
one activation (Sigmoid or ReLU) and whose output unit is a Sigmoid, trained with binary
cross-entropy on the first 640 points of ``make_moons(1000, noise=0.5)``. Every weight is
drawn from N(0, 0.01²) and every bias is 1. The tutorial takes ONE full-batch gradient and
prints the L2 norm of each layer's weight gradient; here the net is built with
``graphdl.nn.MLP`` (scalar nodes ``fc1.w[0,0]`` … ``fc5.a[0]``), the 640 points flow
through it as one batch and ``loss.backward()`` fills every node's gradient.

With Sigmoid, each layer multiplies the backward signal by a tiny weight (about 0.01)
and by σ'(z) ≈ σ'(1) ≈ 0.2, so the norm shrinks by a factor of some hundreds per layer and
the first layer gets almost nothing. ReLU's derivative is 1 where the unit is active (all
units are, since z ≈ 1), which removes the σ' factor: the shrinking is much slower,
although the tiny weights alone still shrink the signal per layer.

    PYTHONPATH=. python experiments/vanishing_gradients.py --out viz

Prints the per-layer norms, how fast they shrink and the first layer's ReLU/Sigmoid ratio;
writes them to DIR/vanishing_gradients.json with ``--out DIR`` (``--write-results``:
experiments/results/vanishing_gradients.json; the README quotes them). With ``--bias -8``
(the setting of ``experiments/dead_relu.py``) every ReLU norm is exactly 0 and the script
says so instead of dividing by it.

Writes DIR/vanishing_gradients.png (log-scale bars of the per-layer norms, Sigmoid vs
ReLU, ``graphdl.viz.plots.plot_layer_norms``) and DIR/vanishing_graph.png (the Sigmoid
net's graph: every node whose gradient is below ``--threshold`` = 1e-7, over a million
times smaller than the output layer's, is filled violet: the vanishing region).
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

ACTIVATIONS = ("sigmoid", "relu")
LAYER_SIZES = [3, 3, 3, 3, 1]  # the tutorial's fc1 … fc5 on 2 inputs
RESULTS = Path(__file__).resolve().parent / "results" / "vanishing_gradients.json"


def build_net(
    activation: str, bias: float, std: float, seed: int, options: dict[str, Any] | None = None
) -> tuple[nn.MLP, nn.LossHead]:
    """The tutorial's Model_MLP_L5: 2-3-3-3-3-1, ``activation`` (with ``options``) in the hidden
    layers, a Sigmoid output and binary cross-entropy; weights ~ N(0, std²), every bias = ``bias``."""
    model = nn.MLP(2, LAYER_SIZES, activation=activation, output_activation="sigmoid", activation_options=options)
    init.normal_weights(model, std=std, bias=bias, rng=np.random.default_rng(seed))
    return model, nn.attach_loss(model.outputs, "bce")


def norm_text(norm: float) -> str:
    """A norm for printing: ``1.2e-08``, or ``0 (exactly)`` when no gradient arrives at all."""
    return "0 (exactly)" if norm == 0.0 else f"{norm:.1e}"


def norms_text(norms: Sequence[float]) -> str:
    """``layer 1 weight-gradient norm 1.7e-11, layer 2 3.4e-09, …`` (exact zeros spelled out)."""
    listed = ", ".join(f"layer {k} {norm_text(norm)}" for k, norm in enumerate(norms[1:], start=2))
    return f"layer 1 weight-gradient norm {norm_text(norms[0])}, {listed}"


def net_parser(description: str, bias: float) -> argparse.ArgumentParser:
    """The options of the tutorial's net and data: --samples --train --noise --data-seed
    --seed --std --bias --out --results."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--samples", type=int, default=1000, help="moons generated (the tutorial: 1000)")
    parser.add_argument("--train", type=int, default=640, help="first points used as the batch (the tutorial: 640)")
    parser.add_argument("--noise", type=float, default=0.5, help="moons noise (the tutorial: 0.5)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the moons")
    parser.add_argument("--seed", type=int, default=102, help="seed of the weights (the tutorial's torch.seed(102))")
    parser.add_argument("--std", type=float, default=0.01, help="weights ~ N(0, std²) (the tutorial: 0.01)")
    parser.add_argument("--bias", type=float, default=bias, help=f"every bias (the tutorial: {bias:g})")
    parser.add_argument("--out", type=Path, default=None, help="directory for the two PNGs")
    add_results_arguments(parser, RESULTS)
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
    per_layer = per_layer_shrink(norms)
    if per_layer is None:
        return f"{activation}: no gradient reaches layer 1 (norm exactly 0)"
    shrink = last / first
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
        norms[activation] = nn.batch_weight_gradient_norms(model, head, X, y)
        loss_nodes[activation] = head.loss
        loss_nodes[f"{activation}_model"] = model
        print(f"{activation}: {norms_text(norms[activation])}")
    for activation in ACTIVATIONS:
        print(shrink_text(activation, norms[activation]))
    relu, sigmoid = norms["relu"][0], norms["sigmoid"][0]
    # ReLU's first-layer norm over Sigmoid's: nan when neither reaches layer 1, inf when only ReLU's does
    ratio = relu / sigmoid if sigmoid > 0 else float("nan") if relu == 0 else float("inf")
    print(first_layer_text(relu, sigmoid))
    vanishing_layers = [
        f"fc{number}"
        for number, weights in enumerate(layer_weight_grads(loss_nodes["sigmoid_model"]), start=1)
        if np.all(np.abs(weights) < args.threshold)
    ]
    print(f"sigmoid: layers whose every weight gradient is below {args.threshold:g}: {', '.join(vanishing_layers)}")
    summary = {
        "settings": run_settings(args),
        "norms": norms,
        "per_layer_shrink": {activation: per_layer_shrink(norms[activation]) for activation in ACTIVATIONS},
        "first_layer_ratio": ratio if np.isfinite(ratio) else None,
        "vanishing_layers": vanishing_layers,
    }
    save_results(args, RESULTS, summary)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        setting = f"w ~ N(0, {args.std:g}²), b = {args.bias:g}"
        path = args.out / "vanishing_gradients.png"
        plot_layer_norms(
            norms,
            labels={"sigmoid": "Sigmoid", "relu": "ReLU"},
            colours={"sigmoid": "#7c3aed", "relu": "#f59e0b"},
            title=f"Vanishing gradients: one full-batch gradient on {args.train} moons, {setting}",
            path=path,
        )
        print(f"wrote {path}")
        title = (
            f"Sigmoid MLP 2-3-3-3-3-1, one full-batch gradient on {args.train} moons ({setting})\n"
            f"violet: gradient below {args.threshold:g}"
            f" (parameters: the batch gradient; other nodes: the mean per-sample size, {args.train} × mean |grad|)"
        )
        path = args.out / "vanishing_graph.png"
        # the whole scalar graph top to bottom, no layer boxes, so the layers line up as rows
        viz.render(
            loss_nodes["sigmoid"],
            path,
            palette=128,
            show_values=False,
            rankdir="TB",
            cluster_separator=None,
            vanishing_threshold=args.threshold,
            title=title,
        )
        print(f"wrote {path}")
    return {**summary, "first_layer_ratio": ratio, "loss_nodes": loss_nodes}


def per_layer_shrink(norms: Sequence[float]) -> float | None:
    """The geometric-mean factor by which the norm shrinks per layer going back from the
    output layer to layer 1 (None when no gradient reaches layer 1)."""
    return float((norms[-1] / norms[0]) ** (1 / (len(norms) - 1))) if norms[0] > 0 else None


def layer_weight_grads(model: nn.MLP) -> list[np.ndarray]:
    """Each layer's weight gradients, input side first."""
    return [np.array([float(weight.grad) for weight in layer.weights]) for layer in model.fan_layers()]


if __name__ == "__main__":
    main()
