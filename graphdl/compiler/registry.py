"""One table of what every runner can compute, derived from the primitive table.

Every primitive of :data:`graphdl.core.primitives.PRIMITIVES` (plus ``batch_sum``, which
sums a parameter's gradient over the batch) must appear here with its grouped-numpy form and its numba
kernel code. The Python runner needs nothing: it calls the primitive's own float and
numpy versions. :func:`missing` names what the numba kernels cannot compute, so a graph
they cannot run says which primitive they lack, once.

Kernel code is plain Python on one float that numba compiles (``math`` functions and
conditionals); it computes what the primitive's float version computes. The selections
(``where``, ``clip``, ``sign``) ARE the float versions; the transcendental ones go through
the C library, which may differ from numpy's SIMD kernels in the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from graphdl.core.primitives import PRIMITIVES


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


@dataclass(frozen=True)
class Forms:
    """How the batch runners compute one function: the numpy call of the grouped program
    (None: the runner has its own code for it) and the numba kernel code (None: no
    per-sample kernel can compute it)."""

    numpy: str | None
    kernel: Callable[..., float] | None


#: Every function a statement may call -> its forms.
FORMS: dict[str, Forms] = {
    "exp": Forms("np.exp", lambda x: math.exp(x)),
    "expm1": Forms("np.expm1", lambda x: math.expm1(x)),
    "log": Forms("np.log", _log),
    "log1p": Forms("np.log1p", _log1p),
    "tanh": Forms("np.tanh", lambda x: math.tanh(x)),
    "pow": Forms("np.power", lambda base, exponent: base**exponent),
    "abs": Forms("np.absolute", PRIMITIVES["abs"].scalar),
    "sign": Forms("np.sign", PRIMITIVES["sign"].scalar),
    "clip": Forms("np.clip", PRIMITIVES["clip"].scalar),
    "where": Forms(None, PRIMITIVES["where"].scalar),
    "batch_mean": Forms(None, None),  # batch statistics: needs the whole batch
    "batch_sum": Forms(None, lambda x: x),  # one sample: the kernel's loop sums over the batch
}
#: Kernel code numba compiles, by the name statements call.
KERNEL_CODE = {name: forms.kernel for name, forms in FORMS.items() if forms.kernel is not None}


def missing(calls: Iterable[str]) -> list[str]:
    """The functions among ``calls`` that no numba kernel can compute."""
    return sorted(name for name in calls if name not in KERNEL_CODE)


def unlisted() -> list[str]:
    """Primitives of the core table this registry does not list (a test keeps it empty)."""
    return sorted(set(PRIMITIVES) - set(FORMS))


def kernel_module_header(title: str) -> list[str]:
    """The first lines of a generated numba kernel module: ``title`` as a comment, then the
    imports of numba, of every primitive's kernel code and of numpy's block summation."""
    primitives = ", ".join(sorted([*KERNEL_CODE, "inf", "leaf_sums", "nan"]))
    return [
        f"# {title}",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        f"from graphdl.compiler.numba_primitives import {primitives}  # noqa: F401",
        "",
        "",
    ]
