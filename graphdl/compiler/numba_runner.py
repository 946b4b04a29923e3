"""The numba runner: the program's statements inside machine-code kernels.

Statements are rendered with positional identifiers (``v12`` is slot 12), so the kernel
source depends on the graph's structure only, never on node names: rebuilding the same
graph (with new automatic names) finds the same kernels in the disk cache. Kernels:

* ``sample``, ``step``, ``sgd``: one sample at a time (``batch_sum(x)`` is ``x``);
* ``gradient_chunk`` / ``gradient``: the batch-mean gradient in three phases, as the
  interpreter computes it: what depends on no sample (an L2 penalty) once before the
  loop; per sample, the values and gradients that vary, each ``batch_sum`` argument added
  to an accumulator; after the loop, the gradients of what does not vary (every
  parameter's), once. The batch is split into a fixed number of chunks whose partial sums
  are added in chunk order, so the result does not depend on threads or scheduling;
* ``values_chunk`` / ``forward_values``: the target's value for every sample.

Kernels live in a Python file named by the hash of their source in the kernel cache
(:mod:`graphdl.compiler.kernel_cache`), compiled with ``cache=True``. Programs above
:data:`MAX_STATEMENTS` statements run the grouped kernels of
:mod:`graphdl.compiler.numba_groups` instead (same names, same arguments plus the program's
arrays, which :attr:`NumbaRunner.extra` holds): their source is the same for every graph.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.compiler import registry
from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.kernel_cache import cache_dir as cache_dir  # compiled.py and tests look it up here
from graphdl.compiler.kernel_cache import load_kernels
from graphdl.compiler.numba_groups import GroupedKernels, Unsupported
from graphdl.compiler.numba_groups import kernel_source as grouped_source
from graphdl.compiler.symbolic import Expr, render
from graphdl.core import primitives as core_primitives

#: Batches from this size run over the cores (prange); smaller ones in one thread (same chunks, same sums).
PARALLEL_FROM = 20_000
#: Chunks of a batch gradient: partial sums per chunk, added in order (deterministic).
CHUNKS = 64
#: Statements above which a straight-line kernel's compile time (about 10 ms a statement) no
#: longer pays: bigger programs get one loop per group of like statements (:mod:`numba_groups`).
MAX_STATEMENTS = 400
#: Bumped when the kernel template changes, so stale cache files are not reused.
KERNEL_VERSION = "5"
_JIT = 'njit(cache=True, error_model="numpy")'
_PARALLEL = 'njit(cache=True, error_model="numpy", parallel=True)'


class TooBig(ValueError):
    """The graph is too big for numba's compile time to pay."""


def available() -> bool:
    """True when numba can be imported."""
    return importlib.util.find_spec("numba") is not None


def cores_free() -> bool:
    """True when the machine's cores are not all busy (1-minute load average below the core
    count). On a saturated machine a parallel loop waits for its slowest thread, so batches
    then run in one thread; both give the same numbers (fixed chunks, fixed order of sums)."""
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5
    except OSError:
        return True


def _positional(leaf: Expr) -> str:
    return f"v{leaf.slot}" if leaf.slot is not None else leaf.name


def _sums_replaced(expr: Expr, accumulators: dict[str, tuple[int, Expr]]) -> Expr:
    """``expr`` with each ``batch_sum(e)`` replaced by an accumulator leaf ``a<k>``."""
    if expr.op == "batch_sum":
        key = render(expr.args[0], _positional)
        k = accumulators.setdefault(key, (len(accumulators), expr.args[0]))[0]
        return Expr(f"a{k}")
    if not expr.args:
        return expr
    args = tuple(_sums_replaced(a, accumulators) for a in expr.args)
    return Expr(expr.name, op=expr.op, args=args, precedence=expr.precedence)


def _after_sums(statements: Sequence[Statement], varies: set[int]) -> set[int]:
    """The statements that read a batch sum (or such a statement): computed after the loop
    over the samples. The other statements that vary with no sample run before it."""
    summed: set[int] = set()
    for statement in statements:
        if statement.slot in varies:
            continue
        if any(slot in summed for slot in statement.reads) or _has_sum(statement.expr):
            summed.add(statement.slot)
    return summed


def _has_sum(expr: Expr) -> bool:
    stack = [expr]
    while stack:
        item = stack.pop()
        if item.op == "batch_sum":
            return True
        stack.extend(item.args)
    return False


