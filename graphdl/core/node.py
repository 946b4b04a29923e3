"""Nodes of the computation graph: the :class:`Node` base, :class:`Variable` and
:class:`Operator`, and the lazy interpreter that evaluates and differentiates them.

Caching rules:

* an operator's value is a cache: ``Variable.set_value`` drops the cached values of
  every descendant, and reading ``.value`` recomputes what is missing;
* a gradient is a cache too, tagged with the target it was taken for and that
  target's *stamp*; anything that changes the target's value bumps the stamp, so a
  stale gradient is never returned;
* ``Variable.update`` is the optimiser's step: it changes the value at once and records
  the Variable as *pending* on its graph. The step's cached values and gradients stay
  readable until the graph is next brought up to date, which ``set_value``, ``clear()``,
  ``forward()``, ``backward()`` and any computation of a missing value or gradient do
  first. No value or gradient ever mixes two points;
* a compiled step writes no Variable: its new values wait on the graph as a deferred write
  (:mod:`graphdl.core.deferred`), carried out before anything here reads or writes a value,
  brings the graph up to date or joins it to another, so nothing observable changes.

Nothing here is module-level and mutable except the name counters (locked): the pending
updates and the structure versions live on the graph's :class:`Component`, shared by the
nodes of one connected graph, so two graphs (two threads) never touch each other's state.

Nodes hold no reference cycles: children are weak references, a gradient records its
target through a weak reference, and a plan cached on a target leaves the target out. A
graph nobody refers to is freed by reference counting alone.
"""

from __future__ import annotations

import collections
import gc
import itertools
import numbers
import operator
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from graphdl.core.anomaly import anomaly_active
from graphdl.core.backend import Backend
from graphdl.core.component import (
    Component,
    bring_up_to_date,
    downstream_refs,
    end_step,
    join,
    members,
    new_point,
    new_version,
    root_of,
    settle,
    settle_graph,
)
from graphdl.core.interpreter import UnsetValueError, evaluate, reverse_sweep
from graphdl.core.names import auto_name, note_explicit_name, register_kind
from graphdl.core.plan import Plan, describe, topological_order
from graphdl.core.values import Value, check_value, short

__all__ = [
    "Node",
    "Operator",
    "UnsetValueError",
    "Value",
    "Variable",
    "VariableBlock",
    "check_finite",
    "as_node",
    "assign_values",
    "check_value",
    "install_sugar",
    "operator_classes",
    "topological_order",
]

_chain = itertools.chain


def as_node(item: Any, owner: str = "operator") -> Node:
    """Return ``item`` if it is a node; wrap a real number as a constant Variable."""
    if isinstance(item, Node):
        return item
    if isinstance(item, numbers.Real) and not isinstance(item, bool):
        return Variable(item, trainable=False, _constant=True)
    raise TypeError(f"{owner}: a parent must be a node or a real number, got {type(item).__name__} {item!r}")


def _list_form_message(kind: str, given: tuple[Any, ...]) -> str:
    """What ``Mul(x, w)`` (the list forgotten) is told: the operator and the call in its list form."""

    def shown(item: Any) -> str:
        return item.name if isinstance(item, Node) else repr(item)

    if len(given) == 1 and not isinstance(given[0], (Node, numbers.Real, str, bytes)):
        return f"{kind} takes a list of parent nodes, e.g. {kind}([a, b]); got {type(given[0]).__name__}"
    names = ", ".join(shown(item) for item in given)
    return f"{kind} takes its parents as one list: {kind}([{names}]), not {kind}({names})"


