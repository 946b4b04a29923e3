"""Optimisers that update graphdl parameters from their ``.grad``: SGD, Momentum,
AdaGrad, RMSProp and Adam (the optimisation tutorial's rules, see docs/sources.md), with
weight decay and learning-rate schedules."""

from graphdl.optim.base import Optimizer, Schedule
from graphdl.optim.optimizers import SGD, AdaGrad, Adam, Momentum, RMSProp
from graphdl.optim.schedules import cosine_decay, exponential_decay, step_decay

OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, AdaGrad, RMSProp, Adam)}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "cosine_decay",
    "exponential_decay",
    "step_decay",
]
