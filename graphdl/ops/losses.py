"""Loss operators. By convention the label comes first: ``Loss([label, prediction])``,
except :class:`SoftmaxCrossEntropy`, whose label follows the K logits."""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from graphdl.core.backend import Backend
from graphdl.core.node import Operator
from graphdl.validation import Real, check_option


class Loss(Operator):
    """Base class of the losses: their ``role`` is ``"loss"`` (the renderer colours them)."""

    __slots__ = ()
    role = "loss"


def refuse_labels(node: Operator, value: Any, good: Any, expected: str) -> None:
    """Raise ``ValueError`` naming ``node`` and the first label in ``value`` (a float or
    a batch) for which ``good`` (a vectorised test) fails; ``expected`` says what fits."""
    labels = np.atleast_1d(np.asarray(value, dtype=float))
    with np.errstate(invalid="ignore"):
        fits = np.asarray(good(labels), dtype=bool)
    if fits.all():
        return
    first = int(np.argmin(fits))
    where = f" (sample {first} of the batch)" if labels.size > 1 else ""
    raise ValueError(f"{node.kind} {node.name!r}: a label must be {expected}, got {labels[first]:g}{where}")


def _probability(labels: np.ndarray) -> np.ndarray:
    return (labels >= 0.0) & (labels <= 1.0)


class ValueLoss(Loss):
    """``ValueLoss([label, prediction])`` = |label − prediction| (the tutorial's loss)."""

    __slots__ = ()
    arity = 2
    symbol = "|y − ŷ|"

    def formula(self, F: Backend, label, prediction):
        return F.abs(label - prediction)

    def derivative(self, F: Backend, index, out, label, prediction):
        sign = F.sign(label - prediction)
        return sign if index == 0 else -sign


class SquaredLoss(Loss):
    """``SquaredLoss([label, prediction])`` = (label − prediction)²."""

    __slots__ = ()
    arity = 2
    symbol = "(y − ŷ)²"

    def formula(self, F: Backend, label, prediction):
        error = label - prediction
        return error * error

    def derivative(self, F: Backend, index, out, label, prediction):
        error = 2.0 * (label - prediction)
        return error if index == 0 else -error


class LogLoss(Loss):
    """``LogLoss([label, probability], eps=1e-12)``: binary cross-entropy
    −(y·log p + (1−y)·log(1−p)), with p clamped to [eps, 1 − eps] so log(0) never happens."""

    __slots__ = ("eps",)
    arity = 2
    symbol = "BCE"
    options = ("eps",)
    checked_arguments = (0,)
    option_rules = {"eps": Real(low=0.0, high=0.5, low_open=True, high_open=True)}

    def __init__(self, parents: Any, eps: float = 1e-12, *, name: str | None = None) -> None:
        eps = check_option(type(self), "eps", eps)
        super().__init__(parents, name=name)
        self.eps = eps

    def check_argument(self, index: int, value: Any) -> None:
        """The label is the probability of class 1: a number in [0, 1]."""
        refuse_labels(self, value, _probability, "in [0, 1] (the probability of class 1)")

    def formula(self, F: Backend, label, probability):
        p = F.clip(probability, self.eps, 1.0 - self.eps)
        return -(label * F.log(p) + (1.0 - label) * F.log(1.0 - p))

    def derivative(self, F: Backend, index, out, label, probability):
        p = F.clip(probability, self.eps, 1.0 - self.eps)
        if index == 0:
            return F.log(1.0 - p) - F.log(p)
        return (p - label) / (p * (1.0 - p))


class BCEWithLogits(Loss):
    """``BCEWithLogits([label, logit])``: binary cross-entropy of sigmoid(logit),
    computed stably as max(z, 0) − z·y + log(1 + e^−|z|)."""

    __slots__ = ()
    arity = 2
    symbol = "BCE(z)"
    checked_arguments = (0,)

    def check_argument(self, index: int, value: Any) -> None:
        """The label is the probability of class 1: a number in [0, 1]."""
        refuse_labels(self, value, _probability, "in [0, 1] (the probability of class 1)")

    def formula(self, F: Backend, label, logit):
        return F.where(logit > 0.0, logit, 0.0) - logit * label + F.log1p(F.exp(-F.abs(logit)))

    def derivative(self, F: Backend, index, out, label, logit):
        if index == 0:
            return -logit
        return 1.0 / (1.0 + F.exp(-logit)) - label


class HingeLoss(Loss):
    """``HingeLoss([label, score])`` = max(0, 1 − label·score), labels ±1
    (the loss of micrograd's moons demo)."""

    __slots__ = ()
    arity = 2
    symbol = "hinge"

    def formula(self, F: Backend, label, score):
        margin = 1.0 - label * score
        return F.where(margin > 0.0, margin, 0.0)

    def derivative(self, F: Backend, index, out, label, score):
        active = 1.0 - label * score > 0.0
        return F.where(active, -score, 0.0) if index == 0 else F.where(active, -label, 0.0)


def _log_sum_exp(F, logits):
    largest = functools.reduce(lambda a, b: F.where(a > b, a, b), logits)
    total = functools.reduce(operator.add, [F.exp(z - largest) for z in logits])
    return largest + F.log(total)


class SoftmaxCrossEntropy(Loss):
    """``SoftmaxCrossEntropy([logit_0, …, logit_{K-1}, label])``: −log softmax(logits)[label]
    for an integer class label in 0…K−1, computed with the log-sum-exp shift."""

    __slots__ = ()
    arity = (3, None)
    symbol = "softmax CE"

    @property
    def checked_arguments(self) -> tuple[int, ...]:  # type: ignore[override]  # a property: the label comes after the K logits
        """The label's position: after the K logits."""
        return (len(self.parents) - 1,)

    def check_argument(self, index: int, value: Any) -> None:
        """The label is a class index: an integer in 0…K−1."""
        classes = len(self.parents) - 1
        refuse_labels(
            self,
            value,
            lambda labels: (labels >= 0) & (labels <= classes - 1) & (labels == np.floor(labels)),
            f"an integer class index in 0..{classes - 1}",
        )

    def formula(self, F: Backend, *args):
        *logits, label = args
        picked = functools.reduce(operator.add, [F.where(label == k, z, 0.0) for k, z in enumerate(logits)])
        return _log_sum_exp(F, logits) - picked

    def derivative(self, F: Backend, index, out, *args):
        *logits, label = args
        if index == len(logits):
            return 0.0  # the class label is data, not a differentiable input
        softmax = F.exp(logits[index] - _log_sum_exp(F, logits))
        return softmax - F.where(label == index, 1.0, 0.0)