# ------------------------------------------------------------------------- nodes
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
        "_grad_tag",
        "_stamp",
        "_component",
        "_upstream",
        "_descendants",
        "_sink",
        "_plan",
        "_ref",
        "__weakref__",
    )
    kind = "Node"
    #: What the node is for (renderer colours, ``Graph.parameters()``): see :func:`node_role`.
    role = "node"
    __array_ufunc__ = None  # make numpy defer to our operators: np.float64(2) * node

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            cls.kind = cls.__name__
        register_kind(cls.kind)

    def __init__(self, name: str | None = None, component: Component | None = None, auto: str = "") -> None:
        if name is None:
            name = auto_name(auto or self.kind)
        elif not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind}: name must be a non-empty string, got {name!r}")
        else:
            name = str.__str__(name)  # a plain str, whatever subclass was given
            note_explicit_name(name)
        self.name = name
        self.parents: tuple[Node, ...] = ()
        self._children: list[weakref.ref[Node]] = []
        self._value: Value | None = None
        self._grad: Value | None = None
        # (weak reference to the target, the target's stamp, the graph's point) when the
        # gradient was taken; one tuple shared by every node of a sweep.
        self._grad_tag: tuple[weakref.ref[Node], int, int] | None = None
        self._stamp = 0
        self._component = component  # None for a Variable until an operator uses it (see _root)
        self._upstream: tuple[Node, ...] | None = None
        self._descendants: tuple[int, list[weakref.ref[Node]]] | None = None
        self._sink: tuple[int, weakref.ref[Node]] | None = None
        self._plan: tuple[int, Plan] | None = None
        self._ref = weakref.ref(self)

    # ----------------------------------------------------------------- structure
    @property
    def children(self) -> list[Node]:
        """The live nodes that have this node as a parent, in creation order."""
        alive = [ref() for ref in self._children]
        return [child for child in alive if child is not None]

    def upstream(self) -> tuple[Node, ...]:
        """Every node upstream of this one (excluding itself), parents first (cached:
        parents never change)."""
        order = self._upstream
        if order is None:
            order = self._upstream = tuple(topological_order(self.parents))
        return order

    def ancestors(self) -> list[Node]:
        """This node and everything upstream of it, in topological order."""
        return [*self.upstream(), self]

    def descendants(self) -> list[Node]:
        """Every live node downstream of this one (excluding itself)."""
        return [node for ref in self._descendant_refs() if (node := ref()) is not None]

    def _descendant_refs(self) -> list[weakref.ref[Node]]:
        component = self._component
        structure = (component if component is not None and component.merged_into is None else root_of(self)).structure
        cached = self._descendants
        if cached is not None and cached[0] == structure:
            return cached[1]
        refs = downstream_refs([self])
        self._descendants = (structure, refs)
        return refs

    def sinks(self) -> list[Node]:
        """The nodes without children reachable downstream from this node (itself if it has none)."""
        return [node for node in [self, *self.descendants()] if not node.children]

    def _target_candidates(self) -> list[Node]:
        """The sinks a default target is chosen from: those of the forward graph. Gradient
        graphs (``graphdl.grad``: role ``"gradient"``) hang on the forward nodes they reuse
        (``1 - out²`` reads a Tanh's output) but are not what ``w.get_grad()`` means: a forward
        node whose only children are gradient nodes is still a sink, and the sinks of gradient
        graphs count only when nothing else is reached."""
        reached = [self, *self.descendants()]
        forward = [
            node
            for node in reached
            if node.role != "gradient" and all(child.role == "gradient" for child in node.children)
        ]
        return forward or [node for node in reached if not node.children]

    def _default_target(self) -> Node:
        component = self._component
        structure = (component if component is not None and component.merged_into is None else root_of(self)).structure
        cached = self._sink
        if cached is not None and cached[0] == structure:
            sink = cached[1]()
            if sink is not None:
                return sink
        # Children are weak references: a node nothing reaches any more (dropped while inside a
        # reference cycle: a list holding itself, a stored traceback) lives on until the cyclic
        # collector runs, and would count as a sink, so the target would depend on when the
        # collector last ran. Collect the young generations first (cheap; where a temporary
        # dropped since is), and everything before reporting several sinks.
        gc.collect(1)
        found = self._target_candidates()
        if len(found) != 1:
            found = []  # (the list would keep the nodes it names alive through the collection)
            gc.collect()
            found = self._target_candidates()
        if len(found) != 1:
            names = ", ".join(repr(node.name) for node in found)
            raise ValueError(
                f"{describe(self)} reaches several sinks ({names}); pass target= to say which one to differentiate"
            )
        self._sink = (structure, found[0]._ref)
        return found[0]

    # -------------------------------------------------------------------- values
    @property
    def value(self) -> Value | None:
        """The value (computed when needed)."""
        return self._value

    @property
    def cached_value(self) -> Value | None:
        """The cached value, None when it is not computed; never computes anything."""
        component = self._component
        if component is not None and (component.deferred is not None or component.merged_into is not None):
            settle_graph(self)
        return self._value

    def forward(self) -> Value:
        """Bring the graph up to date, compute (lazily) and return this node's value."""
        raise NotImplementedError

    def refresh(self) -> None:
        """Bring the graph of this node up to date: end a pending optimiser step, so every
        value and gradient from now on is computed at the current values."""
        component = self._component
        if component is None or component.merged_into is not None:
            component = root_of(self)
        if component.deferred is not None:
            settle(component)
        if component.pending:
            end_step(component)

    def _invalidate_downstream(self) -> None:
        self._stamp += 1
        for ref in self._descendant_refs():
            node = ref()
            if node is not None:
                node._value = None
                node._stamp += 1

    def clear(self) -> None:
        """Drop every cached value and gradient of this node's graph (every node connected
        to it); Variables keep their values. Ends a pending optimiser step."""
        component = root_of(self)
        if component.deferred is not None:
            settle(component)  # the Variables keep the step's values
        component.pending = {}  # everything the step made stale is dropped below anyway
        component.point = new_version()
        for ref in members(self):
            node = ref()
            if node is not None:
                if node.parents:
                    node._value = None
                node._grad = None
                node._grad_tag = None
                node._stamp += 1

    # ----------------------------------------------------------------- gradients
    @property
    def grad(self) -> Value | None:
        """The cached gradient (None when not computed at the current point).

        For a batch, the gradient of a scalar node is that of the batch *mean* of the
        target; an array-valued node holds one partial derivative per sample.
        """
        tag = self._grad_tag
        if tag is not None:
            target = tag[0]()
            if target is not None:
                if tag[1] == target._stamp:
                    return self._grad
            elif tag[2] == root_of(self).point:  # the target is gone; no value changed since
                return self._grad
        return None

    def drop_grad(self) -> None:
        """Forget this node's cached gradient (``grad`` becomes None)."""
        self._grad = None
        self._grad_tag = None

    def get_grad(self, target: Node | None = None) -> Value:
        """d(target)/d(self), computed lazily and cached in ``.grad``.

        ``target`` defaults to the unique sink reachable from this node. A gradient the
        current step already computed is returned as is (the step's point); otherwise the
        graph is brought up to date and differentiated at the current values.
        """
        if target is None:
            target = self._default_target()
        elif not isinstance(target, Node):
            raise TypeError(f"get_grad: target must be a node, got {type(target).__name__}")
        tag = self._grad_tag
        if tag is not None and tag[0] is target._ref and tag[1] == target._stamp:
            return self._grad  # type: ignore[return-value]  # the sweep or the tag check just set it
        bring_up_to_date(target)
        plan = target.gradient_plan()
        if self is not target and self not in plan.needs:
            if self not in set(plan.order):
                raise ValueError(f"{describe(self)} does not feed {describe(target)}")
            sources = [node for node in plan.order if node in plan.needs and not node.parents]
            plan = Plan(target, plan.order, [*sources, self])
        reverse_sweep(target, plan)
        return self._grad  # type: ignore[return-value]  # the sweep or the tag check just set it

    def backward(self) -> None:
        """Bring the graph up to date, then compute the gradient of this node with
        respect to every ancestor fed by a trainable Variable and store it in each
        ancestor's ``.grad``.

        Gradients are a cache, not an accumulator: calling ``backward()`` twice gives
        the same values.
        """
        bring_up_to_date(self)
        reverse_sweep(self, self.gradient_plan())

    def store_gradients(self, grads: Mapping[Node, Value] | Iterable[tuple[Node, Value]]) -> None:
        """Record gradients computed elsewhere (a compiled program) as d(self)/d(node) at
        the current point, readable through ``node.grad`` and ``node.get_grad(self)``.
        ``grads`` maps nodes to gradients (or is an iterable of such pairs). Gradients
        cached for this target before are dropped (they belong to another point)."""
        self._stamp += 1
        component = self._component
        if component is None or component.merged_into is not None:
            component = root_of(self)
        component.stamped[self._ref] = None
        tag = (self._ref, self._stamp, component.point)
        for node, grad in grads.items() if hasattr(grads, "items") else grads:
            node._grad = grad
            node._grad_tag = tag

    def gradient_plan(self) -> Plan:
        """The plan of this target's sweep (:class:`graphdl.core.plan.Plan`), every
        trainable Variable upstream a source. Cached: the same object is returned until a
        ``trainable`` flag in the graph changes."""
        component = self._component
        flags = (component if component is not None and component.merged_into is None else root_of(self)).flags
        cached = self._plan
        if cached is not None and cached[0] == flags:
            return cached[1]
        order = self.upstream()
        sources = [node for node in _chain(order, (self,)) if not node.parents and getattr(node, "trainable", False)]
        plan = Plan(self, order, sources)
        self._plan = (flags, plan)
        return plan

    # -------------------------------------------------------------------- sugar
    def __add__(self, other: Any) -> Node:
        return _binary(_sugar("Add"), self, other)

    def __radd__(self, other: Any) -> Node:
        return _binary(_sugar("Add"), other, self)

    def __sub__(self, other: Any) -> Node:
        return _binary(_sugar("Sub"), self, other)

    def __rsub__(self, other: Any) -> Node:
        return _binary(_sugar("Sub"), other, self)

    def __mul__(self, other: Any) -> Node:
        return _binary(_sugar("Mul"), self, other)

    def __rmul__(self, other: Any) -> Node:
        return _binary(_sugar("Mul"), other, self)

    def __truediv__(self, other: Any) -> Node:
        return _binary(_sugar("Div"), self, other)

    def __rtruediv__(self, other: Any) -> Node:
        return _binary(_sugar("Div"), other, self)

    def __pow__(self, other: Any) -> Node:
        return _binary(_sugar("Pow"), self, other)

    def __rpow__(self, other: Any) -> Node:
        return _binary(_sugar("Pow"), other, self)

    def __neg__(self) -> Node:
        return _sugar("Neg")([self])

    def relu(self) -> Node:
        """``Relu([self])``."""
        return _sugar("Relu")([self])

    def leaky_relu(self, negative_slope: float = 0.1) -> Node:
        """``LeakyRelu([self], negative_slope)``."""
        leaky_relu: Any = _sugar("LeakyRelu")  # takes an option
        return leaky_relu([self], negative_slope=negative_slope)

    def sigmoid(self) -> Node:
        """``Sigmoid([self])``."""
        return _sugar("Sigmoid")([self])

    def tanh(self) -> Node:
        """``Tanh([self])``."""
        return _sugar("Tanh")([self])

    def exp(self) -> Node:
        """``Exp([self])``."""
        return _sugar("Exp")([self])

    def log(self) -> Node:
        """``Log([self])``."""
        return _sugar("Log")([self])

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r} value={short(self.cached_value)} grad={short(self.grad)}>"


