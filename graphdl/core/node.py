"""Nodes of the computation graph: the :class:`Node` base, :class:`Variable` and
:class:`Operator`, and the lazy interpreter that evaluates and differentiates them.

Caching rules (DESIGN §1):

* an operator's value is a cache: ``Variable.set_value`` drops the cached values of
  every descendant, and reading ``.value`` recomputes what is missing;
* a gradient is a cache too, tagged with the target it was taken for and that
  target's *stamp*; anything that changes the target's value bumps the stamp, so a
  stale gradient is never returned;
* ``Variable.update`` is the optimiser step: it changes that parameter's value only.
  The values and gradients of the current point stay readable until the next
  ``set_value`` or ``clear()``, which first invalidates what the updates made stale.

Children are held through weak references, so a graph that nobody refers to any
more is freed by reference counting alone (no cycles for the garbage collector).
"""

from __future__ import annotations

import itertools
import math
import numbers
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from graphdl.core.anomaly import AnomalyError
from graphdl.core.anomaly import _state as _anomaly_state
from graphdl.core.backend import ARRAY, SCALAR

Value = float | np.ndarray

_ndarray = np.ndarray
_errstate = np.errstate

# Bumped whenever an operator is created: cached descendant lists and sinks depend
# on it (ancestor lists never change, since parents are fixed at construction).
_structure = [0]
# Bumped whenever a Variable's ``trainable`` flag changes.
_trainable_version = [0]
# Variables changed by ``update`` since the last ``set_value`` / ``clear`` (a dict used
# as an ordered set: a Variable assigned on every step is listed once, not once per step).
_pending_updates: dict[Variable, None] = {}
# Their values at the current point (before the first update), for gradient sweeps
# requested while updates are pending: those must stay at the point too.
_point_values: dict[Variable, Value] = {}

_name_counters: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
_explicit_names: set[str] = set()


class UnsetValueError(ValueError):
    """A computation needs a Variable that has no value yet."""


def _auto_name(kind: str) -> str:
    counter = _name_counters[kind]
    while True:
        name = f"{kind}_{next(counter)}"
        if name not in _explicit_names:
            return name


def _describe(node: Node) -> str:
    return f"{node.kind} {node.name!r}"


def check_value(node: Node, value: Any) -> Value:
    """Validate and normalise a value for ``node``: a finite real number becomes a
    Python float, a 1-D array of finite reals a read-only float64 array."""
    if value.__class__ is float and value - value == 0.0:  # fast path: a finite float (inf - inf is NaN)
        return value
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{_describe(node)}: value must be finite, got {number}")
        return number
    if value is None or isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, _ndarray)):
        raise TypeError(
            f"{_describe(node)}: value must be a real number or a 1-D array of real numbers, got {type(value).__name__}"
        )
    try:
        array = np.array(value)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{_describe(node)}: value is not a regular 1-D array ({error})") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{_describe(node)}: array values must be real numbers, got dtype {array.dtype}")
    if array.ndim == 0:
        return check_value(node, array.item())
    if array.ndim != 1:
        raise ValueError(
            f"{_describe(node)}: a batch must be a 1-D array (one graph describes one sample), got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{_describe(node)}: a batch must hold at least one sample")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{_describe(node)}: every value must be finite (found NaN or inf)")
    array.flags.writeable = False
    return array


def as_node(item: Any, owner: str = "operator") -> Node:
    """Return ``item`` if it is a node; wrap a real number as a constant Variable."""
    if isinstance(item, Node):
        return item
    if isinstance(item, numbers.Real) and not isinstance(item, bool):
        return Variable(item, trainable=False, _constant=True)
    raise TypeError(f"{owner}: a parent must be a node or a real number, got {type(item).__name__} {item!r}")


