"""Every operator of graphdl: one class per operator, formula and derivative together.

Importing this package also installs the node sugar (``x + y``, ``x ** 2``, ``x.relu()``,
...): the core cannot import the operators, which sit above it."""

from graphdl.core.node import install_sugar
from graphdl.ops.activations import Elu, Identity, LeakyRelu, Logistic, Relu, Sigmoid, SiLU, Softplus, Swish, Tanh
from graphdl.ops.arithmetic import Abs, Add, Div, Exp, Expm1, Log, Log1p, Mul, Neg, Pow, Sub
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
from graphdl.ops.piecewise import Clip, Equal, Greater, GreaterEqual, Less, LessEqual, NotEqual, Sign, Where

install_sugar(
    {
        "Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div, "Pow": Pow, "Neg": Neg,
        "Relu": Relu, "LeakyRelu": LeakyRelu, "Sigmoid": Sigmoid, "Tanh": Tanh, "Exp": Exp, "Log": Log,
    }
)  # fmt: skip

__all__ = [
    "Abs",
    "Add",
    "BatchMean",
    "BCEWithLogits",
    "Clip",
    "Div",
    "Elu",
    "Equal",
    "Exp",
    "Expm1",
    "Greater",
    "GreaterEqual",
    "HingeLoss",
    "Identity",
    "LeakyRelu",
    "Less",
    "LessEqual",
    "Log",
    "Log1p",
    "Logistic",
    "LogLoss",
    "Loss",
    "Mul",
    "Neg",
    "NotEqual",
    "Pow",
    "Relu",
    "Sigmoid",
    "Sign",
    "SiLU",
    "SoftmaxCrossEntropy",
    "Softplus",
    "SquaredLoss",
    "Sub",
    "Swish",
    "Tanh",
    "ValueLoss",
    "Where",
]
