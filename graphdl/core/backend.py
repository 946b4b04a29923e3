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
from typing import Any, Protocol

from graphdl.core.primitives import PRIMITIVES


class Backend(Protocol):
    """What a formula may use of ``F``: one method per primitive of
    :data:`~graphdl.core.primitives.PRIMITIVES` (a test keeps the two lists equal).

    Arguments and results are floats (``SCALAR``), arrays (``ARRAY``) or the compiler's
    symbolic expressions, so they are typed ``Any``; the formula's arithmetic decides.
    """

    name: str
    #: ``product_of_others(factors, index)``: the product of every factor but one, for a
    #: backend that can share partial products between indices (the graph backend); None
    #: for the numeric backends, which multiply the others directly.
    product_of_others: Callable[[Any, int], Any] | None

    def exp(self, x: Any, /) -> Any: ...
    def expm1(self, x: Any, /) -> Any: ...
    def log(self, x: Any, /) -> Any: ...
    def log1p(self, x: Any, /) -> Any: ...
    def tanh(self, x: Any, /) -> Any: ...
    def pow(self, base: Any, exponent: Any, /) -> Any: ...
    def abs(self, x: Any, /) -> Any: ...
    def where(self, condition: Any, if_true: Any, if_false: Any, /) -> Any: ...
    def sign(self, x: Any, /) -> Any: ...
    def clip(self, x: Any, low: Any, high: Any, /) -> Any: ...
    def batch_mean(self, values: Any, estimate: Any = 0.0, use_batch: Any = 1.0, /) -> Any: ...


class Namespace:
    """A namespace of primitives: ``F.exp(x)``, ``F.where(c, a, b)``, ... (a :class:`Backend`).

    Each primitive is an instance attribute (one dictionary lookup per call, the cheapest
    Python offers); ``name`` says which flavour this is.
    """

    product_of_others: Callable[[Any, int], Any] | None = None  # see Backend.product_of_others

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


SCALAR: Backend = Namespace("scalar", {name: primitive.scalar for name, primitive in PRIMITIVES.items()})
"""Primitives on Python floats; results are Python floats."""

ARRAY: Backend = Namespace("array", {name: primitive.array for name, primitive in PRIMITIVES.items()})
"""The same primitives as numpy ufuncs, for batches (1-D arrays)."""
