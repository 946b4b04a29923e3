"""The primitive table: every function an operator formula may call through its backend ``F``.

One entry per primitive, holding its float version (one sample) and its numpy version (a
batch) side by side. Everything that runs formulas is built from this table: the scalar
and array backends of the interpreter (:mod:`graphdl.core.backend`), the symbolic backend
that turns formulas into source text, and the namespaces the compiled program runs in.
A new primitive is one entry here; a new operator that uses existing primitives needs none.

Float versions of transcendental functions call the same numpy ufunc as the array version
(numpy's SIMD kernels can differ from :mod:`math` in the last bit), so one sample and a
batch of one give bit-identical results, and they never emit numpy warnings (one sample
needs no ``np.errstate``). Selections (``where``, ``sign``, ``clip``) use plain Python
conditionals on floats: exact, and twenty times cheaper than a ufunc call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_float = float
_np_exp, _np_expm1, _np_log, _np_log1p = np.exp, np.expm1, np.log, np.log1p
_np_tanh, _np_power = np.tanh, np.power


@dataclass(frozen=True)
class Primitive:
    """One primitive: its name (the attribute of ``F`` and the name in compiled code),
    its number of arguments, a float version and a numpy version."""

    name: str
    arity: int
    scalar: Callable[..., Any]
    array: Callable[..., Any]
    doc: str


# The float versions never emit numpy warnings, so the interpreter and the compiled program
# need no ``np.errstate`` for one sample (it costs more than the arithmetic): inputs that
# cannot overflow or leave the domain take the direct call, the rest (rare) a quiet one.
_quiet = np.errstate
_EXP_SAFE = 709.0  # e ** 709 < the largest float


def _scalar_exp(x):
    if x < _EXP_SAFE:
        return _float(_np_exp(x))
    with _quiet(all="ignore"):
        return _float(_np_exp(x))


def _scalar_expm1(x):
    if x < _EXP_SAFE:
        return _float(_np_expm1(x))
    with _quiet(all="ignore"):
        return _float(_np_expm1(x))


def _scalar_log(x):
    if x > 0.0:
        return _float(_np_log(x))
    with _quiet(all="ignore"):
        return _float(_np_log(x))


def _scalar_log1p(x):
    if x > -1.0:
        return _float(_np_log1p(x))
    with _quiet(all="ignore"):
        return _float(_np_log1p(x))


def _scalar_tanh(x):
    return _float(_np_tanh(x))  # never overflows, never leaves its domain


def _scalar_pow(base, exponent):
    size = base if base > 0.0 else -base
    if 1e-100 < size < 1e100 and -3.0 <= exponent <= 3.0 and (base > 0.0 or exponent == int(exponent)):
        return _float(_np_power(base, exponent))  # no overflow, no 0 ** -k, no (-b) ** fraction
    with _quiet(all="ignore"):
        return _float(_np_power(base, exponent))


def _scalar_abs(x):
    return abs(x)


def _scalar_where(condition, if_true, if_false):
    return if_true if condition else if_false


def _scalar_sign(x):
    # One expression of selections: numba compiles it to compare-and-blend instructions, no
    # data-dependent branch (the sign of label - prediction would be mispredicted half the time) and
    # no bool-to-float conversions, so the batch kernels' loops run on SIMD registers; in Python it is
    # three times faster than arithmetic on bools. Zero and NaN give x * 0.0, as numpy.sign.
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x * 0.0)


def _use_batch(flag):
    return bool(flag if flag.__class__ is not np.ndarray else flag.flat[0])


def _one_sample():
    return ValueError("batch statistics need at least 2 samples per batch, got 1")


def _scalar_batch_mean(values, estimate=0.0, use_batch=1.0):
    if _use_batch(use_batch):
        raise _one_sample()  # a float is one sample: no statistic of a batch
    return estimate


def _array_batch_mean(values, estimate=0.0, use_batch=1.0):
    if not _use_batch(use_batch):
        return np.broadcast_to(estimate, np.shape(values)).copy() if values.__class__ is np.ndarray else estimate
    if values.__class__ is not np.ndarray or values.size < 2:
        raise _one_sample()
    return np.full(values.shape, values.mean())


def _scalar_clip(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x


PRIMITIVES: dict[str, Primitive] = {
    primitive.name: primitive
    for primitive in (
        Primitive("exp", 1, _scalar_exp, np.exp, "e ** x (overflow gives inf)"),
        Primitive("expm1", 1, _scalar_expm1, np.expm1, "e ** x - 1, exact near 0"),
        Primitive("log", 1, _scalar_log, np.log, "natural logarithm (NaN below 0, -inf at 0)"),
        Primitive("log1p", 1, _scalar_log1p, np.log1p, "log(1 + x), exact near 0"),
        Primitive("tanh", 1, _scalar_tanh, np.tanh, "hyperbolic tangent"),
        Primitive("pow", 2, _scalar_pow, np.power, "base ** exponent, IEEE rules (0 ** -1 is inf)"),
        Primitive("abs", 1, _scalar_abs, np.abs, "|x|"),
        Primitive("where", 3, _scalar_where, np.where, "if_true where condition holds, else if_false"),
        Primitive("sign", 1, _scalar_sign, np.sign, "-1, 0 or 1 (NaN for NaN)"),
        Primitive("clip", 3, _scalar_clip, np.clip, "x limited to [low, high]"),
        Primitive(
            "batch_mean",
            3,
            _scalar_batch_mean,
            _array_batch_mean,
            "batch_mean(values, estimate=0, use_batch=1): the mean of values over the batch for every sample "
            "(an error for one sample), or the estimate when use_batch is 0",
        ),
    )
}
