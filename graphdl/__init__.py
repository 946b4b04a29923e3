"""graphdl: a scalar autograd engine whose computation graph you build node by node,
evaluate lazily, differentiate, render and watch while it trains."""

from graphdl.compiler import CompiledGraph, compile
from graphdl.core.anomaly import AnomalyError, detect_anomaly
from graphdl.core.gradcheck import GradcheckError, gradcheck
from graphdl.core.graph import Graph
from graphdl.core.node import Node, Operator, UnsetValueError, Variable, topological_order
from graphdl.ops import *  # noqa: F403
from graphdl.ops import __all__ as _ops_all
from graphdl.ops.gradient import grad
from graphdl.sweep import sweep

__version__ = "0.2.0"

__all__ = [
    "AnomalyError",
    "CompiledGraph",
    "compile",
    "GradcheckError",
    "Graph",
    "Node",
    "Operator",
    "UnsetValueError",
    "Variable",
    "detect_anomaly",
    "grad",
    "gradcheck",
    "sweep",
    "topological_order",
]


def _repr_svg_(self: Node | Graph) -> str | None:
    """Jupyter display: the graph upstream of this node (or the graph) as SVG, drawn by
    :mod:`graphdl.viz` (attached here so the core imports nothing above it)."""
    from graphdl.viz.render import notebook_svg

    return notebook_svg(self)


Node._repr_svg_ = Graph._repr_svg_ = _repr_svg_  # type: ignore[attr-defined]  # the notebook SVG hook, added once the renderer is importable

# The layers above the engine, importable as graphdl.nn, graphdl.optim, ...
from graphdl import datasets, graph_io, init, io, metrics, nn, optim, train  # noqa: E402, F401

__all__.extend(_ops_all)  # every operator class, as graphdl.ops lists them
