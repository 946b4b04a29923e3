"""The numba runner: the program's statements inside machine-code kernels.

Statements are rendered with positional identifiers (``v12`` is slot 12), so the kernel
source depends on the graph's structure only, never on node names: rebuilding the same
graph (with new automatic names) finds the same kernels in the disk cache. Kernels:

* ``sample``, ``step``, ``sgd``: one sample at a time (``batch_sum(x)`` is ``x``);
* ``gradient_part`` / ``gradient``: the target's mean and the batch-mean gradient in three
  phases, as the interpreter computes them: what depends on no sample (an L2 penalty) once;
  per sample, the values and gradients that vary; after the samples, the gradients of what
  does not vary (every parameter's) from the batch sums. The sums are added in numpy's
  pairwise order (:func:`sum_plan`), so they equal the interpreter's bit for bit, on any
  number of threads;
* ``forward_values``: the target's value for every sample.

Kernels live in a Python file named by the hash of their source in the kernel cache
(:mod:`graphdl.compiler.kernel_cache`), compiled with ``cache=True``. Programs above
:data:`MAX_STATEMENTS` statements run the grouped kernel of
:mod:`graphdl.compiler.numba_groups` instead (:attr:`NumbaRunner.grouped`: the program as
arrays of instructions; one thread): its source is the same for every graph.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.compiler import registry
from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.kernel_cache import cache_dir as cache_dir  # compiled.py and tests look it up here
from graphdl.compiler.kernel_cache import load_kernels
from graphdl.compiler.numba_groups import _JIT, GroupedKernels, Unsupported
from graphdl.compiler.numba_groups import kernel_source as grouped_source
from graphdl.compiler.symbolic import Expr, positional, render, sums_replaced
from graphdl.core import primitives as core_primitives
from graphdl.core.collector import collector_paused

#: Batches from this size run over the cores (prange); smaller ones in one thread (same chunks, same sums).
PARALLEL_FROM = 20_000
#: Chunks of a batch over the cores (the subtrees of a batch gradient's sums).
CHUNKS = 64
#: Statements above which a straight-line kernel's compile time (about 10 ms a statement) no
#: longer pays: bigger programs get one loop per group of like statements (:mod:`numba_groups`).
MAX_STATEMENTS = 400
#: Bumped when the kernel template changes, so stale cache files are not reused.
KERNEL_VERSION = "7"
_CORES = os.cpu_count() or 1  # os.cpu_count() reads /proc each call: 70 µs in a container
_PARALLEL = 'njit(cache=True, error_model="numpy", parallel=True)'


class TooBig(ValueError):
    """The numba kernels cannot run this graph (the message says why)."""


def available() -> bool:
    """True when numba can be imported."""
    return importlib.util.find_spec("numba") is not None


def _accumulator(k: int) -> Expr:
    return Expr(f"a{k}")


def _after_sums(statements: Sequence[Statement], varies: set[int]) -> set[int]:
    """The statements that read a batch sum (or such a statement): computed after the loop
    over the samples. The other statements that vary with no sample run before it."""
    summed: set[int] = set()
    for statement in statements:
        if statement.slot not in varies and (any(slot in summed for slot in statement.reads) or statement.expr.sums):
            summed.add(statement.slot)
    return summed


def kernel_source(program: Program) -> str:
    """The Python source of the straight-line kernels (readable; numba compiles it). :class:`NumbaRunner`
    uses it up to :data:`MAX_STATEMENTS` statements."""
    statements = program.statements
    varies = program.varies

    def line(statement: Statement, one_sample: bool = True, expr: Expr | None = None) -> str:
        return f"v{statement.slot} = {render(statement.expr if expr is None else expr, positional, one_sample)}"

    def block(indent: str, lines: Sequence[str]) -> list[str]:
        return [indent + text for text in lines]

    every = [line(s) for s in statements]
    summed = _after_sums(statements, varies)
    hoisted = [line(s) for s in statements if s.slot not in varies and s.slot not in summed]
    per_sample_forward = [line(s) for s in program.forward if s.slot in varies]
    accumulators: dict[str, tuple[int, Expr]] = {}
    after = [line(s, False, sums_replaced(s.expr, accumulators, _accumulator)) for s in statements if s.slot in summed]
    sums = [(k, render(e, positional, True)) for k, e in accumulators.values()]
    rows = 1 + len(sums)  # the target's sum, then the batch sums
    target = render(program.target, positional)
    grads = [render(g, positional, True) for g in program.gradients]
    unpack_leaves = [f"v{slot} = leaves[{k}]" for k, slot in enumerate(program.leaf_slots)]

    def unpack_inputs(template: str) -> list[str]:
        return [f"v{slot} = {template.format(k=k)}" for k, slot in enumerate(program.input_slots)]

    seed = f"v{program.seed_slot}"
    grad_array = f"np.array([{', '.join(grads)}])" if grads else "np.empty(0)"
    out = [
        *registry.kernel_module_header(f"graphdl machine-code kernels: {len(statements)} statements"),
        f"@{_JIT}",
        "def sample(seed, inputs, leaves):",
        '    """Value and parameter gradients for one sample (seed = d(mean)/d(value))."""',
        *block("    ", [*unpack_inputs("inputs[{k}]"), *unpack_leaves, f"{seed} = seed", *every]),
        f"    return {target}, {grad_array}",
        "",
        "",
        f"@{_JIT}",
        "def step(lr, inputs, leaves):",
        '    """One SGD step for one sample: the loss, and the leaves after the update."""',
        *block("    ", [*unpack_inputs("inputs[{k}]"), *unpack_leaves, f"{seed} = 1.0", *every]),
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
        *block("        ", [*unpack_inputs("columns[{k}][i]"), *every]),
        *[f"        v{slot} = v{slot} - lr * {g}" for slot, g in zip(program.leaf_slots, grads)],
        f"        losses[i] = {target}",
        *[f"    leaves[{k}] = v{slot}" for k, slot in enumerate(program.leaf_slots[: len(grads)])],
        "    return losses, leaves",
        "",
        "",
        f"@{_JIT}",
        "def gradient_part(seed, columns, leaves, plan, first, last, out):",
        '    """The sums (the target\'s, then the batch sums) of plan[first:last], one subtree, into out."""',
        *block("    ", [*unpack_leaves, *hoisted, f"{seed} = seed"]),
        f"    terms = np.empty(({rows}, 128))",
        f"    stack = np.empty((64, {rows}))",
        "    lanes = np.empty(8)",
        "    depth = 0",
        "    for op in range(first, last):",
        "        lo = plan[op, 0]",
        "        size = plan[op, 1]",
        "        if size == 0:",
        "            depth -= 1",
        f"            for k in range({rows}):",
        "                stack[depth - 1, k] += stack[depth, k]",
        "            continue",
        *[f"        c{k} = columns[{k}][lo : lo + size]" for k in range(len(program.input_slots))],
        "        for i in range(size):",
        *block("            ", [*unpack_inputs("c{k}[i]"), *[line(s) for s in statements if s.slot in varies]]),
        f"            terms[0, i] = {target}",
        *[f"            terms[{k + 1}, i] = {text}" for k, text in sums],
        "        leaf_sums(terms, size, stack, depth, lanes)",
        "        depth += 1",
        f"    for k in range({rows}):",
        "        out[k] = stack[0, k]",
    ]
    for suffix, decorator, loop in (("", _JIT, "range"), ("_parallel", _PARALLEL, "prange")):
        out += [
            "",
            "",
            f"@{decorator}",
            f"def gradient{suffix}(seed, columns, leaves, plan, parts):",
            f'    """The target\'s mean and the batch-mean gradient: the subtrees of the plan ({loop}), their',
            '    sums added pairwise as numpy adds them (the same numbers as the interpreter\'s)."""',
            "    width = parts.size - 1",
            f"    partial = np.empty((width, {rows}))",
            f"    for part in {loop}(width):",
            "        gradient_part(seed, columns, leaves, plan, parts[part], parts[part + 1], partial[part])",
            "    while width > 1:",
            "        width //= 2",
            "        for j in range(width):",
            f"            for k in range({rows}):",
            "                partial[j, k] = partial[2 * j, k] + partial[2 * j + 1, k]",
            *block("    ", [*unpack_leaves, *hoisted]),
            *[f"    a{k} = 0.0 + partial[0, {k + 1}]" for k, _ in sums],
            *block("    ", after),
            f"    return (0.0 + partial[0, 0]) / columns[0].shape[0], {grad_array}",
            "",
            "",
            f"@{decorator}",
            f"def forward_values{suffix}(columns, leaves, values):",
            f'    """The target\'s value for every sample ({loop})."""',
            *block("    ", [*unpack_leaves, *hoisted]),
            f"    for i in {loop}(values.size):",
            *block("        ", [*unpack_inputs("columns[{k}][i]"), *per_sample_forward]),
            f"        values[i] = {target}",
        ]
    return "\n".join([*out, ""])


