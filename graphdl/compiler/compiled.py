"""``CompiledGraph``: the generated program bound to the graph's nodes.

One source text is executed in two namespaces: primitives bound to the scalar
backend's float functions (one sample) and to numpy ufuncs (a batch). Python float
arithmetic raises where IEEE arithmetic gives ±inf or NaN (``1.0 / 0.0``), so a call
that raises is redone on one-element arrays, as the interpreter does per node.
"""

from __future__ import annotations

import builtins
import itertools
import linecache
import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np

from graphdl.compiler import backends, numba_backend
from graphdl.compiler.codegen import Program, generate, sgd_source
from graphdl.core.anomaly import AnomalyError, anomaly_active
from graphdl.core.collector import collector_paused as _collector_paused
from graphdl.core.node import (
    Node,
    UnsetValueError,
    Value,
    Variable,
    assign_values,
    cached_values,
    check_value,
)
from graphdl.core.plan import describe
from graphdl.core.primitives import PRIMITIVES

_ndarray = np.ndarray
_errstate = np.errstate
_ARITHMETIC_ERRORS = (ZeroDivisionError, OverflowError, ValueError)
_serial = itertools.count(1)
_KEEP_FLOATS = 8_000_000  # keep at most 64 MB of a batch's arrays between calls


def _same(value: Any) -> Any:
    return value


def _batch_sum(values: Any) -> float:
    return float(values.sum()) if values.__class__ is _ndarray else values


_COMMON = {"inf": float("inf"), "nan": float("nan"), "__builtins__": builtins}
#: The namespace one sample runs in: the float version of every primitive.
SCALAR_NAMESPACE = {**_COMMON, **{name: p.scalar for name, p in PRIMITIVES.items()}, "batch_sum": _same}
#: The namespace a batch runs in: the numpy version of every primitive.
ARRAY_NAMESPACE = {**_COMMON, **{name: p.array for name, p in PRIMITIVES.items()}, "batch_sum": _batch_sum}


def _load(source: str, label: str, namespaces: Sequence[dict[str, Any]], owner: object) -> list[dict[str, Any]]:
    """Execute ``source`` in a copy of each namespace. The text is registered in
    :mod:`linecache` (tracebacks show the generated line) for as long as ``owner`` lives."""
    filename = f"<graphdl {label} #{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    weakref.finalize(owner, linecache.cache.pop, filename, None)
    code = builtins.compile(source, filename, "exec")
    loaded = []
    for namespace in namespaces:
        namespace = dict(namespace)
        exec(code, namespace)
        loaded.append(namespace)
    return loaded


def _anomaly_checks(nodes: Sequence[Node]) -> dict[str, Callable[[Any, int], None]]:
    """``check(value, k)`` and ``check_grad(g, k)`` for a checked program: raise
    :class:`AnomalyError` naming ``nodes[k]`` when the value is not finite."""

    def finite(value: Any) -> bool:
        if value.__class__ is float:
            return value - value == 0.0
        return bool(np.isfinite(value).all())

    def check(value: Any, k: int) -> None:
        if not finite(value):
            raise AnomalyError(f"{describe(nodes[k])}: value is not finite ({_summary(value)}) in the compiled program")

    def check_grad(value: Any, k: int) -> None:
        if not finite(value):
            raise AnomalyError(
                f"{describe(nodes[k])}: gradient is not finite ({_summary(value)}) in the compiled program"
            )

    return {"check": check, "check_grad": check_grad}


def _summary(value: Any) -> str:
    if value.__class__ is _ndarray:
        bad = value[~np.isfinite(value)]
        return f"{bad.size} of {value.size} samples, first {bad[0]}"
    return repr(float(value))


def _to_float(value: Any) -> float:
    if value.__class__ is _ndarray and value.ndim == 1:
        return float(value[0])
    return float(value)


def _is_clean_batch(value: Any) -> bool:
    """A 1-D float64 array of finite numbers, usable as is (the compiled code never writes
    into its arguments). A finite sum proves every element finite without a temporary."""
    return (
        value.__class__ is _ndarray
        and value.dtype == np.float64
        and value.ndim == 1
        and value.size > 0
        and np.isfinite(np.add.reduce(value))
    )


