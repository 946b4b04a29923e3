"""The kernel code of every primitive (:mod:`graphdl.compiler.kernel_code`) compiled by numba,
under the names the compiled statements call. Kernels run with numpy's error model, so
``1.0 / 0.0`` is ``inf``, never an exception. Imported only when the numba backend is used.
"""

from __future__ import annotations

import math

from numba import njit

from graphdl.compiler.kernel_code import KERNEL_CODE

inf = math.inf
nan = math.nan

globals().update({name: njit(cache=True, error_model="numpy")(code) for name, code in KERNEL_CODE.items()})
