"""``CompiledGraph``: a graph lowered once (:mod:`graphdl.compiler.ir`) and run by a runner.

Runners share one interface: ``forward(values, leaves, size)``, ``backward(values, leaves,
size)`` (the target and the gradient of its batch mean), ``step(lr, values, leaves)`` (one
per-sample SGD step) and ``sgd(lr, columns, leaves)``: the Python runner
(:mod:`~graphdl.compiler.python_runner`, the readable program), the grouped-numpy runner
(:mod:`~graphdl.compiler.numpy_runner`) and the numba runner
(:mod:`~graphdl.compiler.numba_runner`). A compiled graph's methods pick a runner, call
it and store the results. The parameters live in one float64 array (a list of floats on
the per-sample path). A step writes no Variable: it leaves a deferred write on the graph
(:class:`graphdl.core.deferred.DeferredWrite`), carried out when anything next reads or writes
a value of the graph; until then the next call of the same program goes on from its own
array without reading the Variables.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from graphdl.compiler import numba_runner, registry
from graphdl.compiler.ir import Program, lower
from graphdl.compiler.numpy_runner import NumpyRunner
from graphdl.compiler.python_runner import ARRAY_NAMESPACE, SCALAR_NAMESPACE, PythonRunner
from graphdl.core.anomaly import anomaly_active
from graphdl.core.collector import collector_paused as _collector_paused
from graphdl.core.deferred import LeafValues
from graphdl.core.node import Node, UnsetValueError, Value, Variable, check_value

__all__ = ["ARRAY_NAMESPACE", "SCALAR_NAMESPACE", "BACKENDS", "CompiledGraph", "compile"]

_ndarray = np.ndarray
_add_reduce = np.add.reduce
_float64 = np.dtype(np.float64)
_isfinite = math.isfinite
BACKENDS = ("numpy", "numba", "auto")


def _is_clean_batch(value: Any) -> bool:
    """A 1-D float64 array of finite numbers, usable as is (runners never write into their
    arguments). A finite sum of squares (BLAS: no warning) proves every element finite."""
    return (
        value.__class__ is _ndarray
        and value.dtype is _float64
        and value.ndim == 1
        and value.size > 0
        and _isfinite(np.dot(value, value))
    )


def choose(requested: str, program: Program, nodes: Sequence[Any]) -> tuple[str, str | None]:
    """The backend to use for ``program`` and, when it differs from the request, why."""
    if requested == "auto":
        # numpy unless asked: its batches are matrix products, it starts at once, and results
        # never depend on whether numba is installed or its kernels were compiled yet
        requested = "numba" if os.environ.get("GRAPHDL_BACKEND", "").strip().lower() == "numba" else "numpy"
    if requested == "numpy":
        return "numpy", None
    note = None
    if not numba_runner.available():
        note = 'graphdl.compile: numba is not installed (pip install "graphdl[fast]"); using the numpy backend'
    elif not program.target_varies or not program.inputs:
        note = "graphdl.compile: the target does not depend on an input; using the numpy backend"
    elif batch_statistics := [n for n in nodes if getattr(n, "reduces_batch", False)]:
        node = batch_statistics[0]
        note = (
            f"graphdl.compile: the graph has {node.kind} {node.name!r} (batch statistics), which a per-sample "
            "kernel cannot compute; using the numpy backend"
        )
    elif unknown := registry.missing("numba", program.calls()):
        note = (
            f"graphdl.compile: the numba backend has no kernel code for {', '.join(unknown)}; using the numpy backend"
        )
    if note is None:
        return "numba", None
    return "numpy", note if requested == "numba" else None


class CompiledGraph:
    """The graph upstream of ``target`` lowered once and run by a runner.

    Build it with :func:`graphdl.compile`. ``forward(feed)`` returns the target's
    value (a float, or an array for a batch); ``backward(feed)`` returns the mean of
    the target over the batch and writes ``.grad`` of every parameter, as
    ``target.backward()`` would. ``step(feed, lr)`` is one SGD step (per sample, or on the
    batch mean); ``sgd(feed, lr)`` per-sample SGD over a data set. ``feed`` maps each input
    Variable (or its name) to a float or a 1-D array. Parameters are read when called, so
    updates between calls are seen. ``source`` is the generated program.
    """

    def __init__(self, target: Node, inputs: Sequence[Variable | str] = (), backend: str = "numpy") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"compile: backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
        self.requested_backend = backend
        if not isinstance(target, Node):
            raise TypeError(f"compile: target must be a node, got {type(target).__name__}")
        self.target = target
        self.inputs: tuple[Variable, ...] = self._resolve_inputs(inputs)
        self._by_name: dict[str, Variable | None] = {}
        for variable in self.inputs:
            self._by_name[variable.name] = None if variable.name in self._by_name else variable
        self._build()

    # ------------------------------------------------------------------ building
    def _resolve_inputs(self, inputs: Sequence[Variable | str]) -> tuple[Variable, ...]:
        if isinstance(inputs, (Node, str)) or not isinstance(inputs, (Sequence, set, frozenset)):
            raise TypeError(f"compile: inputs must be a list of Variables, got {type(inputs).__name__}")
        upstream = self.target.ancestors()
        resolved: list[Variable] = []
        item: Node | str
        for item in inputs:
            if isinstance(item, str):
                matches = [n for n in upstream if n.name == item and not n.parents]  # by name: upstream only
                if len(matches) != 1:
                    problem = "no Variable" if not matches else f"{len(matches)} Variables"
                    raise ValueError(f"compile: {problem} named {item!r} upstream of {self.target.name!r}")
                item = matches[0]
            if not isinstance(item, Variable):
                raise TypeError(
                    f"compile: inputs must be Variables, got {getattr(item, 'kind', type(item).__name__)} "
                    f"{getattr(item, 'name', item)!r}"
                )
            if item in resolved:
                raise ValueError(f"compile: input Variable {item.name!r} is listed twice")
            resolved.append(item)
        return tuple(resolved)

    def _build(self) -> None:
        self._source_plan = self.target.gradient_plan()  # a new plan object = a trainable flag changed
        with _collector_paused():
            program = lower(self.target, self.inputs)
        self._program = program
        self._leaves = program.leaves
        self._parameters = program.parameters
        self._count = len(program.parameters)
        self._state = LeafValues(program.leaves, self._count, self._check_leaves)
        #: The leaves' values (parameters first) as one float64 array, the runners' argument.
        self.values = self._state.array
        self._python = PythonRunner(program, self)
        self._numpy = NumpyRunner(program, self._python)
        self._checked: PythonRunner | None = None
        chosen, note = choose(self.requested_backend, program, self.target.ancestors())
        self._numba: Any = None
        if chosen == "numba":
            try:
                self._numba = numba_runner.NumbaRunner(program)
            except numba_runner.TooBig as error:
                chosen = "numpy"
                if self.requested_backend == "numba":
                    note = f"graphdl.compile: {error}; using the numpy backend"
            except OSError as error:  # the kernel cache cannot be written
                chosen = "numpy"
                note = (
                    f"graphdl.compile: no kernel cache at {numba_runner.cache_dir()} ({error}); using the numpy backend"
                )
        if note:
            warnings.warn(note, RuntimeWarning, stacklevel=4)
        #: numba for a per-sample step only when the program is big enough to repay a kernel
        #: call (a few µs of argument handling); a small one steps faster as Python floats.
        big = len(program.statements) >= NUMBA_STEP_FROM
        self._sample_numba = self._numba if big else None
        #: The backend in use: "numba" or "numpy".
        self.backend = chosen

    def _refresh(self) -> bool:
        """Bring the graph up to date (end a pending optimiser step) and rebuild when a
        ``trainable`` flag changed (the parameter set may differ). True when this program's
        own deferred write is still pending: its values are current, nothing to read."""
        target = self.target
        if self._state.resume(target, self._source_plan):
            return True
        target.refresh()
        if target.gradient_plan() is not self._source_plan:
            self._build()
        return False

    def _runner(self) -> Any:
        """The runner for this call: the checked Python program inside ``detect_anomaly()``,
        else numba when it is the backend, else the numpy runner."""
        if anomaly_active():
            if self._checked is None:
                self._checked = PythonRunner(self._program, self, checked=True)
            return self._checked
        return self._numba if self._numba is not None else self._numpy

    # --------------------------------------------------------------- properties
    @property
    def grouping(self) -> bool:
        """Batches run one numpy call per group of like statements; False runs one call per node."""
        return self._numpy.grouping

    @grouping.setter
    def grouping(self, flag: bool) -> None:
        self._numpy.grouping = bool(flag)

    @property
    def source(self) -> str:
        """The generated Python program (``forward`` and ``backward``)."""
        self._refresh()
        return self._python.source

    @property
    def step_source(self) -> str:
        """The per-sample SGD step as one Python function."""
        return self._python.step_source

    @property
    def sgd_source(self) -> str:
        """The per-sample SGD loop as one Python function."""
        return self._python.sgd_source

    @property
    def batch_source(self) -> str:
        """The program a batch runs: the grouped numpy program (one call per group of like
        statements, a dense layer one matrix product), or the numba kernels."""
        self._refresh()
        if self._numba is not None:
            return self._numba.source
        return self._numpy.source()

    @property
    def program(self) -> Program:
        """The lowered program: statements, slots and argument layout."""
        self._refresh()
        return self._program

    @property
    def kernels(self) -> Any:
        """The numba runner (its ``source``, ``module`` and kernels), or None on numpy."""
        self._refresh()
        return self._numba

    def batch_program(self, size: int, gradients: bool = True) -> Any:
        """The grouped numpy program a batch of ``size`` samples runs, or None when another runs."""
        self._refresh()
        if self._numba is not None:
            return None
        return self._numpy.grouped(gradients, size)

    @property
    def parameters(self) -> list[Variable]:
        """The trainable Variables upstream of the target that are not inputs (topological order)."""
        self._refresh()
        return list(self._parameters)

    def __repr__(self) -> str:
        program = getattr(self, "_program", None)
        if program is None:
            return f"<CompiledGraph of {self.target.name!r} (not built)>"
        names = ", ".join(v.name for v in program.inputs)
        return f"<CompiledGraph of {self.target.name!r}, inputs [{names}], {len(program.parameters)} parameters>"

    # ---------------------------------------------------------------- arguments
    def _feed_values(self, feed: Mapping[Any, Any]) -> tuple[list[Value], int | None]:
        if feed.__class__ is not dict and not isinstance(feed, Mapping):
            raise TypeError(f"feed must be a dict mapping input Variables to values, got {type(feed).__name__}")
        inputs = self.inputs
        values: list[Any] = []
        try:
            if len(feed) != len(inputs):
                raise KeyError
            for variable in inputs:
                values.append(feed[variable])
        except KeyError:
            values = self._feed_by_key(feed)
        size = None
        for index, value in enumerate(values):
            if value.__class__ is float and value - value == 0.0:  # finite float: the fast path
                continue
            if not _is_clean_batch(value):
                value = values[index] = check_value(inputs[index], value)
            if value.__class__ is _ndarray:
                if size is None:
                    size = value.size
                elif value.size != size:
                    self._raise_sizes(values)
        if size is not None:
            values = [v if v.__class__ is _ndarray else np.full(size, v) for v in values]
        return values, size

    def _feed_by_key(self, feed: Mapping[Any, Any]) -> list[Any]:
        found: dict[Variable, Any] = {}
        allowed = ", ".join(repr(v.name) for v in self.inputs) or "none"
        for key, value in feed.items():
            if isinstance(key, str):
                if key not in self._by_name:
                    raise KeyError(f"feed: {key!r} is not an input of this compiled graph (inputs: {allowed})")
                variable = self._by_name[key]
                if variable is None:
                    raise KeyError(f"feed: several inputs are named {key!r}; use the Variable objects as keys")
            elif isinstance(key, Variable) and key in self.inputs:
                variable = key
            else:
                what = f"{key.kind} {key.name!r}" if isinstance(key, Node) else repr(key)
                raise KeyError(f"feed: {what} is not an input of this compiled graph (inputs: {allowed})")
            if variable in found:
                raise KeyError(f"feed: input {variable.name!r} is given twice (by name and by Variable)")
            found[variable] = value
        missing = [v.name for v in self.inputs if v not in found]
        if missing:
            raise KeyError(f"feed: no value for input(s) {', '.join(map(repr, missing))}")
        return [found[v] for v in self.inputs]

    def _raise_sizes(self, values: list[Any]) -> None:
        sizes = ", ".join(
            f"{v.name!r} has {value.size}" for v, value in zip(self.inputs, values) if value.__class__ is _ndarray
        )
        raise ValueError(f"feed: inputs have different batch sizes ({sizes} samples)")

    # --------------------------------------------------------------- parameters
    def _check_leaves(self, values: list[Any]) -> None:
        """Leaves' values read from the Variables: each must be a float."""
        for leaf, value in zip(self._leaves, values):
            if value.__class__ is not float:
                if value is None:
                    raise UnsetValueError(
                        f"Variable {leaf.name!r} has no value: set_value it, or list it in inputs= and feed it"
                    )
                if value.__class__ is _ndarray:
                    raise ValueError(
                        f"Variable {leaf.name!r} holds a batch but is not an input of this compiled graph; "
                        "list it in inputs= and feed it"
                    )

    def parameter_values(self) -> np.ndarray:
        """The parameters' current values as one array (a copy), in :attr:`parameters` order."""
        if not self._refresh():
            self._state.read()
        return self._state.as_array()[: self._count].copy()

    def assign_parameters(self, values: Any) -> None:
        """Write every parameter at once (an optimiser step computed on arrays)."""
        if len(values) != len(self._parameters):
            raise ValueError(f"assign_parameters: {len(self._parameters)} parameters, got {len(values)} values")
        self._state.assign(self.target, values)

    # ------------------------------------------------------------------ running
    def _arguments(self, feed: Mapping[Any, Any], current: bool) -> tuple[list[Any], Any, int | None]:
        """The fed values, the leaves' values (checked; a list for one sample, the array for
        a batch) and the batch size. ``current``: this program's values need no reading."""
        values, size = self._feed_values(feed)
        if not current:
            self._state.read()
        leaves = self._state.as_list() if size is None else self._state.as_array()
        if self._program.argument_checks:
            self._check_arguments(values, leaves)
        return values, leaves, size

    def _check_arguments(self, values: list[Any], leaves: Any) -> None:
        count = len(values)
        for op, index, position in self._program.argument_checks:
            value = values[position] if position < count else leaves[position - count]
            op.check_argument(index, value if value.__class__ is not np.float64 else float(value))

    def forward(self, feed: Mapping[Any, Any]) -> Value:
        """The target's value for ``feed``: a float, or one value per sample for a batch."""
        values, leaves, size = self._arguments(feed, self._refresh())
        return self._call("forward", values, leaves, size)

    def gradients(self, feed: Mapping[Any, Any], store: bool = False) -> tuple[float, np.ndarray]:
        """The mean of the target over the batch and the gradient of that mean with respect
        to every parameter (an array in :attr:`parameters` order). ``store=True`` also
        writes every parameter's ``.grad``, as :meth:`backward` does."""
        values, leaves, size = self._arguments(feed, self._refresh())
        out, grads = self._call("backward", values, leaves, size)
        if store:
            self.target.store_gradients(zip(self._parameters, grads.tolist() if grads.__class__ is _ndarray else grads))
        return _mean(out, size), np.asarray(grads, dtype=np.float64)

    def backward(self, feed: Mapping[Any, Any]) -> float:
        """Return the mean of the target over the batch and write every parameter's ``.grad``
        (the gradient of that mean), exactly as ``target.backward()`` would."""
        return self.gradients(feed, store=True)[0]

    def step(self, feed: Mapping[Any, Any], lr: float) -> float:
        """One SGD step. With one sample: the gradient of the target at ``feed`` and
        ``p -= lr * grad`` for every parameter, both inside one generated function. With a
        batch: one full-batch step on the gradient of the mean. Either way the same as
        ``backward(feed)`` followed by ``p.update(lr)`` for each parameter. Returns the loss
        (the mean for a batch) before the update. Gradients are not stored."""
        state = self._state
        current = self._refresh()  # (its first check: this program's own write still pending)
        if not self._count:
            raise ValueError(f"step: {self.target.name!r} has no parameters to train")
        values = None
        if feed.__class__ is dict and len(feed) == len(self.inputs):  # one finite float per input?
            try:
                values = list(map(feed.__getitem__, self.inputs))
            except KeyError:
                pass
            else:
                for value in values:
                    if value.__class__ is not float or value - value != 0.0:
                        values = None
                        break
        if values is None:
            values, leaves, size = self._arguments(feed, current)
        else:  # the per-sample fast path: one finite float per input, by Variable
            if not current:
                state.read()
            leaves = state.floats
            if leaves is None:  # numba's values stay an array
                leaves = state.as_list() if self._sample_numba is None else state.as_array()
            size = None
            if self._program.argument_checks:
                self._check_arguments(values, leaves)
            if not anomaly_active():
                if self._sample_numba is None:
                    loss, new = self._python.step(float(lr), values, leaves)
                else:
                    loss, new = self._guarded(self._sample_numba, "step", float(lr), values, state.as_array())
                state.adopt(self.target, new)
                return loss
        out, grads = self._call("backward", values, leaves, size)
        state.adopt(self.target, state.as_array()[: self._count] - float(lr) * np.asarray(grads, dtype=np.float64))
        return _mean(out, size)

    def sgd(self, feed: Mapping[Any, Any], lr: float) -> np.ndarray:
        """Per-sample SGD over a data set in one generated loop (no Python call per sample):
        for each sample in order, the gradient of the target, then ``p -= lr * p.grad``
        for every parameter, exactly as ``backward`` + ``update`` would. ``feed`` maps
        each input to a 1-D array (one entry per sample). Returns the per-sample losses
        and leaves the parameters at their final values."""
        current = self._refresh()
        if not self._count:
            raise ValueError(f"sgd: {self.target.name!r} has no parameters to train")
        values, leaves, size = self._arguments(feed, current)
        if size is None:
            values = [np.array([v]) for v in values]
        runner = self._runner()
        if runner is self._checked:
            runner = self._python
        leaves = self._state.as_array() if runner is self._numba else self._state.as_list()
        losses, final = self._guarded(runner, "sgd", float(lr), values, leaves)
        self._state.adopt(self.target, final)
        return losses

    def _call(self, method: str, values: list[Any], leaves: list[Any], size: int | None) -> Any:
        return self._guarded(self._runner(), method, values, leaves, size)

    def _guarded(self, runner: Any, method: str, *arguments: Any) -> Any:
        """``runner.method(*arguments)``; when numba cannot compile a kernel: a one-line
        warning, and this compiled graph runs on the numpy backend from now on."""
        try:
            return getattr(runner, method)(*arguments)
        except Exception as error:
            if runner is not self._numba or not type(error).__module__.startswith("numba"):
                raise
            warnings.warn(
                f"graphdl.compile: numba could not compile the kernels ({type(error).__name__}); "
                "using the numpy backend",
                RuntimeWarning,
                stacklevel=4,
            )
            self._numba = self._sample_numba = None
            self.backend = "numpy"
            return getattr(self._numpy, method)(*arguments)


