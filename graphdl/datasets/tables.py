"""Real tables: iris (shipped with graphdl) and digits (through scikit-learn). Nothing
is ever downloaded."""

from __future__ import annotations

from importlib import resources

import numpy as np

from graphdl.datasets.base import Dataset

IRIS_CLASSES = ["setosa", "versicolor", "virginica"]


def iris() -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species (labels 0, 1, 2).

    Read from ``graphdl/datasets/data/iris.csv`` (written from scikit-learn's copy; see
    the file's header)."""
    text = resources.files("graphdl.datasets").joinpath("data/iris.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header, rows = lines[0].split(","), lines[1:]
    table = np.array([[float(cell) for cell in row.split(",")] for row in rows])
    if table.shape != (150, 5):
        raise RuntimeError(f"the shipped iris.csv is damaged: shape {table.shape}, expected (150, 5)")
    return Dataset(table[:, :4], table[:, 4].astype(int), header[:4], list(IRIS_CLASSES), "Fisher's iris (1936)")


def digits(scale: bool = True) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1797 images, 64 pixels, labels 0–9), read
    from the copy bundled with scikit-learn. ``scale`` maps pixels from 0–16 to 0–1."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "graphdl.datasets.digits() needs scikit-learn, which bundles the digits table: "
            "pip install scikit-learn (graphdl never downloads data)"
        ) from None
    bunch = load_digits()
    X = bunch.data / 16.0 if scale else bunch.data.astype(float)
    names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    return Dataset(X, bunch.target.astype(int), names, [str(k) for k in range(10)], "8×8 digits (scikit-learn)")
