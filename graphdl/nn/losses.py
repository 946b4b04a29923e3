"""Attach a loss and its label Variable(s) to a model's outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphdl.core.node import Node, Variable
from graphdl.ops import Add, BCEWithLogits, HingeLoss, LogLoss, Mul, SoftmaxCrossEntropy, SquaredLoss, ValueLoss

#: loss name -> (operator, threshold its outputs are classified at, or None for regression)
LOSSES = {
    "mse": (SquaredLoss, None),
    "l1": (ValueLoss, None),
    "value": (ValueLoss, None),
    "bce": (LogLoss, 0.5),
    "bce_logits": (BCEWithLogits, 0.0),
    "hinge": (HingeLoss, 0.0),
    "cross_entropy": (SoftmaxCrossEntropy, None),
}


@dataclass
class LossHead:
    """A loss node attached to outputs: ``loss`` (per-sample value), the ``labels`` to
    feed (one Variable, or one per output for multi-output regression), the loss
    ``kind`` and the ``threshold`` at which a binary output is classified (None for
    regression or multi-class)."""

    loss: Node
    labels: list[Variable]
    kind: str
    threshold: float | None


def attach_loss(outputs: Sequence[Node], kind: str = "mse", name: str = "loss") -> LossHead:
    """Build ``kind`` on ``outputs`` with new label Variables (``trainable=False``).

    * ``"mse"``, ``"l1"``: regression; one label per output (``label`` or ``label[k]``),
      averaged over outputs when there are several;
    * ``"bce"`` (outputs are probabilities), ``"bce_logits"`` (outputs are logits),
      ``"hinge"`` (labels ±1): one output, one label;
    * ``"cross_entropy"``: K ≥ 2 output logits and one integer class label
      (``SoftmaxCrossEntropy``).
    """
    outputs = list(outputs)
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; use one of: {', '.join(LOSSES)}")
    if not outputs:
        raise ValueError("attach_loss needs at least one output node")
    op, threshold = LOSSES[kind]
    if kind == "cross_entropy":
        if len(outputs) < 2:
            raise ValueError("cross_entropy needs at least 2 output logits; use 'bce_logits' for one output")
        label = Variable(name="label", trainable=False)
        return LossHead(op([*outputs, label], name=name), [label], kind, None)
    if threshold is not None:
        if len(outputs) != 1:
            raise ValueError(f"{kind!r} needs exactly one output, got {len(outputs)}; use 'cross_entropy' for classes")
        label = Variable(name="label", trainable=False)
        return LossHead(op([label, outputs[0]], name=name), [label], kind, threshold)
    if len(outputs) == 1:
        label = Variable(name="label", trainable=False)
        return LossHead(op([label, outputs[0]], name=name), [label], kind, None)
    labels = [Variable(name=f"label[{k}]", trainable=False) for k in range(len(outputs))]
    terms = [op([y, out], name=f"{name}[{k}]") for k, (y, out) in enumerate(zip(labels, outputs))]
    return LossHead(Mul([Add(terms), 1.0 / len(terms)], name=name), labels, kind, None)
