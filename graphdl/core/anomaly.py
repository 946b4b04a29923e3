"""Anomaly mode: stop at the first node whose value or gradient is not finite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class AnomalyError(FloatingPointError):
    """Raised in anomaly mode when a node's value or gradient becomes NaN or infinite."""


_state = {"enabled": False}


def anomaly_enabled() -> bool:
    """Whether :func:`detect_anomaly` is active."""
    return _state["enabled"]


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Raise :class:`AnomalyError` at the first node that produces NaN or ±inf.

    Without it the engine never crashes on such values (``Log`` of a negative number
    is NaN, ``Exp`` overflows to inf, as in numpy); inside it, forward and backward
    passes check every value they compute and name the node at fault::

        with graphdl.detect_anomaly():
            loss.forward()
    """
    previous = _state["enabled"]
    _state["enabled"] = enabled
    try:
        yield
    finally:
        _state["enabled"] = previous
