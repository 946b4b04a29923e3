"""Every operator of graphdl: one class per operator, formula and derivative together.

Importing this package also installs the node sugar (``x + y``, ``x ** 2``, ``x.relu()``,
...): the core cannot import the operators, which sit above it."""

from graphdl.core.node import install_sugar
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

install_sugar(
    {
        "Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Pow": Pow, "Neg": Neg,
        "Relu": Relu, "LeakyRelu": LeakyRelu, "Sigmoid": Sigmoid, "Tanh": Tanh, "Exp": Exp, "Log": Log,
    }
)  # fmt: skip

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
