"""The interpreter: one evaluator (values in topological order) and one reverse sweep
(gradients in reverse order), for one sample (Python floats) and batches (numpy arrays)
alike. Both read and write the nodes' private caches: they are part of the core."""

from __future__ import annotations

import contextlib
import itertools
import math
import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from graphdl.core.anomaly import AnomalyError, anomaly_active
from graphdl.core.backend import ARRAY, SCALAR
from graphdl.core.component import mark_computed, root_of
from graphdl.core.plan import Plan, describe
from graphdl.core.values import short

_ndarray = np.ndarray
_errstate = np.errstate
_chain = itertools.chain
_value_of = operator.attrgetter("_value")  # map(_value_of, parents): no per-call frame


class UnsetValueError(ValueError):
    """A computation needs a Variable that has no value yet."""


def evaluate(order: Iterable[Any], check: bool = False) -> None:
    """Compute, in the given topological order, every operator that has no cached value,
    from its parents' cached values (the interpreter's one evaluator).

    The backend is the float one when every argument is a float, numpy when one is a
    batch. Python floats raise where IEEE arithmetic gives ±inf or NaN (``1.0 / 0.0``):
    such a call is redone on one-element arrays, as numpy computes it. Arguments listed
    in ``checked_arguments`` are validated first. ``check`` is anomaly mode: a value that
    is not finite raises :class:`AnomalyError` naming the node.

    Float primitives never emit numpy warnings; numpy's error state is silenced (it
    costs more than a float operation) only once the first batch operation comes.
    """
    scalar = SCALAR
    quiet = None
    marked = False
    try:
        for op in order:
            if op._value is not None or not op.parents:
                continue
            if not marked:
                marked = True
                mark_computed(op)
            args = list(map(_value_of, op.parents))
            backend = scalar
            for arg in args:
                if arg.__class__ is not float:
                    backend = _backend_for(op, args)
                    if quiet is None and backend is not scalar:
                        quiet = _errstate(all="ignore")
                        quiet.__enter__()
                    break
            if op.checked_arguments:
                for index in op.checked_arguments:
                    op.check_argument(index, args[index])
            try:
                value = op.formula(backend, *args)
            except ZeroDivisionError:
                value = _as_numpy_does(op.formula, *args)
            if check:
                _check_finite(op, value, "value", args)
            op._value = value
    finally:
        if quiet is not None:
            quiet.__exit__(None, None, None)


def _as_numpy_does(function: Any, *args: Any) -> float:
    """``function(ARRAY, *args)`` on one-element arrays (floats wrapped), as a float."""
    with _errstate(all="ignore"):
        result = function(ARRAY, *[np.array([arg]) if arg.__class__ is float else arg for arg in args])
    return float(np.asarray(result).reshape(-1)[0])


def _backend_for(op: Any, args: list[Any]) -> Any:
    backend = SCALAR
    size = None
    for arg in args:
        if arg.__class__ is _ndarray:
            if size is None:
                size = arg.shape
            elif arg.shape != size:
                _raise_batch_mismatch(op)
            backend = ARRAY
        elif arg is None:
            _raise_unset(op)
    return backend


def _raise_batch_mismatch(op: Any) -> None:
    sizes = [
        f"{node.name!r} has {node._value.size}"
        for node in op.upstream()
        if not node.parents and isinstance(node._value, _ndarray)
    ]
    raise ValueError(f"{describe(op)}: inputs have different batch sizes ({', '.join(sizes)} samples)")


def _raise_unset(op: Any) -> None:
    for node in op.upstream():
        if not node.parents and node._value is None:
            raise UnsetValueError(
                f"Variable {node.name!r} has no value (needed by {describe(op)}): call {node.name}.set_value(...) first"
            )
    raise UnsetValueError(f"{describe(op)}: a parent has no value")


def _check_finite(node: Any, value: Any, what: str, args: list[Any] | None = None) -> None:
    finite = math.isfinite(value) if isinstance(value, float) else bool(np.isfinite(value).all())
    if not finite:
        detail = ""
        if args is not None:
            inputs = ", ".join(f"{parent.name}={short(arg)}" for parent, arg in zip(node.parents, args))
            detail = f" from inputs {inputs}"
        raise AnomalyError(f"{describe(node)}: {what} is not finite ({short(value)}){detail}")


def reverse_sweep(target: Any, plan: Plan, trace: list[Any] | None = None) -> None:
    """Reverse-mode sweep from ``target`` (already up to date): store d(target)/d(node)
    on the target and every node of ``plan.needs``. For a batch the seed is 1/N per
    sample (the gradient of the mean); a scalar node feeding a batch sums its paths over
    the samples. One sweep for floats and batches: the batch-only work is skipped when
    the target's value is a float (then every value upstream is a float too).

    ``trace``, when given, receives the sweep as it happens (for showing it, see
    :func:`graphdl.core.trace.backward_trace`): ``(node, grad)`` when a node's gradient is
    complete, then ``(node, index, parent, local, contribution)`` for each path to a
    parent, ``local`` being the operator's own ``derivative`` (None for a custom ``vjp``)."""
    out = target.forward()
    component = target._component
    if component is None or component.merged_into is not None:
        component = root_of(target)
    component.stamped[target._ref] = None
    tag = (target._ref, target._stamp, component.point)
    check = anomaly_active()
    batch = out.__class__ is _ndarray
    pending: dict[Any, Any] = {target: np.full(out.shape, 1.0 / out.size) if batch else 1.0}
    pop, get = pending.pop, pending.get
    backend = SCALAR
    quiet = _errstate(all="ignore") if batch else contextlib.nullcontext()  # floats never warn
    with quiet:
        for node, wanted, custom in _chain(((target, *plan.head),), plan.steps):
            grad = pop(node, None)
            if grad is None:
                continue
            value = node._value
            if batch and grad.__class__ is _ndarray and value.__class__ is not _ndarray:
                grad = float(grad.sum())  # a scalar feeding a batch: sum over samples
            if check:
                _check_finite(node, grad, "gradient")
            node._grad = grad
            node._grad_tag = tag
            if trace is not None:
                trace.append((node, grad))
            if not wanted:
                continue
            args = list(map(_value_of, node.parents))
            if batch:
                backend = ARRAY if any(arg.__class__ is _ndarray for arg in args) else SCALAR
            derivative = node.vjp if custom else node.derivative
            for index, parent in wanted:
                if custom:
                    local = None
                    contribution = derivative(backend, index, grad, value, *args)
                else:
                    try:
                        local = derivative(backend, index, value, *args)
                    except ZeroDivisionError:
                        local = _as_numpy_does(derivative, index, value, *args)
                    contribution = grad * local
                if batch and contribution.__class__ is _ndarray and parent._value.__class__ is not _ndarray:
                    # A scalar feeding a batch: sum this path over the samples now. Adding
                    # it to another path's scalar first would broadcast that scalar N times.
                    contribution = float(contribution.sum())
                if trace is not None:
                    trace.append((node, index, parent, local, contribution))
                previous = get(parent)
                pending[parent] = contribution if previous is None else previous + contribution
