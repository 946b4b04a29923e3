"""The ``graphdl`` command line: ``graphdl demo`` (the main job) and ``graphdl gallery``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

# The argument checks live below this module (the sweep command uses them too); they stay
# importable from here, where the experiment scripts import them.
from graphdl.arguments import non_negative_int, output_folder, positive_float, positive_int

__all__ = ["main", "non_negative_int", "output_folder", "positive_float", "positive_int"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2): the message and where to find help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def demo_steps(text: str) -> int:
    """argparse ``type=`` for the demo's ``--steps``: 1 to ``MAX_STEPS``."""
    from graphdl.demo import MAX_STEPS

    number = positive_int(text)
    if number > MAX_STEPS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_STEPS} (about a minute of training), got {number}")
    return number


def _parser() -> argparse.ArgumentParser:
    from graphdl import __version__

    parser = _Parser(prog="graphdl", description="graphdl: a scalar autograd graph you can watch.")
    parser.add_argument("--version", action="version", version=f"graphdl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the tutorial's 2-unit net on y = x² and write its graph, animation and loss plot",
        description="Build the tutorial's network node by node, train it on y = x² (per-sample SGD) while "
        "recording, then write graph.dot, graph.png, graph.svg, the training animation and loss.png.",
    )
    _add_demo_options(demo)
    gallery = commands.add_parser(
        "gallery",
        help="regenerate the README's demo pictures and the activation and initialisation plots",
        description="Regenerate the pictures the README shows: the demo with its defaults (graph.dot, "
        "graph.png, graph.svg, training.gif, loss.png), activations.png and init.png, written into --out "
        "(default ./viz). `make gallery` runs this and then every experiment script.",
    )
    gallery.add_argument("--out", type=output_folder, default="viz", help="output folder (default ./viz)")
    gallery.add_argument("--quiet", action="store_true", help="no progress bars")
    from graphdl.sweep.command import add_sweep_command

    add_sweep_command(commands)
    return parser


def _add_demo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--init",
        choices=("fig8", "fig7", "random"),
        default="fig8",
        help="initial parameters: the tutorial's figure 8 or 7 values, or U(-1, 1) (default fig8)",
    )
    parser.add_argument("--steps", type=demo_steps, default=1500, help="training steps (default 1500)")
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="random seed for the data and --init random (default 0)"
    )
    parser.add_argument(
        "--every",
        type=positive_int,
        default=None,
        help="steps between animation frames (default: about 60 frames; at most 1000 frames)",
    )
    parser.add_argument(
        "--format",
        choices=("gif", "mp4", "html"),
        default="gif",
        help="animation format (default gif; mp4 needs ffmpeg; html: the interactive explorer page)",
    )
    parser.add_argument("--no-graph-panel", action="store_true", help="leave the graph out of the animation")
    parser.add_argument(
        "--out", type=output_folder, default="graphdl-demo", help="output folder (default ./graphdl-demo)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "sweep":
        from graphdl.sweep.command import run_sweep_command

        return run_sweep_command(args, own_process=argv is None)  # argv None: run as the `graphdl` program
    from graphdl.demo import DemoInputError, OutputDirectoryError, run_demo

    if args.command == "gallery":  # the README's pictures: the demo's defaults
        vars(args).update(init="fig8", steps=1500, seed=0, every=None, format="gif", no_graph_panel=False)
    try:
        result = run_demo(
            args.out, init=args.init, steps=args.steps, seed=args.seed, every=args.every, format=args.format,
            graph_panel=not args.no_graph_panel, progress=not args.quiet,
        )  # fmt: skip
        files = list(result.files)
        if args.command == "gallery":
            files += _gallery_extras(args.out, args.seed)
    except (DemoInputError, OutputDirectoryError) as error:
        print(f"graphdl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"graphdl {args.command}: interrupted", file=sys.stderr)
        return 130
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    steps = f"{args.steps} step{'s' if args.steps != 1 else ''}"
    print(f"trained {steps} (init {args.init}): {result.loss_name} {result.final_loss:.4f}")
    for path in files:
        print(f"wrote {path}")
    print(_timing_line(result.timings, result.cpu_timings))
    return 0


def _timing_line(timings: dict[str, float], cpu_timings: dict[str, float]) -> str:
    """``took 4.1 s (3.2 s CPU): training 0.4 s, graph 0.2 s, animation 3.1 s (61 frames: …), loss plot …``."""
    names = ("training", "graph", "animation", "loss plot")
    parts = [f"{name} {timings[name]:.1f} s" for name in names]
    parts[2] += f" ({timings['frames']:.0f} frames: drawing {timings['drawing']:.1f} s, "
    parts[2] += f"encoding {timings['encoding']:.1f} s)"
    wall, cpu = sum(timings[name] for name in names), sum(cpu_timings.get(name, 0.0) for name in names)
    return f"took {wall:.1f} s ({cpu:.1f} s CPU): " + ", ".join(parts)


def _gallery_extras(out: str, seed: int) -> list:
    from pathlib import Path

    import numpy as np

    from graphdl.tutorial_net import build_seed_net
    from graphdl.viz.plots import activation_gallery, init_histograms

    folder = Path(out)
    activation_gallery(folder / "activations.png")
    net = build_seed_net()
    rng = np.random.default_rng(seed)
    weights: list[float] = []
    biases: list[float] = []
    kinks: list[float] = []
    for _ in range(2000):
        net.initialise("random", rng=rng)
        w_11, w_12, b_11, b_12 = (float(p.forward()) for p in (net.w_11, net.w_12, net.b_11, net.b_12))
        weights += [w_11, w_12]
        biases += [b_11, b_12]
        kinks += [-b_11 / w_11, -b_12 / w_12]
    kinks_array = np.asarray(kinks)
    init_histograms(
        {
            "hidden weights w_1j ~ U(−1, 1)": weights,
            "hidden biases b_1j ~ U(−1, 1)": biases,
            "initial kinks −b/w (|kink| < 5 shown)": kinks_array[np.abs(kinks_array) < 5],
        },
        title="The tutorial's random initialisation, 2000 draws: where the hidden units' kinks start",
        path=folder / "init.png",
    )
    return [folder / "activations.png", folder / "init.png"]
