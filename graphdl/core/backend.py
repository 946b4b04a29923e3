"""The two numeric backends every operator formula is written against.

An operator writes its formula once, as ``forward(self, F, *args)``, using Python
arithmetic (``+ - * /``, comparisons) and the primitives of ``F`` below. The
interpreter passes ``SCALAR`` when every argument is a Python float and ``ARRAY``
when any argument is a 1-D numpy array (a batch); the compiler passes a symbolic
backend that turns the same formula into source text.

Both backends give bit-identical results for the same numbers: the transcendental
primitives of ``SCALAR`` call the same numpy ufuncs as ``ARRAY`` (numpy's SIMD
kernels can differ from :mod:`math` in the last bit), while selection primitives
(``where``, ``clip``, ``sign``) use plain Python conditionals, which are exact and
twenty times cheaper than a ufunc call on one number.
"""

from __future__ import annotations

import numpy as np

_float = float
_np_exp, _np_log, _np_log1p, _np_expm1 = np.exp, np.log, np.log1p, np.expm1
_np_tanh, _np_power = np.tanh, np.power


class ScalarBackend:
    """Primitives on Python floats; results are Python floats."""

    name = "scalar"

    @staticmethod
    def exp(x):
        return _float(_np_exp(x))

    @staticmethod
    def expm1(x):
        return _float(_np_expm1(x))

    @staticmethod
    def log(x):
        return _float(_np_log(x))

    @staticmethod
    def log1p(x):
        return _float(_np_log1p(x))

    @staticmethod
    def tanh(x):
        return _float(_np_tanh(x))

    @staticmethod
    def pow(base, exponent):
        return _float(_np_power(base, exponent))

    @staticmethod
    def abs(x):
        return abs(x)

    @staticmethod
    def where(condition, if_true, if_false):
        return if_true if condition else if_false

    @staticmethod
    def sign(x):
        if x > 0:
            return 1.0
        if x < 0:
            return -1.0
        return x * 0.0  # 0.0 for zero, NaN for NaN, as numpy.sign

    @staticmethod
    def clip(x, low, high):
        if x < low:
            return low
        if x > high:
            return high
        return x


class ArrayBackend:
    """The same primitives as numpy ufuncs, for batches (1-D arrays)."""

    name = "array"
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    tanh = staticmethod(np.tanh)
    pow = staticmethod(np.power)
    abs = staticmethod(np.abs)
    where = staticmethod(np.where)
    sign = staticmethod(np.sign)
    clip = staticmethod(np.clip)


SCALAR = ScalarBackend()
ARRAY = ArrayBackend()
