"""The Python runner: the program rendered as straight-line Python (``c.source``).

One source text is executed in two namespaces: primitives bound to the scalar backend's
float functions (one sample) and to numpy ufuncs (a batch). Python float arithmetic
raises where IEEE arithmetic gives ±inf or NaN (``1.0 / 0.0``), so a call that raises is
redone on one-element arrays, as the interpreter does per node.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import linecache
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.symbolic import Expr, render
from graphdl.core.anomaly import AnomalyError
from graphdl.core.node import Node
from graphdl.core.plan import describe
from graphdl.core.primitives import PRIMITIVES

_ndarray = np.ndarray
_errstate = np.errstate
ARITHMETIC_ERRORS = (ZeroDivisionError, OverflowError, ValueError)
_serial = itertools.count(1)
_KEEP_FLOATS = 8_000_000  # keep at most 64 MB of a batch's arrays between calls


def _batch_sum(values: Any) -> float:
    return float(values.sum()) if values.__class__ is _ndarray else values


_COMMON = {"inf": float("inf"), "nan": float("nan"), "__builtins__": builtins}
#: The namespace one sample runs in: the float version of every primitive.
SCALAR_NAMESPACE = {**_COMMON, **{name: p.scalar for name, p in PRIMITIVES.items()}, "batch_sum": lambda v: v}
#: The namespace a batch runs in: the numpy version of every primitive.
ARRAY_NAMESPACE = {**_COMMON, **{name: p.array for name, p in PRIMITIVES.items()}, "batch_sum": _batch_sum}


def load(source: str, label: str, namespaces: Sequence[dict[str, Any]], owner: object) -> list[dict[str, Any]]:
    """Execute ``source`` in a copy of each namespace. The text is registered in
    :mod:`linecache` (tracebacks show the generated line) for as long as ``owner`` lives."""
    filename = f"<graphdl {label} #{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(owner, linecache.cache.pop, filename, None)
    code = builtins.compile(source, filename, "exec")
    loaded = [dict(namespace) for namespace in namespaces]
    for namespace in loaded:
        exec(code, namespace)
    return loaded


# ---------------------------------------------------------------- rendering
def _tuple(items: Sequence[str]) -> str:
    """``items`` as the inside of a Python tuple (one item keeps its trailing comma)."""
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _renderer(program: Program, per_sample: bool = False) -> Callable[[Expr], str]:
    """Python text of an expression, leaves by their identifiers."""
    names = program.names

    def leaf(leaf: Expr) -> str:
        return names[leaf.slot] if leaf.slot is not None else leaf.name

    return lambda expr: render(expr, leaf, per_sample)


def _lines(
    program: Program, expr: Callable[[Expr], str], statements: Sequence[Statement], checks: list[Node] | None = None
) -> list[str]:
    """One line a statement; with ``checks``, an anomaly check after every value and
    gradient (``checks`` receives the node each one names)."""
    out = []
    for statement in statements:
        name = program.names[statement.slot]
        text = f"{name} = {expr(statement.expr)}"
        out.append(f"{text}  # {statement.note}" if statement.note else text)
        if checks is not None and statement.node is not None:
            out.append(f"{'check' if statement.role == 'value' else 'check_grad'}({name}, {len(checks)})")
            checks.append(statement.node)
    return out


def _function(signature: str, doc: str, body: Sequence[str]) -> list[str]:
    return [f"def {signature}:", f'    """{doc}"""', *("    " + line for line in body)]


def source_of(program: Program, checks: list[Node] | None = None) -> str:
    """``forward`` and ``backward`` as Python source; with ``checks``, anomaly checks after
    every value and gradient (``checks`` receives the node each one names)."""
    expr = _renderer(program)
    names = program.names
    input_names = [names[s] for s in program.input_slots]
    leaf_names = [names[s] for s in program.leaf_slots]
    n_params = len(program.parameters)
    arguments = ", ".join([*input_names, *leaf_names])
    forward = _lines(program, expr, program.forward, checks)
    target = expr(program.target)
    gradients = _tuple([expr(g) for g in program.gradients])
    kept = _tuple([names[s.slot] for s in program.statements if s.slot in program.varies])
    header = [
        f"# Compiled by graphdl from the graph of {program.title}: {program.operators} operators.",
        f"# Inputs, fed per call: {', '.join(input_names) or '(none)'}.",
        f"# Parameters, read at call time: {', '.join(leaf_names[:n_params]) or '(none)'}.",
    ]
    if len(leaf_names) > n_params:
        header.append(f"# Data read at call time: {', '.join(leaf_names[n_params:])}.")
    backward = [
        *forward,
        "# gradient graph: g_<node> = seed * d(target)/d(<node>) for each sample, seed = 1/batch size;",
        "# g_<parameter> sums it over the batch: d(mean of the target)/d(<parameter>)",
        *_lines(program, expr, program.backward, checks),
        "# the batch's arrays go back too: kept until the next call, numpy reuses their memory",
        f"return {target}, ({gradients}), ({kept})",
    ]
    return "\n".join(
        [
            *header,
            "# One text, two namespaces: exp, where, sign, ... are float functions for one",
            "# sample and numpy ufuncs for a batch; batch_sum sums a batch (identity for one sample).",
            "",
            "",
            *_function(f"forward({arguments})", "The value of the target for one sample or a batch.", forward),
            f"    return {target}",
            "",
            "",
            *_function(
                f"backward(seed, {arguments})" if arguments else "backward(seed)",
                "The target and the gradients of its batch mean w.r.t. the parameters.",
                backward,
            ),
            "",
        ]
    )


def render_step(program: Program) -> str:
    """One per-sample SGD step as one function: the statements with seed 1.0, then the
    updated parameters ``p - lr * g_p`` (the interpreter's update)."""
    expr = _renderer(program, per_sample=True)
    names = program.names
    arguments = ", ".join(["lr", *(names[s] for s in (*program.input_slots, *program.leaf_slots))])
    updates = _tuple([f"{names[s]} - lr * {expr(g)}" for s, g in zip(program.leaf_slots, program.gradients)])
    body = ["seed = 1.0", *_lines(program, expr, program.statements), f"return {expr(program.target)}, ({updates})"]
    doc = "One SGD step for one sample: the loss, and the parameters after the update."
    return "\n".join([*_function(f"step({arguments})", doc, body), ""])


def render_sgd(program: Program) -> str:
    """Per-sample SGD over a whole data set in one function: for each sample the
    statements with seed 1.0, then ``p = p - lr * g_p`` for every parameter."""
    expr = _renderer(program, per_sample=True)
    names = program.names
    columns = list(program.column_names)
    inputs = [names[s] for s in program.input_slots]
    leaves = [names[s] for s in program.leaf_slots]
    params = leaves[: len(program.parameters)]
    target = expr(program.target)
    grad_names = _tuple([names[g.slot] if g.slot is not None else "_" for g in program.gradients])
    body = [
        "seed = 1.0",
        "losses = []",
        f"for {', '.join(inputs)}{',' if len(columns) == 1 else ''} in zip({', '.join(columns)}):",
        "    try:",
        *("        " + line for line in _lines(program, expr, program.statements)),
        "    except (ZeroDivisionError, OverflowError):",
        f"        {target}, ({grad_names}) = fallback({', '.join([*inputs, *leaves])})",
        *(f"    {p} = {p} - lr * {expr(g)}" for p, g in zip(params, program.gradients)),
        f"    losses.append({target})",
        f"return losses, ({_tuple(params)})",
    ]
    doc = "Per-sample SGD over the columns; returns the losses and the final parameters."
    return "\n".join([*_function(f"sgd(lr, fallback, {', '.join([*columns, *leaves])})", doc, body), ""])


# ------------------------------------------------------------------ running
def _anomaly_checks(nodes: Sequence[Node]) -> dict[str, Callable[[Any, int], None]]:
    """``check(value, k)`` and ``check_grad(g, k)``: raise :class:`AnomalyError` naming
    ``nodes[k]`` when the value is not finite."""

    def checker(what: str) -> Callable[[Any, int], None]:
        def check(value: Any, k: int) -> None:
            if value.__class__ is float and value - value == 0.0 or np.isfinite(value).all():
                return
            if value.__class__ is _ndarray:
                bad = value[~np.isfinite(value)]
                summary = f"{bad.size} of {value.size} samples, first {bad[0]}"
            else:
                summary = repr(float(value))
            raise AnomalyError(f"{describe(nodes[k])}: {what} is not finite ({summary}) in the compiled program")

        return check

    return {"check": checker("value"), "check_grad": checker("gradient")}


def to_float(value: Any) -> float:
    if value.__class__ is _ndarray and value.ndim == 1:
        return float(value[0])
    return float(value)


def _floats(leaves: Any) -> Any:
    """The leaves' values as floats: a list or tuple as is, an array as a list."""
    return leaves.tolist() if leaves.__class__ is _ndarray else leaves


def _as_arrays(values: Sequence[Any]) -> list[Any]:
    return [np.array([v]) if v.__class__ is not _ndarray else v for v in values]


class PythonRunner:
    """Runs the program as Python: one sample on floats, a batch on numpy arrays (one call
    per statement). Arguments are the inputs' values and the leaves' values (a sequence of
    floats or a float64 array)."""

    def __init__(self, program: Program, owner: object, checked: bool = False) -> None:
        self.program = program
        self.owner = owner
        self._checks: list[Node] | None = [] if checked else None
        self._kept: Any = None

    @functools.cached_property
    def source(self) -> str:
        """``forward`` and ``backward`` as Python text (rendered on first use)."""
        return source_of(self.program, self._checks)

    @functools.cached_property
    def _namespaces(self) -> list[dict[str, Any]]:
        """The float and the numpy namespace of the program. Python compiles a 20 000-line
        function in about 0.2 s, so this happens on first use; grouped batches never need it."""
        source = self.source
        extra = _anomaly_checks(self._checks) if self._checks is not None else {}
        label = "compiled" if self._checks is None else "compiled, anomaly checks"
        return load(source, label, [{**SCALAR_NAMESPACE, **extra}, {**ARRAY_NAMESPACE, **extra}], self.owner)

    @functools.cached_property
    def _step(self) -> Callable[..., Any]:
        return load(render_step(self.program), "step", [SCALAR_NAMESPACE], self.owner)[0]["step"]

    @functools.cached_property
    def _sgd(self) -> Callable[..., Any]:
        return load(render_sgd(self.program), "sgd loop", [SCALAR_NAMESPACE], self.owner)[0]["sgd"]

    def _on_arrays(self, function: str, seed: tuple[Any, ...], arguments: list[Any], as_is: bool) -> Any:
        """``function`` of the numpy program (IEEE arithmetic: 1/0 is inf, not an error): on
        ``arguments`` as they are when ``as_is``, and on one-element arrays when that raises
        (Python floats among them) or was not asked for."""
        run = self._namespaces[1][function]
        with _errstate(all="ignore"):
            if as_is:
                try:
                    return run(*seed, *arguments)
                except ARITHMETIC_ERRORS:
                    pass
            return run(*seed, *_as_arrays(arguments))

    def forward(self, values: list[Any], leaves: list[float], size: int | None) -> Any:
        arguments = [*values, *_floats(leaves)]
        if size is None:  # float arithmetic and the float primitives never emit numpy warnings
            try:
                return self._namespaces[0]["forward"](*arguments)
            except ARITHMETIC_ERRORS:
                return to_float(self._on_arrays("forward", (), arguments, False))
        out = self._on_arrays("forward", (), arguments, True)
        if out.__class__ is not _ndarray or out.ndim == 0 or out.size != size:
            return to_float(out)
        return out

    def backward(self, values: list[Any], leaves: list[float], size: int | None) -> tuple[Any, list[float]]:
        """The target's value(s) and the gradients of its batch mean."""
        arguments = [*values, *_floats(leaves)]
        if size is None:
            try:
                out, grads, _ = self._namespaces[0]["backward"](1.0, *arguments)
                return out, list(grads)
            except ARITHMETIC_ERRORS:
                return self.one_as_array(*arguments)
        seed = np.full(size, 1.0 / size) if self.program.target_varies else 1.0
        out, grads, kept = self._on_arrays("backward", (seed,), arguments, True)
        # Freeing every temporary at once lets the allocator return the memory to the
        # system, and the next call page-faults it back in (~1.5x slower at N = 1e5):
        # keep this call's arrays until the next call, within a memory cap.
        self._kept = kept if size * len(kept) <= _KEEP_FLOATS else None
        return out, [to_float(g) for g in grads]

    def one_as_array(self, *arguments: Any) -> tuple[float, list[float]]:
        """One sample through the numpy program (as IEEE arithmetic: 1/0 is inf, not an error)."""
        out, grads, _ = self._on_arrays("backward", (np.ones(1),), list(arguments), False)
        return to_float(out), [to_float(g) for g in grads]

    def step(self, lr: float, values: list[Any], leaves: list[float]) -> tuple[float, Sequence[float]]:
        """One per-sample SGD step: the loss, and the parameters' new values."""
        if leaves.__class__ is _ndarray:
            leaves = leaves.tolist()
        try:
            return self._step(lr, *values, *leaves)  # (loss, new values)
        except ARITHMETIC_ERRORS:
            loss, grads = self.one_as_array(*values, *leaves)
            return loss, [value - lr * grad for value, grad in zip(leaves, grads)]

    def sgd(self, lr: float, columns: list[np.ndarray], leaves: list[float]) -> tuple[np.ndarray, list[float]]:
        """Per-sample SGD over the columns: the losses, and the parameters' final values."""
        with _errstate(all="ignore"):
            losses, final = self._sgd(lr, self.one_as_array, *(c.tolist() for c in columns), *_floats(leaves))
        return np.array(losses), list(final)
