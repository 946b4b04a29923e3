"""The compiler's one representation: a graph lowered to a list of statements.

Every value the program computes has a *slot* (a number; the Python rendering gives it a
readable identifier, the machine-code kernels a positional one). A :class:`Statement`
assigns one slot the value of an expression tree (:class:`~graphdl.compiler.symbolic.Expr`)
built by running the operator's own ``formula``, ``derivative`` or ``vjp`` on the
symbolic backend. The forward statements compute every node's value; the backward ones
are the reverse sweep: lowering the gradient graph is lowering more nodes. Which nodes
vary with the inputs and which need gradients comes from the same
:class:`~graphdl.core.plan.Plan` the interpreter sweeps with, and the sweep follows the
interpreter exactly (same node order, same order of accumulating contributions, the same
``grad * derivative`` products, sums over the batch at the same nodes), so every runner
computes the interpreter's floating-point operations.

Text from a node never becomes code: node names reach the rendering only as sanitised
identifiers (:class:`Names`) or, in comments, as ``repr()`` of a plain ``str``; numbers
only as ``repr()`` of a plain ``float``.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphdl.compiler.symbolic import CALLABLE, REF, SYMBOLIC, Expr, binary, call, leaves, lift, literal, spilling
from graphdl.core.node import Node, Operator, Variable
from graphdl.core.plan import Plan, reached_from
from graphdl.core.primitives import PRIMITIVES

#: Every name rendered code uses for itself (functions, helpers, loop variables, every
#: builtin): a node whose name sanitises to one of them gets a suffix.
RESERVED = frozenset(
    {
        *PRIMITIVES,
        *CALLABLE,
        *dir(builtins),
        *"seed inf nan forward backward sgd step lr fallback losses check check_grad np math self".split(),
    }
)
_MAX_IDENTIFIER = 48
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def plain_text(text: Any) -> str:
    """``repr()`` of ``text`` as a plain ``str`` (a subclass's ``__repr__`` is never called):
    safe inside a comment, since repr escapes every line break."""
    return str.__repr__(str.__str__(text)) if isinstance(text, str) else "'?'"


class Names:
    """Unique Python identifiers for node names: ASCII letters, digits and ``_`` only,
    never a keyword, a reserved name or a dunder; deterministic for a given graph."""

    def __init__(self) -> None:
        self.taken: set[str] = set(RESERVED)

    def claim(self, wanted: Any) -> str:
        text = str.__str__(wanted) if isinstance(wanted, str) else "node"
        base = _NOT_IDENTIFIER.sub("_", text)[:_MAX_IDENTIFIER].strip("_") or "node"
        if base[0].isdigit():
            base = f"n_{base}"
        if keyword.iskeyword(base) or keyword.issoftkeyword(base):
            base += "_"
        name, suffix = base, 2
        while name in self.taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.taken.add(name)
        return name


@dataclass
class Statement:
    """``slot = expr``. ``role`` is ``"value"`` (a node's value), ``"grad"`` (a node's
    gradient) or ``"part"`` (a temporary); ``node`` is the node it belongs to (None for a
    temporary); ``note`` says what it computes (the operator's kind and options)."""

    slot: int
    expr: Expr
    role: str
    node: Node | None = None
    note: str = ""

    @property
    def reads(self) -> list[int]:
        """The slots the expression reads, in order of first use."""
        return list(leaves(self.expr))


@dataclass
class Program:
    """A graph lowered once: the statements and the meaning of every argument slot."""

    names: list[str]
    inputs: tuple[Variable, ...]
    #: Leaves read at call time: parameters first, then data not listed as inputs.
    leaves: tuple[Variable, ...]
    parameters: tuple[Variable, ...]
    input_slots: tuple[int, ...]
    leaf_slots: tuple[int, ...]
    seed_slot: int
    forward: list[Statement]
    backward: list[Statement]
    #: The target's value and each parameter's gradient (a ``ref`` leaf or a literal).
    target: Expr
    gradients: tuple[Expr, ...]
    #: Slots whose value differs from sample to sample (inputs and what they reach).
    varies: set[int]
    title: str
    #: ``(operator, argument index, position in the arguments)`` of each checked argument fed by a leaf.
    argument_checks: tuple[tuple[Operator, int, int], ...] = ()
    column_names: tuple[str, ...] = field(default=())

    @property
    def target_varies(self) -> bool:
        """True when the target's value depends on an input (a batch gives a batch)."""
        return self.target.slot in self.varies

    @property
    def statements(self) -> list[Statement]:
        return [*self.forward, *self.backward]

    def calls(self) -> set[str]:
        """Every function the statements call (primitives and ``batch_sum``)."""
        found: set[str] = set()
        stack = [s.expr for s in self.statements]
        while stack:
            expr = stack.pop()
            if expr.op in CALLABLE:
                found.add(expr.op)
            stack.extend(expr.args)
        return found


class _Lowering:
    """The state of one lowering: names, slots, expressions of the nodes, statements."""

    def __init__(self) -> None:
        self.names = Names()
        self.slot_names: list[str] = []
        self.spilled: dict[str, Expr] = {}
        self.lines: list[Statement] = []
        self.owner = "node"

    def new_slot(self, wanted: str) -> Expr:
        name = self.names.claim(wanted)
        self.slot_names.append(name)
        return Expr(name, len(self.slot_names) - 1)

    def spill(self, expr: Expr) -> Expr:
        """A temporary for ``expr``; every slot is assigned once, so equal text means equal value."""
        found = self.spilled.get(expr.text)
        if found is None:
            found = self.spilled[expr.text] = self.new_slot(f"{self.owner}_part")
            self.lines.append(Statement(found.slot, expr, "part"))  # type: ignore[arg-type]  # a fresh slot
        return found

    def assign(self, target: Expr, expr: Any, role: str, node: Node | None, note: str = "") -> None:
        self.lines.append(Statement(target.slot, lift(expr), role, node, note))  # type: ignore[arg-type]  # a slot leaf


def _comment(node: Node, name: str) -> str:
    """``Kind`` (or ``Kind 'name'`` when the identifier differs from the name), with options."""
    kind = _NOT_IDENTIFIER.sub("_", str.__str__(node.kind) if isinstance(node.kind, str) else "Node")
    options = getattr(node, "options", ())
    if options:
        shown = []
        for option in options:
            value = getattr(node, option, None)
            text = literal(value).text if isinstance(value, (int, float)) else plain_text(value)
            shown.append(f"{_NOT_IDENTIFIER.sub('_', str(option))}={text}")
        kind += "(" + ", ".join(shown) + ")"
    return kind if name == node.name else f"{kind} {plain_text(node.name)}"


def lower(target: Node, inputs: Sequence[Variable]) -> Program:
    """Lower the graph upstream of ``target`` and its reverse sweep (the gradients of the
    target's batch mean with respect to every parameter) into one statement list."""
    upstream = target.upstream()
    order = (*upstream, target)
    input_set = set(inputs)
    leaf_nodes = [node for node in order if isinstance(node, Variable) and node not in input_set]
    parameters = tuple(node for node in leaf_nodes if getattr(node, "trainable", False))
    data = tuple(node for node in leaf_nodes if not node.trainable and not getattr(node, "constant", False))
    plan = Plan(target, upstream, parameters)
    state = _Lowering()
    symbol: dict[Node, Expr] = {}
    for node in order:
        if getattr(node, "constant", False) and node not in input_set:
            value = node.cached_value
            assert value is not None  # a constant is made from a number
            symbol[node] = literal(value)  # constants are inlined
        else:
            symbol[node] = state.new_slot(node.name)
    for node in inputs:  # an input the target does not use is still an argument
        if node not in symbol:
            symbol[node] = state.new_slot(node.name)
    grad = {node: state.new_slot(f"g_{symbol[node].name}") for node in order if node in plan.needs or node is target}
    seed = state.new_slot("seed")
    state.slot_names[seed.slot] = "seed"  # type: ignore[index]  # the seed's own name (reserved)
    varies_nodes = reached_from(order, input_set)

    with spilling(state.spill):
        for node in order:  # the forward statements: one per operator, parents first
            if isinstance(node, Operator):
                state.owner = symbol[node].name
                expression = node.formula(SYMBOLIC, *(symbol[parent] for parent in node.parents))
                state.assign(symbol[node], expression, "value", node, _comment(node, symbol[node].name))
        forward, state.lines = state.lines, []
        # The reverse sweep, in the interpreter's order: the contributions to a node's gradient
        # are collected as its children are visited, one per argument position, summed in order.
        contributions: dict[Node, list[tuple[Expr, bool]]] = {}
        for node, wanted, custom in plan.steps_from(target):
            own = grad[node]
            state.owner = own.name
            if node is target:
                gradient = seed
            elif node in contributions:
                # A scalar feeding a batch sums each path over the samples (as the interpreter does).
                terms = [
                    call("batch_sum", term) if child_varies and node not in varies_nodes else term
                    for term, child_varies in contributions.pop(node)
                ]
                gradient = terms[0]
                for term in terms[1:]:
                    gradient = binary("+", gradient, term)
            else:
                continue
            state.assign(own, gradient, "grad", node)
            args = [symbol[parent] for parent in node.parents]
            operator: Any = node  # an operator (a target or a node with wanted parents)
            for index, parent in wanted:
                if custom:
                    product = lift(operator.vjp(SYMBOLIC, index, own, symbol[node], *args))
                else:
                    product = binary("*", own, operator.derivative(SYMBOLIC, index, symbol[node], *args))
                contributions.setdefault(parent, []).append((product, node in varies_nodes))
        backward = state.lines

    input_slots = tuple(symbol[node].slot for node in inputs)
    leaves_all = (*parameters, *data)
    leaf_slots = tuple(symbol[node].slot for node in leaves_all)
    varies: set[int] = {slot for node in varies_nodes if (slot := symbol[node].slot) is not None}
    if target in varies_nodes and seed.slot is not None:
        varies.add(seed.slot)
    for statement in [*forward, *backward]:  # temporaries and gradients: they vary with what they read
        if statement.slot not in varies and _varies(statement.expr, varies):
            varies.add(statement.slot)
    positions: dict[Node, int] = {node: k for k, node in enumerate([*inputs, *leaves_all])}
    program = Program(
        names=state.slot_names,
        inputs=tuple(inputs),
        leaves=leaves_all,
        parameters=parameters,
        input_slots=input_slots,  # type: ignore[arg-type]  # every input has a slot
        leaf_slots=leaf_slots,  # type: ignore[arg-type]  # every leaf has a slot
        seed_slot=seed.slot,  # type: ignore[arg-type]  # a slot leaf
        forward=forward,
        backward=backward,
        target=symbol[target],
        gradients=tuple(grad[p] if p in grad else literal(0.0) for p in parameters),
        varies=varies,
        title=plain_text(target.name),
        argument_checks=_argument_checks(order, positions),
    )
    program.column_names = tuple(state.names.claim(f"{state.slot_names[s]}_column") for s in input_slots)  # type: ignore[index]
    return program


def _varies(expr: Expr, varies: set[int]) -> bool:
    """Whether ``expr`` differs from sample to sample (``batch_sum`` of anything does not)."""
    if expr.op == REF:
        return expr.slot in varies
    if expr.op == "batch_sum":
        return False
    return any(_varies(arg, varies) for arg in expr.args)


def _argument_checks(order: Sequence[Node], positions: dict[Node, int]) -> tuple[tuple[Operator, int, int], ...]:
    checks: list[tuple[Operator, int, int]] = []
    for node in order:
        if not isinstance(node, Operator):
            continue
        for index in node.checked_arguments:
            parent = node.parents[index]
            if parent in positions:
                checks.append((node, index, positions[parent]))
            elif not parent.parents:  # a constant, inlined: check it once, now
                node.check_argument(index, parent.cached_value)
    return tuple(checks)
