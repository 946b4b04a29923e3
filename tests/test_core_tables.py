"""The two tables everything is built from: the primitive table (backends and compiled
namespaces come from it) and the operator spec table of the gradient tests (every
exported operator must have an entry)."""

from __future__ import annotations

import numpy as np
import pytest
from core_opspecs import BATCH_SPECS, SPECS

import graphdl
import graphdl.nn
from graphdl import Operator
from graphdl.compiler.compiled import ARRAY_NAMESPACE, SCALAR_NAMESPACE
from graphdl.compiler.ir import RESERVED
from graphdl.compiler.symbolic import SYMBOLIC, Expr
from graphdl.core.backend import ARRAY, SCALAR
from graphdl.core.primitives import PRIMITIVES


def _library_operators() -> set[type]:
    """Every operator class graphdl defines (walking the subclasses of Operator), skipping
    marker bases such as Loss that have no formula."""
    found: set[type] = set()
    stack = list(Operator.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("graphdl.") and cls.formula is not Operator.formula:
            found.add(cls)
    return found


def _exported_operators() -> set[type]:
    exported = set()
    for module in (graphdl, graphdl.ops, graphdl.nn):
        for name in getattr(module, "__all__", ()):
            item = getattr(module, name)
            if isinstance(item, type) and issubclass(item, Operator) and item.formula is not Operator.formula:
                exported.add(item)
    return exported


def test_every_operator_has_an_entry_in_the_spec_table() -> None:
    rng = np.random.default_rng(0)
    covered = set()
    for spec in SPECS:
        values = spec.draw(rng)
        node = spec.make([graphdl.Variable(v) for v in values])
        covered.add(type(node))
    for batch_spec in BATCH_SPECS:  # operators that reduce over the batch: columns in, column out
        covered.add(type(batch_spec.make([graphdl.Variable(v) for v in batch_spec.draw(rng, 3)])))
    missing = sorted(cls.__name__ for cls in (_exported_operators() | _library_operators()) - covered)
    assert missing == [], f"add these operators to tests/core_opspecs.py: {missing}"


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_every_primitive_reaches_every_backend_and_namespace(name: str) -> None:
    primitive = PRIMITIVES[name]
    assert getattr(SCALAR, name) is primitive.scalar and getattr(ARRAY, name) is primitive.array
    assert SCALAR_NAMESPACE[name] is primitive.scalar and ARRAY_NAMESPACE[name] is primitive.array
    assert name in RESERVED
    symbols = [Expr(f"x{k}") for k in range(primitive.arity)]
    assert getattr(SYMBOLIC, name)(*symbols).text == f"{name}({', '.join(s.text for s in symbols)})"
    rng = np.random.default_rng(1)
    for _ in range(5):
        args = [float(v) for v in rng.uniform(0.1, 2.0, size=primitive.arity)]
        if name in ("where", "clip"):
            args[0] = args[0] > 1.0 if name == "where" else args[0]
            args[1:] = sorted(args[1:]) if name == "clip" else args[1:]
        if name == "batch_mean":
            args[2] = 0.0  # the estimate: with use_batch 1, one sample is an error (tests/test_batch_ops.py)
        one = primitive.scalar(*args)
        batch = primitive.array(*[np.array([a]) for a in args])
        assert type(one) is float or isinstance(one, (bool, float))
        assert float(np.asarray(batch).reshape(-1)[0]) == one  # bit-identical: one sample = a batch of one


def test_an_unknown_primitive_is_a_clear_error() -> None:
    with pytest.raises(AttributeError, match="not a primitive.*primitives.py"):
        SCALAR.sin(1.0)
