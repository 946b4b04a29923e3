"""Operators that reduce over the batch: one sample's output depends on every sample.

Every other operator works sample by sample, so its vector-Jacobian product is the
incoming gradient times a per-sample derivative. A batch statistic mixes the samples:
its output for sample i reads every sample j, so its vector-Jacobian product sums the
incoming gradient over the batch. Such an operator sets ``reduces_batch = True`` and
writes ``vjp`` instead of ``derivative``; the one reverse sweep of the interpreter and
the compiled program both call that ``vjp``.

The gradient keeps the meaning it has everywhere else: the gradient of a scalar Variable
is that of the batch mean of the sink. The sweep seeds the sink with 1/N per sample, so
for y_i = (1/N) Σ_j x_j every x_j receives (1/N) Σ_i dy_i.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphdl.core.node import Operator


class BatchMean(Operator):
    """``BatchMean([x])``: the mean of ``x`` over the samples of the batch, the same value
    for every sample (so the output is a batch, like every other node's).

    ``BatchMean([x, estimate, use_batch])`` is the form batch normalisation uses: the batch
    mean while the data Variable ``use_batch`` is 1 (training) and ``estimate`` (a running
    average the layer keeps) while it is 0 (evaluation), so one graph serves both modes
    and a single sample can be predicted.

    Batch statistics need at least two samples: with ``use_batch`` 1, one sample (a float,
    or a batch of one) raises ``ValueError`` naming the node instead of normalising every
    value to zero.

    Gradients follow the batch-mean rule. Its ``vjp`` gives every sample j the batch mean
    of the incoming gradient, (1/N) Σ_i grad_i (0 while the estimate is used). The
    interpreter's sweep seeds the sink with 1/N per sample, so a scalar parameter's
    gradient is that of the mean loss. A gradient graph (``graphdl.grad``) seeds 1 per
    sample and calls the same ``vjp`` with the graph backend, which builds a ``BatchMean``
    of the gradient node: sample j's entry is then d(Σ_i loss_i)/d(x_j), so a scalar
    parameter's gradient node still averages to ``get_grad()`` (its entries are no longer
    one sample's own gradient: through a batch statistic, every loss depends on every
    sample), and its second derivative averages to that of the mean loss.
    """

    __slots__ = ()
    arity = (1, 3)
    symbol = "mean over batch"
    reduces_batch = True

    @property
    def checked_arguments(self) -> tuple[int, ...]:  # type: ignore[override]
        """``use_batch`` (position 2) when given."""
        return (2,) if len(self.parents) == 3 else ()

    @classmethod
    def check_arity(cls, count: int) -> None:
        if count not in (1, 3):
            raise ValueError(f"{cls.__name__} expects 1 parent (x) or 3 parents (x, estimate, use_batch), got {count}")

    def check_argument(self, index: int, value: Any) -> None:
        """``use_batch`` must be 0 or 1, the same for every sample."""
        values = np.atleast_1d(np.asarray(value, dtype=float))
        bad = values[(values != 0.0) & (values != 1.0)]
        if bad.size:
            raise ValueError(f"{self.kind} {self.name!r}: use_batch must be 0 or 1, got {bad[0]}")
        if values.size and (values != values[0]).any():
            raise ValueError(f"{self.kind} {self.name!r}: use_batch must be the same for every sample")

    def formula(self, F, x, estimate=0.0, use_batch=1.0):
        try:
            return F.batch_mean(x, estimate, use_batch)
        except ValueError as error:
            raise ValueError(f"{self.kind} {self.name!r}: {error}") from None

    def derivative(self, F, index, out, *args):
        raise TypeError(
            f"{self.kind} {self.name!r} mixes the samples of a batch: it has no per-sample derivative, use vjp()"
        )

    def vjp(self, F, index, grad, out, x, estimate=0.0, use_batch=1.0):
        if index == 0:
            # d(mean of sink)/dx_j = (1/N) Σ_i grad_i for every j; 0 when the estimate is used.
            return F.batch_mean(grad, 0.0, use_batch)
        if index == 1:
            return grad * (1.0 - use_batch)
        return grad * 0.0  # use_batch selects a branch; a switch has no gradient
