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
(:func:`cache_dir`), compiled with ``cache=True``: a second process that compiles the
same graph loads the machine code instead of compiling again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

#: Batches from this size run over the cores (prange); smaller ones in one thread (same chunks, same sums).
PARALLEL_FROM = 20_000
#: Chunks of a batch gradient: partial sums per chunk, added in order (deterministic).
CHUNKS = 64
#: Straight-line statements above which numba's compile time (about 10 ms per statement,
#: growing faster than linearly) no longer pays for itself; bigger graphs use numpy.
MAX_STATEMENTS = 400
#: The functions a statement may call that numba_primitives defines.
PRIMITIVES = frozenset({"exp", "expm1", "log", "log1p", "tanh", "pow", "abs", "where", "sign", "clip", "batch_sum"})
#: Bumped when the kernel template or the primitives change, so stale cache files are not reused.
KERNEL_VERSION = "3"

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def available() -> bool:
    """True when numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$GRAPHDL_CACHE_DIR``, else the user cache directory
    (``$XDG_CACHE_HOME/graphdl`` or ``~/.cache/graphdl``), subdirectory ``kernels``."""
    configured = os.environ.get("GRAPHDL_CACHE_DIR")
    if configured:
        base = Path(configured)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphdl"
    return base / "kernels"


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


def kernel_source(spec: KernelSpec) -> str:
    """The Python source of the kernels (readable; numba compiles it)."""
    own = _own_names(
        spec,
        [
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
        ],
    )
    inputs, leaves, lr = own["inputs"], own["leaves"], own["lr"]
    seed = "seed"  # the statements' own name for d(mean)/d(value of one sample)
    columns, count, losses, values = own["columns"], own["count"], own["losses"], own["values"]
    partial, chunk, i = own["partial"], own["chunk"], own["i"]
    lo, hi, total = own["lo"], own["hi"], own["total"]
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
    jit = 'njit(cache=True, error_model="numpy")'
    parallel = 'njit(cache=True, error_model="numpy", parallel=True)'
    out: list[str] = [
        f"# graphdl machine-code kernels for {spec.title}",
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "from graphdl.compiler.numba_primitives import (  # noqa: F401",
        "    batch_sum, clip, exp, expm1, inf, log, log1p, nan, pow, sign, tanh, where,",
        ")",
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
        f"    for {i} in range({lo}, {hi}):",
        *unpack_inputs("        ", columns, i),
        *block("        ", spec.forward_lines),
        *block("        ", spec.backward_lines),
        *[f"        {g}_sum += {g}" for g in spec.gradient_names],
        f"        {values}[{i}] = {spec.target_value}",
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
    for name, decorator, loop in (("", jit, "range"), ("_parallel", parallel, "prange")):
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
    return "\n".join(out)


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class NumbaKernels:
    """The kernels of one program, loaded from (or written to) the kernel cache."""

    def __init__(self, spec: KernelSpec) -> None:
        import numba

        self.spec = spec
        self.source = kernel_source(spec)
        digest = hashlib.sha256(f"{KERNEL_VERSION} {numba.__version__}\n{self.source}".encode()).hexdigest()[:24]
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"graphdl_kernel_{digest}.py"
        if not path.exists():
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(self.source, encoding="utf-8")
            os.replace(temporary, path)  # atomic: a concurrent process sees the whole file or none
        self.path = path
        module = _load(path, f"graphdl_kernel_{digest}")
        self.sample = module.sample
        self.step = module.step
        self.sgd = module.sgd
        self.module = module

    def _pick(self, name: str, count: int) -> Any:
        return getattr(self.module, name + ("_parallel" if count >= PARALLEL_FROM else ""))

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
