"""A progress bar over epochs: tqdm when installed, else a minimal one on stderr."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class _Silent:
    def update(self, postfix: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class _TqdmBar:
    def __init__(self, total: int, unit: str = "epoch") -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit=unit, dynamic_ncols=True)

    def update(self, postfix: dict[str, float]) -> None:
        self._bar.set_postfix({key: f"{value:.4g}" for key, value in postfix.items()}, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


class TextBar:
    """``epoch 3/10 [######......] loss=0.4123 dev_accuracy=0.95`` redrawn in place."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 20, unit: str = "epoch") -> None:
        self.total, self.done, self.width, self.unit = total, 0, width, unit
        self.stream = stream if stream is not None else sys.stderr

    def update(self, postfix: dict[str, float]) -> None:
        self.done += 1
        filled = int(self.width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        values = " ".join(f"{key}={value:.4g}" for key, value in postfix.items())
        self.stream.write(f"\r{self.unit} {self.done}/{self.total} [{bar}] {values}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def progress_bar(total: int, enabled: bool = True, unit: str = "epoch") -> Any:
    """An object with ``update(postfix)`` (one ``unit`` done) and ``close()``."""
    if not enabled:
        return _Silent()
    try:
        return _TqdmBar(total, unit)
    except ImportError:
        return TextBar(total, unit=unit)
