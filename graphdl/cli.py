"""The ``graphdl`` command line: ``graphdl demo`` (the main job) and ``graphdl gallery``."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence


def _whole_number(text: str, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {number}")
    return number


def positive_int(text: str) -> int:
    """argparse ``type=`` for a whole number of at least 1 (used by the example scripts too)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse ``type=`` for a whole number of at least 0."""
    return _whole_number(text, 0)


def positive_float(text: str) -> float:
    """argparse ``type=`` for a finite number above 0, such as a learning rate (``inf``
    would only end in a TrainingDiverged traceback at the first step)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number above 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphdl", description="graphdl: a scalar autograd graph you can watch.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the seed's 2-unit net on y = x² and write its graph, animation and loss plot",
        description="Build the tutorial's network node by node, train it on y = x² (per-sample SGD) while "
        "recording, then write graph.dot, graph.png, graph.svg, the training animation and loss.png.",
    )
    _add_demo_options(demo, default_out="graphdl-demo")
    gallery = commands.add_parser(
        "gallery",
        help="regenerate the README's pictures (the demo plus the activation and initialisation plots)",
    )
    _add_demo_options(gallery, default_out="viz")
    return parser


def _add_demo_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--init",
        choices=("fig8", "fig7", "random"),
        default="fig8",
        help="initial parameters: the seed's figure 8 or 7 values, or U(-1, 1) (default fig8)",
    )
    parser.add_argument("--steps", type=positive_int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the data and --init random (default 0)")
    parser.add_argument(
        "--every", type=positive_int, default=None, help="steps between animation frames (default: about 60 frames)"
    )
    parser.add_argument(
        "--format",
        choices=("gif", "mp4", "html"),
        default="gif",
        help="animation format (default gif; mp4 needs ffmpeg)",
    )
    parser.add_argument("--no-graph-panel", action="store_true", help="leave the graph out of the animation")
    parser.add_argument("--out", default=default_out, help=f"output folder (default ./{default_out})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    from graphdl.viz.demo import OutputDirectoryError, run_demo

    try:
        result = run_demo(
            args.out, init=args.init, steps=args.steps, seed=args.seed, every=args.every, format=args.format,
            graph_panel=not args.no_graph_panel, progress=not args.quiet,
        )  # fmt: skip
        files = list(result.files)
        if args.command == "gallery":
            files += _gallery_extras(args.out, args.seed)
    except OutputDirectoryError as error:
        print(f"graphdl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"graphdl {args.command}: interrupted", file=sys.stderr)
        return 130
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"trained {args.steps} steps (init {args.init}): mean |y − ŷ| on the training data {result.final_mean_loss:.4f}"
    )
    for path in files:
        print(f"wrote {path}")
    return 0


def _gallery_extras(out: str, seed: int) -> list:
    from pathlib import Path

    import numpy as np

    from graphdl.seednet import build_seed_net
    from graphdl.viz.plots import activation_gallery, init_histograms

    folder = Path(out)
    activation_gallery(folder / "activations.png")
    net = build_seed_net()
    rng = np.random.default_rng(seed)
    weights, biases, kinks = [], [], []
    for _ in range(2000):
        net.initialise("random", rng=rng)
        weights += [net.w_11.value, net.w_12.value]
        biases += [net.b_11.value, net.b_12.value]
        kinks += [-net.b_11.value / net.w_11.value, -net.b_12.value / net.w_12.value]
    kinks_array = np.asarray(kinks)
    init_histograms(
        {
            "hidden weights w_1j ~ U(−1, 1)": weights,
            "hidden biases b_1j ~ U(−1, 1)": biases,
            "initial kinks −b/w (|kink| < 5 shown)": kinks_array[np.abs(kinks_array) < 5],
        },
        title="Seed 004's random initialisation, 2000 draws: where the hidden units' kinks start",
        path=folder / "init.png",
    )
    return [folder / "activations.png", folder / "init.png"]
