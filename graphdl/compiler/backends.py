"""Choosing and running a compiled graph's backend.

* ``"numpy"`` (the default): the generated program on Python floats for one sample and,
  for a batch, the grouped program of :mod:`graphdl.compiler.vectorise` (one numpy call
  per group of like statements, buffers reused across calls of the same batch size).
* ``"numba"``: the same statements compiled to machine code
  (:mod:`graphdl.compiler.numba_backend`); an optional extra.
* ``"auto"``: numba when it is installed and the graph is small enough for its compile
  time to pay, else numpy.

``GRAPHDL_BACKEND`` in the environment sets what ``"auto"`` picks (``numpy`` or ``numba``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdl.compiler import numba_backend, vectorise
from graphdl.compiler.codegen import per_sample_lines

BACKENDS = ("numpy", "numba", "auto")
_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
#: Batch size from which the ungrouped statement-per-call program is faster than the grouped
#: one (gathering operands costs a copy; call overhead no longer matters).
GROUPED_BELOW = 20_000


def split(program: Any) -> tuple[list[str], list[str]]:
    """The program's forward statements and its reverse-sweep statements."""
    forward = getattr(program, "forward_lines", None)
    if forward is not None:
        return list(forward), list(program.backward_lines)
    body = list(program.body)
    for index, line in enumerate(body):
        if line.endswith(" = seed"):  # the sweep starts at the target: g_<target> = seed
            return body[:index], body[index:]
    return body, []


def choose(requested: str, program: Any, nodes: Sequence[Any]) -> tuple[str, str | None]:
    """The backend to use for ``program`` and, when it differs from the request, why."""
    if requested not in BACKENDS:
        raise ValueError(f"compile: backend must be one of {', '.join(map(repr, BACKENDS))}, got {requested!r}")
    if requested == "auto":
        preferred = os.environ.get("GRAPHDL_BACKEND", "").strip().lower()
        if preferred == "numpy":
            return "numpy", None
        requested = "numba" if preferred == "numba" else "auto"
    if requested == "numpy":
        return "numpy", None
    if not numba_backend.available():
        note = 'graphdl.compile: numba is not installed (pip install "graphdl[fast]"); using the numpy backend'
        return "numpy", note if requested == "numba" else None
    if not program.target_varies or not program.inputs:
        note = "graphdl.compile: the target does not depend on an input; using the numpy backend"
        return "numpy", note if requested == "numba" else None
    batch_statistics = [n for n in nodes if getattr(n, "reduces_batch", False)]
    if batch_statistics:
        node = batch_statistics[0]
        note = (
            f"graphdl.compile: the graph has {node.kind} {node.name!r} (batch statistics), which a per-sample "
            "kernel cannot compute; using the numpy backend"
        )
        return "numpy", note if requested == "numba" else None
    unknown = sorted(
        {name for line in program.body for name in _CALLED.findall(line.split("  # ")[0])} - numba_backend.PRIMITIVES
    )
    if unknown:
        names = ", ".join(unknown)
        note = f"graphdl.compile: the numba backend has no kernel code for {names}; using the numpy backend"
        return "numpy", note if requested == "numba" else None
    return "numba", None


def announce(note: str | None) -> None:
    """Tell the user, in one line, why the requested backend is not used."""
    if note:
        warnings.warn(note, RuntimeWarning, stacklevel=4)


def step_source(program: Any) -> str:
    """One per-sample SGD step as one function: the program's statements with seed 1.0,
    then the updated parameters ``p - lr * g_p`` (the interpreter's update)."""
    arguments = ", ".join(["lr", *program.input_names, *program.leaf_names])
    forward, backward = split(program)
    updates = ", ".join(f"{p} - lr * {g}" for p, g in zip(program.parameter_names, program.gradient_names))
    comma = "," if len(program.parameter_names) == 1 else ""
    return "\n".join(
        [
            f"def step({arguments}):",
            '    """One SGD step for one sample: the loss, and the parameters after the update."""',
            "    seed = 1.0",
            *("    " + line for line in per_sample_lines(forward + backward)),
            f"    return {program.target_value}, ({updates}{comma})",
            "",
        ]
    )


class NumbaRunner:
    """The numba kernels of one program, called with the compiled graph's argument lists."""

    def __init__(self, program: Any, title: str) -> None:
        forward, backward = split(program)
        spec = numba_backend.KernelSpec(
            program.input_names,
            program.leaf_names,
            program.gradient_names,
            program.target_value,
            forward,
            backward,
            title,
        )
        self.kernels = numba_backend.NumbaKernels(spec)
        self.source = self.kernels.source
        self.inputs = len(program.input_names)

    def one(self, values: Sequence[float], leaves: Sequence[float]) -> tuple[float, list[float]]:
        value, grads = self.kernels.sample(1.0, np.array(values, dtype=np.float64), np.array(leaves, dtype=np.float64))
        return float(value), grads.tolist()

    def step(self, lr: float, values: Sequence[float], leaves: Sequence[float]) -> tuple[float, list[float]]:
        loss, final = self.kernels.step(lr, np.array(values, dtype=np.float64), np.array(leaves, dtype=np.float64))
        return float(loss), final.tolist()

    def batch_forward(self, values: Sequence[np.ndarray], leaves: Sequence[float]) -> np.ndarray:
        return self.kernels.batch_values(tuple(values), np.array(leaves, dtype=np.float64))

    def batch_backward(self, values: Sequence[np.ndarray], leaves: Sequence[float]) -> tuple[np.ndarray, list[float]]:
        out, grads = self.kernels.batch_gradient(tuple(values), np.array(leaves, dtype=np.float64))
        return out, grads.tolist()

    def sgd(self, lr: float, columns: Sequence[np.ndarray], leaves: Sequence[float]) -> tuple[np.ndarray, list[float]]:
        losses, final = self.kernels.sgd(lr, tuple(columns), np.array(leaves, dtype=np.float64))
        return losses, final.tolist()


class BatchPrograms:
    """The grouped (and, for big batches, the ungrouped) numpy programs of one compiled graph."""

    def __init__(self, program: Any) -> None:
        self.program = program
        self._built: dict[tuple[bool, bool], vectorise.VectorProgram] = {}
        self._unsupported = False

    def get(self, gradients: bool, size: int) -> vectorise.VectorProgram | None:
        """The program for a batch of ``size`` samples, or None when the per-node program must run
        (a primitive without a grouped form, or arrays too big for the memory cap)."""
        if self._unsupported:
            return None
        grouped = size < GROUPED_BELOW
        key = (gradients, grouped)
        built = self._built.get(key)
        if built is None:
            forward, backward = split(self.program)
            lines = forward + backward if gradients else forward
            outputs = self.program.gradient_names if gradients else ()
            try:
                built = self._built[key] = vectorise.VectorProgram(
                    lines,
                    self.program.input_names,
                    self.program.leaf_names,
                    outputs,
                    self.program.target_value,
                    title="backward_batch" if gradients else "forward_batch",
                    grouped=grouped,
                )
            except vectorise.Unsupported:
                self._unsupported = True
                return None
        return built if built.fits(size) else None

    def source(self) -> str | None:
        """The grouped batch program as text (built on first use), None when there is none."""
        built = self.get(True, 2)
        return None if built is None else built.source
