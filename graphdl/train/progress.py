"""The one progress bar of graphdl (the Trainer's epochs, a sweep's runs, the demo's steps and frames).

``label [######........] 5/30  16%  loss=0.41 dev_accuracy=1  0.3s``: on a terminal it is
redrawn in place at most about 100 times; written to a file or a pipe (a log) it prints only
its final line, so logs get one line per bar instead of every ``\\r`` update.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressBar:
    """A one-line text progress bar on ``stream`` (default stderr), with no dependency."""

    def __init__(self, total: int, label: str = "training", stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.width, self.label = max(total, 1), width, label
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._shown = -1
        self._last: tuple[int, str] | None = None  # the latest state, for a bar closed before its end
        self._finished = False

    def due(self, done: int) -> bool:
        """Whether :meth:`update` would draw for ``done`` (at most 100 times, and a file or
        pipe gets only the final line), so a caller computes what it shows only then."""
        return done >= self.total or (self.live and int(100 * done / self.total) != self._shown)

    def update(self, done: int, extra: str = "") -> None:
        """Show ``done`` of ``total``, followed by ``extra``."""
        self._last = (done, extra)
        if self._finished or not self.due(done):
            return
        self._draw(done, extra)

    def close(self) -> None:
        """End the bar's line; a bar stopped before its end (an error, a divergence) shows where it stopped."""
        if not self._finished and self._last is not None:
            self._draw(*self._last, final=True)

    def _draw(self, done: int, extra: str, final: bool = False) -> None:
        percent = int(100 * done / self.total)
        self._shown = percent
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.perf_counter() - self.started
        extra = f"  {extra}" if extra else ""
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {percent:3d}%{extra}  {elapsed:.1f}s")
        if done >= self.total or final:
            self.stream.write("\n")
            self._finished = True
        self.stream.flush()


class TextBar:
    """A :class:`ProgressBar` counted one ``unit`` at a time, shown with its latest numbers:
    ``epoch [######..............] 3/10  30%  loss=0.4123 dev_accuracy=0.95  1.2s``."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 20, unit: str = "epoch") -> None:
        self.done = 0
        self.bar = ProgressBar(total, label=unit, stream=stream, width=width)

    def update(self, postfix: dict[str, float]) -> None:
        """One more ``unit`` done; ``postfix`` holds the numbers to show after the bar."""
        self.done += 1
        self.bar.update(self.done, " ".join(f"{key}={value:.4g}" for key, value in postfix.items()))

    def close(self) -> None:
        self.bar.close()


class _Silent:
    def update(self, postfix: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, enabled: bool = True, unit: str = "epoch") -> Any:
    """An object with ``update(postfix)`` (one ``unit`` done) and ``close()``: a
    :class:`TextBar` on stderr, or one that shows nothing when not ``enabled``."""
    return TextBar(total, unit=unit) if enabled else _Silent()
