"""Kernel code for each primitive of :mod:`graphdl.core.primitives`: plain Python on one float
that numba can compile (``math`` functions and conditionals, no numpy calls).

Each computes what the primitive's float version computes: the selections (``where``,
``clip``, ``sign``) ARE the float versions; the transcendental ones through the C library, which may
differ from numpy's SIMD kernels in the last bit. ``abs`` is Python's own (numba compiles
the builtin). :mod:`graphdl.compiler.numba_primitives` compiles this table; a primitive
missing here makes the numba backend fall back to numpy with a note naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from graphdl.core.primitives import PRIMITIVES


def _exp(x):
    return math.exp(x)


def _expm1(x):
    return math.expm1(x)


def _log(x):
    if x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log(x)


def _log1p(x):
    if x < -1.0:
        return math.nan
    if x == -1.0:
        return -math.inf
    return math.log1p(x)


def _tanh(x):
    return math.tanh(x)


def _pow(base, exponent):
    return base**exponent


def _batch_sum(x):
    return x  # one sample: the sum over the batch is taken by the kernel's loop


#: Name in compiled statements -> kernel code.
KERNEL_CODE: dict[str, Callable[..., float]] = {
    "exp": _exp,
    "expm1": _expm1,
    "log": _log,
    "log1p": _log1p,
    "tanh": _tanh,
    "pow": _pow,
    # the selections' float versions are already plain Python numba compiles: shared, not copied
    "where": PRIMITIVES["where"].scalar,
    "sign": PRIMITIVES["sign"].scalar,
    "clip": PRIMITIVES["clip"].scalar,
    "batch_sum": _batch_sum,
}
#: Primitives numba compiles as they are (Python builtins).
BUILTINS = frozenset({"abs"})
#: Primitives that need the whole batch (batch statistics): no per-sample kernel computes
#: them, so graphs using them run on the numpy backend.
BATCH_ONLY = frozenset({"batch_mean"})