def topological_order(outputs: Iterable[Node]) -> list[Node]:
    """Every node upstream of ``outputs`` (inclusive), parents before children.

    Iterative depth-first search in parent order, so the order is deterministic and a
    100 000-node chain needs no recursion. Raises ``ValueError`` naming a node on a
    cycle (only possible if ``parents`` were tampered with).
    """
    order: list[Node] = []
    finished: set[Node] = set()
    on_path: set[Node] = set()
    for root in outputs:
        if root in finished:
            continue
        stack = [(root, iter(root.parents))]
        on_path.add(root)
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if parent in finished:
                    continue
                if parent in on_path:
                    raise ValueError(f"the graph has a cycle through {_describe(parent)}")
                on_path.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
            else:
                stack.pop()
                on_path.discard(node)
                finished.add(node)
                order.append(node)
    return order


class Node:
    """A node of the computation graph.

    Every node has a ``name`` (unique when generated), a ``kind`` (its class name),
    ``parents`` (a tuple, fixed at construction), ``children`` (the live nodes built
    on it), a ``value`` and, once computed, a ``grad``. Nodes support the arithmetic
    operators ``+ - * / **`` and unary ``-`` with other nodes and numbers, which build
    the same operator nodes one would build by hand.
    """

    __slots__ = (
        "name",
        "parents",
        "_children",
        "_value",
        "_grad",
        "_grad_for",
        "_grad_stamp",
        "_stamp",
        "_ancestors",
        "_descendants",
        "_sink",
        "_needs_grad",
        "__weakref__",
    )
    kind = "Node"
    __array_ufunc__ = None  # make numpy defer to our operators: np.float64(2) * node

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            cls.kind = cls.__name__

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            name = _auto_name(self.kind)
        elif not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind}: name must be a non-empty string, got {name!r}")
        else:
            _explicit_names.add(name)
        self.name = name
        self.parents: tuple[Node, ...] = ()
        self._children: list[weakref.ref[Node]] = []
        self._value: Value | None = None
        self._grad: Value | None = None
        self._grad_for: Node | None = None
        self._grad_stamp = -1
        self._stamp = 0
        self._ancestors: list[Node] | None = None
        self._descendants: tuple[int, list[weakref.ref[Node]]] | None = None
        self._sink: tuple[int, weakref.ref[Node]] | None = None
        # (trainable version, nodes needing gradient work, their reverse-sweep plan)
        self._needs_grad: tuple[int, set[Node], list[tuple[Node, tuple]]] | None = None

    # ----------------------------------------------------------------- structure
    @property
    def children(self) -> list[Node]:
        """The live nodes that have this node as a parent, in creation order."""
        alive = [ref() for ref in self._children]
        return [child for child in alive if child is not None]

    def ancestors(self) -> list[Node]:
        """This node and everything upstream of it, in topological order (cached)."""
        order = self._ancestors
        if order is None:
            order = self._ancestors = topological_order([self])
        return order

    def descendants(self) -> list[Node]:
        """Every live node downstream of this one (excluding itself)."""
        return [node for ref in self._descendant_refs() if (node := ref()) is not None]

    def _descendant_refs(self) -> list[weakref.ref[Node]]:
        cached = self._descendants
        if cached is not None and cached[0] == _structure[0]:
            return cached[1]
        refs: list[weakref.ref[Node]] = []
        seen = {self}
        stack = [self]
        while stack:
            for ref in stack.pop()._children:
                child = ref()
                if child is not None and child not in seen:
                    seen.add(child)
                    refs.append(ref)
                    stack.append(child)
        self._descendants = (_structure[0], refs)
        return refs

    def sinks(self) -> list[Node]:
        """The nodes without children reachable downstream from this node (itself if it has none)."""
        found = [node for node in [self, *self.descendants()] if not node.children]
        return found

    def _default_target(self) -> Node:
        cached = self._sink
        if cached is not None and cached[0] == _structure[0]:
            sink = cached[1]()
            if sink is not None:
                return sink
        found = self.sinks()
        if len(found) != 1:
            names = ", ".join(repr(node.name) for node in found)
            raise ValueError(
                f"{_describe(self)} reaches several sinks ({names}); pass target= to say which one to differentiate"
            )
        self._sink = (_structure[0], weakref.ref(found[0]))
        return found[0]

    # -------------------------------------------------------------------- values
    @property
    def value(self) -> Value | None:
        return self._value

    def forward(self) -> Value:
        """Compute (lazily) and return this node's value."""
        raise NotImplementedError

    def _invalidate_downstream(self) -> None:
        self._stamp += 1
        for ref in self._descendant_refs():
            node = ref()
            if node is not None:
                node._value = None
                node._stamp += 1

    def clear(self) -> None:
        """Drop the cached values of the operator nodes upstream and downstream of this
        node and every gradient cached for them; Variables keep their values."""
        _flush_pending_updates()
        for node in self.ancestors():
            if node.parents:
                node._value = None
            node._grad = None
            node._grad_for = None
            node._stamp += 1
        self._invalidate_downstream()

    # ----------------------------------------------------------------- gradients
    @property
    def grad(self) -> Value | None:
        """The cached gradient (None when not computed at the current point).

        For a batch, the gradient of a scalar node is that of the batch *mean* of the
        target; an array-valued node holds one partial derivative per sample.
        """
        target = self._grad_for
        if target is not None and self._grad_stamp == target._stamp:
            return self._grad
        return None

    def get_grad(self, target: Node | None = None) -> Value:
        """d(target)/d(self), computed lazily and cached in ``.grad``.

        ``target`` defaults to the unique sink reachable from this node.
        """
        if target is None:
            target = self._default_target()
        elif not isinstance(target, Node):
            raise TypeError(f"get_grad: target must be a node, got {type(target).__name__}")
        if self._grad_for is target and self._grad_stamp == target._stamp:
            return self._grad  # type: ignore[return-value]
        needs = target._grad_needs()
        if self in needs:
            _reverse_sweep(target, needs, target._needs_grad[2])  # type: ignore[index]
        else:
            if self not in set(target.ancestors()):
                raise ValueError(f"{_describe(self)} does not feed {_describe(target)}")
            _reverse_sweep(target, _needs_including(target, self))
        return self._grad  # type: ignore[return-value]

    def backward(self) -> None:
        """Eagerly compute the gradient of this node with respect to every ancestor fed
        by a trainable Variable and store it in each ancestor's ``.grad``.

        Gradients are a cache, not an accumulator: calling ``backward()`` twice gives
        the same values.
        """
        needs = self._grad_needs()
        _reverse_sweep(self, needs, self._needs_grad[2])  # type: ignore[index]

    def _grad_needs(self) -> set[Node]:
        """The ancestors of self that lie on a path from a trainable Variable."""
        cached = self._needs_grad
        if cached is not None and cached[0] == _trainable_version[0]:
            return cached[1]
        needs: set[Node] = set()
        for node in self.ancestors():
            if node.parents:
                if any(parent in needs for parent in node.parents):
                    needs.add(node)
            elif getattr(node, "trainable", False):
                needs.add(node)
        self._needs_grad = (_trainable_version[0], needs, _sweep_plan(self, needs))
        return needs

    # -------------------------------------------------------------------- sugar
    def __add__(self, other: Any) -> Node:
        return _binary(Add, self, other)

    def __radd__(self, other: Any) -> Node:
        return _binary(Add, other, self)

    def __sub__(self, other: Any) -> Node:
        return _binary(Sub, self, other)

    def __rsub__(self, other: Any) -> Node:
        return _binary(Sub, other, self)

    def __mul__(self, other: Any) -> Node:
        return _binary(Mul, self, other)

    def __rmul__(self, other: Any) -> Node:
        return _binary(Mul, other, self)

    def __truediv__(self, other: Any) -> Node:
        return _binary(Div, self, other)

    def __rtruediv__(self, other: Any) -> Node:
        return _binary(Div, other, self)

    def __pow__(self, other: Any) -> Node:
        return _binary(Pow, self, other)

    def __rpow__(self, other: Any) -> Node:
        return _binary(Pow, other, self)

    def __neg__(self) -> Node:
        return Neg([self])

    def relu(self) -> Node:
        """``Relu([self])``."""
        return Relu([self])

    def leaky_relu(self, negative_slope: float = 0.1) -> Node:
        """``LeakyRelu([self], negative_slope)``."""
        return LeakyRelu([self], negative_slope=negative_slope)

    def sigmoid(self) -> Node:
        """``Sigmoid([self])``."""
        return Sigmoid([self])

    def tanh(self) -> Node:
        """``Tanh([self])``."""
        return Tanh([self])

    def exp(self) -> Node:
        """``Exp([self])``."""
        return Exp([self])

    def log(self) -> Node:
        """``Log([self])``."""
        return Log([self])

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r} value={_short(self._value)} grad={_short(self.grad)}>"

    def _repr_svg_(self) -> str | None:
        """Jupyter display: the graph upstream of this node as SVG (see ``graphdl.viz``)."""
        from graphdl.viz.render import notebook_svg

        return notebook_svg(self)


