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
from graphdl.compiler.python_runner import ARRAY_NAMESPACE, SCALAR_NAMESPACE, PythonRunner, render_sgd, render_step
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


#: Statements from which a per-sample ``c.step`` on the numba backend calls the kernel
#: (the seed net's 24 statements step in 3.9 µs as Python floats, 8.7 µs through numba).
NUMBA_STEP_FROM = 100
_NUMPY_INSTEAD = "graphdl.compile: {}; using the numpy backend"


def _numba_or_why(requested: str, program: Program, target: Node) -> tuple[Any, str | None]:
    """The numba runner when the backend asked for can be numba, else None; and why not,
    when a warning should say so."""
    backend = requested
    if backend == "auto":
        # numpy unless asked: its batches are matrix products, it starts at once, and results
        # never depend on whether numba is installed or its kernels were compiled yet
        backend = "numba" if os.environ.get("GRAPHDL_BACKEND", "").strip().lower() == "numba" else "numpy"
    if backend == "numpy":
        return None, None
    if not numba_runner.available():
        return None, 'numba is not installed (pip install "graphdl[fast]")'
    if not program.target_varies or not program.inputs:
        return None, "the target does not depend on an input"
    statistics = next((n for n in target.ancestors() if getattr(n, "reduces_batch", False)), None)
    if statistics is not None:
        what = f"{statistics.kind} {statistics.name!r} (batch statistics)"
        return None, f"the graph has {what}, which a per-sample kernel cannot compute"
    # (a big program's grouped kernel names a missing primitive itself: no walk of every statement)
    small = len(program.statements) <= numba_runner.MAX_STATEMENTS
    if small and (unknown := registry.missing(program.calls())):
        return None, f"the numba backend has no kernel code for {', '.join(unknown)}"
    try:
        return numba_runner.NumbaRunner(program), None
    except numba_runner.TooBig as error:
        return None, str(error) if requested == "numba" else None
    except OSError as error:  # the kernel cache cannot be written
        return None, f"no kernel cache at {numba_runner.cache_dir()} ({error})"


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
        resolved: list[Variable] = []
        item: Node | str
        for item in inputs:
            if isinstance(item, str):
                matches = [n for n in self.target.ancestors() if n.name == item and not n.parents]
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
        self._state = LeafValues(program.leaves, len(program.parameters), self._check_leaves)
        #: The leaves' values (parameters first) as one float64 array, the runners' argument.
        self.values = self._state.array
        self._python = PythonRunner(program, self)
        self._numpy = NumpyRunner(program, self._python)
        self._checked: PythonRunner | None = None
        self._numba, note = _numba_or_why(self.requested_backend, program, self.target)
        if note:
            warnings.warn(_NUMPY_INSTEAD.format(note), RuntimeWarning, stacklevel=4)
        #: numba for a per-sample step only when the program is big enough to repay a kernel
        #: call (a few µs of argument handling); a small one steps faster as Python floats.
        self._sample_numba = self._numba if len(program.statements) >= NUMBA_STEP_FROM else None
        #: The backend in use: "numba" or "numpy".
        self.backend = "numpy" if self._numba is None else "numba"

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
        return render_step(self._program)

    @property
    def sgd_source(self) -> str:
        """The per-sample SGD loop as one Python function."""
        return render_sgd(self._program)

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
        return list(self._program.parameters)

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
        for value in values:
            if value.__class__ is not float or value - value != 0.0:
                break
        else:
            return values, None  # finite floats: one sample, the fast path
        size, finite = None, None if self._numba is None else self._numba.finite
        for index, value in enumerate(values):
            # a 1-D float64 array of finite numbers is used as is (runners never write into their
            # arguments); numba's integer scan of the exponents, else a finite sum (no temporary)
            # proves every element finite (not a dot: it warns of overflow from 1e154, and
            # OpenBLAS threads long ones: ms to wake)
            if not (
                value.__class__ is _ndarray
                and value.dtype is _float64
                and value.ndim == 1
                and value.size
                and (_isfinite(_add_reduce(value)) if finite is None else finite(value))
            ):
                value = values[index] = check_value(inputs[index], value)
            if value.__class__ is _ndarray:
                if size is None:
                    size = value.size
                elif value.size != size:
                    sizes = ", ".join(
                        f"{v.name!r} has {x.size}" for v, x in zip(inputs, values) if x.__class__ is _ndarray
                    )
                    raise ValueError(f"feed: inputs have different batch sizes ({sizes} samples)")
        if size is not None:
            values = [v if v.__class__ is _ndarray else np.full(size, v) for v in values]
        return values, size

    def _feed_by_key(self, feed: Mapping[Any, Any]) -> list[Any]:
        """The fed values in input order, keyed by Variable or by name; errors name the key."""
        found: dict[Variable, Any] = {}
        for key, value in feed.items():
            variable = self._by_name.get(key) if isinstance(key, str) else key
            if variable is None and key in self._by_name:
                raise KeyError(f"feed: several inputs are named {key!r}; use the Variable objects as keys")
            if variable not in self.inputs:
                what = f"{key.kind} {key.name!r}" if isinstance(key, Node) else repr(key)
                allowed = ", ".join(repr(v.name) for v in self.inputs) or "none"
                raise KeyError(f"feed: {what} is not an input of this compiled graph (inputs: {allowed})")
            if variable in found:
                raise KeyError(f"feed: input {variable.name!r} is given twice (by name and by Variable)")
            found[variable] = value
        missing = [v.name for v in self.inputs if v not in found]
        if missing:
            raise KeyError(f"feed: no value for input(s) {', '.join(map(repr, missing))}")
        return [found[v] for v in self.inputs]

    # --------------------------------------------------------------- parameters
    def _check_leaves(self, values: list[Any]) -> None:
        """Leaves' values read from the Variables: each must be a float."""
        for leaf, value in zip(self._program.leaves, values):
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
        return self._state.as_array()[: self._state.count].copy()

    def assign_parameters(self, values: Any) -> None:
        """Write every parameter at once (an optimiser step computed on arrays)."""
        if len(values) != self._state.count:
            raise ValueError(f"assign_parameters: {self._state.count} parameters, got {len(values)} values")
        self._state.assign(self.target, values)

    # ------------------------------------------------------------------ running
    def _arguments(
        self, feed: Mapping[Any, Any], trains: str = "", step: bool = False
    ) -> tuple[list[Any], Any, int | None]:
        """Bring the graph up to date, then the fed values, the leaves' values (checked; a
        list for one sample, the array for a batch or a numba step) and the batch size.
        ``trains``: the method's name when it needs parameters to train."""
        current = self._refresh()
        if trains and not self._state.count:
            raise ValueError(f"{trains}: {self.target.name!r} has no parameters to train")
        values, size = self._feed_values(feed)
        state = self._state
        if not current:
            state.read()
        if size is not None or step and self._sample_numba is not None:
            leaves = state.as_array()
        else:
            leaves = state.floats if state.floats is not None else state.as_list()
        if self._program.argument_checks:
            count = len(values)
            for op, index, position in self._program.argument_checks:
                value = values[position] if position < count else leaves[position - count]
                op.check_argument(index, value if value.__class__ is not np.float64 else float(value))
        return values, leaves, size

    def forward(self, feed: Mapping[Any, Any]) -> Value:
        """The target's value for ``feed``: a float, or one value per sample for a batch."""
        return self._call("forward", *self._arguments(feed))

    def gradients(self, feed: Mapping[Any, Any], store: bool = False) -> tuple[float, np.ndarray]:
        """The mean of the target over the batch and the gradient of that mean with respect
        to every parameter (an array in :attr:`parameters` order). ``store=True`` also
        writes every parameter's ``.grad``, as :meth:`backward` does."""
        values, leaves, size = self._arguments(feed)
        out, grads = self._call("backward", values, leaves, size)
        if store:
            floats = grads.tolist() if grads.__class__ is _ndarray else grads
            self.target.store_gradients(zip(self._program.parameters, floats))
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
        values, leaves, size = self._arguments(feed, "step", True)
        state = self._state
        if size is None and not anomaly_active():
            if self._sample_numba is None:
                loss, new = self._python.step(float(lr), values, leaves)
            else:
                loss, new = self._guarded(self._sample_numba, "step", float(lr), values, leaves)
            state.adopt(self.target, new)
            return loss
        if size is not None and self._numba is None and not anomaly_active():
            fused = self._numpy.grouped(True, size)
            if fused is not None and fused.gradient_rows is not None:  # the update inside the grouped program
                out, updated = fused.run(values, leaves, 1.0 / size, float(lr))
                state.adopt(self.target, updated, fused.finite)
                return _mean(out, size)
        out, grads = self._call("backward", values, leaves, size)
        state.adopt(self.target, state.as_array()[: state.count] - float(lr) * np.asarray(grads, dtype=np.float64))
        return _mean(out, size)

    def sgd(self, feed: Mapping[Any, Any], lr: float) -> np.ndarray:
        """Per-sample SGD over a data set in one generated loop (no Python call per sample):
        for each sample in order, the gradient of the target, then ``p -= lr * p.grad``
        for every parameter, exactly as ``backward`` + ``update`` would. ``feed`` maps
        each input to a 1-D array (one entry per sample). Returns the per-sample losses
        and leaves the parameters at their final values."""
        values, leaves, size = self._arguments(feed, "sgd")
        if size is None:
            values = [np.array([v]) for v in values]
        runner = self._python if self._numba is None or anomaly_active() else self._numba
        losses, final = self._guarded(runner, "sgd", float(lr), values, leaves)
        self._state.adopt(self.target, final)
        return losses

    def _call(self, method: str, values: list[Any], leaves: Any, size: int | None) -> Any:
        """``method`` of this call's runner: the checked Python program inside ``detect_anomaly()``,
        else numba when it is the backend, else the numpy runner."""
        runner: Any
        if anomaly_active():
            if self._checked is None:
                self._checked = PythonRunner(self._program, self, checked=True)
            runner = self._checked
        else:
            runner = self._numpy if self._numba is None else self._numba
        return self._guarded(runner, method, values, leaves, size)

    def _guarded(self, runner: Any, method: str, *arguments: Any) -> Any:
        """``runner.method(*arguments)``; when numba cannot compile a kernel: a one-line
        warning, and this compiled graph runs on the numpy backend from now on (whose
        per-sample step and SGD loop are the Python runner's)."""
        try:
            return getattr(runner, method)(*arguments)
        except Exception as error:
            if runner is not self._numba or not type(error).__module__.startswith("numba"):
                raise
            reason = f"numba could not compile the kernels ({type(error).__name__})"
            warnings.warn(_NUMPY_INSTEAD.format(reason), RuntimeWarning, stacklevel=4)
            self._numba = self._sample_numba = None
            self.backend = "numpy"
            return getattr(self._python if method in ("step", "sgd") else self._numpy, method)(*arguments)


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
