"""``Trainer``: the tutorials' training loop (their ``Runner`` classes) for graphdl models (fit / evaluate / predict,
history, best checkpoint, callbacks, progress bar, clear stop on divergence)."""

from __future__ import annotations

import gc
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import graphdl.io as checkpoints
import graphdl.metrics as metric_functions
from graphdl.compiler import compiled
from graphdl.core.graph import Graph
from graphdl.core.node import Node, Variable
from graphdl.nn.dropout import draw_masks, dropout_nodes, identity_masks
from graphdl.nn.losses import LossHead, attach_loss
from graphdl.nn.norm import batch_norm_layers
from graphdl.train.callbacks import CallbackList, History
from graphdl.train.progress import progress_bar

Data = tuple[np.ndarray, np.ndarray]
Metric = Callable[[np.ndarray, np.ndarray], float]


class TrainingDiverged(FloatingPointError):
    """The loss (or a gradient) became NaN or infinite; the message names the step and the node."""

    def __init__(self, message: str, *, epoch: int, step: int, node: str | None) -> None:
        super().__init__(message)
        self.epoch, self.step, self.node = epoch, step, node


def _first_non_finite(target: Node) -> Node | None:
    for node in target.ancestors():
        value = node.cached_value
        if value is None:
            continue
        finite = math.isfinite(value) if isinstance(value, float) else bool(np.isfinite(value).all())
        if not finite:
            return node
    return None


def _checked_positions(graph: Graph, fed: Sequence[Variable]) -> list[tuple[Any, int, Variable]]:
    """(operator, argument position, Variable) for every fed Variable that is directly an
    argument an operator checks (``checked_arguments``, e.g. a loss's label)."""
    wanted = set(fed)
    found = []
    for node in graph.nodes:
        for index in getattr(node, "checked_arguments", ()):
            parent = node.parents[index]
            if parent in wanted:
                found.append((node, index, parent))
    return found