def _binary(op: type, left: Any, right: Any) -> Any:
    if not isinstance(left, (Node, numbers.Real)) or not isinstance(right, (Node, numbers.Real)):
        return NotImplemented
    return op([left, right])


def _short(value: Value | None) -> str:
    if value is None:
        return "None"
    if isinstance(value, _ndarray):
        return f"array(mean={value.mean():.4g}, n={value.size})"
    return f"{value:.6g}"


class Variable(Node):
    """A leaf of the graph: a parameter (``trainable=True``), data or a constant.

    ``Variable(value=None, name=None, trainable=True)``. Data and constants should be
    created with ``trainable=False``: optimisers and ``Graph.parameters()`` skip
    them and backward passes do no gradient work for them.
    """

    __slots__ = ("_trainable", "constant")
    kind = "Variable"

    def __init__(
        self,
        value: Any = None,
        name: str | None = None,
        trainable: bool = True,
        *,
        _constant: bool = False,
    ) -> None:
        if _constant and name is None:
            name = _auto_name("Constant")
        super().__init__(name)
        self._trainable = bool(trainable)
        self.constant = _constant
        if value is not None:
            self._value = check_value(self, value)

    @property
    def trainable(self) -> bool:
        """Whether optimisers update this Variable and gradients flow to it."""
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        self._trainable = bool(flag)
        _trainable_version[0] += 1

    @property
    def value(self) -> Value | None:
        """The current value (a float or a 1-D array), or None when unset."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        """Set the value (a real number or a 1-D array of them, finite).

        Invalidates the cached values of every descendant and every gradient taken
        for a target downstream, so nothing stale can be read afterwards.
        """
        value = check_value(self, value)
        _flush_pending_updates()
        self._value = value
        self._invalidate_downstream()

    def forward(self) -> Value:
        """Return the value; raise :class:`UnsetValueError` when it was never set."""
        value = self._value
        if value is None:
            raise UnsetValueError(f"Variable {self.name!r} has no value: call {self.name}.set_value(...) first")
        return value

    def update(self, lr: float) -> None:
        """One gradient-descent step: ``value -= lr * grad``.

        Changes this parameter's value and nothing else: the values and gradients of
        the current point stay as they were, so every parameter of one step can be
        updated with gradients taken at the same point.
        """
        target = self._grad_for
        grad = self._grad if target is not None and self._grad_stamp == target._stamp else None
        if grad is None:
            raise ValueError(
                f"Variable {self.name!r} has no gradient at the current point: call get_grad() or backward() first"
            )
        self.assign(self._value - lr * grad)

    def assign(self, value: Any) -> None:
        """Replace the value as an optimiser step does: like :meth:`update`, the cached
        values and gradients of the current point stay until the next ``set_value`` or
        ``clear()``."""
        value = check_value(self, value)
        if self not in _point_values and self._value is not None:
            _point_values[self] = self._value
        self._value = value
        _pending_updates[self] = None


# The last flush's work list: (structure version, the updated Variables, weak references
# to every node downstream of them). Training loops update the same Variables every step.
# It holds those few Variables (leaves: no parents, so no graph) until the next flush.
_last_flush: list[Any] = [None]


def _flush_pending_updates() -> None:
    """Invalidate what the optimiser's updates made stale, visiting each node downstream
    of the updated Variables once (a stamp only has to change, not count)."""
    pending = _pending_updates
    if not pending:
        return
    _point_values.clear()
    if len(pending) == 1:
        pending.popitem()[0]._invalidate_downstream()
        return
    cached = _last_flush[0]
    updated = tuple(pending)
    if cached is not None and cached[0] == _structure[0] and cached[1] == updated:  # identity comparison
        refs = cached[2]
    else:
        refs = []
        seen: set[Node] = set(pending)
        stack: list[Node] = list(pending)
        while stack:
            for ref in stack.pop()._children:
                child = ref()
                if child is not None and child not in seen:
                    seen.add(child)
                    refs.append(ref)
                    stack.append(child)
        _last_flush[0] = (_structure[0], updated, refs)
    for variable in pending:
        variable._stamp += 1
    for ref in refs:
        node = ref()
        if node is not None:
            node._value = None
            node._stamp += 1
    pending.clear()


class Operator(Node):
    """Base class of every operator node.

    A subclass defines, side by side:

    * ``arity``: the exact number of parents, or ``(minimum, maximum)`` with
      ``None`` for no maximum;
    * ``formula(self, F, *args)``: the value, written with Python arithmetic and the
      primitives of the backend ``F`` so one formula serves floats, batches and the
      compiler;
    * ``derivative(self, F, index, out, *args)``: the partial derivative of the output
      with respect to argument ``index`` (``out`` is the forward value). Every operator
      works sample by sample, so its vector-Jacobian product is ``grad * derivative``.

    Options (such as ``negative_slope``) are listed in ``options`` so the renderer,
    the serialiser and the compiler can read them.
    """

    __slots__ = ()
    arity: int | tuple[int, int | None] = 1
    symbol = "?"
    options: tuple[str, ...] = ()

    def __init__(self, parents: Sequence[Any], *, name: str | None = None) -> None:
        kind = type(self).__name__
        if isinstance(parents, (Node, str, bytes)) or not isinstance(parents, (Sequence, tuple)):
            raise TypeError(f"{kind} takes a list of parent nodes, e.g. {kind}([a, b]); got {type(parents).__name__}")
        self.check_arity(len(parents))
        nodes = tuple(as_node(parent, kind) for parent in parents)
        super().__init__(name)
        self.parents = nodes
        me = weakref.ref(self)
        for parent in nodes:
            parent._children.append(me)
        _structure[0] += 1

    @classmethod
    def check_arity(cls, count: int) -> None:
        """Raise ``ValueError`` naming the operator when ``count`` parents do not fit."""
        arity = cls.arity
        if isinstance(arity, int):
            if count != arity:
                plural = "parent" if arity == 1 else "parents"
                raise ValueError(f"{cls.__name__} expects {arity} {plural}, got {count}")
            return
        low, high = arity
        if count < low or (high is not None and count > high):
            expected = f"at least {low}" if high is None else f"{low} to {high}"
            raise ValueError(f"{cls.__name__} expects {expected} parents, got {count}")

    def formula(self, F: Any, *args: Any) -> Any:
        """The output value for argument values ``args`` (floats or arrays)."""
        raise NotImplementedError

    def derivative(self, F: Any, index: int, out: Any, *args: Any) -> Any:
        """d(output)/d(args[index]), given the output ``out``."""
        raise NotImplementedError

    @property
    def value(self) -> Value:
        """The value, recomputed from the parents when it is not cached."""
        value = self._value
        if value is None:
            value = _compute_missing(self)
        return value

    def forward(self) -> Value:
        """Compute every ancestor without a cached value, then return this value."""
        value = self._value
        if value is not None:
            return value
        order = self._ancestors
        if order is None:
            order = self.ancestors()
        scalar = SCALAR
        anomaly = _anomaly_state["enabled"]
        with _errstate(all="ignore"):
            for node in order:
                if node._value is None and node.parents:
                    # Inlined _evaluate for the common case, every argument a float.
                    args = [parent._value for parent in node.parents]
                    for arg in args:
                        if arg.__class__ is not float:
                            _evaluate(node)
                            break
                    else:
                        try:
                            node._value = value = node.formula(scalar, *args)
                        except ZeroDivisionError:
                            _evaluate(node)
                            continue
                        if anomaly:
                            _check_finite(node, value, "value", args)
        return self._value  # type: ignore[return-value]

    def option_values(self) -> dict[str, Any]:
        """The operator's options, e.g. ``{"negative_slope": 0.1}``."""
        return {option: getattr(self, option) for option in self.options}


