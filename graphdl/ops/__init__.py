"""Every operator of graphdl: one class per operator, formula and derivative together."""

from graphdl.ops.activations import Elu, Identity, LeakyRelu, Logistic, Relu, Sigmoid, SiLU, Softplus, Swish, Tanh
from graphdl.ops.arithmetic import Abs, Add, Div, Exp, Log, Mul, Neg, Pow, Sub
from graphdl.ops.batch import BatchMean
from graphdl.ops.losses import (
    BCEWithLogits,
    HingeLoss,
    LogLoss,
    Loss,
    SoftmaxCrossEntropy,
    SquaredLoss,
    ValueLoss,
)

__all__ = [
    "Abs",
    "Add",
    "BCEWithLogits",
    "BatchMean",
    "Div",
    "Elu",
    "Exp",
    "HingeLoss",
    "Identity",
    "LeakyRelu",
    "Log",
    "LogLoss",
    "Logistic",
    "Loss",
    "Mul",
    "Neg",
    "Pow",
    "Relu",
    "SiLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Softplus",
    "SquaredLoss",
    "Sub",
    "Swish",
    "Tanh",
    "ValueLoss",
]