class Trainer:
    """Train a model with an optimiser on (X, y) arrays.

    ``Trainer(model, optimizer, loss="bce_logits", metric="accuracy")``

    * ``model``: anything with ``inputs`` (Variables), ``outputs`` (nodes) and
      ``parameters()`` — an :class:`graphdl.nn.MLP`, or :class:`graphdl.nn.Model` around a
      hand-built graph;
    * ``optimizer``: a :mod:`graphdl.optim` optimiser over the model's parameters;
    * ``loss``: a loss name from :data:`graphdl.nn.LOSSES` (``"mse"``, ``"bce"``,
      ``"bce_logits"``, ``"hinge"``, ``"cross_entropy"``, …), attached to the outputs
      with new label Variables; or a loss node you built, with ``labels=[...]``;
    * ``metric``: ``"accuracy"``, ``"mse"``, a function ``(outputs, labels) -> float`` or
      None; ``metric_mode`` says whether higher (``"max"``) or lower is better;
    * ``compile``: ``"auto"`` uses ``graphdl.compile`` for training steps
      (its fastest backend: numba machine code when installed and the graph is small
      enough for compiling to pay, else numpy), ``False`` always interprets.

    Data: ``X`` of shape (N, n_inputs) — column i feeds ``model.inputs[i]`` — and ``y``
    of shape (N,) (one label Variable) or (N, n_labels). Each batch is set as 1-D arrays
    on the input Variables, so the gradients are those of the batch mean loss.

    Modes: training steps run the model in training mode (dropout masks drawn, BatchNorm on
    the batch's statistics, its running estimates updated after every step); ``evaluate``
    and ``predict`` in evaluation mode (dropout off, BatchNorm on the running estimates).
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss: str | Node | LossHead = "mse",
        metric: str | Metric | None = None,
        *,
        labels: Sequence[Variable] | None = None,
        threshold: float | None = None,
        metric_mode: str | None = None,
        compile: str | bool = "auto",
        progress: bool = True,
        callbacks: Iterable[Any] = (),
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.inputs: list[Variable] = list(model.inputs)
        self.outputs: list[Node] = list(model.outputs)
        for var in self.inputs:
            if not isinstance(var, Variable):
                raise TypeError(f"model inputs must be Variables, got {type(var).__name__} {var!r}")
        if isinstance(loss, str):
            head = attach_loss(self.outputs, loss)
        elif isinstance(loss, LossHead):
            head = loss
        elif isinstance(loss, Node):
            if not labels:
                raise ValueError("a loss node needs labels=[...]: the Variables that receive y")
            head = LossHead(loss, list(labels), "custom", threshold)
        else:
            raise TypeError(f"loss must be a loss name, a loss node or a LossHead, got {type(loss).__name__}")
        self.head = head
        self.loss: Node = head.loss
        self.labels: list[Variable] = list(head.labels)
        self.threshold = threshold if threshold is not None else (head.threshold if head.threshold is not None else 0.5)
        self.metric_name, self.metric = self._resolve_metric(metric)
        if metric_mode is None:
            metric_mode = "min" if metric == "mse" else "max"
        if metric_mode not in ("min", "max"):
            raise ValueError(f"metric_mode must be 'min' or 'max', got {metric_mode!r}")
        self.metric_mode = metric_mode
        graph = Graph(self.loss)
        members = set(graph.nodes)
        for var in [*self.inputs, *self.labels]:
            if var not in members:
                raise ValueError(f"Variable {var.name!r} does not feed the loss {self.loss.name!r}")
        self._checked = _checked_positions(graph, [*self.inputs, *self.labels])
        self._dropouts = dropout_nodes(graph.nodes)
        self._masks: list[Variable] = [node.parents[1] for node in self._dropouts]  # type: ignore[misc]  # a Dropout's second parent is its mask Variable
        self._batch_norms = batch_norm_layers(model)  # their running statistics follow each step
        if compile not in ("auto", True, False):
            raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
        self._compile_mode = compile
        self._compiled: Any = None
        self._order_cache: tuple[Any, np.ndarray | None] | None = None
        #: The last compiled step's gradients not yet written to the parameters' ``.grad``
        #: (with no ``on_step`` hook, nothing reads them between steps: written once an epoch).
        self._unstored: tuple[Any, np.ndarray] | None = None
        self._store_each_step = True
        self.progress = progress
        self.callbacks = list(callbacks)
        self.history: History | None = None
        self.global_step = 0
        self.stop_training = False

    # -------------------------------------------------------------------- setup
    def _resolve_metric(self, metric: str | Metric | None) -> tuple[str | None, Metric | None]:
        if metric is None:
            return None, None
        if metric == "accuracy":
            threshold = self.threshold
            return "accuracy", lambda outputs, labels: metric_functions.accuracy(outputs, labels, threshold)
        if metric == "mse":
            return "mse", metric_functions.mse
        if callable(metric):
            return getattr(metric, "__name__", "metric"), metric
        raise ValueError(f"unknown metric {metric!r}: use 'accuracy', 'mse', a function or None")

    def _columns(self, X: Any, what: str) -> list[np.ndarray]:
        X = _as_numbers(X, what, "X")
        n = len(self.inputs)
        if X.ndim == 1 and n == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != n:
            raise ValueError(f"{what}: X must have shape (N, {n}) for the model's {n} inputs, got {X.shape}")
        if len(X) == 0:
            raise ValueError(f"{what}: no samples")
        return [np.ascontiguousarray(X[:, i]) for i in range(n)]

    def _label_columns(self, y: Any, count: int, what: str) -> list[np.ndarray]:
        y = _as_numbers(y, what, "y")
        n = len(self.labels)
        if n == 1 and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n:
            raise ValueError(f"{what}: y must have shape (N,) or (N, {n}) for {n} label Variable(s), got {y.shape}")
        if len(y) != count:
            raise ValueError(f"{what}: X has {count} samples but y has {len(y)}")
        return [np.ascontiguousarray(y[:, k]) for k in range(n)]

    def _split(self, data: Any, what: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
        try:
            X, y = data
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be a pair (X, y)") from None
        columns = self._columns(X, what)
        label_columns = self._label_columns(y, len(columns[0]), what)
        self._check_fed(dict(zip([*self.inputs, *self.labels], [*columns, *label_columns])), what)
        return columns, label_columns

    def _check_fed(self, fed: dict[Variable, np.ndarray], what: str) -> None:
        """Up-front check of the data against the operators that validate their
        arguments (a loss's label domain), before any training step."""
        for operator, index, variable in self._checked:
            try:
                operator.check_argument(index, fed[variable])
            except ValueError as error:
                raise ValueError(f"{what}: {error} (fed to {variable.name!r})") from None

    def _compiled_graph(self) -> Any:
        if self._compile_mode is False:
            return None
        if self._compiled is None:
            try:
                inputs = [*self.inputs, *self.labels, *self._masks]
                self._compiled = compiled.compile(self.loss, inputs=inputs, backend="auto")  # GRAPHDL_BACKEND picks
            except Exception as error:  # any failure: fall back to the interpreter and say why
                if self._compile_mode is True:
                    raise
                warnings.warn(f"graphdl.compile failed ({error}); training with the interpreter", stacklevel=3)
                self._compile_mode = False
                return None
        return self._compiled

    # ----------------------------------------------------------------- training
    def fit(
        self,
        train: Data,
        dev: Data | None = None,
        epochs: int = 10,
        batch_size: int | None = 32,
        shuffle: bool = True,
        seed: int | None = 0,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        monitor: str | None = None,
        restore_best: bool = False,
        callbacks: Iterable[Any] = (),
        progress: bool | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``train`` = (X, y) in mini-batches of
        ``batch_size`` (None: the whole set, the tutorials' batch gradient descent),
        shuffled each epoch with ``seed``. After each epoch the metric is measured on the
        training set and, if given, loss and metric on ``dev``.

        ``checkpoint``: a ``.npz``/``.json`` path where the parameters (and optimiser
        state) are saved whenever ``monitor`` improves (default: the dev metric, else the
        dev loss, else the training loss); ``restore_best`` puts the best epoch's parameters back
        at the end (kept in memory: the file is a by-product, which another run may overwrite).
        Raises :class:`TrainingDiverged` naming the step and the node if the loss or a
        gradient becomes NaN or infinite. Returns the :class:`History`.
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if checkpoint is not None:
            checkpoint = checkpoints.check_path(checkpoint)
        columns, label_columns = self._split(train, "train")
        dev_data = self._split(dev, "dev") if dev is not None else None
        n = len(columns[0])
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)):
            raise TypeError(f"batch_size must be a whole number of samples (or None for all), got {batch_size!r}")
        batch = n if batch_size is None else int(batch_size)
        if batch < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        monitor = monitor or (("dev_metric" if self.metric else "dev_loss") if dev is not None else ("train_loss"))
        if monitor not in ("dev_metric", "dev_loss", "train_loss", "train_metric"):
            raise ValueError(f"monitor must be dev_metric, dev_loss, train_loss or train_metric, got {monitor!r}")
        if monitor.endswith("metric") and self.metric is None:
            raise ValueError(f"monitor={monitor!r} needs a metric")
        if monitor.startswith("dev") and dev is None:
            raise ValueError(f"monitor={monitor!r} needs dev data")
        if self._batch_norms and n % batch == 1 and epochs > 0:
            raise ValueError(
                f"BatchNorm {self._batch_norms[0].name!r} needs at least 2 samples per training batch: "
                f"{n} samples in batches of {batch} leave a batch of 1; choose another batch_size"
            )
        higher_is_better = monitor.endswith("metric") and self.metric_mode == "max"
        history = self.history = History(self.metric_name, monitor)
        if checkpoint is not None:
            history.checkpoint = os.fspath(checkpoint)
        hooks = CallbackList([*self.callbacks, *callbacks])
        self._store_each_step = any(hasattr(callback, "on_step") for callback in hooks.callbacks)
        rng = np.random.default_rng(seed)
        compiled = self._compiled_graph()
        bar = progress_bar(epochs, self.progress if progress is None else progress)
        self.stop_training = False
        best: tuple[list[Variable], list[Any]] | None = None  # the best epoch's parameters, for restore_best
        gc_was_enabled = gc.isenabled()
        gc.disable()  # nodes are cycle-free; the cyclic collector would only slow the hot loop
        try:
            hooks.call("on_fit_start", self)
            self._set_mode(True)
            for epoch in range(1, epochs + 1):  # epochs count from 1, as the bar shows them
                order = rng.permutation(n) if shuffle else np.arange(n)
                total = 0.0
                for start in range(0, n, batch):
                    index = order[start : start + batch]
                    loss = self._train_step(columns, label_columns, index, rng, compiled, epoch)
                    total += loss * len(index)
                    history.step_loss.append(loss)
                    hooks.call("on_step", self, self.global_step - 1, loss)
                    if self.stop_training:
                        break
                self._store_gradients()
                logs = self._end_of_epoch(epoch, total / n, (columns, label_columns), dev_data, history)
                if self._track_best(epoch, logs, history, higher_is_better, checkpoint) and restore_best:
                    saved = self._saved_parameters()
                    best = (saved, [_copied(variable.value) for variable in saved])
                hooks.call("on_epoch", self, epoch, logs)
                hidden = ("epoch", f"train_{self.metric_name}")
                bar.update({key: value for key, value in logs.items() if key not in hidden})
                if self.stop_training:
                    break
            if restore_best and best is not None:  # from memory: the checkpoint file may be another run's by now
                for variable, value in zip(*best):
                    variable.set_value(value)
            hooks.call("on_fit_end", self, history)
        finally:
            self._store_gradients()  # (a diverged step's too, as the interpreter leaves them)
            self._set_mode(True)
            bar.close()
            if gc_was_enabled:
                gc.enable()
        return history

    def _saved_parameters(self) -> list[Variable]:
        """What a checkpoint holds: the model's parameters (the optimiser may train only some)
        and the running statistics of its BatchNorm layers."""
        params = getattr(self.model, "parameters", None)
        saved = list(params()) if callable(params) else list(self.optimizer.params)
        return saved + [variable for layer in self._batch_norms for variable in layer.buffers()]

    def _set_mode(self, training: bool) -> None:
        setter = getattr(self.model, "train", None)
        if callable(setter):
            setter(training)

    def _train_step(
        self,
        columns: list[np.ndarray],
        label_columns: list[np.ndarray],
        index: np.ndarray,
        rng: np.random.Generator,
        compiled: Any,
        epoch: int,
    ) -> float:
        step = self.global_step
        masks = draw_masks(self._dropouts, len(index), rng) if self._dropouts else {}
        statistics = []
        grads: Any = None
        if self._batch_norms:
            self._set_batch(columns, label_columns, index, masks)
            statistics = [layer.batch_statistics() for layer in self._batch_norms]
        if compiled is not None:
            feed: dict[Variable, Any] = {var: col[index] for var, col in zip(self.inputs, columns)}
            feed.update({var: col[index] for var, col in zip(self.labels, label_columns)})
            feed.update(masks)
            self._set_values(masks)  # so callbacks see the mask this step used
            if hasattr(compiled, "gradients"):  # graphdl's compiled program: the gradient as an array too
                # (stored now when a hook may read them, or the optimiser steps per Variable)
                store = self._store_each_step or self._parameter_order(compiled) is None
                loss, grads = compiled.gradients(feed, store=store)
                self._unstored = None if store else (compiled, grads.copy())
            else:
                loss = float(compiled.backward(feed))
            if not math.isfinite(loss):
                self._set_values(feed)  # replay with the interpreter to find the node
                self.loss.forward()
        else:
            if not self._batch_norms:  # else already set for the batch statistics
                self._set_batch(columns, label_columns, index, masks)
            self.loss.backward()
            loss = float(np.mean(self.loss.forward()))
        if not math.isfinite(loss):
            node = _first_non_finite(self.loss)
            where = f"; first non-finite value at {node.kind} {node.name!r}" if node is not None else ""
            raise TrainingDiverged(
                f"training stopped at epoch {epoch}, step {step}: the loss {self.loss.name!r} is {loss}{where}",
                epoch=epoch,
                step=step,
                node=node.name if node is not None else self.loss.name,
            )
        try:
            order = self._parameter_order(compiled)
            if order is None:
                self.optimizer.step()
            else:  # on arrays: no Python loop over the parameters
                values = compiled.parameter_values()
                new = self.optimizer.step_arrays(values[order], grads[order])
                values[order] = new
                compiled.assign_parameters(values)
        except FloatingPointError as error:
            raise TrainingDiverged(
                f"training stopped at epoch {epoch}, step {step}: {error}", epoch=epoch, step=step, node=None
            ) from None
        for layer, layer_statistics in zip(self._batch_norms, statistics):
            layer.update_running(layer_statistics)
        self.global_step += 1
        return loss

    def _store_gradients(self) -> None:
        """Write the last compiled step's gradients to the parameters' ``.grad`` (a loop over
        every parameter: a third of an MLP(2, [64, 64, 1]) step, so not done at every step
        unless an ``on_step`` hook may read them)."""
        if self._unstored is not None:
            compiled, grads = self._unstored
            self._unstored = None
            compiled.target.store_gradients(zip(compiled.parameters, grads.tolist()))

    def _parameter_order(self, compiled: Any) -> np.ndarray | None:
        """Where each of the optimiser's parameters sits in the compiled program's parameter
        array, or None when the two sets differ (then the optimiser steps per Variable)."""
        if compiled is None or not hasattr(compiled, "assign_parameters") or not hasattr(compiled, "gradients"):
            return None
        cached = self._order_cache
        if cached is not None and cached[0] is compiled:
            return cached[1]
        position = {p: k for k, p in enumerate(compiled.parameters)}
        params = self.optimizer.params
        order = None
        if len(position) == len(params) and all(p in position for p in params):
            order = np.array([position[p] for p in params], dtype=np.intp)
        self._order_cache = (compiled, order)
        return order

    def _set_values(self, values: dict[Variable, Any]) -> None:
        for var, value in values.items():
            var.set_value(value)

    def _set_batch(
        self,
        columns: list[np.ndarray],
        label_columns: list[np.ndarray] | None,
        index: np.ndarray | None,
        masks: dict[Variable, Any],
    ) -> None:
        for var, col in zip(self.inputs, columns):
            var.set_value(col if index is None else col[index])
        if label_columns is not None:
            for var, col in zip(self.labels, label_columns):
                var.set_value(col if index is None else col[index])
        self._set_values(masks)

    def _end_of_epoch(self, epoch: int, train_loss: float, train: Any, dev: Any, history: History) -> dict[str, float]:
        logs: dict[str, float] = {"epoch": epoch, "train_loss": train_loss}
        history.epochs.append(epoch)
        history.train_loss.append(train_loss)
        if self.metric is not None:
            _, value = self._evaluate_columns(*train)
            assert value is not None  # a metric is set, so it gave a score
            history.train_metric.append(value)
            logs[f"train_{self.metric_name}"] = value
        if dev is not None:
            dev_loss, dev_value = self._evaluate_columns(*dev)
            history.dev_loss.append(dev_loss)
            logs["dev_loss"] = dev_loss
            if dev_value is not None:
                history.dev_metric.append(dev_value)
                logs[f"dev_{self.metric_name}"] = dev_value
        self._set_mode(True)
        return logs

    def _track_best(self, epoch: int, logs: dict[str, float], history: History, higher: bool, checkpoint: Any) -> bool:
        """Record the epoch when ``monitor`` improved (and save the checkpoint); True when it did."""
        key = history.monitor.replace("metric", str(self.metric_name)) if history.monitor.endswith("metric") else None
        value = logs[key] if key else logs[history.monitor]
        best = history.best_value
        improved = best is None or (value > best if higher else value < best)
        if improved and math.isfinite(value):
            history.best_epoch, history.best_value = epoch, value
            if checkpoint is not None:
                checkpoints.save(
                    checkpoint,
                    self._saved_parameters(),
                    self.optimizer,
                    metadata={"epoch": epoch, "monitor": history.monitor, "value": value},
                )
            return True
        return False

    # --------------------------------------------------------------- evaluation
    def _forward_outputs(self, columns: list[np.ndarray], label_columns: list[np.ndarray] | None) -> np.ndarray:
        self._set_mode(False)
        self._set_batch(columns, label_columns, None, identity_masks(self._dropouts))
        n = len(columns[0])
        values = [np.broadcast_to(np.asarray(node.forward(), dtype=float), (n,)) for node in self.outputs]
        return values[0].copy() if len(values) == 1 else np.stack(values, axis=1)

    def _evaluate_columns(
        self, columns: list[np.ndarray], label_columns: list[np.ndarray]
    ) -> tuple[float, float | None]:
        outputs = self._forward_outputs(columns, label_columns)
        loss = float(np.mean(self.loss.forward()))
        score = None
        if self.metric is not None:
            labels = label_columns[0] if len(label_columns) == 1 else np.stack(label_columns, axis=1)
            score = float(self.metric(outputs, labels))
        return loss, score

    def evaluate(self, data: Data) -> dict[str, float]:
        """``{"loss": mean loss, <metric name>: metric}`` on ``data`` = (X, y), in
        evaluation mode (dropout off), as one batch."""
        columns, label_columns = self._split(data, "evaluate")
        loss, score = self._evaluate_columns(columns, label_columns)
        self._set_mode(True)
        result = {"loss": loss}
        if self.metric_name is not None and score is not None:
            result[self.metric_name] = score
        return result

    def predict(self, X: Any) -> np.ndarray:
        """The model's outputs for ``X``: shape (N,) for one output, (N, K) for K outputs."""
        outputs = self._forward_outputs(self._columns(X, "predict"), None)
        self._set_mode(True)
        return outputs

    def predict_classes(self, X: Any) -> np.ndarray:
        """Class predictions: argmax over K outputs, else output ≥ the loss's threshold."""
        return metric_functions.classify(self.predict(X), self.threshold)


def _copied(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


def _as_numbers(data: Any, what: str, which: str) -> np.ndarray:
    """``data`` as a float array, or a ValueError naming ``what`` and ``which`` (X or y):
    a masked array would lose its mask and a complex one its imaginary part silently."""
    if np.ma.isMaskedArray(data):
        raise ValueError(
            f"{what}: {which} is a masked array; fill or drop the masked entries first (the mask would be lost)"
        )
    try:
        array = np.asarray(data)
        if array.dtype.kind == "c":
            raise ValueError(f"{which} holds complex numbers")
        return np.asarray(array, dtype=float)
    except OverflowError:
        raise ValueError(f"{what}: {which} holds a number too large for a float (beyond ±1.8e308)") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: {which} must be a regular array of real numbers ({error})") from None
