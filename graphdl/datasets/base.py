"""The container every dataset function returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Features ``X`` (N, D) and targets ``y`` (N,), with optional names.

    Unpacks like the tutorials' ``X, y = make_moons(...)``.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    description: str = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.X, self.y))

    def __len__(self) -> int:
        return len(self.X)
