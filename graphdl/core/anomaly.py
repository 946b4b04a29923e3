"""Anomaly mode: stop at the first node whose value or gradient is not finite."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class AnomalyError(FloatingPointError):
    """Raised in anomaly mode when a node's value or gradient becomes NaN or infinite."""


# A context variable, not a module flag: each thread (and each asyncio task) has its own
# setting, so overlapping ``detect_anomaly`` blocks in two threads never disturb each other.
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("graphdl_detect_anomaly", default=False)

#: ``anomaly_active()`` is what the engine asks before each pass (one context lookup).
anomaly_active = _enabled.get


def anomaly_enabled() -> bool:
    """Whether :func:`detect_anomaly` is active in the current thread / context."""
    return _enabled.get()


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True) -> Iterator[None]:
    """Raise :class:`AnomalyError` at the first node that produces NaN or ±inf.

    Without it the engine never crashes on such values (``Log`` of a negative number
    is NaN, ``Exp`` overflows to inf, as in numpy); inside it, forward and backward
    passes (interpreted and compiled) check every value they compute and name the node
    at fault::

        with graphdl.detect_anomaly():
            loss.forward()

    The setting belongs to the current thread (a :class:`contextvars.ContextVar`).
    """
    token = _enabled.set(bool(enabled))
    try:
        yield
    finally:
        _enabled.reset(token)
