"""The machine-code backend: the compiled program's statements inside numba kernels.

The statements are the ones the code generator writes for the Python backend (they come
from the operators' own formulas through the symbolic backend); this module only wraps
them in loops and lets numba compile them. Four kernels, each compiled on first use:

* ``sample``: value and every parameter gradient for one sample;
* ``sgd``: per-sample SGD over a whole data set, the update inside the loop;
* ``gradient``: the batch-mean gradient as one fused loop over the samples, split into
  a fixed number of chunks run in parallel (``prange``), each summing its own partial
  gradients; the partials are added in chunk order, so the result does not depend on
  the number of threads or on scheduling;
* ``values``: the target's value for every sample of a batch (parallel).

Kernels live in a Python file named by the hash of their source in the kernel cache
(:mod:`graphdl.compiler.kernel_cache`), compiled with ``cache=True``: a second process that compiles the
same graph loads the machine code instead of compiling again.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphdl.compiler import kernel_code
from graphdl.compiler.kernel_cache import cache_dir as cache_dir  # where compiled.py and tests look it up
from graphdl.compiler.kernel_cache import load_kernels
from graphdl.compiler.kernel_code import BUILTINS, KERNEL_CODE
from graphdl.core import primitives as core_primitives

#: Batches from this size run over the cores (prange); smaller ones in one thread (same chunks, same sums).
PARALLEL_FROM = 20_000
#: Samples per block of the two-pass batch loop (gradients of a block fit in the L1 cache).
BLOCK = 256
#: Chunks of a batch gradient: partial sums per chunk, added in order (deterministic).
CHUNKS = 64
#: Straight-line statements above which the kernels loop over groups of like statements
#: instead: numba compiles about 6 ms per straight-line statement.
MAX_STATEMENTS = 400
#: Above these, numba's compile time (seconds to minutes) no longer pays: per sample, the loops
#: over groups run about as fast as numpy's grouped batch program, which compiles at once
#: (measured: MLP(2, [32, 32, 1]), 6 079 statements, compiles 16 s for 1.6x numpy's speed).
MAX_GROUPED_STATEMENTS = 2500
MAX_GROUPS = 150
#: The functions a statement may call that a kernel can run.
PRIMITIVES = frozenset(KERNEL_CODE) | BUILTINS
#: Bumped when the kernel template or the primitives change, so stale cache files are not reused.
KERNEL_VERSION = "4"

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_PLACEHOLDER = re.compile(r"\b_(\d+)\b")
_JIT = 'njit(cache=True, error_model="numpy")'
_PARALLEL = 'njit(cache=True, error_model="numpy", parallel=True)'
_HEADER = [
    "import numpy as np",
    "from numba import njit, prange",
    "",
    f"from graphdl.compiler.numba_primitives import {', '.join(sorted([*KERNEL_CODE, 'inf', 'nan']))}  # noqa: F401",
]
_OWN = (
    "inputs",
    "leaves",
    "lr",
    "columns",
    "count",
    "losses",
    "values",
    "partial",
    "chunk",
    "i",
    "lo",
    "hi",
    "total",
    "block",
    "start",
    "stop",
)


class TooBig(ValueError):
    """The graph is too big for numba's compile time to pay."""


def available() -> bool:
    """True when numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def cores_free() -> bool:
    """True when the machine's cores are not all busy (1-minute load average below the core
    count): threads then run side by side. On a saturated machine a parallel loop waits for
    its slowest thread (measured here: 3-100x slower than one thread), so batches run in one
    thread. Both give the same numbers: the chunks and the order of their sums are fixed."""
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5
    except OSError:
        return True


class KernelSpec:
    """What a kernel needs from the generated program: names and statements."""

    def __init__(
        self,
        input_names: Sequence[str],
        leaf_names: Sequence[str],
        gradient_names: Sequence[str],
        target_value: str,
        forward_lines: Sequence[str],
        backward_lines: Sequence[str],
        title: str,
    ) -> None:
        self.input_names = tuple(input_names)
        self.leaf_names = tuple(leaf_names)
        self.gradient_names = tuple(gradient_names)
        self.target_value = target_value
        self.forward_lines = tuple(forward_lines)
        self.backward_lines = tuple(backward_lines)
        self.title = title

    @property
    def statements(self) -> int:
        return len(self.forward_lines) + len(self.backward_lines)


def _own_names(spec: KernelSpec, wanted: Sequence[str]) -> dict[str, str]:
    """Names for the kernels' own variables that no statement uses."""
    used = {"seed", *spec.input_names, *spec.leaf_names}
    for line in (*spec.forward_lines, *spec.backward_lines):
        used.update(_IDENTIFIER.findall(line.split("#", 1)[0]))
    names = {}
    for name in wanted:
        chosen = name
        while chosen in used:
            chosen += "_"
        used.add(chosen)
        names[name] = chosen
    return names