def parallel(count: int) -> bool:
    """Whether a batch of ``count`` samples may run over the cores: big enough, numba allowed more
    than one thread, and the cores are not all busy (1-minute load average below the core count: on
    a saturated machine a parallel loop waits for its slowest thread). Both give the same numbers."""
    import numba

    try:
        return count >= PARALLEL_FROM and numba.get_num_threads() > 1 and os.getloadavg()[0] < _CORES - 0.5
    except OSError:
        return True


class ThreadChoice:
    """Whether a kernel's big batches run over the cores, decided by timing both ways on this
    machine, in this process: threads can lose to one core when other work holds them (seen with
    JAX's thread pool in the same process: 1-15 ms against 0.24 ms on one thread). The first calls
    try each way in turn (the first of each compiles it, and is timed again after), then the faster
    per sample is used, the other tried again every :data:`RETRY_EVERY` calls. Both ways give the
    same numbers, so the choice changes no result."""

    RETRY_EVERY = 256
    clock = staticmethod(time.perf_counter)

    def __init__(self) -> None:
        self.calls = 0
        self.per_sample = {False: math.inf, True: math.inf}

    def run(self, size: int, serial: Any, threaded: Any) -> Any:
        """``threaded()`` or ``serial()``, timed."""
        if not parallel(size):
            return serial()
        self.calls += 1
        faster = self.per_sample[True] < self.per_sample[False]
        threads = self.calls % 2 == 0 if self.calls <= 6 else faster != (self.calls % self.RETRY_EVERY == 0)
        start = self.clock()
        result = threaded() if threads else serial()
        self.per_sample[threads] = (self.clock() - start) / size
        return result