def _binary(op: type, left: Any, right: Any) -> Any:
    if not isinstance(left, (Node, numbers.Real)) or not isinstance(right, (Node, numbers.Real)):
        return NotImplemented
    return op([left, right])


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
        super().__init__(name, None, "Constant" if _constant else "")
        self._trainable = bool(trainable)
        self.constant = _constant
        if value is not None:
            self._value = check_value(self, value)

    @property
    def role(self) -> str:  # type: ignore[override]  # a property here, a plain attribute on Node
        """``"constant"``, ``"parameter"`` (trainable) or ``"input"`` (data)."""
        if self.constant:
            return "constant"
        return "parameter" if self._trainable else "input"

    @property
    def trainable(self) -> bool:
        """Whether optimisers update this Variable and gradients flow to it."""
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        self._trainable = bool(flag)
        root_of(self).flags = new_version()

    @property
    def value(self) -> Value | None:
        """The current value (a float or a 1-D array), or None when unset."""
        component = self._component
        if component is not None and (component.deferred is not None or component.merged_into is not None):
            settle_graph(self)
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        """Set the value (a real number or a 1-D array of them, finite).

        Starts a new point: ends a pending optimiser step of this graph, then invalidates
        the cached values of every descendant and every gradient taken for a target
        downstream, so nothing stale can be read afterwards.
        """
        value = check_value(self, value)
        new_point(self)
        self._value = value
        self._invalidate_downstream()

    def unset(self) -> None:
        """Drop the value (as if never set) and invalidate everything downstream."""
        new_point(self)
        self._value = None
        self._invalidate_downstream()

    def forward(self) -> Value:
        """Return the value; raise :class:`UnsetValueError` when it was never set."""
        bring_up_to_date(self)
        value = self._value
        if value is None:
            raise UnsetValueError(f"Variable {self.name!r} has no value: call {self.name}.set_value(...) first")
        return value

    def update(self, lr: float) -> None:
        """One gradient-descent step: ``value -= lr * grad``.

        Changes this parameter's value at once; the values and gradients of the current
        point stay readable until the graph is next brought up to date, so every
        parameter of one step is updated with gradients taken at the same point.
        """
        component = self._component
        if component is not None and (component.deferred is not None or component.merged_into is not None):
            settle_graph(self)
        tag = self._grad_tag
        target = None if tag is None else tag[0]()
        grad = self._grad if tag is not None and target is not None and tag[1] == target._stamp else self.grad
        if grad is None:
            raise ValueError(
                f"Variable {self.name!r} has no gradient at the current point: call get_grad() or backward() first"
            )
        value = self._value
        if value is None:
            raise UnsetValueError(f"Variable {self.name!r} has no value: call {self.name}.set_value(...) first")
        value = value - lr * grad  # assign(), inlined: optimisers call this per parameter
        if value.__class__ is not float or value - value != 0.0:
            value = check_value(self, value)
        self._value = value
        component = self._component
        if component is None or component.merged_into is not None:
            component = root_of(self)
        component.pending[self._ref] = None

    def assign(self, value: Any) -> None:
        """Replace the value as an optimiser step does: like :meth:`update`, the cached
        values and gradients of the current point stay readable until the graph is next
        brought up to date."""
        assign_values((self,), (value,))