def _compute_missing(node: Node) -> Value:
    """Evaluate just the ancestors of ``node`` that have no cached value."""
    order: list[Node] = []
    seen = {node}
    stack = [(node, iter(node.parents))]
    while stack:
        current, pending = stack[-1]
        for parent in pending:
            if parent._value is None and parent.parents and parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
        else:
            stack.pop()
            order.append(current)
    with _errstate(all="ignore"):
        for current in order:
            _evaluate(current)
    return node._value  # type: ignore[return-value]


def _backend_for(op: Node, args: list[Any]) -> Any:
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


def _raise_batch_mismatch(op: Node) -> None:
    sizes = [
        f"{node.name!r} has {node._value.size}"
        for node in op.ancestors()
        if not node.parents and isinstance(node._value, _ndarray)
    ]
    raise ValueError(f"{_describe(op)}: inputs have different batch sizes ({', '.join(sizes)} samples)")


def _raise_unset(op: Node) -> None:
    for node in op.ancestors():
        if not node.parents and node._value is None:
            raise UnsetValueError(
                f"Variable {node.name!r} has no value (needed by {_describe(op)}): "
                f"call {node.name}.set_value(...) first"
            )
    raise UnsetValueError(f"{_describe(op)}: a parent has no value")


def _as_batch_of_one(args: Sequence[Any]) -> list[Any]:
    return [np.array([arg]) if isinstance(arg, float) else arg for arg in args]


