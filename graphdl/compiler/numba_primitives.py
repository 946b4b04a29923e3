"""The kernel code of every primitive (:data:`graphdl.compiler.registry.KERNEL_CODE`) compiled
by numba, under the names the kernels call, and :func:`leaf_sums`, numpy's summation of a
block. Kernels run with numpy's error model, so ``1.0 / 0.0`` is ``inf``, never an exception.
Imported only by numba kernels.
"""

from __future__ import annotations

import math

from numba import njit

from graphdl.compiler.registry import KERNEL_CODE

inf = math.inf
nan = math.nan

globals().update({name: njit(cache=True, error_model="numpy")(code) for name, code in KERNEL_CODE.items()})


@njit(cache=True, error_model="numpy")
def leaf_sums(terms, size, out):
    """``out[k]``: ``terms[k, :size]`` (``size`` ≤ 128) summed as numpy sums a block: term i into lane
    i % 8, lanes added ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), then the rest (-0.0 adds nothing)."""
    blocks = size // 8
    grid = terms.reshape((terms.shape[0], terms.shape[1] // 8, 8))
    for k in range(terms.shape[0]):
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = -0.0
        for b in range(blocks):
            r0 += grid[k, b, 0]
            r1 += grid[k, b, 1]
            r2 += grid[k, b, 2]
            r3 += grid[k, b, 3]
            r4 += grid[k, b, 4]
            r5 += grid[k, b, 5]
            r6 += grid[k, b, 6]
            r7 += grid[k, b, 7]
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(8 * blocks, size):
            total += terms[k, i]
        out[k] = total
