"""The kernel code of every primitive (:data:`graphdl.compiler.registry.KERNEL_CODE`) compiled
by numba, under the names the kernels call, and :func:`leaf_sums`, numpy's summation of a
block. Kernels run with numpy's error model, so ``1.0 / 0.0`` is ``inf``, never an exception.
Imported only by numba kernels.
"""

from __future__ import annotations

import math

import numba
from numba import njit
from numba.core.compiler_lock import global_compiler_lock

from graphdl.compiler.registry import KERNEL_CODE

inf = math.inf
nan = math.nan

globals().update({name: njit(cache=True, error_model="numpy")(code) for name, code in KERNEL_CODE.items()})


def leaf_sums(terms, size, stack, depth, lanes):
    """``stack[depth, k]``: ``terms[k, :size]`` (``size`` ≤ 128) summed as numpy sums a block: term i
    into lane i % 8, lanes added ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), then the rest (-0.0 adds
    nothing). ``lanes`` (8 floats) is scratch: stored there, the eight running sums become two
    4-wide vectors to LLVM's SLP vectoriser (their pairwise tree alone, it packs two-wide)."""
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


# Compiled now, for these types only, with LLVM's SLP vectoriser (numba ships it off: it miscompiled
# integer code) on for this one float function: under numba's compiler lock, no other compilation sees it.
with global_compiler_lock:
    _slp, numba.config.SLP_VECTORIZE = numba.config.SLP_VECTORIZE, 1
    try:
        leaf_sums = njit("void(f8[:, ::1], i8, f8[:, ::1], i8, f8[::1])", cache=True, error_model="numpy")(leaf_sums)
    finally:
        numba.config.SLP_VECTORIZE = _slp