def _evaluate(op: Any) -> None:
    args = [parent._value for parent in op.parents]
    backend = SCALAR
    for arg in args:
        if arg.__class__ is not float:
            backend = _backend_for(op, args)
            break
    try:
        value = op.formula(backend, *args)
    except ZeroDivisionError:
        # Python floats raise where IEEE arithmetic gives ±inf/NaN: redo it as numpy does.
        value = float(op.formula(ARRAY, *_as_batch_of_one(args))[0])
    if _anomaly_state["enabled"]:
        _check_finite(op, value, "value", args)
    op._value = value


def _derivative(op: Any, index: int, out: Any, args: list[Any]) -> Any:
    backend = SCALAR
    for arg in args:
        if arg.__class__ is _ndarray:
            backend = ARRAY
            break
    try:
        return op.derivative(backend, index, out, *args)
    except ZeroDivisionError:
        result = op.derivative(ARRAY, index, np.array([out]), *_as_batch_of_one(args))
        return float(np.asarray(result)[0])


def _check_finite(node: Node, value: Any, what: str, args: list[Any] | None = None) -> None:
    finite = math.isfinite(value) if isinstance(value, float) else bool(np.isfinite(value).all())
    if not finite:
        detail = ""
        if args is not None:
            inputs = ", ".join(f"{parent.name}={_short(arg)}" for parent, arg in zip(node.parents, args))
            detail = f" from inputs {inputs}"
        raise AnomalyError(f"{_describe(node)}: {what} is not finite ({_short(value)}){detail}")