def _as_arrays(values: Sequence[Any]) -> list[Any]:
    return [np.array([v]) if v.__class__ is not _ndarray else v for v in values]


class CompiledGraph:
    """The graph upstream of ``target`` compiled to one straight-line Python function.

    Build it with :func:`graphdl.compile`. ``forward(feed)`` returns the target's
    value (a float, or an array for a batch); ``backward(feed)`` returns the mean of
    the target over the batch and writes ``.grad`` of every parameter, as
    ``target.backward()`` would. ``feed`` maps each input Variable (or its name) to a
    float or a 1-D array. Parameters are read when called, so updates between calls
    are seen. ``source`` is the generated program.
    """

    def __init__(self, target: Node, inputs: Sequence[Variable | str] = (), backend: str = "numpy") -> None:
        if backend not in backends.BACKENDS:
            choices = ", ".join(map(repr, backends.BACKENDS))
            raise ValueError(f"compile: backend must be one of {choices}, got {backend!r}")
        self.requested_backend = backend
        if not isinstance(target, Node):
            raise TypeError(f"compile: target must be a node, got {type(target).__name__}")
        self.target = target
        self.inputs: tuple[Variable, ...] = self._resolve_inputs(inputs)
        self._by_name: dict[str, Variable | None] = {}
        for variable in self.inputs:
            self._by_name[variable.name] = None if variable.name in self._by_name else variable
        self._seed_cache: tuple[int, np.ndarray] | None = None
        self._kept: tuple | None = None
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
            program: Program = generate(self.target, self.inputs)
        self._program = program
        self._loaded: tuple[dict[str, Any], ...] | None = None
        self._leaves = program.leaves
        self._argument_checks = program.argument_checks
        self._sgd: Callable[..., Any] | None = None
        self._checked: tuple[Program, dict[str, Any], dict[str, Any]] | None = None
        self._step: Callable[..., Any] | None = None
        self._setup_backend(program)

    def _setup_backend(self, program: Program) -> None:
        chosen, note = backends.choose(self.requested_backend, program, self.target.ancestors())
        self._numba = None
        if chosen == "numba":
            try:
                self._numba = backends.NumbaRunner(program, repr(self.target.name))
            except numba_backend.TooBig as error:
                chosen = "numpy"
                if self.requested_backend == "numba":
                    note = f"graphdl.compile: {error}; using the numpy backend"
            except OSError as error:  # the kernel cache cannot be written
                chosen = "numpy"
                where = numba_backend.cache_dir()
                note = f"graphdl.compile: no kernel cache at {where} ({error}); using the numpy backend"
        backends.announce(note)
        self._batches = backends.BatchPrograms(program) if program.target_varies else None
        if not hasattr(self, "grouping"):
            #: Batches run one numpy call per group of like statements; False runs one call per node.
            self.grouping = True
        #: The backend in use: "numba" or "numpy".
        self.backend = chosen

    def _plain(self) -> tuple[dict[str, Any], ...]:
        """The namespaces of the per-node program: the float one and the numpy one. Python
        compiles a 20 000-line function in about 0.2 s, so this happens on first use (one
        sample, or a batch when grouping is off); grouped batches never need it."""
        loaded = self._loaded
        if loaded is None:
            loaded = self._loaded = tuple(
                _load(self._program.source, "compiled", [SCALAR_NAMESPACE, ARRAY_NAMESPACE], self)
            )
        return loaded

    def _checked_program(self) -> tuple[Program, dict[str, Any], dict[str, Any]]:
        """The program with anomaly checks after every value and gradient (built on first use)."""
        if self._checked is None:
            with _collector_paused():
                program = generate(self.target, self.inputs, checked=True)
            checks = _anomaly_checks(program.checked_nodes)
            scalar, array = _load(
                program.source,
                "compiled, anomaly checks",
                [{**SCALAR_NAMESPACE, **checks}, {**ARRAY_NAMESPACE, **checks}],
                self,
            )
            self._checked = (program, scalar, array)
        return self._checked

    def _refresh(self) -> None:
        """Bring the graph up to date (end a pending optimiser step) and rebuild when a
        ``trainable`` flag changed (the parameter set may differ)."""
        target = self.target
        target.refresh()
        if target.gradient_plan() is not self._source_plan:
            self._build()

    # --------------------------------------------------------------- properties
    @property
    def source(self) -> str:
        """The generated Python program (``forward`` and ``backward``)."""
        self._refresh()
        return self._program.source

    @property
    def batch_source(self) -> str:
        """The program a batch runs: one numpy call per group of like statements (numpy
        backend), or the numba kernels (numba backend)."""
        self._refresh()
        if self._numba is not None:
            return self._numba.source
        grouped = self._batches.source() if self._batches is not None else None
        return self._program.source if grouped is None else grouped

    @property
    def program(self) -> Program:
        """The generated program: its source, statements and argument layout."""
        self._refresh()
        return self._program

    @property
    def kernels(self) -> Any:
        """The numba kernels (:class:`graphdl.compiler.numba_backend.NumbaKernels`), or None
        when the numpy backend runs."""
        self._refresh()
        return None if self._numba is None else self._numba.kernels

    def batch_program(self, size: int, gradients: bool = True) -> Any:
        """The grouped numpy program a batch of ``size`` samples runs
        (:class:`graphdl.compiler.vectorise.VectorProgram`), or None when the per-node program
        runs (numba backend, ``grouping`` off, or a target that does not depend on an input)."""
        self._refresh()
        if self._batches is None or not self.grouping or self._numba is not None:
            return None
        return self._batches.get(gradients, size)

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

    def _check_leaves(self, values: list[Any]) -> None:
        for leaf, value in zip(self._leaves, values):
            if value is None:
                raise UnsetValueError(
                    f"Variable {leaf.name!r} has no value: set_value it, or list it in inputs= and feed it"
                )
            if value.__class__ is _ndarray:
                raise ValueError(
                    f"Variable {leaf.name!r} holds a batch but is not an input of this compiled graph; "
                    "list it in inputs= and feed it"
                )

    def _seed(self, size: int) -> np.ndarray:
        cached = self._seed_cache
        if cached is None or cached[0] != size:
            seed = np.full(size, 1.0 / size)
            seed.flags.writeable = False
            cached = self._seed_cache = (size, seed)
        return cached[1]

    # ------------------------------------------------------------------ running
    def _leaf_values(self) -> list[Value]:
        """The current values of the leaves the program reads, checked."""
        values: list[Any] = cached_values(self._leaves)  # a None is rejected by _check_leaves below
        for value in values:
            if value.__class__ is not float:
                self._check_leaves(values)
                break
        return values

    def _arguments(self, feed: Mapping[Any, Any]) -> tuple[list[Any], int | None]:
        """The fed values and the leaves' current values, checked, and the batch size."""
        values, size = self._feed_values(feed)
        arguments = values + self._leaf_values()
        if self._argument_checks:
            for op, index, position in self._argument_checks:
                op.check_argument(index, arguments[position])
        return arguments, size

    def _namespaces(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The anomaly-checking program's namespaces inside ``detect_anomaly()``, else None."""
        if anomaly_active():
            _, scalar, array = self._checked_program()
            return scalar, array
        return None

    def _grouped(self, with_gradients: bool, size: int) -> Any:
        """The grouped batch program for ``size`` samples, or None when batches run ungrouped."""
        if self._batches is None or not self.grouping:
            return None
        with _collector_paused():  # the first call of a size builds the program
            return self._batches.get(with_gradients, size)

    def forward(self, feed: Mapping[Any, Any]) -> Value:
        """The target's value for ``feed``: a float, or one value per sample for a batch."""
        self._refresh()
        arguments, size = self._arguments(feed)
        checked = self._namespaces()
        if checked is None and self._numba is not None:
            result = self._run_numba("one" if size is None else "batch_forward", *self._split(arguments))
            if result is not None:
                return result[0] if size is None else result
        if size is not None and checked is None:
            with _errstate(all="ignore"):
                grouped = self._grouped(False, size)
                if grouped is not None:
                    return grouped.run(*self._split(arguments), 1.0)[0]
        scalar, array = checked if checked is not None else self._plain()
        scalar_forward, array_forward = scalar["forward"], array["forward"]
        if size is None:  # float arithmetic and the float primitives never emit numpy warnings
            try:
                return scalar_forward(*arguments)
            except _ARITHMETIC_ERRORS:
                with _errstate(all="ignore"):
                    return _to_float(array_forward(*_as_arrays(arguments)))
        with _errstate(all="ignore"):
            try:
                out = array_forward(*arguments)
            except _ARITHMETIC_ERRORS:
                out = array_forward(*_as_arrays(arguments))
        if out.__class__ is not _ndarray or out.ndim == 0 or out.size != size:
            return _to_float(out)
        return out

    def backward(self, feed: Mapping[Any, Any]) -> float:
        """Return the mean of the target over the batch and write every parameter's ``.grad``
        (the gradient of that mean), exactly as ``target.backward()`` would."""
        self._refresh()
        arguments, size = self._arguments(feed)
        checked = self._namespaces()
        if checked is None and self._numba is not None:
            result = self._run_numba("one" if size is None else "batch_backward", *self._split(arguments))
            if result:
                out, grads = result
                self._store(grads)
                return out if size is None else float(out.mean())
        if size is not None and checked is None:
            with _errstate(all="ignore"):
                grouped = self._grouped(True, size)
                if grouped is not None:
                    out, grads = grouped.run(*self._split(arguments), 1.0 / size)
                    self._store(grads)
                    return float(out.mean())
        scalar, array = checked if checked is not None else self._plain()
        scalar_backward, array_backward = scalar["backward"], array["backward"]
        if size is None:  # float arithmetic and the float primitives never emit numpy warnings
            try:
                out, grads, _ = scalar_backward(1.0, *arguments)
            except _ARITHMETIC_ERRORS:
                out, grads = _one_sample_as_array(array_backward, arguments)
            self._store(grads)
            return out
        with _errstate(all="ignore"):
            seed = self._seed(size) if self._program.target_varies else 1.0
            try:
                out, grads, kept = array_backward(seed, *arguments)
            except _ARITHMETIC_ERRORS:
                out, grads, kept = array_backward(seed, *_as_arrays(arguments))
        # Freeing every temporary at once lets the allocator return the memory to the
        # system, and the next call page-faults it back in (~1.5x slower at N = 1e5):
        # keep this call's arrays until the next call, within a memory cap.
        self._kept = kept if size * len(kept) <= _KEEP_FLOATS else None
        mean = float(out.mean()) if out.__class__ is _ndarray else float(out)
        self._store([_to_float(g) for g in grads])
        return mean

    def sgd(self, feed: Mapping[Any, Any], lr: float) -> np.ndarray:
        """Per-sample SGD over a data set in one generated loop (no Python call per sample):
        for each sample in order, the gradient of the target, then ``p -= lr * p.grad``
        for every parameter, exactly as ``backward`` + ``update`` would. ``feed`` maps
        each input to a 1-D array (one entry per sample). Returns the per-sample losses
        and leaves the parameters at their final values."""
        self._refresh()
        if not self._program.parameters:
            raise ValueError(f"sgd: {self.target.name!r} has no parameters to train")
        arguments, size = self._arguments(feed)
        values = arguments[: len(self.inputs)]
        if size is None:
            values = [np.array([v]) for v in values]
        if self._numba is not None and (
            result := self._run_numba("sgd", float(lr), values, arguments[len(self.inputs) :])
        ):
            losses, final = result
            for parameter, value in zip(self._program.parameters, final):
                parameter.set_value(value)
            return losses
        if self._sgd is None:
            source = sgd_source(self._program)
            (namespace,) = _load(source, "sgd loop", [SCALAR_NAMESPACE], self)
            self._sgd, self.sgd_source = namespace["sgd"], source
        columns = [column.tolist() for column in values]

        def fallback(*arguments: Any) -> tuple[float, list[float]]:
            return _one_sample_as_array(self._plain()[1]["backward"], list(arguments))

        with _errstate(all="ignore"):
            losses, final = self._sgd(float(lr), fallback, *columns, *arguments[len(self.inputs) :])
        for parameter, value in zip(self._program.parameters, final):
            parameter.set_value(value)
        return np.array(losses)

    def step(self, feed: Mapping[Any, Any], lr: float) -> float:
        """One per-sample SGD step: the gradient of the target at ``feed`` (one sample) and
        ``p -= lr * grad`` for every parameter, both inside the generated function, as
        ``backward(feed)`` followed by ``p.update(lr)`` for each parameter would do.
        Returns the loss before the update. Gradients are not stored (use ``backward``)."""
        target = self.target
        target.refresh()
        if target.gradient_plan() is not self._source_plan:
            self._build()
        if anomaly_active():  # the checked program: backward, then the updates
            loss = self.backward(feed)
            for parameter in self._program.parameters:
                parameter.update(lr)
            return loss
        step = self._step
        if step is None:
            if not self._program.parameters:
                raise ValueError(f"step: {self.target.name!r} has no parameters to train")
            step = self._step = self._build_step()
        inputs = self.inputs
        values: list[Value] = []
        try:  # fast path: the inputs as keys, one finite float each
            for variable in inputs:
                value = feed[variable]
                if value.__class__ is not float or value - value != 0.0:
                    raise KeyError
                values.append(value)
            if len(feed) != len(inputs):
                raise KeyError
        except (KeyError, TypeError):
            values, size = self._feed_values(feed)
            if size is not None:
                raise ValueError("step: feed one sample (a float per input); use sgd() for a data set") from None
        leaves = cached_values(self._leaves)
        for value in leaves:
            if value.__class__ is not float:
                self._check_leaves(leaves)
                break
        arguments = values + leaves
        for op, index, position in self._argument_checks:
            op.check_argument(index, arguments[position])
        lr = float(lr)
        result = self._run_numba("step", lr, *self._split(arguments)) if self._numba is not None else None
        if result is not None:
            loss, new = result
        else:
            try:
                loss, new = step(lr, *arguments)
            except _ARITHMETIC_ERRORS:
                loss, grads = _one_sample_as_array(self._plain()[1]["backward"], arguments)
                parameters = cast(list[float], arguments[len(inputs) :])  # checked floats: step() takes one sample
                new = [value - lr * grad for value, grad in zip(parameters, grads)]
        assign_values(self._program.parameters, new)
        return loss

    def _build_step(self) -> Any:
        source = backends.step_source(self._program)
        (namespace,) = _load(source, "step", [SCALAR_NAMESPACE], self)
        self.step_source = source
        return namespace["step"]

    def _run_numba(self, method: str, *arguments: Any) -> Any:
        """A numba kernel's result, or None when numba could not compile it: then a one-line
        warning, and this compiled graph runs on the numpy backend from now on."""
        try:
            return getattr(self._numba, method)(*arguments)
        except Exception as error:
            if not type(error).__module__.startswith("numba"):
                raise
            warnings.warn(
                f"graphdl.compile: numba could not compile the kernels ({type(error).__name__}); "
                "using the numpy backend",
                RuntimeWarning,
                stacklevel=3,
            )
            self._numba, self.backend = None, "numpy"
            return None

    def _split(self, arguments: list[Any]) -> tuple[list[Any], list[Any]]:
        """The fed values and the leaves' values."""
        count = len(self.inputs)
        return arguments[:count], arguments[count:]

    def _store(self, grads: Sequence[Value]) -> None:
        gradients: dict[Node, Value] = dict(zip(self._program.parameters, grads))
        self.target.store_gradients(gradients)


def _one_sample_as_array(array_backward: Callable[..., Any], arguments: list[Any]) -> tuple[float, list[float]]:
    """One sample through the numpy program (as IEEE arithmetic: 1/0 is inf, not an error)."""
    with _errstate(all="ignore"):
        out, grads, _ = array_backward(np.ones(1), *_as_arrays(arguments))
    return _to_float(out), [_to_float(g) for g in grads]


def compile(target: Node, inputs: Sequence[Variable | str] = (), backend: str = "numpy") -> CompiledGraph:
    """Compile the graph upstream of ``target`` into straight-line Python.

    ``inputs`` lists the Variables fed per call (``x``, ``label``, ...); every other
    trainable Variable upstream is a parameter, read at call time and given a
    ``.grad`` by ``backward``. Operator formulas and derivatives come from the
    operators' own definitions, so compiled and interpreted results agree.

    ``backend``: ``"numpy"`` (Python floats for one sample, grouped numpy calls for a
    batch), ``"numba"`` (machine code; needs ``pip install "graphdl[fast]"``, else a
    one-line warning and numpy) or ``"auto"`` (numba when installed and the graph is
    small enough for its compile time to pay). Every backend has the same methods.
    """
    return CompiledGraph(target, inputs, backend)
