"""Split a dataset into train / dev / test parts, and standardise them with the training part's statistics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Split = tuple[np.ndarray, np.ndarray]


def train_dev_test_split(
    X: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[float | int] = (0.64, 0.16, 0.2),
    seed: int | None = 0,
    shuffle: bool = True,
) -> tuple[Split, Split, Split]:
    """``((X_train, y_train), (X_dev, y_dev), (X_test, y_test))``.

    ``sizes`` are three fractions summing to 1 or three counts summing to N (the feed-forward
    tutorial splits 1000 moons 640 / 160 / 200). With ``shuffle`` the rows are permuted with
    ``seed`` first."""
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"train_dev_test_split: X has {n} rows but y has {len(y)}")
    if len(sizes) != 3:
        raise ValueError(f"train_dev_test_split: sizes must be three numbers, got {sizes!r}")
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
        counts = [int(s) for s in sizes]
        if sum(counts) != n or min(counts) < 0:
            raise ValueError(f"train_dev_test_split: counts {counts} must be >= 0 and sum to {n}")
    else:
        fractions = [float(s) for s in sizes]
        if min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
            raise ValueError(f"train_dev_test_split: fractions {fractions} must be >= 0 and sum to 1")
        n_train = int(round(fractions[0] * n))
        n_dev = int(round(fractions[1] * n))
        counts = [n_train, n_dev, n - n_train - n_dev]
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    a, b = counts[0], counts[0] + counts[1]
    parts = (order[:a], order[a:b], order[b:])
    return tuple((X[idx], y[idx]) for idx in parts)  # type: ignore[return-value]  # always three parts, which mypy cannot count


def standardise(train: Split, *others: Split) -> list[Split]:
    """``[train, *others]`` with every feature scaled to mean 0 and standard deviation 1
    using the TRAINING part's mean and std (the tutorials' ``StandardScaler`` fitted on the
    training set), so no statistic of the dev or test data leaks into the model. A
    feature that is constant in the training part (a blank pixel) becomes 0."""
    X_train = np.asarray(train[0], dtype=float)
    if X_train.ndim != 2 or len(X_train) == 0:
        raise ValueError(f"standardise: the training X must be a non-empty 2-D array, got shape {X_train.shape}")
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0.0] = 1.0
    scaled = []
    for X, y in (train, *others):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != X_train.shape[1]:
            raise ValueError(f"standardise: every X must have {X_train.shape[1]} columns, got shape {X.shape}")
        scaled.append(((X - mean) / std, y))
    return scaled