def _needs_including(target: Node, extra: Node) -> set[Node]:
    needs = set(target._grad_needs())
    needs.add(extra)
    for node in target.ancestors():
        if node.parents and any(parent in needs for parent in node.parents):
            needs.add(node)
    return needs


def _sweep_plan(target: Node, needs: set[Node]) -> list[tuple[Node, tuple[tuple[int, Node], ...]]]:
    """The reverse sweep's work list: every node that receives a gradient (the target
    and the nodes in ``needs``) in reverse topological order, each with the
    ``(argument index, parent)`` pairs whose gradients it contributes to."""
    plan = []
    for node in reversed(target.ancestors()):
        if node is target or node in needs:
            plan.append((node, tuple((index, parent) for index, parent in enumerate(node.parents) if parent in needs)))
    return plan


def _reverse_sweep(target: Node, needs: set[Node], plan: list | None = None) -> None:
    """Reverse-mode sweep from ``target``: store d(target)/d(node) on every node in
    ``needs``. For a batch the seed is 1/N per sample (the gradient of the mean)."""
    if _point_values:
        _reverse_sweep_at_point(target, needs)
        return
    out = target.forward()
    if plan is None:
        plan = _sweep_plan(target, needs)
    stamp = target._stamp
    check = _anomaly_state["enabled"]
    if out.__class__ is float and not check:
        # One sample: every value upstream of a float target is a float too.
        _scalar_sweep(target, plan, stamp)
        return
    seed: Any = np.full(out.shape, 1.0 / out.size) if out.__class__ is _ndarray else 1.0
    pending: dict[Node, Any] = {target: seed}
    with _errstate(all="ignore"):
        for node, wanted in plan:
            grad = pending.pop(node, None)
            if grad is None:
                continue
            value = node._value
            if grad.__class__ is _ndarray and value.__class__ is not _ndarray:
                grad = float(grad.sum())  # a scalar feeding a batch: sum over samples
            if check:
                _check_finite(node, grad, "gradient")
            node._grad = grad
            node._grad_for = target
            node._grad_stamp = stamp
            if not wanted:
                continue
            args = [parent._value for parent in node.parents]
            for index, parent in wanted:
                contribution = grad * _derivative(node, index, value, args)
                if contribution.__class__ is _ndarray and parent._value.__class__ is not _ndarray:
                    # A scalar feeding a batch: sum this path over the samples now. Adding
                    # it to another path's scalar first would broadcast that scalar N times.
                    contribution = float(contribution.sum())
                previous = pending.get(parent)
                pending[parent] = contribution if previous is None else previous + contribution


