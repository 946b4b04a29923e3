"""Datasets, generated or shipped with graphdl, never downloaded: ``quadratic`` (and
``quadratic_data``, its two arrays), ``make_moons``, ``make_circles``, ``spiral``, ``iris``,
``digits`` (scikit-learn), with ``train_dev_test_split`` and ``standardise``."""

from graphdl.datasets.base import Dataset
from graphdl.datasets.split import standardise, train_dev_test_split
from graphdl.datasets.synthetic import make_circles, make_moons, quadratic, quadratic_data, spiral
from graphdl.datasets.tables import digits, iris

__all__ = [
    "Dataset",
    "digits",
    "iris",
    "make_circles",
    "make_moons",
    "quadratic",
    "quadratic_data",
    "spiral",
    "standardise",
    "train_dev_test_split",
]
