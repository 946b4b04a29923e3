"""Per-layer weight-gradient norms of one full batch: the numbers that show vanishing
gradients and dead units."""

from __future__ import annotations

import numpy as np

from graphdl.nn.losses import LossHead
from graphdl.nn.module import Module


def batch_weight_gradient_norms(model: Module, head: LossHead, X: np.ndarray, y: np.ndarray) -> list[float]:
    """Feed the rows of ``X`` (one column per input node of ``model``) and the labels ``y``
    to ``head`` as one batch, run ``backward()`` on its loss (the mean over the rows) and
    return the L2 norm of each layer's weight gradient, input side first (the feed-forward
    tutorial's ``print_grads``). Unlike ``Module.weight_gradient_norms()``, which only reads
    the gradients already there, this takes the gradient first. ``head`` must have one label
    node; ``ValueError`` when ``X`` has not one column per input."""
    inputs = list(getattr(model, "inputs", []))
    if np.ndim(X) != 2 or np.shape(X)[1] != len(inputs):
        raise ValueError(f"X has shape {np.shape(X)}: need one column per input node ({len(inputs)})")
    if len(head.labels) != 1:
        raise ValueError(f"the {head.kind!r} head has {len(head.labels)} label nodes: need exactly one")
    for column, node in enumerate(inputs):
        node.set_value(X[:, column].copy())
    head.labels[0].set_value(y.astype(float))
    head.loss.backward()
    return list(model.weight_gradient_norms().values())
