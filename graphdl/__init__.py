"""graphdl: a scalar autograd engine whose computation graph you build node by node,
evaluate lazily, differentiate, render and watch while it trains."""

from graphdl.compiler import CompiledGraph, compile
from graphdl.core.anomaly import AnomalyError, detect_anomaly
from graphdl.core.gradcheck import GradcheckError, gradcheck
from graphdl.core.graph import Graph
from graphdl.core.node import Node, Operator, UnsetValueError, Variable, topological_order
from graphdl.ops import *  # noqa: F403
from graphdl.ops import __all__ as _ops_all

__version__ = "0.1.0"

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
    "gradcheck",
    "topological_order",
]

# The layers above the engine, importable as graphdl.nn, graphdl.optim, ...
from graphdl import datasets, graph_io, init, io, metrics, nn, optim, train  # noqa: F401

__all__.extend(_ops_all)  # every operator class, as graphdl.ops lists them