def _batch_wrappers(n_grads: int, own: dict[str, str], serial: bool = True) -> list[str]:
    """``gradient``/``forward_values`` (one thread) and their ``_parallel`` twins around the
    kernels ``gradient_chunk`` and ``values_chunk``: the same chunks, so the same sums."""
    seed, columns, leaves, values = "seed", own["columns"], own["leaves"], own["values"]
    count, partial, chunk, lo, hi, total = (
        own["count"],
        own["partial"],
        own["chunk"],
        own["lo"],
        own["hi"],
        own["total"],
    )
    jit = _JIT
    parallel = _PARALLEL
    out: list[str] = []
    variants = (("", jit, "range"), ("_parallel", parallel, "prange"))
    for name, decorator, loop in variants if serial else variants[1:]:
        out += [
            "",
            f"@{decorator}",
            f"def gradient{name}({seed}, {columns}, {leaves}, {values}):",
            f'    """Batch-mean gradient: {CHUNKS} chunks ({loop}), their partial sums added in chunk order."""',
            f"    {count} = {columns}[0].shape[0]",
            f"    {partial} = np.zeros(({CHUNKS}, {max(n_grads, 1)}))",
            f"    for {chunk} in {loop}({CHUNKS}):",
            f"        {lo} = {chunk} * {count} // {CHUNKS}",
            f"        {hi} = ({chunk} + 1) * {count} // {CHUNKS}",
            f"        gradient_chunk({seed}, {columns}, {leaves}, {values}, {lo}, {hi}, {partial}[{chunk}])",
            f"    {total} = {partial}[0].copy()",
            f"    for {chunk} in range(1, {CHUNKS}):",
            f"        {total} += {partial}[{chunk}]",
            f"    return {total}",
            "",
            "",
            f"@{decorator}",
            f"def forward_values{name}({columns}, {leaves}, {values}):",
            f'    """The target\'s value for every sample ({CHUNKS} chunks, {loop})."""',
            f"    {count} = {columns}[0].shape[0]",
            f"    for {chunk} in {loop}({CHUNKS}):",
            f"        values_chunk({columns}, {leaves}, {values}, {chunk} * {count} // {CHUNKS}, "
            f"({chunk} + 1) * {count} // {CHUNKS})",
            "",
        ]
    return out