def assign_values(variables: Sequence[Variable], values: Sequence[Any]) -> None:
    """``variable.assign(value)`` for each pair, in order: one optimiser step writing many
    parameters at once (a compiled step, an optimiser) without a method call per parameter.
    Raises ``ValueError`` (assigning nothing) when the two differ in length."""
    if len(variables) != len(values):
        raise ValueError(f"assign_values: {len(variables)} Variables but {len(values)} values")
    for variable, value in zip(variables, values):
        if variable.__class__ is not Variable and not isinstance(variable, Variable):
            raise TypeError(f"assign_values: expected Variables, got {type(variable).__name__}")
        if value.__class__ is not float or value - value != 0.0:
            value = check_value(variable, value)
        component = variable._component
        if component is None or component.merged_into is not None:
            component = root_of(variable)
        if component.deferred is not None:
            settle(component)
        variable._value = value
        component.pending[variable._ref] = None


_read_value = operator.attrgetter("_value")
_write_value: Any = Node.__dict__["_value"].__set__  # the slot's descriptor: one C call per Variable
_drain: Any = collections.deque(maxlen=0).extend


class VariableBlock:
    """A fixed list of Variables of one connected graph, read and written at once without a
    Python loop (a compiled program's parameters): :meth:`read` gives their values as a list, :meth:`write` assigns
    new values as :func:`assign_values` does (an optimiser step: the step's point stays
    readable until the graph is next brought up to date)."""

    __slots__ = ("variables", "_refs")

    def __init__(self, variables: Sequence[Variable]) -> None:
        self.variables = tuple(variables)
        self._refs = dict.fromkeys(variable._ref for variable in self.variables)

    def read(self) -> list[Value | None]:
        """The current values, in order."""
        if self.variables:
            settle_graph(self.variables[0])
        return list(map(_read_value, self.variables))

    def write(self, values: Sequence[float]) -> None:
        """Assign ``values`` (finite floats, one per Variable, in order) as one optimiser step."""
        if len(values) != len(self.variables):
            raise ValueError(f"VariableBlock.write: {len(self.variables)} Variables but {len(values)} values")
        if not values:
            return
        check_finite(self.variables, values)
        component = root_of(self.variables[0])
        if component.deferred is not None:
            settle(component)
        _drain(map(_write_value, self.variables, values))
        component.pending.update(self._refs)


