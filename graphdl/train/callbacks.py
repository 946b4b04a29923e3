"""The callback protocol of :class:`~graphdl.train.Trainer`.

A callback is either a plain callable, called after every optimisation step as
``fn(step, loss)`` (the same signature as :func:`graphdl.tutorial_net.train_per_sample`'s
callback), or an object with any of these methods:

* ``on_fit_start(trainer)``
* ``on_step(trainer, step, loss)``: after each step; node values are those of the step
  (the animation recorder reads them here);
* ``on_epoch(trainer, epoch, logs)``: after each epoch, ``logs`` holds that epoch's
  ``train_loss``, ``train_<metric>``, ``dev_loss``, ``dev_<metric>``;
* ``on_fit_end(trainer, history)``.

Setting ``trainer.stop_training = True`` in any of them ends ``fit`` after the current step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

HOOKS = ("on_fit_start", "on_step", "on_epoch", "on_fit_end")


class _StepFunction:
    def __init__(self, function: Callable[[int, float], Any]) -> None:
        self.function = function

    def on_step(self, trainer: Any, step: int, loss: float) -> None:
        self.function(step, loss)


class CallbackList:
    """Dispatches each hook to the callbacks that define it."""

    def __init__(self, callbacks: Iterable[Any] = ()) -> None:
        self.callbacks = []
        for callback in callbacks:
            if any(hasattr(callback, hook) for hook in HOOKS):
                self.callbacks.append(callback)
            elif callable(callback):
                self.callbacks.append(_StepFunction(callback))
            else:
                raise TypeError(f"a callback must be callable or define one of {HOOKS}, got {callback!r}")

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)


class History:
    """Per-epoch records of a ``fit``: ``train_loss`` (mean batch loss during the epoch),
    ``train_metric`` (on the whole training set after the epoch), ``dev_loss``,
    ``dev_metric``, the loss of every step in ``step_loss``, and the best epoch by the
    monitored value (``best_epoch``, ``best_value``, ``checkpoint``)."""

    def __init__(self, metric_name: str | None, monitor: str) -> None:
        self.metric_name = metric_name
        self.monitor = monitor
        self.epochs: list[int] = []
        self.train_loss: list[float] = []
        self.train_metric: list[float] = []
        self.dev_loss: list[float] = []
        self.dev_metric: list[float] = []
        self.step_loss: list[float] = []
        self.best_epoch: int | None = None
        self.best_value: float | None = None
        self.checkpoint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain lists and numbers (JSON-ready)."""
        return {
            "metric": self.metric_name,
            "monitor": self.monitor,
            "epochs": self.epochs,
            "train_loss": self.train_loss,
            "train_metric": self.train_metric,
            "dev_loss": self.dev_loss,
            "dev_metric": self.dev_metric,
            "step_loss": self.step_loss,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "checkpoint": self.checkpoint,
        }

    def __repr__(self) -> str:
        last = f", last train_loss={self.train_loss[-1]:.4g}" if self.train_loss else ""
        return f"<History {len(self.epochs)} epochs{last}, best epoch {self.best_epoch}>"
