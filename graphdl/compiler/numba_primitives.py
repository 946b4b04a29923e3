"""The kernel code of every primitive (:data:`graphdl.compiler.registry.KERNEL_CODE`) compiled
by numba, under the names the kernels call, and :func:`leaf_sums`, numpy's summation of a
block. Kernels run with numpy's error model, so ``1.0 / 0.0`` is ``inf``, never an exception.
Imported only by numba kernels.
"""

from __future__ import annotations

from math import inf, nan  # noqa: F401  # the kernels import them from here
from typing import Any

import numpy as np
from numba import config, njit
from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import CPUDispatcher

from graphdl.compiler.registry import KERNEL_CODE

globals().update({name: njit(cache=True, error_model="numpy")(code) for name, code in KERNEL_CODE.items()})


class _Vectorised(CPUDispatcher):
    """Compiles with LLVM's SLP vectoriser on (numba ships it off: it miscompiled integer code), for
    our float functions: under numba's compiler lock, which no other compilation passes meanwhile."""

    def compile(self, sig: Any) -> Any:
        with global_compiler_lock:
            slp, config.SLP_VECTORIZE = config.SLP_VECTORIZE, 1  # type: ignore[attr-defined]
            try:
                return super().compile(sig)
            finally:
                config.SLP_VECTORIZE = slp  # type: ignore[attr-defined]


def _leaf_sums(terms, size, stack, depth, lanes):
    """``stack[depth, k]``: ``terms[k, :size]`` (``size`` ≤ 128) summed as numpy sums a block: term i
    into lane i % 8, lanes added ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), then the rest (-0.0 adds
    nothing). ``lanes`` (8 floats) is scratch: stored there, the eight running sums are two 4-wide
    vectors to LLVM's SLP vectoriser (seeing only the pairwise tree that adds them, it packs pairs)."""
    blocks = size // 8
    for k in range(terms.shape[0]):
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = -0.0
        for b in range(0, 8 * blocks, 8):
            r0 += terms[k, b]
            r1 += terms[k, b + 1]
            r2 += terms[k, b + 2]
            r3 += terms[k, b + 3]
            r4 += terms[k, b + 4]
            r5 += terms[k, b + 5]
            r6 += terms[k, b + 6]
            r7 += terms[k, b + 7]
        lanes[0], lanes[1], lanes[2], lanes[3], lanes[4], lanes[5], lanes[6], lanes[7] = r0, r1, r2, r3, r4, r5, r6, r7
        total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
        for i in range(8 * blocks, size):
            total += terms[k, i]
        stack[depth, k] = total


leaf_sums = _Vectorised(_leaf_sums, targetoptions={"nopython": True, "error_model": "numpy"})
leaf_sums.enable_caching()


@njit(cache=True)
def _finite_contiguous(values):
    bits = values.view(np.int64)
    top = 0
    for i in range(bits.size):  # an integer maximum: vectorised, where a float sum could not be
        top = max(top, bits[i] & 0x7FF0000000000000)
    return top != 0x7FF0000000000000


def finite(values: np.ndarray) -> bool:
    """Whether every number of a 1-D float64 array is finite: no exponent field all ones (inf,
    NaN). Half the time of ``np.add.reduce``, and no overflow warning for huge finite numbers."""
    if values.flags.c_contiguous:
        return bool(_finite_contiguous(values))
    return bool(np.isfinite(values).all())
