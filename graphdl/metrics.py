"""Metrics on model outputs (numpy arrays): accuracy, MSE, confusion matrix.

``outputs`` is what :meth:`graphdl.train.Trainer.predict` returns: shape (N,) for one
output node, (N, K) for K output nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy", "classification_report", "classify", "confusion_matrix", "confusion_text", "mse"]


def classify(outputs: np.ndarray, threshold: float = 0.5, negative: int = 0) -> np.ndarray:
    """Class predictions: argmax over K ≥ 2 output columns, else ``outputs ≥ threshold``
    (1 for yes, ``negative`` — 0 or −1 — for no)."""
    outputs = np.asarray(outputs, dtype=float)
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return np.argmax(outputs, axis=1)
    outputs = outputs.reshape(-1)
    return np.where(outputs >= threshold, 1, negative)


def accuracy(outputs: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of correct predictions (the feed-forward tutorial's ``accuracy``).

    Binary: one output, predicted class ``outputs ≥ threshold`` (0.5 for probabilities,
    0 for logits or ±1 scores; labels 0/1, or ±1 when any label is negative).
    Multi-class: argmax over the K output columns against integer labels.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    negative = -1 if labels.min() < 0 else 0
    predictions = classify(outputs, threshold, negative)
    if predictions.shape[0] != labels.shape[0]:
        raise ValueError(f"accuracy: {predictions.shape[0]} predictions for {labels.shape[0]} labels")
    return float(np.mean(predictions == labels))


def mse(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over every sample and output."""
    outputs, targets = np.asarray(outputs, dtype=float), np.asarray(targets, dtype=float)
    if outputs.size != targets.size:
        raise ValueError(f"mse: {outputs.size} outputs for {targets.size} targets")
    return float(np.mean((outputs.reshape(targets.shape) - targets) ** 2))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Counts ``m[true, predicted]`` for integer classes 0…K−1 (rows: true class)."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    predictions = np.asarray(predictions).reshape(-1).astype(int)
    if labels.shape != predictions.shape:
        raise ValueError(f"confusion_matrix: {labels.size} labels for {predictions.size} predictions")
    if (labels < 0).any() or (predictions < 0).any():
        raise ValueError("confusion_matrix: classes must be integers 0…K−1 (map ±1 labels to 0/1 first)")
    size = num_classes if num_classes is not None else int(max(labels.max(initial=0), predictions.max(initial=0))) + 1
    matrix = np.zeros((size, size), dtype=int)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def confusion_text(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> str:
    """A confusion matrix as aligned text: a header of predicted classes, then one row per
    true class, e.g. for printing after :func:`confusion_matrix`."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"confusion_text: expected a square matrix, got shape {matrix.shape}")
    names = [str(name) for name in (class_names if class_names is not None else range(len(matrix)))]
    if len(names) != len(matrix):
        raise ValueError(f"confusion_text: {len(names)} class names for {len(matrix)} classes")
    width = max(3, *map(len, names), len(str(int(matrix.max(initial=0)))))
    lines = [" " * (width + 2) + " ".join(f"{name:>{width}}" for name in names)]
    lines += [
        f"{name:>{width}}: " + " ".join(f"{int(count):>{width}d}" for count in row) for name, row in zip(names, matrix)
    ]
    return "\n".join(lines)


def classification_report(
    trainer: Any, splits: Mapping[str, tuple[np.ndarray, np.ndarray]], num_classes: int, *, matrix_split: str = "test"
) -> dict[str, Any]:
    """A trained classifier's scores: for every split ``name`` in ``splits`` (``{name: (X, y)}``)
    ``"<name>_accuracy"`` and ``"<name>_loss"`` (``trainer.evaluate``, metric "accuracy"), and for
    ``matrix_split`` the ``"predictions"`` (``trainer.predict_classes``, argmax over the outputs),
    the true ``"labels"`` and the ``"confusion"`` matrix (rows: true class, as
    :func:`confusion_matrix`). ``trainer`` is a :class:`graphdl.train.Trainer`."""
    if matrix_split not in splits:
        raise ValueError(f"classification_report: no split named {matrix_split!r} among {sorted(splits)}")
    report: dict[str, Any] = {}
    for name, part in splits.items():
        scores = trainer.evaluate(part)
        if "accuracy" not in scores:
            raise ValueError("classification_report needs a Trainer built with metric='accuracy'")
        report[f"{name}_accuracy"], report[f"{name}_loss"] = scores["accuracy"], scores["loss"]
    X, labels = splits[matrix_split]
    predictions = trainer.predict_classes(X)
    report["predictions"], report["labels"] = predictions, np.asarray(labels)
    report["confusion"] = confusion_matrix(labels, predictions, num_classes)
    return report
