"""The ``Backend`` protocol (what formulas are type-checked against) lists exactly the
primitives of the table, and every concrete backend provides them with that arity."""

from __future__ import annotations

import inspect

import pytest

from graphdl.compiler.symbolic import SYMBOLIC
from graphdl.core.backend import ARRAY, SCALAR, Backend
from graphdl.core.primitives import PRIMITIVES
from graphdl.ops.graph_backend import GraphBackend


def protocol_methods() -> dict[str, int]:
    """Method name -> number of arguments (without ``self``) declared on the protocol."""
    return {
        name: len(inspect.signature(member).parameters) - 1
        for name, member in vars(Backend).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def test_protocol_lists_every_primitive_with_its_arity():
    assert protocol_methods() == {name: primitive.arity for name, primitive in PRIMITIVES.items()}


@pytest.mark.parametrize("backend", [SCALAR, ARRAY, SYMBOLIC, GraphBackend()], ids=lambda backend: backend.name)
def test_every_backend_provides_the_protocol(backend):
    for name in protocol_methods():
        assert callable(getattr(backend, name)), f"{backend.name} backend lacks {name}"


def test_an_unknown_primitive_is_named_in_the_error():
    with pytest.raises(AttributeError, match="'sqrt' is not a primitive"):
        SCALAR.sqrt  # noqa: B018