def check_finite(variables: Sequence[Variable], values: Any) -> None:
    """Raise ``ValueError`` naming the first Variable whose new value is not finite
    (``values``: floats or a float64 array, one per Variable)."""
    if values.__class__ is np.ndarray:
        if np.isfinite(values).all():  # no floating-point warnings, unlike a sum
            return
    else:
        total = sum(values)
        if total - total == 0.0:  # else NaN or inf somewhere (or a finite overflow)
            return
    for variable, value in zip(variables, values):
        check_value(variable, value)


class Operator(Node):
    """Base class of every operator node.

    A subclass defines, side by side:

    * ``arity``: the exact number of parents, or ``(minimum, maximum)`` with
      ``None`` for no maximum;
    * ``formula(self, F, *args)``: the value, written with Python arithmetic and the
      primitives of the backend ``F`` so one formula serves floats, batches and the
      compiler;
    * ``derivative(self, F, index, out, *args)``: the partial derivative of the output
      with respect to argument ``index`` (``out`` is the forward value). An operator that
      works sample by sample needs nothing more: its vector-Jacobian product is
      ``grad * derivative``.

    Optional hooks:

    * ``checked_arguments`` and ``check_argument(index, value)``: argument positions
      whose incoming values are validated before the formula runs (a loss's label);
    * ``reduces_batch = True`` and ``vjp(F, index, grad, out, *args)``: an operator whose
      output for one sample depends on the other samples (batch statistics) overrides
      the vector-Jacobian product and receives the whole batch.

    Options (such as ``negative_slope``) are listed in ``options`` so the renderer,
    the serialiser and the compiler can read them.
    """

    __slots__ = ("_role",)  # set only on the nodes of gradient graphs (see ``role``)
    arity: int | tuple[int, int | None] = 1
    symbol = "?"
    options: tuple[str, ...] = ()
    _role: str
    #: Argument positions validated by :meth:`check_argument` before the formula runs.
    checked_arguments: tuple[int, ...] = ()
    #: True when the output for one sample depends on other samples of the batch.
    reduces_batch = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.formula is not Operator.formula:  # marker bases such as Loss compute nothing
            _OPERATOR_CLASSES[cls.kind] = cls

    def __init__(self, parents: Sequence[Any], *more_parents: Any, name: str | None = None) -> None:
        kind = type(self).__name__
        if more_parents or isinstance(parents, (Node, str, bytes)) or not isinstance(parents, (Sequence, tuple)):
            raise TypeError(_list_form_message(kind, (parents, *more_parents)))
        self.check_arity(len(parents))
        nodes = tuple(as_node(parent, kind) for parent in parents)
        super().__init__(name, join(nodes))
        self.parents = nodes
        me = self._ref
        for parent in nodes:
            children = parent._children
            children.append(me)
            count = len(children)
            if count >= 32 and not count & (count - 1):  # at 32, 64, 128, ...: drop the dead ones
                parent._children = [ref for ref in children if ref() is not None]

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

    def formula(self, F: Backend, *args: Any) -> Any:
        """The output value for argument values ``args`` (floats or arrays)."""
        raise NotImplementedError

    def derivative(self, F: Backend, index: int, out: Any, *args: Any) -> Any:
        """d(output)/d(args[index]), given the output ``out``."""
        raise NotImplementedError

    def vjp(self, F: Backend, index: int, grad: Any, out: Any, *args: Any) -> Any:
        """The vector-Jacobian product for argument ``index``: what ``grad`` (the gradient
        of the target w.r.t. this output) contributes to that argument's gradient."""
        return grad * self.derivative(F, index, out, *args)

    vjp.is_default_vjp = True  # type: ignore[attr-defined]  # a marker plan.py reads on the function

    @property
    def role(self) -> str:
        """``"operator"``, or ``"gradient"`` for a node of a gradient graph (``graphdl.grad``
        sets it); subclasses may set a class attribute instead (losses: ``"loss"``)."""
        return getattr(self, "_role", "operator")

    @role.setter
    def role(self, role: str) -> None:
        if role not in ("operator", "gradient"):
            raise ValueError(f"{describe(self)}: role must be 'operator' or 'gradient', got {role!r}")
        self._role = role

    def check_argument(self, index: int, value: Any) -> None:
        """Validate the value arriving at argument ``index`` (one of ``checked_arguments``);
        raise ``ValueError`` naming this node and the first bad value."""

    @property
    def value(self) -> Value:
        """The value, computed (at the current values) when it is not cached."""
        value = self._value
        if value is None:
            value = self.forward()
        return value

    def forward(self) -> Value:
        """Bring the graph up to date, compute every ancestor without a cached value,
        then return this value."""
        component = self._component
        assert component is not None  # an operator joins its parents' component when built
        if component.merged_into is not None or component.pending or component.deferred is not None:
            bring_up_to_date(self)
        value = self._value
        if value is not None:
            return value
        order = self._upstream
        if order is None:
            order = self.upstream()
        evaluate((*order, self), anomaly_active())
        return self._value  # type: ignore[return-value]  # evaluate() just computed it

    def option_values(self) -> dict[str, Any]:
        """The operator's options, e.g. ``{"negative_slope": 0.1}``."""
        return {option: getattr(self, option) for option in self.options}