def _scalar_sweep(target: Node, plan: list, stamp: int) -> None:
    """The reverse sweep for Python floats: the same products and sums as the general
    sweep, without the per-node checks that only batches need."""
    pending: dict[Node, Any] = {target: 1.0}
    pop = pending.pop
    get = pending.get
    with _errstate(all="ignore"):
        for node, wanted in plan:
            grad = pop(node, None)
            if grad is None:
                continue
            node._grad = grad
            node._grad_for = target
            node._grad_stamp = stamp
            if not wanted:
                continue
            value = node._value
            args = [parent._value for parent in node.parents]
            derivative = node.derivative
            for index, parent in wanted:
                try:
                    contribution = grad * derivative(SCALAR, index, value, *args)
                except ZeroDivisionError:
                    contribution = grad * _derivative(node, index, value, args)
                previous = get(parent)
                pending[parent] = contribution if previous is None else previous + contribution


def _reverse_sweep_at_point(target: Node, needs: set[Node]) -> None:
    """A sweep requested after ``update``/``assign`` and before the next ``set_value``
    or ``clear()``: run it with the updated Variables back at their values of the
    current point, so it neither mixes two points nor overwrites the step's gradients."""
    saved = list(_point_values.items())
    updated = [(variable, variable._value) for variable, _ in saved]
    _point_values.clear()
    for variable, value in saved:
        variable._value = value
    try:
        _reverse_sweep(target, needs)
    finally:
        for variable, value in updated:
            variable._value = value
        _point_values.update(saved)


# The operator classes are needed by the sugar above; they import this module.
from graphdl.ops.activations import LeakyRelu, Relu, Sigmoid, Tanh  # noqa: E402
from graphdl.ops.arithmetic import Add, Div, Exp, Log, Mul, Neg, Pow, Sub  # noqa: E402
