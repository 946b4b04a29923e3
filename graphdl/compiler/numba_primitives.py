"""The kernel code of every primitive (:data:`graphdl.compiler.registry.KERNEL_CODE`) compiled
by numba, under the names the kernels call. Kernels run with numpy's error model, so
``1.0 / 0.0`` is ``inf``, never an exception. Imported only by numba kernels.
"""

from __future__ import annotations

import math

from numba import njit

from graphdl.compiler.registry import KERNEL_CODE

inf = math.inf
nan = math.nan

globals().update({name: njit(cache=True, error_model="numpy")(code) for name, code in KERNEL_CODE.items()})