#: Statements from which a per-sample ``c.step`` on the numba backend calls the kernel
#: (the seed net's 24 statements step in 3.9 µs as Python floats, 8.7 µs through numba).
NUMBA_STEP_FROM = 100


def _mean(out: Any, size: int | None) -> Any:
    """The target's value for one sample, or its mean over a batch (a float)."""
    if size is None:
        return out
    return float(_add_reduce(out) / size) if out.__class__ is _ndarray else float(out)  # out.mean()


def compile(target: Node, inputs: Sequence[Variable | str] = (), backend: str = "numpy") -> CompiledGraph:
    """Compile the graph upstream of ``target``.

    ``inputs`` lists the Variables fed per call (``x``, ``label``, ...); every other
    trainable Variable upstream is a parameter, read at call time and given a
    ``.grad`` by ``backward``. Operator formulas and derivatives come from the
    operators' own definitions, so compiled and interpreted results agree.

    ``backend``: ``"numpy"`` (Python floats for one sample, grouped numpy calls for a
    batch), ``"numba"`` (machine code; needs ``pip install "graphdl[fast]"``, else a
    one-line warning and numpy) or ``"auto"`` (numpy, which starts at once and runs a
    batch's dense layers as matrix products; numba when ``GRAPHDL_BACKEND=numba``). Every
    backend has the same methods.
    """
    return CompiledGraph(target, inputs, backend)