def kernel_source(program: Program) -> str:
    """The Python source of the kernels (readable; numba compiles it)."""
    statements = program.statements
    if len(statements) > MAX_STATEMENTS:
        raise TooBig(
            f"{len(statements)} statements is above the numba backend's limit of {MAX_STATEMENTS} "
            "(compiling would take longer than it saves)"
        )
    varies = program.varies

    def line(statement: Statement, one_sample: bool = True, expr: Expr | None = None) -> str:
        return f"v{statement.slot} = {render(statement.expr if expr is None else expr, _positional, one_sample)}"

    def block(indent: str, lines: Sequence[str]) -> list[str]:
        return [indent + text for text in lines]

    every = [line(s) for s in statements]
    summed = _after_sums(statements, varies)
    hoisted = [line(s) for s in statements if s.slot not in varies and s.slot not in summed]
    per_sample_forward = [line(s) for s in program.forward if s.slot in varies]
    per_sample_backward = [line(s) for s in program.backward if s.slot in varies]
    accumulators: dict[str, tuple[int, Expr]] = {}
    after = [line(s, False, _sums_replaced(s.expr, accumulators)) for s in statements if s.slot in summed]
    sums = [(k, render(e, _positional, True)) for k, e in accumulators.values()]
    n_sums = max(len(sums), 1)
    target = render(program.target, _positional)
    grads = [render(g, _positional, True) for g in program.gradients]
    n_params = len(grads)
    unpack_leaves = [f"v{slot} = leaves[{k}]" for k, slot in enumerate(program.leaf_slots)]

    def unpack_inputs(source: str, index: str | None) -> list[str]:
        at = f"[{index}]" if index else ""
        return [f"v{slot} = {source}[{k}]{at}" for k, slot in enumerate(program.input_slots)]

    seed = f"v{program.seed_slot}"
    grad_array = f"np.array([{', '.join(grads)}])" if grads else "np.empty(0)"
    out = [
        *registry.kernel_module_header(f"graphdl machine-code kernels: {len(statements)} statements"),
        f"@{_JIT}",
        "def sample(seed, inputs, leaves):",
        '    """Value and parameter gradients for one sample (seed = d(mean)/d(value))."""',
        *block("    ", [*unpack_inputs("inputs", None), *unpack_leaves, f"{seed} = seed", *every]),
        f"    return {target}, {grad_array}",
        "",
        "",
        f"@{_JIT}",
        "def step(lr, inputs, leaves):",
        '    """One SGD step for one sample: the loss, and the leaves after the update."""',
        *block("    ", [*unpack_inputs("inputs", None), *unpack_leaves, f"{seed} = 1.0", *every]),
        "    leaves = leaves.copy()",
        *[f"    leaves[{k}] = v{slot} - lr * {g}" for k, (slot, g) in enumerate(zip(program.leaf_slots, grads))],
        f"    return {target}, leaves",
        "",
        "",
        f"@{_JIT}",
        "def sgd(lr, columns, leaves):",
        '    """Per-sample SGD over the columns; returns the losses and the final leaves."""',
        "    leaves = leaves.copy()",
        *block("    ", [*unpack_leaves, f"{seed} = 1.0"]),
        "    count = columns[0].shape[0]",
        "    losses = np.empty(count)",
        "    for i in range(count):",
        *block("        ", [*unpack_inputs("columns", "i"), *every]),
        *[f"        v{slot} = v{slot} - lr * {g}" for slot, g in zip(program.leaf_slots, grads)],
        f"        losses[i] = {target}",
        *[f"    leaves[{k}] = v{slot}" for k, slot in enumerate(program.leaf_slots[:n_params])],
        "    return losses, leaves",
        "",
        "",
        f"@{_JIT}",
        "def gradient_chunk(seed, columns, leaves, values, lo, hi, partial):",
        '    """Samples lo..hi-1: their values into `values`, their batch sums into `partial`."""',
        *block("    ", [*unpack_leaves, *hoisted, f"{seed} = seed"]),
        *[f"    a{k} = 0.0" for k, _ in sums],
        "    for i in range(lo, hi):",
        *block("        ", [*unpack_inputs("columns", "i"), *per_sample_forward, *per_sample_backward]),
        *[f"        a{k} += {text}" for k, text in sums],
        f"        values[i] = {target}",
        *[f"    partial[{k}] = a{k}" for k, _ in sums],
        "",
        "",
        f"@{_JIT}",
        "def finish(leaves, partial):",
        '    """The gradients of what varies with no sample, from the batch sums (once per batch)."""',
        *block("    ", [*unpack_leaves, *hoisted]),
        *[f"    a{k} = partial[{k}]" for k, _ in sums],
        *block("    ", after),
        f"    return {grad_array}",
        "",
        "",
        f"@{_JIT}",
        "def values_chunk(columns, leaves, values, lo, hi):",
        '    """The target\'s value for samples lo..hi-1."""',
        *block("    ", [*unpack_leaves, *hoisted]),
        "    for i in range(lo, hi):",
        *block("        ", [*unpack_inputs("columns", "i"), *per_sample_forward]),
        f"        values[i] = {target}",
    ]
    for suffix, decorator, loop in (("", _JIT, "range"), ("_parallel", _PARALLEL, "prange")):
        out += [
            "",
            "",
            f"@{decorator}",
            f"def gradient{suffix}(seed, columns, leaves, values):",
            f'    """Batch-mean gradient: {CHUNKS} chunks ({loop}), their partial sums added in chunk order."""',
            "    count = columns[0].shape[0]",
            f"    partial = np.zeros(({CHUNKS}, {n_sums}))",
            f"    for chunk in {loop}({CHUNKS}):",
            f"        gradient_chunk(seed, columns, leaves, values, chunk * count // {CHUNKS}, "
            f"(chunk + 1) * count // {CHUNKS}, partial[chunk])",
            "    total = partial[0].copy()",
            f"    for chunk in range(1, {CHUNKS}):",
            "        total += partial[chunk]",
            "    return finish(leaves, total)",
            "",
            "",
            f"@{decorator}",
            f"def forward_values{suffix}(columns, leaves, values):",
            f'    """The target\'s value for every sample ({CHUNKS} chunks, {loop})."""',
            "    count = columns[0].shape[0]",
            f"    for chunk in {loop}({CHUNKS}):",
            f"        values_chunk(columns, leaves, values, chunk * count // {CHUNKS}, "
            f"(chunk + 1) * count // {CHUNKS})",
        ]
    return "\n".join([*out, ""])