# Every operator class defined so far, by kind: filled as each class is defined (a later
# class of the same kind replaces an earlier one). The loaders rebuild nodes from it.
_OPERATOR_CLASSES: dict[str, type[Operator]] = {}

# The classes behind the sugar (``x + y``, ``x.relu()``, ...). The operators live above
# the core, so :mod:`graphdl.ops` hands them over with :func:`install_sugar` when imported.
_SUGAR: dict[str, type[Operator]] = {}
SUGAR_KINDS = ("Add", "Sub", "Mul", "Div", "Pow", "Neg", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Exp", "Log")


def operator_classes() -> dict[str, type[Operator]]:
    """Every operator class defined so far, by kind (``{"Add": Add, ...}``)."""
    return dict(_OPERATOR_CLASSES)


def install_sugar(classes: Mapping[str, type[Operator]]) -> None:
    """Use ``classes`` (one per kind of :data:`SUGAR_KINDS`) for the operator sugar of every node."""
    missing = [kind for kind in SUGAR_KINDS if kind not in classes]
    if missing:
        raise ValueError(f"install_sugar: no operator class for {', '.join(missing)}")
    _SUGAR.update({kind: classes[kind] for kind in SUGAR_KINDS})


def _sugar(kind: str) -> type[Operator]:
    try:
        return _SUGAR[kind]
    except KeyError:
        raise RuntimeError(f"the operator sugar needs graphdl.ops ({kind} is not installed): import graphdl") from None
