"""Generated datasets: quadratic, moons, circles, spirals. Deterministic given ``seed``."""

from __future__ import annotations

import numpy as np

from graphdl.datasets.base import Dataset


def _check_count(name: str, n: int, minimum: int = 2) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < minimum:
        raise ValueError(f"{name}: n_samples must be an integer >= {minimum}, got {n!r}")


def _check_noise(name: str, noise: float | None) -> float:
    noise = 0.0 if noise is None else float(noise)
    if noise < 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise}")
    return noise


def quadratic_data(
    n: int = 1500, seed: int | None = 0, low: float = 0.0, high: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples x ~ U(low, high) and labels x², as the core tutorial generates them
    (one stream: the tutorial's network trains on them in this order)."""
    rng = np.random.default_rng(seed)
    xs = rng.uniform(low, high, size=n)
    return xs, xs * xs


def quadratic(n_samples: int = 1500, seed: int | None = 0, low: float = 0.0, high: float = 2.0) -> Dataset:
    """The core tutorial's data: x ~ U(low, high), y = x². ``X`` has shape (N, 1)."""
    _check_count("quadratic", n_samples, 1)
    xs, ys = quadratic_data(n_samples, seed=seed, low=low, high=high)
    return Dataset(xs.reshape(-1, 1), ys, ["x"], [], "y = x² on [low, high] (the core tutorial's data)")


def _two_classes(
    X: np.ndarray, n_first: int, n_second: int, rng: np.random.Generator, shuffle: bool, noise: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Labels 0 then 1 for the two halves of ``X``; optional shuffle, then Gaussian noise."""
    y = np.concatenate([np.zeros(n_first), np.ones(n_second)])
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(0.0, noise, size=X.shape)
    return X, y


def make_moons(
    n_samples: int = 1000, shuffle: bool = True, noise: float | None = None, seed: int | None = None
) -> Dataset:
    """Two interleaving half circles, built as in the feed-forward tutorial: the outer moon
    (cos t, sin t) and the inner moon (1 − cos t, 0.5 − sin t) for t evenly spaced on
    [0, π], ⌊N/2⌋ and ⌈N/2⌉ points, labels 0 and 1; optionally shuffled; then Gaussian
    noise of standard deviation ``noise`` added to every coordinate."""
    _check_count("make_moons", n_samples)
    noise = _check_noise("make_moons", noise)
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], axis=1), np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)]
    )
    X, y = _two_classes(X, n_out, n_in, rng, shuffle, noise)
    return Dataset(X, y, ["x1", "x2"], ["outer", "inner"], f"moons, noise {noise}")


def make_circles(
    n_samples: int = 1000,
    shuffle: bool = True,
    noise: float | None = None,
    factor: float = 0.5,
    seed: int | None = None,
) -> Dataset:
    """A large circle (label 0) around a small one of radius ``factor`` (label 1)."""
    _check_count("make_circles", n_samples)
    noise = _check_noise("make_circles", noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], axis=1), factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)]
    )
    X, y = _two_classes(X, n_out, n_in, rng, shuffle, noise)
    return Dataset(X, y, ["x1", "x2"], ["outer", "inner"], f"circles, factor {factor}, noise {noise}")


def spiral(
    n_per_class: int = 100, classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed: int | None = None
) -> Dataset:
    """``classes`` interleaved spiral arms of ``n_per_class`` points each; integer labels
    0…classes−1. ``noise`` is the standard deviation of the angle jitter (radians)."""
    _check_count("spiral", n_per_class, 1)
    if classes < 2:
        raise ValueError(f"spiral: needs at least 2 classes, got {classes}")
    noise = _check_noise("spiral", noise)
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    parts, labels = [], []
    for k in range(classes):
        angle = 2.0 * np.pi * (turns * radius + k / classes) + rng.normal(0.0, noise, n_per_class)
        parts.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(n_per_class, k))
    return Dataset(
        np.concatenate(parts), np.concatenate(labels), ["x1", "x2"], [f"arm {k}" for k in range(classes)], "spiral"
    )