def kernel_salt() -> bytes:
    """What the machine code depends on besides the kernel source: the template version, numba's
    version and the kernel code of the primitives (a change there must not hit old code)."""
    import numba

    primitives = b"".join(inspect.getsource(module).encode() for module in (registry, core_primitives))
    return f"{KERNEL_VERSION} {numba.__version__}\n".encode() + primitives


class NumbaRunner:
    """The numba kernels of one program (each compiled on its first call), called with the
    compiled graph's argument lists."""

    name = "numba"

    def __init__(self, program: Program) -> None:
        self.program = program
        #: Arguments every kernel takes last (the grouped kernels' index array).
        self.extra: tuple[Any, ...] = ()
        if len(program.statements) > MAX_STATEMENTS:
            try:
                grouped = GroupedKernels(program)
            except Unsupported as error:
                raise TooBig(f"the grouped numba kernels cannot run this graph: {error}") from None
            self.source, self.extra = grouped_source(), grouped.arrays
        else:
            self.source = kernel_source(program)
        self.module = load_kernels(self.source, kernel_salt())
        #: The kernel file in the cache (a name in memory when the cache folder is not used).
        self.path = Path(self.module.__file__ or "")
        self.sample = self.module.sample
        self.inputs = len(program.input_slots)

    def _pick(self, name: str, count: int) -> Any:
        return getattr(self.module, name + ("_parallel" if count >= PARALLEL_FROM and cores_free() else ""))

    def forward(self, values: list[Any], leaves: list[float], size: int | None) -> Any:
        leaf_array = np.array(leaves, dtype=np.float64)
        if size is None:
            return float(self.sample(1.0, np.array(values, dtype=np.float64), leaf_array, *self.extra)[0])
        out = np.empty(size)
        self._pick("forward_values", size)(tuple(values), leaf_array, out, *self.extra)
        return out

    def backward(self, values: list[Any], leaves: list[float], size: int | None) -> tuple[Any, list[float]]:
        leaf_array = np.array(leaves, dtype=np.float64)
        if size is None:
            value, grads = self.sample(1.0, np.array(values, dtype=np.float64), leaf_array, *self.extra)
            return float(value), grads.tolist()
        out = np.empty(size)
        grads = self._pick("gradient", size)(1.0 / size, tuple(values), leaf_array, out, *self.extra)
        return out, grads.tolist()

    def step(self, lr: float, values: list[Any], leaves: list[float]) -> tuple[float, list[float]]:
        arrays = np.array(values, dtype=np.float64), np.array(leaves, dtype=np.float64)
        loss, final = self.module.step(lr, *arrays, *self.extra)
        return float(loss), final.tolist()

    def sgd(self, lr: float, columns: list[np.ndarray], leaves: list[float]) -> tuple[np.ndarray, list[float]]:
        losses, final = self.module.sgd(lr, tuple(columns), np.array(leaves, dtype=np.float64), *self.extra)
        return losses, final.tolist()
