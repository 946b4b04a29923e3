"""The layers of graphdl, lowest first: the one list that ``tests/test_architecture.py``
checks the imports against and that the layer table of ``docs/architecture.md`` is made
from. A module may import the modules of its own layer and of the layers below it, never
those above, and no imports may go round in a circle.

``python -m graphdl._layers`` prints the table; ``python -m graphdl._layers --write``
puts it into ``docs/architecture.md`` (between the two ``layers`` markers).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "graphdl"  # the package face: ``import graphdl`` loads every layer, so it sits at the top
ROOT = Path(__file__).resolve().parent.parent  # the checkout: graphdl/ and docs/
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- layers: made by `python -m graphdl._layers --write` from graphdl/_layers.py; do not edit -->"
END = "<!-- end of layers -->"


@dataclass(frozen=True)
class Layer:
    """One layer: its ``modules`` (a package stands for everything in it; ``graphdl``
    itself only for its ``__init__``), what it is for, and finer rows for the table."""

    name: str
    modules: tuple[str, ...]
    job: str
    details: tuple[tuple[tuple[str, ...], str], ...] = ()


LAYERS: tuple[Layer, ...] = (
    Layer(
        "foundation",
        ("graphdl.validation", "graphdl.arguments", "graphdl._layers"),
        "what needs nothing of graphdl: the rules for numbers a user or a file gives (operator options, "
        "hyper-parameters), the command-line argument checks, this list of layers",
    ),
    Layer(
        "core",
        ("graphdl.core",),
        "the engine: nodes, the lazy interpreter, graphs, gradient checking, anomaly mode",
        (
            (
                ("graphdl.core.primitives",),
                "the table of numeric primitives an operator may call (`exp`, `log`, `tanh`, `pow`, `abs`, "
                "`where`, `sign`, `clip`, ...): one entry each, with its float version and its numpy version",
            ),
            (
                ("graphdl.core.backend",),
                "the backends built from that table: `SCALAR` (one sample, Python floats) and `ARRAY` (a batch, "
                "numpy arrays)",
            ),
            (
                ("graphdl.core.plan",),
                "the plan of a graph: topological order, which nodes need gradients, the steps of the "
                "interpreter's reverse sweep; `reached_from` and `overrides_vjp` serve the gradient graphs too",
            ),
            (
                ("graphdl.core.component", "graphdl.core.values", "graphdl.core.names", "graphdl.core.anomaly"),
                "the state one connected graph shares (pending optimiser steps, versions), the checks on values "
                "fed to a Variable, automatic node names, anomaly mode",
            ),
            (
                ("graphdl.core.interpreter",),
                "the lazy interpreter: evaluating what is missing along a topological order, and the reverse sweep",
            ),
            (
                ("graphdl.core.node",),
                "`Node`, `Variable`, `Operator`: the graph's nodes, whose values and gradients are computed on "
                "demand and cached on them; operator classes register by kind as they are defined; the operator "
                "sugar (`x + y`, `x.relu()`) uses the classes `graphdl.ops` installs",
            ),
            (
                ("graphdl.core.graph", "graphdl.core.gradcheck"),
                "`Graph` (a view of everything upstream of some outputs: parameters, summary, validation, "
                "networkx) and the finite-difference checker",
            ),
            (
                ("graphdl.core.trace",),
                "`backward_trace(target)`: the reverse sweep run with a trace (each node's gradient as the sweep "
                "completes it, each path's local derivative and product), which the explorer's Backprop mode replays",
            ),
        ),
    ),
    Layer(
        "ops",
        ("graphdl.ops",),
        "the operators, one small class each: arithmetic, activations, losses, comparisons and selections "
        "(`piecewise.py`, the node forms of `where`, `sign`, `clip`), batch statistics; and `graphdl.grad` "
        "(`gradient.py`) with the graph backend it runs derivatives on (`graph_backend.py`)",
    ),
    Layer(
        "compiler",
        ("graphdl.compiler",),
        "`graphdl.compile`: the graph lowered once into a statement list (`symbolic.py` is a third backend "
        "whose values are expression trees, `ir.py` lowers the graph and its gradient graph, built by `graphdl.grad`'s "
        "sweep, `gradient_terms`) that runners "
        "consume: `python_runner.py` (the readable program), `numpy_runner.py` (groups of like statements, "
        "dense layers as matrix products) and `numba_runner.py`; `compiled.py` picks a runner and stores results",
    ),
    Layer(
        "toolkit",
        (
            "graphdl.nn",
            "graphdl.init",
            "graphdl.optim",
            "graphdl.train",
            "graphdl.metrics",
            "graphdl.datasets",
            "graphdl.io",
            "graphdl.graph_io",
            "graphdl.results",
            "graphdl.tutorial_net",
            "graphdl.seednet",
        ),
        "on top of the engine: layer builders that create scalar nodes, initialisers, optimisers, the "
        "`Trainer`, metrics, data, saving parameters and graphs, experiment results, the tutorial's network "
        "built node by node (`seednet` is its former name)",
    ),
    Layer(
        "pictures and sweeps",
        ("graphdl.viz", "graphdl.sweep"),
        "pictures: DOT text and rendering, the training recorder and animator, the explorer page, the live "
        "notebook widget (`LiveView`, optional anywidget), static plots; sweeps: many runs over a grid of "
        "settings and seeds, and the `graphdl sweep` command",
    ),
    Layer(
        "application",
        ("graphdl.cli", "graphdl.demo", "graphdl.__main__", PACKAGE),
        "the `graphdl` command and its demo, and the package face `graphdl` that gathers every layer",
    ),
)


def layer_of(module: str) -> int | None:
    """The position in :data:`LAYERS` of ``module`` (a dotted name), or None when no layer
    lists it or a package holding it."""
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for index, layer in enumerate(LAYERS):
        for name in layer.modules:
            inside = name != PACKAGE and module.startswith(name + ".")
            if (module == name or inside) and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]


def _path(module: str) -> str:
    """``graphdl.core`` -> ```graphdl/core/```, ``graphdl.cli`` -> ```graphdl/cli.py```."""
    if module == PACKAGE:
        return f"`{PACKAGE}/__init__.py`"
    relative = module.replace(".", "/")
    if (ROOT / relative).is_dir():
        return f"`{relative}/`"
    return f"`{relative}.py`"


def table() -> str:
    """The layer table of ``docs/architecture.md``, lowest layer first."""
    rows = ["| layer | modules | job |", "|---|---|---|"]
    for number, layer in enumerate(LAYERS, start=1):
        names = ", ".join(_path(name) for name in layer.modules)
        rows.append(f"| {number}. {layer.name} | {names} | {layer.job} |")
        for modules, job in layer.details:
            rows.append(f"| | {', '.join(_path(name) for name in modules)} | {job} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """``text`` (the architecture page) with the part between the markers replaced by :func:`table`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    return text[: start + len(BEGIN)] + "\n" + table() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or with ``--write`` put it into ``docs/architecture.md``."""
    parser = argparse.ArgumentParser(
        prog="python -m graphdl._layers", description="print or write graphdl's layer table"
    )
    parser.add_argument("--write", action="store_true", help=f"update the table in {DOC.name}")
    args = parser.parse_args(argv)
    if not args.write:
        print(table())
        return 0
    text = DOC.read_text(encoding="utf-8")
    updated = with_table(text)
    if updated != text:
        DOC.write_text(updated, encoding="utf-8")
        print(f"wrote the layer table into {DOC.name}")
    else:
        print(f"{DOC.name}: the layer table is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