def kernel_source(spec: KernelSpec) -> str:
    """The Python source of the kernels (readable; numba compiles it)."""
    own = _own_names(spec, _OWN)
    inputs, leaves, lr = own["inputs"], own["leaves"], own["lr"]
    seed = "seed"  # the statements' own name for d(mean)/d(value of one sample)
    columns, count, losses, values = own["columns"], own["count"], own["losses"], own["values"]
    partial, i, lo, hi = own["partial"], own["i"], own["lo"], own["hi"]
    block_, start, stop = own["block"], own["start"], own["stop"]
    n_grads = len(spec.gradient_names)

    def unpack_leaves(indent: str) -> list[str]:
        return [f"{indent}{name} = {leaves}[{k}]" for k, name in enumerate(spec.leaf_names)]

    def unpack_inputs(indent: str, source: str, index: str | None) -> list[str]:
        lines = []
        for k, name in enumerate(spec.input_names):
            lines.append(f"{indent}{name} = {source}[{k}]" + (f"[{index}]" if index else ""))
        return lines

    def block(indent: str, lines: Sequence[str]) -> list[str]:
        return [indent + line for line in lines]

    grads = ", ".join(spec.gradient_names)
    jit = _JIT
    out: list[str] = [
        f"# graphdl machine-code kernels for {spec.title}",
        *_HEADER,
        "",
        "",
        f"@{jit}",
        f"def sample({seed}, {inputs}, {leaves}):",
        '    """Value and parameter gradients for one sample (seed = d(mean)/d(value))."""',
        *unpack_inputs("    ", inputs, None),
        *unpack_leaves("    "),
        *block("    ", spec.forward_lines),
        *block("    ", spec.backward_lines),
        f"    return {spec.target_value}, " + (f"np.array([{grads}])" if grads else "np.empty(0)"),
        "",
        "",
        f"@{jit}",
        f"def step({lr}, {inputs}, {leaves}):",
        '    """One SGD step for one sample: the loss, and the leaves after the update."""',
        *unpack_inputs("    ", inputs, None),
        *unpack_leaves("    "),
        f"    {seed} = 1.0",
        *block("    ", spec.forward_lines),
        *block("    ", spec.backward_lines),
        f"    {leaves} = {leaves}.copy()",
        *[
            f"    {leaves}[{k}] = {p} - {lr} * {g}"
            for k, (p, g) in enumerate(zip(spec.leaf_names, spec.gradient_names))
        ],
        f"    return {spec.target_value}, {leaves}",
        "",
        "",
        f"@{jit}",
        f"def sgd({lr}, {columns}, {leaves}):",
        '    """Per-sample SGD over the columns; returns the losses and the final leaves."""',
        f"    {leaves} = {leaves}.copy()",
        *unpack_leaves("    "),
        f"    {seed} = 1.0",
        f"    {count} = {columns}[0].shape[0]",
        f"    {losses} = np.empty({count})",
        f"    for {i} in range({count}):",
        *unpack_inputs("        ", columns, i),
        *block("        ", spec.forward_lines),
        *block("        ", spec.backward_lines),
        *[f"        {p} = {p} - {lr} * {g}" for p, g in zip(spec.leaf_names, spec.gradient_names)],
        f"        {losses}[{i}] = {spec.target_value}",
        *[f"    {leaves}[{k}] = {p}" for k, p in enumerate(spec.leaf_names[:n_grads])],
        f"    return {losses}, {leaves}",
        "",
        "",
        f"@{jit}",
        f"def gradient_chunk({seed}, {columns}, {leaves}, {values}, {lo}, {hi}, {partial}):",
        '    """Samples lo..hi-1: values into `values`, the sum of their gradients into `partial`."""',
        *unpack_leaves("    "),
        *[f"    {g}_sum = 0.0" for g in spec.gradient_names],
        # Two passes per block: the per-sample work has no loop-carried sum, so it runs in SIMD
        # lanes; then the gradients are summed one sample after another, as in one pass.
        f"    {block_} = np.empty(({max(n_grads, 1)}, {BLOCK}))",
        f"    for {start} in range({lo}, {hi}, {BLOCK}):",
        f"        {stop} = min({start} + {BLOCK}, {hi})",
        f"        for {i} in range({start}, {stop}):",
        *unpack_inputs("            ", columns, i),
        *block("            ", spec.forward_lines),
        *block("            ", spec.backward_lines),
        *[f"            {block_}[{k}, {i} - {start}] = {g}" for k, g in enumerate(spec.gradient_names)],
        f"            {values}[{i}] = {spec.target_value}",
        f"        for {i} in range({stop} - {start}):",
        *[f"            {g}_sum += {block_}[{k}, {i}]" for k, g in enumerate(spec.gradient_names)],
        *[f"    {partial}[{k}] = {g}_sum" for k, g in enumerate(spec.gradient_names)],
        "",
        "",
        f"@{jit}",
        f"def values_chunk({columns}, {leaves}, {values}, {lo}, {hi}):",
        '    """The target\'s value for samples lo..hi-1."""',
        *unpack_leaves("    "),
        f"    for {i} in range({lo}, {hi}):",
        *unpack_inputs("        ", columns, i),
        *block("        ", spec.forward_lines),
        f"        {values}[{i}] = {spec.target_value}",
        "",
    ]
    out += _batch_wrappers(n_grads, own)
    return "\n".join(out)


def _row_text(rows: Sequence[int], arrays: dict[tuple[int, ...], str]) -> str:
    """The row of element ``j`` of a group: a constant, ``a + d * j``, or a constant index array."""
    first = rows[0]
    if len(rows) == 1:
        return str(first)
    step = rows[1] - first
    if all(b - a == step for a, b in zip(rows, rows[1:])):
        if step == 0:
            return str(first)
        return f"{first} + j" if step == 1 else f"{first} + {step} * j"
    key = tuple(rows)
    if key not in arrays:
        arrays[key] = f"I{len(arrays)}"
    return f"{arrays[key]}[j]"


