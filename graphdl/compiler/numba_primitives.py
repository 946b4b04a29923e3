"""The primitives of a formula as numba functions, for the machine-code backend.

Each one computes what the scalar backend of :mod:`graphdl.core.backend` computes for one
float: selections (``where``, ``clip``, ``sign``) are exact; the transcendental ones
call the C library through LLVM, which may differ from numpy's SIMD kernels in the last
bit. Kernels run with numpy's error model, so ``1.0 / 0.0`` is ``inf``, never an
exception. Imported only when the numba backend is used.
"""

from __future__ import annotations

import math

from numba import njit

_jit = njit(cache=True, error_model="numpy")

inf = math.inf
nan = math.nan


@_jit
def exp(x):
    return math.exp(x)


@_jit
def expm1(x):
    return math.expm1(x)


@_jit
def log(x):
    if x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log(x)


@_jit
def log1p(x):
    if x < -1.0:
        return math.nan
    if x == -1.0:
        return -math.inf
    return math.log1p(x)


@_jit
def tanh(x):
    return math.tanh(x)


@_jit
def pow(base, exponent):  # noqa: A001 - the primitive's name in formulas
    return base**exponent


@_jit
def where(condition, if_true, if_false):
    return if_true if condition else if_false


@_jit
def sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x * 0.0


@_jit
def clip(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x


@_jit
def batch_sum(x):
    return x
