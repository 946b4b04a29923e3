"""How much the initial parameters matter for the tutorial's two-unit x² net.

The core tutorial ("ReLU and fitting a quadratic", docs/sources.md) fits y = x² on [0, 2]
with a 1-2-1 LeakyReLU(0.1) network built node by node, trained one sample at a time with
SGD (lr 0.01) on |label − prediction|. Its section 4 shows two initialisations that differ
only in w_11 and w_12 (−0.157, −0.107 for figure 8; both 0.3 lower for figure 7): figure 8
fits in 1500 steps, figure 7 needs over 10 000 steps and bends the curve in another way.
It also warns that plain ReLU with random U(−1, 1) initialisation "sometimes succeeds,
sometimes fails". This script measures both.

    PYTHONPATH=. python experiments/init_sensitivity.py --out viz

Definitions used throughout:

* **steps to fit**: the first step at which the mean of the last ``--window`` (100)
  per-sample losses is below ``--threshold`` (0.15). A run has **fitted** if that mean
  over its last 100 steps is below the threshold at the end of training.
* Hidden unit j computes z_j = w_1j·x + b_1j and adds w_2j·act(z_j) to the output. Its
  **kink** is at x = −b_1j / w_1j; it is **on** (z_j > 0) to the right of the kink if
  w_1j > 0, to the left if w_1j < 0. On [0, 2] a unit either
  **bends** (its kink lies inside (0, 2) and w_2j > 0, so the slope of the output grows
  there, the way x² needs), is **on but not bending** (its kink lies outside [0, 2], or it
  bends the curve downwards), or is **off** (z_j ≤ 0 on all of [0, 2]; with plain ReLU such
  a unit is dead: its gradient is exactly 0 for every sample).
* **Fitting modes** of the final net: fitted with two bends (figure 8's way), fitted with
  one bend while the other unit is on but not bending (figure 7's way), fitted with one
  bend while the other unit is off; failed with both units off, with one unit off, or with
  no unit off.

Long runs use the compiled per-sample SGD loop (``graphdl.compile(loss).sgd``, much faster
than the interpreter); the script first checks that it reproduces the interpreter's
``train_per_sample`` exactly on 300 steps.

Prints the steps to fit and the final units of figures 8 and 7 (both activations), and for
the random starts the share of failed runs and of each fitting mode; writes these numbers
to ``--results`` (default experiments/results/init_sensitivity.json; the README quotes
them). With ``--out DIR`` writes DIR/init_sensitivity.png (figures 8 and 7 side by side:
loss, each unit's contribution and the fitted curve) and DIR/init_sweep.png (modes per
activation and fraction of runs fitted against steps).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

import graphdl
import graphdl.results
from graphdl.cli import positive_int
from graphdl.tutorial_net import (
    FIG7_INIT,
    FIG8_INIT,
    PARAMETER_NAMES,
    SeedNet,
    build_seed_net,
    init_rng,
    quadratic_data,
    train_per_sample,
)

LOW, HIGH = 0.0, 2.0  # the data range of x
ACTIVATIONS = {"leaky_relu": "LeakyReLU(0.1)", "relu": "ReLU"}
NAMED_INITS = {"fig8": FIG8_INIT, "fig7": FIG7_INIT}
MODES = {
    "two_bends": "fitted: two bends (fig 8's way)",
    "one_bend_other_on": "fitted: one bend, other unit on but not bending up",
    "one_bend_other_off": "fitted: one bend, other unit off",
    "failed_both_off": "failed: both units off on [0, 2]",
    "failed_one_off": "failed: one unit off on [0, 2]",
    "failed_none_off": "failed: no unit off",
}
#: P(b <= 0 and 2w + b <= 0) for w, b ~ U(−1, 1): b <= 0 (1/2) and w <= |b|/2 (5/8 on average)
P_OFF_AT_INIT = 0.5 * 0.625
CHECK_STEPS = 300  # steps on which the compiled loop is compared with the interpreter
RESULTS = Path(__file__).resolve().parent / "results" / "init_sensitivity.json"


class Unit(NamedTuple):
    """One hidden unit of the final net, seen on the data range [0, 2]."""

    index: int  # 1 or 2
    w: float  # w_1j
    b: float  # b_1j
    v: float  # w_2j
    kink: float | None  # x = −b/w, None when w == 0
    facing: str  # "right": on for x > kink; "left": on for x < kink; "flat": w == 0
    role: str  # "bends", "on", "off"

    def sentence(self) -> str:
        """The unit in plain words."""
        if self.kink is None:
            where = "constant input (w = 0)"
        else:
            side = ">" if self.facing == "right" else "<"
            where = f"kink at x = {self.kink:.2f}, on for x {side} {self.kink:.2f}"
        return f"unit {self.index}: {where}, w_2{self.index} = {self.v:.2f}: {self.role_words}"

    @property
    def role_words(self) -> str:
        """What the unit does to the output on [0, 2], in a few words."""
        if self.role == "bends":
            return "bends the curve up"
        if self.role == "off":
            return "off on all of [0, 2]"
        if self.kink is not None and LOW < self.kink < HIGH:
            return "bends the curve down"
        return "a straight line on [0, 2]"


def describe_units(params: Sequence[float]) -> list[Unit]:
    """Kink, facing and role on [0, 2] of both hidden units, from the seven parameters
    in the order of ``PARAMETER_NAMES``."""
    values = dict(zip(PARAMETER_NAMES, (float(p) for p in params)))
    units = []
    for j in (1, 2):
        w, b, v = values[f"w_1{j}"], values[f"b_1{j}"], values[f"w_2{j}"]
        kink = -b / w if w != 0.0 else None
        facing = "right" if w > 0 else "left" if w < 0 else "flat"
        if b <= 0.0 and w * HIGH + b <= 0.0:
            role = "off"  # pre-activation <= 0 at both ends, so on all of [0, 2]
        elif kink is not None and LOW < kink < HIGH and v > 0.0:
            role = "bends"
        else:
            role = "on"
        units.append(Unit(j, w, b, v, kink, facing, role))
    return units


def classify(params: Sequence[float], final_loss: float, threshold: float) -> str:
    """The fitting mode (a key of ``MODES``) of a final net whose mean loss over its last
    steps is ``final_loss``."""
    roles = [unit.role for unit in describe_units(params)]
    if final_loss < threshold:
        if roles.count("bends") == 2:
            return "two_bends"
        # a straight line is no fit of x² (its best mean error on [0, 2] is ~0.2), so at
        # least one unit bends; the sweep counts the fitted runs without a bend to check
        return "one_bend_other_off" if "off" in roles else "one_bend_other_on"
    return {2: "failed_both_off", 1: "failed_one_off", 0: "failed_none_off"}[roles.count("off")]


def steps_to_threshold(losses: Sequence[float], threshold: float, window: int) -> int | None:
    """First step (1-based count of samples seen) at which the mean of the last ``window``
    per-sample losses is below ``threshold``; None if it never is."""
    losses = np.asarray(losses, dtype=float)
    if losses.size < window:
        return None
    running = np.convolve(losses, np.ones(window) / window, mode="valid")
    below = np.flatnonzero(running < threshold)
    return int(below[0]) + window if below.size else None


class CompiledSeedNet:
    """The tutorial's net with its loss compiled once; ``train`` runs the generated per-sample
    SGD loop from a given initialisation."""

    def __init__(self, activation: str) -> None:
        self.activation = activation
        self.net: SeedNet = build_seed_net(activation=activation)
        self.compiled = graphdl.compile(self.net.loss, inputs=[self.net.x, self.net.label])

    def train(self, init: Sequence[float], xs: np.ndarray, labels: np.ndarray, lr: float) -> np.ndarray:
        """Per-sample SGD over (xs, labels) from ``init``; returns the losses of every step."""
        self.net.initialise(list(init))
        return self.compiled.sgd({self.net.x: xs, self.net.label: labels}, lr)

    @property
    def params(self) -> list[float]:
        return [float(param.value) for param in self.net.params]


def compiled_vs_interpreter(steps: int, lr: float, seed: int) -> float:
    """Largest difference (losses and final parameters) between the compiled SGD loop and
    the interpreter's ``train_per_sample`` over ``steps`` steps, for both figure inits and
    both activations."""
    xs, labels = quadratic_data(steps, seed=seed)
    largest = 0.0
    for activation in ACTIVATIONS:
        compiled = CompiledSeedNet(activation)
        for init in NAMED_INITS.values():
            interpreted = build_seed_net(activation=activation)
            interpreted.initialise(list(init))
            reference = train_per_sample(interpreted, xs, labels, lr=lr)
            losses = compiled.train(init, xs, labels, lr)
            largest = max(
                largest,
                float(np.max(np.abs(np.asarray(reference) - losses))),
                float(np.max(np.abs(np.array([p.value for p in interpreted.params]) - compiled.params))),
            )
    return largest


def run_named_inits(args: argparse.Namespace) -> dict[str, dict]:
    """Train figure 8's and figure 7's inits with both activations on the same data."""
    xs, labels = quadratic_data(args.steps, seed=args.seed)
    results: dict[str, dict] = {}
    for activation in ACTIVATIONS:
        compiled = CompiledSeedNet(activation)
        for name, init in NAMED_INITS.items():
            losses = compiled.train(init, xs, labels, args.lr)
            params = compiled.params
            final_loss = float(np.mean(losses[-args.window :]))
            results[f"{name}_{activation}"] = {
                "name": name,
                "activation": activation,
                "losses": losses,
                "steps_to_fit": steps_to_threshold(losses, args.threshold, args.window),
                "final_loss": final_loss,
                "params": params,
                "units": describe_units(params),
                "mode": classify(params, final_loss, args.threshold),
            }
    return results


@functools.cache
def compiled_net(activation: str) -> CompiledSeedNet:
    """One compiled net per activation and process (every run sets all seven parameters)."""
    return CompiledSeedNet(activation)


def random_start(
    seed: int, activation: str, steps: int = 10_000, lr: float = 0.01, threshold: float = 0.15, window: int = 100
) -> dict:
    """One random U(−1, 1) start, drawn from ``seed`` alone: init from ``init_rng(seed)``,
    data from ``quadratic_data(steps, seed)``, the same for both activations. The trial
    of the sweep (``graphdl.sweep`` or ``graphdl sweep experiments/init_sensitivity.py:random_start``)."""
    compiled = compiled_net(activation)
    init = init_rng(seed).uniform(-1.0, 1.0, size=len(PARAMETER_NAMES))
    xs, labels = quadratic_data(steps, seed=seed)
    losses = compiled.train(init, xs, labels, lr)
    params = compiled.params
    final_loss = float(np.mean(losses[-window:]))
    mode = classify(params, final_loss, threshold)
    return {
        "mode": mode,
        "fitted": not mode.startswith("failed"),
        "steps_to_fit": steps_to_threshold(losses, threshold, window),
        "final_loss": final_loss,
        "off_at_init": sum(unit.role == "off" for unit in describe_units(init)),
        "init": init.tolist(),
        "params": params,
    }


def sweep(args: argparse.Namespace) -> dict[str, dict]:
    """``args.runs`` random starts per activation (run i: seed first_seed + i) through
    ``graphdl.sweep``, on ``args.workers`` processes, appended to ``args.runs_file`` if given
    (a rerun resumes from it). Returns the summary of :func:`summarize_sweep` per activation."""
    settings = {"steps": [args.steps], "lr": [args.lr], "threshold": [args.threshold], "window": [args.window]}
    records = graphdl.sweep(
        random_start,
        grid={"activation": list(ACTIVATIONS), **settings},
        seeds=range(args.first_seed, args.first_seed + args.runs),
        executor="processes" if args.workers > 1 else None,
        workers=args.workers,
        out=args.runs_file,
        progress=sys.stderr.isatty(),
    )
    failures = [record for record in records if "error" in record]
    if failures:
        error = failures[0]["error"]
        raise RuntimeError(f"{len(failures)} runs raised; seed {failures[0]['seed']}: {error['traceback']}")
    return {
        activation: summarize_sweep(
            activation, [record["metrics"] for record in records if record["point"]["activation"] == activation]
        )
        for activation in ACTIVATIONS
    }


def summarize_sweep(activation: str, runs: list[dict]) -> dict:
    """The runs of one activation (in seed order) as lists per quantity, with the counts."""
    modes = [run["mode"] for run in runs]
    finals_params = [run["params"] for run in runs]
    fitted_units = [describe_units(p) for p, mode in zip(finals_params, modes) if not mode.startswith("failed")]
    bending = [unit for units in fitted_units for unit in units if unit.role == "bends"]
    failed_units = [describe_units(p) for p, mode in zip(finals_params, modes) if mode.startswith("failed")]
    return {
        "activation": activation,
        "modes": modes,
        "counts": {mode: modes.count(mode) for mode in MODES},
        "steps_to_fit": [run["steps_to_fit"] for run in runs],
        "final_loss": [run["final_loss"] for run in runs],
        "off_at_init": [run["off_at_init"] for run in runs],
        "inits": [run["init"] for run in runs],
        "params": finals_params,
        "failed": [not run["fitted"] for run in runs],
        "bends_right": sum(unit.facing == "right" for unit in bending),
        "bends_left": sum(unit.facing == "left" for unit in bending),
        "failed_without_bend": sum(all(unit.role != "bends" for unit in units) for units in failed_units),
    }


def percent(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%"


def report_named(results: dict[str, dict], args: argparse.Namespace) -> None:
    for result in results.values():
        label = f"{result['name']}" + ("" if result["activation"] == "leaky_relu" else " with plain ReLU")
        if result["steps_to_fit"] is None:
            print(f"{label}: loss never < {args.threshold} in {args.steps} steps")
        else:
            print(f"{label}: loss < {args.threshold} after {result['steps_to_fit']} steps")
        print(f"  final mean loss of the last {args.window} steps: {result['final_loss']:.3f}; {MODES[result['mode']]}")
        if result["activation"] == "leaky_relu":
            for unit in result["units"]:
                print(f"  {unit.sentence()}")
            print(f"  b_21 = {result['params'][-1]:.2f}")


def report_sweep(sweeps: dict[str, dict], args: argparse.Namespace) -> None:
    print(
        f"random U(-1, 1) init, {args.runs} runs of {args.steps} steps each "
        f"(failed = mean of the last {args.window} losses >= {args.threshold} at the end):"
    )
    for activation, result in sweeps.items():
        name, runs = ACTIVATIONS[activation], args.runs
        failed = sum(result["failed"])
        print(f"{name} random init: {percent(failed, runs)} of {runs} runs failed")
        fitted_early = sum(s is not None and s <= 1500 for s in result["steps_to_fit"])
        print(f"  fitted within 1500 steps (the seed's run length): {percent(fitted_early, runs)}")
        for mode, label in MODES.items():
            count = result["counts"][mode]
            losses = [loss for loss, m in zip(result["final_loss"], result["modes"]) if m == mode]
            mean_loss = f", mean final loss {np.mean(losses):.2f}" if losses else ""
            print(f"  {label}: {count} ({percent(count, runs)}{mean_loss})")
        print(
            f"  bending units of the fitted runs: {result['bends_right']} on to the right of their kink (as fig 8), "
            f"{result['bends_left']} on to the left (as fig 7)"
        )
        print(
            f"  failed runs with no unit bending up in [0, 2] (a straight line there): "
            f"{result['failed_without_bend']} of {failed}"
        )
        off = np.array(result["off_at_init"])
        print(
            f"  at init, at least one unit off on [0, 2] in {percent(int((off >= 1).sum()), runs)} of runs, "
            f"both in {percent(int((off == 2).sum()), runs)} (expected for U(-1, 1): "
            f"{100 * (1 - (1 - P_OFF_AT_INIT) ** 2):.1f}% and {100 * P_OFF_AT_INIT**2:.1f}%)"
        )
    if set(sweeps) == set(ACTIVATIONS):
        relu, leaky = np.array(sweeps["relu"]["failed"]), np.array(sweeps["leaky_relu"]["failed"])
        print(
            f"same init and data: failed with ReLU but fitted with LeakyReLU in {int((relu & ~leaky).sum())} runs, "
            f"the reverse in {int((leaky & ~relu).sum())}, failed with both in {int((relu & leaky).sum())}"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="training samples per run, one SGD step each")
    parser.add_argument("--runs", type=int, default=200, help="random initialisations per activation (0: no sweep)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first random run")
    parser.add_argument("--seed", type=int, default=0, help="data seed for the fig 8 / fig 7 runs")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (the seed's 0.01)")
    parser.add_argument("--threshold", type=float, default=0.15, help="loss threshold for 'fitted'")
    parser.add_argument("--window", type=int, default=100, help="steps in the running mean of the loss")
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNGs")
    parser.add_argument("--workers", type=positive_int, default=1, help="processes for the random-start sweep")
    parser.add_argument(
        "--runs-file", type=Path, default=None, help="append each random start to this JSON-lines file; resume from it"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="JSON file for the numbers (default: experiments/results/init_sensitivity.json)",
    )
    args = parser.parse_args(argv)
    if args.window < 1:
        parser.error("--window must be at least 1")
    if args.steps < args.window:
        parser.error("--steps must be at least --window")
    if args.runs < 0:
        parser.error("--runs must be >= 0")
    if not (args.lr > 0 and args.threshold > 0):
        parser.error("--lr and --threshold must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Train figures 8 and 7, sweep random inits, print and plot. Returns all results."""
    args = parse_args(argv)
    difference = compiled_vs_interpreter(min(CHECK_STEPS, args.steps), args.lr, args.seed)
    print(
        f"compiled SGD loop vs interpreter over {min(CHECK_STEPS, args.steps)} steps: "
        f"largest difference {difference:.3g}"
    )
    named = run_named_inits(args)
    report_named(named, args)
    sweeps = sweep(args) if args.runs else {}
    if sweeps:
        report_sweep(sweeps, args)
    named_numbers = {
        key: {"steps_to_fit": run["steps_to_fit"], "final_loss": run["final_loss"], "mode": run["mode"]}
        for key, run in named.items()
    }
    sweep_numbers = {
        activation: {
            "runs": len(run["failed"]),
            "failed": sum(run["failed"]),
            "fitted_within_1500": sum(s is not None and s <= 1500 for s in run["steps_to_fit"]),
            "modes": run["counts"],
        }
        for activation, run in sweeps.items()
    }
    settings = {
        key: value for key, value in vars(args).items() if key not in ("out", "results", "workers", "runs_file")
    }
    summary = {"settings": settings, "compiled_difference": difference, "named": named_numbers, "sweeps": sweep_numbers}
    print(f"results written: {graphdl.results.write_results(args.results, summary)}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        paths = [plot_named(named, args, args.out / "init_sensitivity.png")]
        if sweeps:
            paths.append(plot_sweep(sweeps, named, args, args.out / "init_sweep.png"))
        for path in paths:
            print(f"wrote {path}")
    return {"compiled_difference": difference, "named": named, "sweeps": sweeps}


# ---------------------------------------------------------------------------- figures
UNIT_COLOURS = ("tab:blue", "tab:green")
INIT_COLOURS = {"fig8": "tab:purple", "fig7": "tab:orange"}


def net_curves(params: Sequence[float], xs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The trained LeakyReLU net over ``xs`` in one batch forward pass of graphdl's own nodes:
    each unit's pre-activation (add_11, add_12), its contribution to the output (mul_21,
    mul_22) and the output (add_21)."""
    net = build_seed_net()
    net.initialise(list(params))
    net.x.set_value(xs)
    pre = [np.asarray(net.add_11.value), np.asarray(net.add_12.value)]
    return pre, [np.asarray(net.mul_21.value), np.asarray(net.mul_22.value)], np.asarray(net.add_21.value)


def plot_named(named: dict[str, dict], args: argparse.Namespace, path: Path) -> Path:
    """Loss of figures 8 and 7 (both activations), then per init: each unit's contribution
    and the fitted curve against x²."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 11.5), layout="constrained")
    axes = figure.subplot_mosaic([["loss", "loss"], ["units_fig8", "units_fig7"], ["fit_fig8", "fit_fig7"]])
    loss_axes = axes["loss"]
    for result in named.values():
        losses, window = result["losses"], args.window
        running = np.convolve(losses, np.ones(window) / window, mode="valid")
        leaky = result["activation"] == "leaky_relu"
        name = result["name"].replace("fig", "fig ")
        label = f"{name}, {ACTIVATIONS[result['activation']]}: "
        label += "never fits" if result["steps_to_fit"] is None else f"fits after {result['steps_to_fit']} steps"
        loss_axes.plot(
            np.arange(window, len(losses) + 1),
            running,
            color=INIT_COLOURS[result["name"]],
            linewidth=2 if leaky else 1.2,
            linestyle="-" if leaky else ":",
            label=label,
        )
        if result["steps_to_fit"] is not None and leaky:
            loss_axes.axvline(result["steps_to_fit"], color=INIT_COLOURS[result["name"]], linewidth=1, alpha=0.6)
    loss_axes.axhline(args.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {args.threshold}")
    loss_axes.set_yscale("log")
    loss_axes.set_ylim(top=8.0)  # room for the legend above the curves
    loss_axes.set_xlabel("step (one sample each)")
    loss_axes.set_ylabel(f"mean |label − prediction|\nof the last {args.window} steps")
    fig8_steps, fig7_steps = (named[f"{name}_leaky_relu"]["steps_to_fit"] for name in ("fig8", "fig7"))
    speed = f"fig 8 fits {fig7_steps / fig8_steps:.0f}x sooner than fig 7" if fig8_steps and fig7_steps else ""
    loss_axes.set_title(
        f"Same net, same data, only w_11 and w_12 differ by 0.3: {speed or 'loss per init'} "
        "(LeakyReLU: solid; plain ReLU: dotted)"
    )
    loss_axes.grid(alpha=0.3, which="both")
    loss_axes.legend(loc="upper right", fontsize=9, ncol=3)

    xs = np.linspace(-0.25, 2.25, 501)
    for name in NAMED_INITS:
        result = named[f"{name}_leaky_relu"]
        units, params = result["units"], result["params"]
        unit_axes, fit_axes = axes[f"units_{name}"], axes[f"fit_{name}"]
        pre_activations, contributions, fitted = net_curves(params, xs)
        for unit, colour, z, contribution in zip(units, UNIT_COLOURS, pre_activations, contributions):
            on = np.where(z > 0, contribution, np.nan)
            off = np.where(z <= 0, contribution, np.nan)
            side = ">" if unit.facing == "right" else "<"
            unit_axes.plot(
                xs,
                on,
                color=colour,
                linewidth=2.5,
                label=f"unit {unit.index}: on for x {side} {unit.kink:.2f}, {unit.role_words}",
            )
            unit_axes.plot(xs, off, color=colour, linewidth=1.2, linestyle=":")
            if unit.kink is not None and xs[0] <= unit.kink <= xs[-1]:
                for axis in (unit_axes, fit_axes):
                    axis.axvline(unit.kink, color=colour, linestyle="--", linewidth=1)
        unit_axes.axhline(0, color="grey", linewidth=0.8)
        unit_axes.set_title(
            f"{name.replace('fig', 'fig ')} after {args.steps} steps: w_2j·LeakyReLU(w_1j·x + b_1j) per unit\n"
            f"(thick: unit on, dotted: off, dashed: kink; b_21 = {params[-1]:.2f})",
            fontsize=10,
        )
        unit_axes.set_xlabel("x")
        unit_axes.set_ylabel("contribution to the output")
        unit_axes.legend(loc="best", fontsize=8.5)
        unit_axes.grid(alpha=0.3)

        inside = (xs >= LOW) & (xs <= HIGH)
        error = float(np.mean(np.abs(fitted[inside] - xs[inside] ** 2)))
        fit_axes.axvspan(xs[0], LOW, color="grey", alpha=0.12)
        fit_axes.axvspan(HIGH, xs[-1], color="grey", alpha=0.12, label="outside the data")
        fit_axes.plot(xs, xs**2, color="black", linewidth=2, label="y = x²")
        fit_axes.plot(xs, fitted, color=INIT_COLOURS[name], linewidth=2, linestyle="--", label="network")
        fit_axes.set_title(
            f"{name.replace('fig', 'fig ')} at step {args.steps}: {MODES[result['mode']].split(': ')[1]}\n"
            f"mean |error| of this snapshot on [0, 2] = {error:.2f}",
            fontsize=10,
        )
        fit_axes.set_xlabel("x")
        fit_axes.set_ylabel("y")
        fit_axes.legend(loc="upper left", fontsize=9)
        fit_axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return path


def plot_sweep(sweeps: dict[str, dict], named: dict[str, dict], args: argparse.Namespace, path: Path) -> Path:
    """Fitting modes per activation (bars) and the fraction of runs fitted against steps."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 5.2), layout="constrained")
    bars, curve = figure.subplots(1, 2, width_ratios=[1.25, 1])
    modes = list(MODES)
    positions = np.arange(len(modes))
    height = 0.38
    colours = {"leaky_relu": "tab:blue", "relu": "tab:red"}
    for offset, (activation, result) in zip((-height / 2, height / 2), sweeps.items()):
        counts = np.array([result["counts"][mode] for mode in modes])
        bars.barh(positions + offset, counts, height=height, color=colours[activation], label=ACTIVATIONS[activation])
        for position, count in zip(positions + offset, counts):
            bars.text(count + 0.5, position, f"{count} ({100 * count / args.runs:.0f}%)", va="center", fontsize=8.5)
    bars.set_yticks(positions, [MODES[mode] for mode in modes])
    bars.invert_yaxis()
    bars.set_xlabel(f"runs (of {args.runs} random U(−1, 1) inits)")
    bars.set_xlim(0, max(max(r["counts"].values()) for r in sweeps.values()) * 1.25 + 1)
    bars.set_title(f"How each run ends after {args.steps} steps")
    bars.legend(loc="lower right")
    bars.grid(alpha=0.3, axis="x")

    steps_axis = np.arange(args.steps + 1)
    for activation, result in sweeps.items():
        reached = np.sort([s for s in result["steps_to_fit"] if s is not None])
        fraction = np.searchsorted(reached, steps_axis, side="right") / args.runs
        curve.plot(steps_axis, fraction, color=colours[activation], linewidth=2, label=ACTIVATIONS[activation])
    curve.axvline(1500, color="grey", linestyle=":", linewidth=1.2, label="1500 steps (the tutorial's run)")
    for name in NAMED_INITS:
        steps = named[f"{name}_leaky_relu"]["steps_to_fit"]
        if steps is not None:
            label = f"{name.replace('fig', 'fig ')} (LeakyReLU): {steps} steps"
            curve.axvline(steps, color=INIT_COLOURS[name], linestyle="--", linewidth=1.2, label=label)
    curve.set_ylim(0, 1)
    curve.set_xlabel("step")
    curve.set_ylabel(f"fraction of runs whose loss has been < {args.threshold}")
    curve.set_title("When the random runs fit")
    curve.legend(loc="lower right", fontsize=9)
    curve.grid(alpha=0.3)
    failed = ", ".join(
        f"{ACTIVATIONS[activation]} in {100 * sum(result['failed']) / args.runs:.1f}%"
        for activation, result in sorted(sweeps.items(), reverse=True)
    )
    figure.suptitle(
        f"Random U(−1, 1) init of the tutorial's x² net: training fails with {failed} of {args.runs} runs\n"
        f"(failed = mean loss of the last {args.window} steps ≥ {args.threshold} after {args.steps} steps)",
        fontsize=11,
    )
    figure.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()
