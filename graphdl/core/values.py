"""Values of the graph: a Python float (one sample) or a read-only 1-D float64 array (a
batch), validated at the door."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdl.core.plan import describe

Value = float | np.ndarray

_ndarray = np.ndarray


def check_value(node: Any, value: Any) -> Value:
    """Validate and normalise a value for ``node``: a finite real number becomes a
    Python float, a 1-D array of finite reals a read-only float64 array."""
    if value.__class__ is float and value - value == 0.0:  # fast path: a finite float (inf - inf is NaN)
        return value
    if isinstance(value, np.ma.MaskedArray):  # its mask would be lost silently
        raise TypeError(f"{describe(node)}: masked arrays are refused; pass value.filled(x) or value.compressed()")
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{describe(node)}: value must be finite, got {number}")
        return number
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, _ndarray)):
        raise TypeError(
            f"{describe(node)}: value must be a real number or a 1-D array of real numbers, got {type(value).__name__}"
        )
    try:
        array = np.array(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{describe(node)}: value is not a regular 1-D array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{describe(node)}: array values must be real numbers, got dtype {array.dtype}")
    if array.ndim == 0:
        return check_value(node, array.item())
    if array.ndim != 1:
        raise ValueError(
            f"{describe(node)}: a batch must be a 1-D array (one graph describes one sample), got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{describe(node)}: a batch must hold at least one sample")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{describe(node)}: every value must be finite (found NaN or inf)")
    array.flags.writeable = False
    return array


def short(value: Value | None) -> str:
    if value is None:
        return "None"
    if isinstance(value, _ndarray):
        return f"array(mean={value.mean():.4g}, n={value.size})"
    return f"{value:.6g}"