def _top_level_terms(template: str) -> list[str] | None:
    """``t0 + t1 + ... + tn`` split into its terms when the template is a left-to-right sum
    whose terms have no top-level ``-`` (so summing them one by one is the same arithmetic)."""
    terms, depth, start = [], 0, 0
    for index, char in enumerate(template):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and template.startswith(" + ", index):
            terms.append(template[start:index])
            start = index + 3
        elif depth == 0 and template.startswith(" - ", index):
            return None
    terms.append(template[start:])
    return terms if len(terms) > 2 else None


def like_terms(template: str) -> tuple[str, list[list[int]]] | None:
    """A sum of terms that are the same expression of different placeholders, as
    (that expression over ``_0 … _m``, the placeholders of each term)."""
    terms = _top_level_terms(template)
    if terms is None:
        return None
    shapes, placeholders = set(), []
    for term in terms:
        found = [int(p) for p in _PLACEHOLDER.findall(term)]
        local = {p: k for k, p in enumerate(dict.fromkeys(found))}
        shapes.add(_PLACEHOLDER.sub(lambda m, local=local: f"_{local[int(m.group(1))]}", term))  # type: ignore[misc]  # a lambda with a default argument (bound for B023)
        placeholders.append(list(local))
    if len(shapes) != 1 or len({len(p) for p in placeholders}) != 1 or not placeholders[0]:
        return None
    return shapes.pop(), placeholders


def _table_text(table: list[list[int]], arrays: dict[tuple[int, ...], str], shape: tuple[int, int]) -> str:
    """Row of element ``j``, term ``t``: ``a + dj * j + dt * t`` when the table allows, else a 2-D index array."""
    first = table[0][0]
    dj = table[1][0] - first if len(table) > 1 else 0
    dt = table[0][1] - first if len(table[0]) > 1 else 0
    if all(table[j][t] == first + dj * j + dt * t for j in range(shape[0]) for t in range(shape[1])):
        return f"{first} + {dj} * j + {dt} * t"
    key = (shape[0], shape[1], *(r for row in table for r in row))
    if key not in arrays:
        arrays[key] = f"T{len(arrays)}"
    return f"{arrays[key]}[j, t]"


def _array_line(name: str, key: tuple[int, ...]) -> str:
    if name.startswith("T"):  # a 2-D table: (elements, terms, rows...)
        return f"{name} = np.array({list(key[2:])}, dtype=np.int64).reshape({key[0]}, {key[1]})"
    return f"{name} = np.array({list(key)}, dtype=np.int64)"


