"""The compiler's one representation: a graph lowered to a list of statements.

Every value the program computes has a *slot* (a number; the Python rendering gives it a
readable identifier, the machine-code kernels a positional one). A :class:`Statement`
assigns one slot the value of an expression tree (:class:`~graphdl.compiler.symbolic.Expr`)
built by running a node's own ``formula`` on the symbolic backend. The forward statements
are the graph's operators; the backward ones are the nodes of its gradient graph
(the sweep of ``graphdl.grad``, :func:`graphdl.ops.gradient.gradient_terms`, built from
each operator's own ``derivative`` or ``vjp``): differentiating is lowering more nodes.
Gradient nodes reuse the forward nodes, so a value both need is one statement; a
gradient node read once is written into its reader. A parameter's gradient is the batch
sum of its terms (gradient times local derivative), taken into sums and products with scalars (see
:class:`_BatchSums`), so every runner computes the interpreter's gradients up to the
order of additions (1e-12).

Text from a node never becomes code: node names reach the rendering only as sanitised
identifiers (:class:`Names`) or, in comments, as ``repr()`` of a plain ``str``; numbers
only as ``repr()`` of a plain ``float``.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import keyword
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphdl.compiler.symbolic import (
    CALLABLE,
    NUMBER,
    REF,
    SYMBOLIC,
    Expr,
    Template,
    binary,
    call,
    leaves,
    lift,
    literal,
    ref,
    spilling,
)
from graphdl.core.node import Node, Operator, Variable
from graphdl.core.plan import reached_from
from graphdl.core.primitives import PRIMITIVES
from graphdl.ops.gradient import Term, gradient_terms

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
_kind_text = functools.lru_cache(maxsize=1024)(functools.partial(_NOT_IDENTIFIER.sub, "_"))


def plain_text(text: Any) -> str:
    """``repr()`` of ``text`` as a plain ``str`` (a subclass's ``__repr__`` is never called):
    safe inside a comment, since repr escapes every line break."""
    return str.__repr__(str.__str__(text)) if isinstance(text, str) else "'?'"


class Names:
    """Unique Python identifiers for node names: ASCII letters, digits and ``_`` only,
    never a keyword, a reserved name or a dunder; deterministic for a given graph."""

    def __init__(self) -> None:
        self.taken: set[str] = {*RESERVED, *keyword.kwlist, *keyword.softkwlist}  # never handed out as they are

    def claim(self, wanted: Any) -> str:
        text = str.__str__(wanted) if isinstance(wanted, str) else "node"
        if text not in self.taken and text.isidentifier() and text.isascii() and len(text) <= _MAX_IDENTIFIER:
            if text[0] != "_" and text[-1] != "_":
                self.taken.add(text)  # already a fine identifier (the common case)
                return text
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


@dataclass(slots=True)
class Statement:
    """``slot = expr``. ``role`` is ``"value"`` (a node's value), ``"grad"`` (a gradient
    node of the node ``node``, seed times its per-sample gradient; for a parameter, the
    sum over the batch) or ``"part"`` (a temporary, or a gradient node read more than once
    that is no node's gradient); ``node`` is None for a temporary; ``note`` says what it
    computes (the operator's kind and options)."""

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
    #: How many operators the graph has (a product written into its sum is no statement of its own).
    operators: int = 0

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
        self.spilled: dict[tuple[Any, ...], list[tuple[Expr, Expr]]] = {}  # by shape: (expression, its temporary)
        self.lines: list[Statement] = []
        self.owner = "node"

    def new_slot(self, wanted: str) -> Expr:
        name = self.names.claim(wanted)
        self.slot_names.append(name)
        return ref(name, len(self.slot_names) - 1)

    def spill(self, expr: Expr, wanted: str = "") -> Expr:
        """A temporary for ``expr``; every slot is assigned once, so equal text means equal value
        (the texts are rendered only for expressions of one shape: a 4 000-term sum is not)."""
        last = expr
        while last.args:
            last = last.args[-1]
        same = self.spilled.setdefault((expr.op, expr.size, expr.depth, last.name), [])
        for other, found in same:
            if other is expr or other.text == expr.text:
                return found
        found = self.new_slot(wanted or f"{self.owner}_part")
        same.append((expr, found))
        self.lines.append(Statement(found.slot, expr, "part"))  # type: ignore[arg-type]  # a fresh slot
        return found

    def row_sum(self, summed: Expr, operands: tuple[int, ...], wanted: str) -> Expr:
        """A temporary for ``batch_sum(a)`` or ``batch_sum(a * b)`` of batch slots (a row sum,
        a matrix product), its template known (``operands``: the slots it reads)."""
        found = self.new_slot(wanted)
        inner: Any = 0 if len(summed.args[0].args) == 0 else ("*", 0, len(operands) - 1)
        summed.template = Template(("batch_sum", inner), operands, summed)
        note = "Σ batch" if inner == 0 else "Σ batch product"
        self.lines.append(Statement(found.slot, summed, "part", None, note))  # type: ignore[arg-type]  # a fresh slot
        return found

    def assign(self, target: Expr, expr: Any, role: str, node: Node | None, note: str = "") -> None:
        self.lines.append(Statement(target.slot, lift(expr), role, node, note))  # type: ignore[arg-type]  # a slot leaf


def _comment(node: Node, name: str) -> str:
    """``Kind`` (or ``Kind 'name'`` when the identifier differs from the name), with options."""
    kind = _kind_text(str.__str__(node.kind) if isinstance(node.kind, str) else "Node")
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
    """Lower the graph upstream of ``target`` and its gradient graph into one statement list.

    The gradient graph is :func:`graphdl.grad`'s, seeded by a ``seed`` slot (1 for one
    sample, 1/N per sample for a batch of N): its nodes are the per-sample gradients of the
    target times the seed, built from each operator's own derivative and reusing the forward
    nodes, so a shared value is one statement. A parameter's gradient is then the sum of its
    terms over the batch, taken through sums and products with scalars, down to
    ``batch_sum(a * b)`` of two batches (a weight gradient: a matrix product).
    """
    upstream = target.upstream()
    order = (*upstream, target)
    input_set = set(inputs)
    leaf_nodes: list[Variable] = []
    state = _Lowering()
    symbol: dict[Node, Expr] = {}
    for node in order:
        if isinstance(node, Variable) and node not in input_set:
            leaf_nodes.append(node)
            if node.constant:
                symbol[node] = _constant(node)  # constants are inlined
                continue
        symbol[node] = state.new_slot(node.name)
    parameters = tuple(node for node in leaf_nodes if getattr(node, "trainable", False))
    data = tuple(node for node in leaf_nodes if not node.trainable and not node.constant)
    for node in inputs:  # an input the target does not use is still an argument
        if node not in symbol:
            symbol[node] = state.new_slot(node.name)
    varies_nodes = reached_from(order, input_set)
    target_varies = target in varies_nodes
    seed_node = Variable(1.0, name="seed", trainable=False)
    seed = symbol[seed_node] = state.new_slot("seed")
    state.slot_names[seed.slot] = "seed"  # type: ignore[index]  # the seed's own name (reserved)
    terms, gradient_of, built = gradient_terms(target, parameters, seed_node) if parameters else ([], {}, [])
    forward_set = set(symbol)
    if target_varies:  # the seed varies too, and the gradient nodes it reaches (no forward node reads it)
        varies_nodes = reached_from(built, {*varies_nodes, seed_node})
    sums = _BatchSums(varies_nodes, target_varies)
    outputs = [sums.terms(parts) for parts in terms]
    uses, read_later = _uses(forward_set, outputs)
    # the gradient nodes the outputs read, in the order the sweep built them (parents first,
    # the target's end first, as the interpreter's sweep goes); numbers, not built, first
    gradient_order = [node for node in uses if not node.parents]
    gradient_order += [node for node in built if node in uses]
    output_slots = [
        state.new_slot(f"g_{symbol[p].name}") if tree[0] != "number" else None for p, tree in zip(parameters, outputs)
    ]

    once = _read_once(order, {target, *read_later})  # read by one operator, and by no gradient
    batch = {symbol[node].slot for node in varies_nodes.intersection(symbol)}  # (the constants vary not)
    products: dict[int, Statement] = {}  # a batch times a scalar read once: written into its sum when it can
    written_in: set[int] = set()
    with spilling(state.spill):
        for node in order:  # the forward statements: one per operator, parents first
            if isinstance(node, Operator):
                own = symbol[node]
                state.owner = own.name
                start = len(state.lines)
                expression = lift(node.formula(SYMBOLIC, *map(symbol.__getitem__, node.parents)))
                pending = [symbol[p].slot for p in node.parents if symbol[p].slot in products] if products else []
                if pending:
                    expression, kept = _write_in(expression, pending, products, state.slot_names)
                    state.lines[start:start] = kept  # before any temporary the formula made
                statement = Statement(own.slot, expression, "value", node)  # type: ignore[arg-type]  # a slot leaf
                if node in once and _batch_product(expression, batch):
                    products[own.slot] = statement  # type: ignore[index]  # a slot leaf
                    written_in.add(own.slot)  # type: ignore[arg-type]  # a slot leaf
                else:
                    statement.note = _comment(node, own.name)
                    state.lines.append(statement)
        forward, state.lines = state.lines, []
        for node in gradient_order:  # the gradient graph's nodes that are used, parents first
            if not isinstance(node, Operator):  # a number of the gradient graph
                symbol[node] = _constant(node)
                continue
            of = gradient_of.get(node)
            expression = lift(node.formula(SYMBOLIC, *map(symbol.__getitem__, node.parents)))
            if of is None and (uses[node] == 1 or expression.op in (REF, NUMBER)):
                symbol[node] = expression  # used once (or a copy): written into its reader
                continue
            owner = symbol[of] if of is not None and of in forward_set else None
            wanted = f"g_{owner.name}" if owner is not None and owner.op == REF else "part"
            symbol[node] = state.new_slot(wanted)
            state.owner = symbol[node].name
            state.assign(symbol[node], expression, "grad" if of is not None else "part", of)
        # in the sweep's order (the target's end first): a batch reads its rows as the sweep
        # wrote them, so a grouped program keeps the interpreter's orientation of its matrices
        gradient_lines = len(state.lines)  # then the parameters' gradients: sums, the same for every sample
        for parameter, slot, tree in reversed(list(zip(parameters, output_slots, outputs))):
            if slot is None:
                continue
            state.owner = slot.name
            expression = sums.expr(tree, symbol, state)
            state.assign(slot, expression, "grad", parameter)
        backward = state.lines

    input_slots = tuple(symbol[node].slot for node in inputs)
    leaves_all = (*parameters, *data)
    leaf_slots = tuple(symbol[node].slot for node in leaves_all)
    varies: set[int] = batch - written_in.difference(s.slot for s in forward)  # type: ignore[assignment]
    for statement in [*forward, *backward[:gradient_lines]]:  # temporaries, gradient nodes: vary with what they read
        if statement.role != "value" and statement.slot not in varies and _varies(statement.expr, varies):
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
        gradients=tuple(slot if slot is not None else literal(tree[1]) for slot, tree in zip(output_slots, outputs)),
        varies=varies,
        title=plain_text(target.name),
        argument_checks=_argument_checks([*order, *gradient_order], positions, seed_node),
        operators=sum(1 for node in order if isinstance(node, Operator)),
    )
    program.column_names = tuple(state.names.claim(f"{state.slot_names[s]}_column") for s in input_slots)  # type: ignore[index]
    return program


def _read_once(order: Sequence[Node], later: Collection[Node]) -> set[Node]:
    """The nodes of ``order`` read once by an operator of ``order`` and never by ``later``."""
    count = Counter(itertools.chain.from_iterable(node.parents for node in order))
    return {node for node, n in count.items() if n == 1}.difference(later)


def _batch_product(expr: Expr, batch: set[int | None]) -> bool:
    """Whether ``expr`` is a batch times a scalar, two slots."""
    a, b = expr.args if expr.op == "*" else (expr, expr)
    return a.op == b.op == REF and (a.slot in batch) != (b.slot in batch)


def terms_of(expr: Expr) -> list[Expr]:
    """The terms of a left-to-right sum ``((t0 + t1) + t2) + ...`` (one term if not a sum)."""
    terms = []
    while expr.op == "+":
        terms.append(expr.args[1])
        expr = expr.args[0]
    terms.append(expr)
    return terms[::-1]


def _write_in(
    expr: Expr, pending: list[int | None], products: dict[int, Statement], names: list[str]
) -> tuple[Expr, list[Statement]]:
    """``expr`` with each of the ``pending`` products that is one of its terms, and read
    nowhere else in it, written in; and the statements of the others."""
    terms = terms_of(expr)
    counts = dict.fromkeys(pending, 0)
    for term in terms:
        for slot in leaves(term) if term.op != REF else (term.slot,):
            if slot in counts:
                counts[slot] += 1 if term.op == REF else 2
    kept = [products.pop(slot) for slot, count in counts.items() if count != 1]  # type: ignore[arg-type]  # slots
    for statement in kept:
        statement.note = _comment(statement.node, names[statement.slot])  # type: ignore[arg-type]  # an operator's
    if len(kept) < len(pending):
        written = [products.pop(t.slot).expr if t.op == REF and t.slot in products else t for t in terms]
        expr = functools.reduce(functools.partial(binary, "+"), written)
    return expr, kept


def _constant(node: Node) -> Expr:
    value = node.cached_value
    assert value is not None  # a constant is made from a number
    return literal(value)


#: How a parameter's gradient is summed over the batch: ``("leaf", node)`` is
#: ``batch_sum(node)``; ``("product", a, b)`` is ``batch_sum(a * b)``; ``("scale", tree, s)``
#: is ``tree * s`` for a scalar node or a number ``s``; ``("add", trees)``; ``("number", value)``.
SumTree = tuple[Any, ...]


class _BatchSums:
    """The batch sum of a parameter's gradient terms (gradient of a reader, local
    derivative), taken into their products (exact algebra; the rounding of a sum changes by
    the order only). A weight's term ``(g_out, x)`` becomes ``batch_sum(g_out * x)`` (a
    matrix product), and a term with a factor that is the same for every sample (an L2
    penalty's ``w``) is multiplied once by the summed gradient instead of once per sample.
    Without a batch (``batch`` False: the target does not vary) the terms are summed as they are."""

    def __init__(self, varies: set[Node], batch: bool) -> None:
        self.varies = varies
        self.batch = batch
        self.sums: dict[Node, tuple[Expr, bool]] = {}  # batch_sum(node): built, spilled

    def terms(self, terms: Sequence[Term]) -> SumTree:
        """The tree of a parameter's gradient: its terms, a term that comes k times taken k times."""
        counts: dict[tuple[Any, Any], int] = {}
        for total, local in terms:
            key = (
                total.number if total.node is None else total.node,
                local.number if local.node is None else local.node,
            )
            counts[key] = counts.get(key, 0) + 1
        number, parts = 0.0, []
        for (total, local), count in counts.items():
            if not isinstance(total, Node) and not isinstance(local, Node):
                number += total * local * count
                continue
            part = self._product(total, local)
            parts.append(part if count == 1 else ("scale", part, float(count)))
        if number != 0.0 or not parts:
            parts.append(("number", number))
        return parts[0] if len(parts) == 1 else ("add", parts)

    def _product(self, a: Any, b: Any) -> SumTree:
        if not isinstance(a, Node):
            a, b = b, a
        if not isinstance(b, Node):
            return self._leaf(a) if b == 1.0 else ("scale", self._leaf(a), b)
        if not self.batch or (a in self.varies and b in self.varies):
            return ("product", a, b)
        if a in self.varies or b not in self.varies:
            return ("scale", self._leaf(a), b)
        return ("scale", self._leaf(b), a)

    @staticmethod
    def _leaf(node: Node) -> SumTree:
        return ("number", _constant(node).number) if isinstance(node, Variable) and node.constant else ("leaf", node)

    def expr(self, tree: SumTree, symbol: dict[Node, Expr], state: _Lowering, whole: bool = True) -> Expr:
        """The expression of ``tree``; a batch sum of one batch or of a product of two is a
        statement of its own (a row sum, a matrix product) unless it is the ``whole`` expression."""
        kind = tree[0]
        if kind == "number":
            return literal(tree[1])
        if kind == "product":
            a, b = symbol[tree[1]], symbol[tree[2]]
            if not self.batch:
                return binary("*", a, b)
            summed = call("batch_sum", binary("*", a, b))
            if whole or a.op != REF or b.op != REF:
                return summed
            return state.row_sum(summed, tuple(dict.fromkeys((a.slot, b.slot))), f"{state.owner}_part")  # type: ignore[arg-type]
        if kind == "scale":
            scalar = symbol[tree[2]] if isinstance(tree[2], Node) else tree[2]
            return binary("*", self.expr(tree[1], symbol, state, False), scalar)
        if kind == "add":
            return functools.reduce(
                functools.partial(binary, "+"), [self.expr(t, symbol, state, False) for t in tree[1]]
            )
        node = tree[1]
        if not self.batch:
            return symbol[node]
        found = self.sums.get(node)
        if found is None:
            summed, leaf = call("batch_sum", symbol[node]), symbol[node]
            if whole or leaf.op != REF or node not in self.varies:
                self.sums[node] = (summed, False)
                return summed
            self.sums[node] = found = (state.row_sum(summed, (leaf.slot,), f"sum_{leaf.name}"), True)  # type: ignore[arg-type]
        elif not found[1]:  # a second use (an L2 penalty's summed gradient): one temporary
            self.sums[node] = found = (state.spill(found[0], f"sum_{symbol[node].name}"), True)
        return found[0]


def _tree_nodes(tree: SumTree) -> list[Node]:
    """The nodes a sum tree reads."""
    kind = tree[0]
    if kind == "leaf":
        return [tree[1]]
    if kind == "product":
        return [tree[1], tree[2]]
    if kind == "scale":
        return [*_tree_nodes(tree[1]), *([tree[2]] if isinstance(tree[2], Node) else [])]
    if kind == "add":
        return [node for t in tree[1] for node in _tree_nodes(t)]
    return []


def _uses(forward: set[Node], outputs: Sequence[SumTree]) -> tuple[dict[Node, int], set[Node]]:
    """How often each gradient node (a node not in ``forward``) that the outputs need is
    read, by another such node or by an output (the nodes the outputs do not need are left
    out); and the nodes of ``forward`` these read."""
    uses: dict[Node, int] = {}
    stack: list[Node] = []
    read_forward: set[Node] = set()
    nodes: Sequence[Node] = [node for tree in outputs for node in _tree_nodes(tree)]
    while True:  # the outputs' nodes, then the parents of each node met for the first time
        for node in nodes:
            if node in forward:
                read_forward.add(node)
            elif node in uses:
                uses[node] += 1
            else:
                uses[node] = 1
                stack.append(node)
        if not stack:
            return uses, read_forward
        nodes = stack.pop().parents


def _varies(expr: Expr, varies: set[int]) -> bool:
    """Whether ``expr`` differs from sample to sample (``batch_sum`` of anything does not)."""
    stack = [expr]
    while stack:
        item = stack.pop()
        if item.op == REF:
            if item.slot in varies:
                return True
        elif item.op != "batch_sum":
            stack.extend(item.args)
    return False


def _argument_checks(
    order: Sequence[Node], positions: dict[Node, int], seed: Node
) -> tuple[tuple[Operator, int, int], ...]:
    checks: list[tuple[Operator, int, int]] = []
    for node in order:
        if not isinstance(node, Operator):
            continue
        for index in node.checked_arguments:
            parent = node.parents[index]
            if parent is seed:
                continue
            if parent in positions:
                checks.append((node, index, positions[parent]))
            elif not parent.parents:  # a constant, inlined: check it once, now
                node.check_argument(index, parent.cached_value)
    return tuple(checks)