@functools.lru_cache(maxsize=32)
def sum_plan(count: int, parts: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """numpy's pairwise summation of ``count`` terms (``np.sum``, hence the interpreter's) as the
    batch-gradient kernels' instructions: a row (start, size) sums a leaf block of at most 128
    terms, a row (0, 0) adds the two sums on top of the stack. The rows come as ``parts`` (a
    power of two) whole subtrees, the kernel adding their sums pairwise; returns the rows and
    where each part starts."""
    rows: list[tuple[int, int]] = []
    starts = [0]

    def walk(lo: int, size: int, parts: int) -> None:
        if parts == 1 and size <= 128:
            rows.append((lo, size))
            return
        if size <= 128:
            raise ValueError(f"{count} terms cannot be split into {parts} subtrees")
        half = size // 2 - size // 2 % 8
        for start, length in ((lo, half), (lo + half, size - half)):
            walk(start, length, max(parts // 2, 1))
            if parts == 2:
                starts.append(len(rows))
        if parts == 1:
            rows.append((0, 0))

    walk(0, count, parts)
    return np.array(rows, dtype=np.int64), np.array(starts if parts > 1 else [0, len(rows)], dtype=np.int64)


def kernel_salt() -> bytes:
    """What the machine code depends on besides the kernel source: the template version, numba's
    version and the kernel code of the primitives (a change there must not hit old code)."""
    import numba

    from graphdl.compiler import numba_primitives

    modules = (registry, core_primitives, numba_primitives)
    primitives = b"".join(inspect.getsource(module).encode() for module in modules)
    return f"{KERNEL_VERSION} {numba.__version__}\n".encode() + primitives


class NumbaRunner:
    """The numba kernels of one program (each compiled on its first call), called with the
    compiled graph's argument lists."""

    def __init__(self, program: Program) -> None:
        self.program = program
        #: The grouped kernel's instructions for a big program (None: straight-line kernels).
        self.grouped: GroupedKernels | None = None
        if len(program.statements) > MAX_STATEMENTS:
            try:
                with collector_paused():  # many small objects, all kept: nothing for the collector
                    self.grouped = GroupedKernels(program)
            except Unsupported as error:
                raise TooBig(f"the grouped numba kernels cannot run this graph: {error}") from None
            self.source = grouped_source()
        else:
            self.source = kernel_source(program)
        self.module = load_kernels(self.source, kernel_salt())
        #: The kernel file in the cache (a name in memory when the cache folder is not used).
        self.path = Path(self.module.__file__ or "")
        self.sample: Any = getattr(self.module, "sample", None)
        self.forward_threads, self.backward_threads = ThreadChoice(), ThreadChoice()
        from graphdl.compiler.numba_primitives import finite  # (imports numba)

        #: Whether a batch's numbers are all finite (checked before the kernels run).
        self.finite = finite
        if self.grouped is not None:  # the grouped kernel's methods, in place of the ones below
            for name in ("forward", "backward", "sgd"):
                setattr(self, name, functools.partial(getattr(self.grouped, name), self.module))

    def forward(self, values: list[Any], leaves: list[float], size: int | None) -> Any:
        leaf_array = np.array(leaves, dtype=np.float64)
        if size is None:
            return float(self.sample(1.0, np.array(values, dtype=np.float64), leaf_array)[0])
        out = np.empty(size)
        module, columns = self.module, tuple(values)
        self.forward_threads.run(
            size,
            lambda: module.forward_values(columns, leaf_array, out),
            lambda: module.forward_values_parallel(columns, leaf_array, out),
        )
        return out

    def backward(self, values: list[Any], leaves: list[float], size: int | None) -> tuple[Any, list[float]]:
        leaf_array = np.array(leaves, dtype=np.float64)
        if size is None:
            value, grads = self.sample(1.0, np.array(values, dtype=np.float64), leaf_array)
            return float(value), grads.tolist()
        module, columns = self.module, tuple(values)
        mean, grads = self.backward_threads.run(
            size,
            lambda: module.gradient(1.0 / size, columns, leaf_array, *sum_plan(size, 1)),
            lambda: module.gradient_parallel(1.0 / size, columns, leaf_array, *sum_plan(size, CHUNKS)),
        )
        return mean, grads.tolist()

    def step(self, lr: float, values: list[Any], leaves: list[float]) -> tuple[float, list[float]]:
        if self.grouped is not None:  # one sample through the grouped sgd
            losses, final = self.grouped.sgd(self.module, lr, values, leaves)
            return float(losses[0]), final
        arrays = np.array(values, dtype=np.float64), np.array(leaves, dtype=np.float64)
        loss, final = self.module.step(lr, *arrays)
        return float(loss), final.tolist()

    def sgd(self, lr: float, columns: list[np.ndarray], leaves: list[float]) -> tuple[np.ndarray, list[float]]:
        losses, final = self.module.sgd(lr, tuple(columns), np.array(leaves, dtype=np.float64))
        return losses, final.tolist()