def grouped_kernel_source(spec: KernelSpec) -> str:
    """Kernels for big graphs: every value of one sample is a row of one array ``R``, and
    each group of like statements (as in :mod:`graphdl.compiler.vectorise`) is one loop.
    numba compiles a loop body once, so compile time grows with the number of groups, not
    of statements. The arithmetic of each statement, the order of the statements that
    depend on each other and the order of the sums are those of the straight-line kernels."""
    from graphdl.compiler.vectorise import plan_groups

    if spec.statements > MAX_GROUPED_STATEMENTS:
        raise TooBig(
            f"{spec.statements} statements is above the numba backend's limit of {MAX_GROUPED_STATEMENTS} "
            "(compiling would take tens of seconds for no gain over numpy's grouped batches)"
        )
    row: dict[str, int] = {}
    for name in (*spec.input_names, "seed", *spec.leaf_names):
        row[name] = len(row)
    arrays: dict[tuple[int, ...], str] = {}
    functions: list[str] = []
    aliases: dict[str, str] = {}
    sources = list(row)
    group_count = 0
    for title, lines in (("forward_rows", spec.forward_lines), ("backward_rows", spec.backward_lines)):
        aliases, groups = plan_groups(lines, sources, sources, lambda template, batch: True, alias=aliases)
        group_count += len(groups)
        body = []
        for group in groups:
            for statement in group.statements:
                row[statement.name] = len(row)
            count = len(group.statements)
            out = _row_text([row[s.name] for s in group.statements], arrays)
            operands = [
                _row_text([row[s.operands[k]] for s in group.statements], arrays)
                for k in range(len(group.statements[0].operands))
            ]
            note = group.statements[0].note or "statement"
            first, last = group.statements[0].name, group.statements[-1].name
            label = f"{first} ({note})" if count == 1 else f"{count} × {note}: {first} … {last}"
            like = like_terms(group.template)
            if like is not None:  # a long sum: one loop over its terms, summed in the same order
                term, placeholders = like
                n_terms = len(placeholders)
                tables = [
                    _table_text(
                        [[row[s.operands[p[k]]] for p in placeholders] for s in group.statements],
                        arrays,
                        (count, n_terms),
                    )
                    for k in range(len(placeholders[0]))
                ]
                text = _PLACEHOLDER.sub(lambda m, ops=tables: f"R[{ops[int(m.group(1))]}]", term)  # type: ignore[misc]  # a lambda with a default argument (bound for B023)
                body += [
                    f"    for j in range({count}):  # {label}: {n_terms} terms",
                    "        t = 0",
                    f"        total = {text}",
                    f"        for t in range(1, {n_terms}):",
                    f"            total = total + {text}",
                    f"        R[{out}] = total",
                ]
                continue
            text = _PLACEHOLDER.sub(lambda m, ops=operands: f"R[{ops[int(m.group(1))]}]", group.template)  # type: ignore[misc]  # a lambda with a default argument (bound for B023)
            if count == 1:
                body.append(f"    R[{out}] = {text}  # {label}")
            else:
                body += [f"    for j in range({count}):  # {label}", f"        R[{out}] = {text}"]
        functions += ["", "", f"@{_JIT}", f"def {title}(R):", *(body or ["    pass"])]
        sources = [*sources, *(s for s in list(row) if s not in sources)]

    def locate(name: str) -> int:
        return row[aliases.get(name, name)]

    n_inputs, n_leaves, n_grads = len(spec.input_names), len(spec.leaf_names), len(spec.gradient_names)
    seed_row, leaf0 = n_inputs, n_inputs + 1
    if group_count > MAX_GROUPS:
        raise TooBig(
            f"{spec.statements} statements in {group_count} groups is above the numba backend's limit of "
            f"{MAX_GROUPS} groups (each group is a loop numba compiles in about 0.1 s)"
        )
    value_row = locate(spec.target_value)
    grad_rows = [locate(g) for g in spec.gradient_names]
    own = {name: name for name in _OWN}
    rows_total = len(row)

    def load_inputs(indent: str, index: str | None) -> list[str]:
        source = "columns" if index else "inputs"
        return [f"{indent}R[{k}] = {source}[{k}]" + (f"[{index}]" if index else "") for k in range(n_inputs)]

    kernel_lines = [
        f"# graphdl machine-code kernels for {spec.title}: {spec.statements} statements in loops over groups",
        *_HEADER,
        "",
        *(_array_line(name, key) for key, name in arrays.items()),
        f"GRAD_ROWS = np.array({grad_rows}, dtype=np.int64)",
        *functions,
        "",
        "",
        f"@{_JIT}",
        "def sample(seed, inputs, leaves):",
        '    """Value and parameter gradients for one sample (seed = d(mean)/d(value))."""',
        f"    R = np.empty({rows_total})",
        *load_inputs("    ", None),
        f"    R[{seed_row}] = seed",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        "    forward_rows(R)",
        "    backward_rows(R)",
        f"    return R[{value_row}], R[GRAD_ROWS]",
        "",
        "",
        f"@{_JIT}",
        "def step(lr, inputs, leaves):",
        '    """One SGD step for one sample: the loss, and the leaves after the update."""',
        f"    R = np.empty({rows_total})",
        *load_inputs("    ", None),
        f"    R[{seed_row}] = 1.0",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        "    forward_rows(R)",
        "    backward_rows(R)",
        "    leaves = leaves.copy()",
        f"    for k in range({n_grads}):",
        "        leaves[k] = leaves[k] - lr * R[GRAD_ROWS[k]]",
        f"    return R[{value_row}], leaves",
        "",
        "",
        f"@{_JIT}",
        "def sgd(lr, columns, leaves):",
        '    """Per-sample SGD over the columns; returns the losses and the final leaves."""',
        f"    R = np.empty({rows_total})",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        "    count = columns[0].shape[0]",
        "    losses = np.empty(count)",
        "    for i in range(count):",
        *load_inputs("        ", "i"),
        f"        R[{seed_row}] = 1.0",
        "        forward_rows(R)",
        "        backward_rows(R)",
        f"        for k in range({n_grads}):",
        f"            R[{leaf0} + k] = R[{leaf0} + k] - lr * R[GRAD_ROWS[k]]",
        f"        losses[i] = R[{value_row}]",
        f"    return losses, R[{leaf0}:{leaf0 + n_leaves}].copy()",
        "",
        "",
        f"@{_JIT}",
        "def gradient_chunk(seed, columns, leaves, values, lo, hi, partial):",
        '    """Samples lo..hi-1: values into `values`, the sum of their gradients into `partial`."""',
        f"    R = np.empty({rows_total})",
        f"    R[{seed_row}] = seed",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        f"    sums = np.zeros({max(n_grads, 1)})",
        "    for i in range(lo, hi):",
        *load_inputs("        ", "i"),
        "        forward_rows(R)",
        "        backward_rows(R)",
        f"        for k in range({n_grads}):",
        "            sums[k] += R[GRAD_ROWS[k]]",
        f"        values[i] = R[{value_row}]",
        f"    partial[:] = sums[:{max(n_grads, 1)}]",
        "",
        "",
        f"@{_JIT}",
        "def values_chunk(columns, leaves, values, lo, hi):",
        '    """The target\'s value for samples lo..hi-1."""',
        f"    R = np.empty({rows_total})",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        "    for i in range(lo, hi):",
        *load_inputs("        ", "i"),
        "        forward_rows(R)",
        f"        values[i] = R[{value_row}]",
        "",
        "",
        f"@{_JIT}",
        "def gradient(seed, columns, leaves, values):",
        f'    """Batch-mean gradient: {CHUNKS} chunks, partial sums added in chunk order (as gradient_parallel)."""',
        "    count = columns[0].shape[0]",
        f"    R = np.empty({rows_total})",
        f"    R[{seed_row}] = seed",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        f"    partial = np.zeros(({CHUNKS}, {max(n_grads, 1)}))",
        f"    for chunk in range({CHUNKS}):",
        f"        sums = np.zeros({max(n_grads, 1)})",
        f"        for i in range(chunk * count // {CHUNKS}, (chunk + 1) * count // {CHUNKS}):",
        *load_inputs("            ", "i"),
        "            forward_rows(R)",
        "            backward_rows(R)",
        f"            for k in range({n_grads}):",
        "                sums[k] += R[GRAD_ROWS[k]]",
        f"            values[i] = R[{value_row}]",
        "        partial[chunk] = sums",
        "    total = partial[0].copy()",
        f"    for chunk in range(1, {CHUNKS}):",
        "        total += partial[chunk]",
        "    return total",
        "",
        "",
        f"@{_JIT}",
        "def forward_values(columns, leaves, values):",
        '    """The target\'s value for every sample."""',
        f"    R = np.empty({rows_total})",
        f"    R[{leaf0}:{leaf0 + n_leaves}] = leaves",
        "    for i in range(columns[0].shape[0]):",
        *load_inputs("        ", "i"),
        "        forward_rows(R)",
        f"        values[i] = R[{value_row}]",
        *_batch_wrappers(n_grads, own, serial=False),
    ]
    return "\n".join(kernel_lines)


