"""Finite-difference check of the engine's gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphdl.core.node import Node, Variable


class GradcheckError(AssertionError, ValueError):
    """A gradient disagrees with its finite-difference estimate."""


def _mean_value(target: Node) -> float:
    return float(np.mean(target.forward()))


def gradcheck(
    target: Node,
    wrt: Sequence[Variable] | None = None,
    *,
    eps: float = 1e-6,
    tol: float = 1e-5,
    raise_on_failure: bool = True,
) -> float:
    """Compare ``v.get_grad(target)`` with central finite differences for each ``v``.

    ``wrt`` defaults to the trainable Variables upstream of ``target``. For a batch the
    checked quantity is the batch mean of ``target`` (as for the engine's gradients).
    The error of one number is ``|analytic − numeric| / max(1, |analytic|, |numeric|)``.
    Returns the worst error; raises :class:`GradcheckError` naming every Variable over
    ``tol`` (unless ``raise_on_failure=False``). Values are restored afterwards.
    """
    if wrt is None:
        wrt = [node for node in target.ancestors() if isinstance(node, Variable) and node.trainable]
    for variable in wrt:
        if not isinstance(variable, Variable):
            raise TypeError(f"gradcheck: wrt must hold Variables, got {type(variable).__name__}")
    target.forward()
    analytic = {variable: np.array(variable.get_grad(target), dtype=float) for variable in wrt}
    worst = 0.0
    failures: list[str] = []
    for variable in wrt:
        original = variable.value
        flat = np.atleast_1d(np.array(original, dtype=float))
        numeric = np.empty_like(flat)
        try:
            for i in range(flat.size):
                values = []
                for step in (eps, -eps):
                    moved = flat.copy()
                    moved[i] += step
                    variable.set_value(moved if isinstance(original, np.ndarray) else float(moved[0]))
                    values.append(_mean_value(target))
                numeric[i] = (values[0] - values[1]) / (2 * eps)
        finally:
            variable.set_value(original)
        expected = np.atleast_1d(analytic[variable])
        error = np.abs(expected - numeric) / np.maximum(1.0, np.maximum(np.abs(expected), np.abs(numeric)))
        error = np.where(np.isnan(error), np.inf, error)
        variable_worst = float(error.max())
        worst = max(worst, variable_worst)
        if variable_worst > tol:
            failures.append(
                f"{variable.name!r}: analytic {np.round(expected, 8).tolist()} vs numeric "
                f"{np.round(numeric, 8).tolist()} (error {variable_worst:.2e})"
            )
    target.forward()
    if failures and raise_on_failure:
        raise GradcheckError(f"gradients of {target.name!r} disagree with finite differences: " + "; ".join(failures))
    return worst
