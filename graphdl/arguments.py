"""argparse ``type=`` checks shared by the ``graphdl`` command, its ``sweep`` subcommand
and the example and experiment scripts: a bad value becomes a one-line usage error."""

from __future__ import annotations

import argparse
import math

__all__ = ["non_negative_int", "output_folder", "positive_float", "positive_int"]


def _whole_number(text: str, minimum: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {number}")
    return number


def positive_int(text: str) -> int:
    """argparse ``type=`` for a whole number of at least 1 (used by the example scripts too)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """argparse ``type=`` for a whole number of at least 0."""
    return _whole_number(text, 0)


def positive_float(text: str) -> float:
    """argparse ``type=`` for a finite number above 0, such as a learning rate (``inf``
    would only end in a TrainingDiverged traceback at the first step)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number above 0, got {text}")
    return value


def output_folder(text: str) -> str:
    """argparse ``type=`` for an output folder: any non-empty name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty one")
    return text