class NumbaKernels:
    """The kernels of one program, loaded from (or written to) the kernel cache."""

    def __init__(self, spec: KernelSpec) -> None:
        import numba

        self.spec = spec
        self.grouped = spec.statements > MAX_STATEMENTS
        self.source = grouped_kernel_source(spec) if self.grouped else kernel_source(spec)
        # kernels inline the kernel code (some of it from core.primitives): a change must not hit old code
        primitives = b"".join(inspect.getsource(module).encode() for module in (kernel_code, core_primitives))
        module = load_kernels(self.source, salt=f"{KERNEL_VERSION} {numba.__version__}\n".encode() + primitives)
        self.path = Path(module.__file__ or "")
        self.sample = module.sample
        self.step = module.step
        self.sgd = module.sgd
        self.module = module

    def _pick(self, name: str, count: int) -> Any:
        return getattr(self.module, name + ("_parallel" if count >= PARALLEL_FROM and cores_free() else ""))

    def batch_gradient(self, columns: tuple[np.ndarray, ...], leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-sample values and the gradient of their mean."""
        count = columns[0].shape[0]
        values = np.empty(count)
        grads = self._pick("gradient", count)(1.0 / count, columns, leaves, values)
        return values, grads

    def batch_values(self, columns: tuple[np.ndarray, ...], leaves: np.ndarray) -> np.ndarray:
        values = np.empty(columns[0].shape[0])
        self._pick("forward_values", values.shape[0])(columns, leaves, values)
        return values
