"""The two numeric backends every operator formula is written against.

An operator writes its formula once, as ``formula(self, F, *args)``, using Python
arithmetic (``+ - * /``, comparisons) and the primitives of ``F``. The interpreter
passes ``SCALAR`` when every argument is a Python float and ``ARRAY`` when any argument
is a 1-D numpy array (a batch); the compiler passes a symbolic backend that turns the same
formula into source text. All of them are built from the one primitive table,
:data:`graphdl.core.primitives.PRIMITIVES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphdl.core.primitives import PRIMITIVES


class Backend:
    """A namespace of primitives: ``F.exp(x)``, ``F.where(c, a, b)``, ...

    Each primitive is an instance attribute (one dictionary lookup per call, the cheapest
    Python offers); ``name`` says which flavour this is.
    """

    def __init__(self, name: str, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.name = name
        for primitive, function in functions.items():
            setattr(self, primitive, function)

    def __repr__(self) -> str:
        return f"<graphdl {self.name} backend>"

    def __getattr__(self, name: str) -> Any:  # only called for names that are not primitives
        raise AttributeError(
            f"{name!r} is not a primitive of graphdl's backends; add it to graphdl/core/primitives.py "
            f"(primitives: {', '.join(PRIMITIVES)})"
        )


SCALAR = Backend("scalar", {name: primitive.scalar for name, primitive in PRIMITIVES.items()})
"""Primitives on Python floats; results are Python floats."""

ARRAY = Backend("array", {name: primitive.array for name, primitive in PRIMITIVES.items()})
"""The same primitives as numpy ufuncs, for batches (1-D arrays)."""
