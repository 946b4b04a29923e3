"""Program generation: turn the graph upstream of a target into straight-line Python.

Every operator statement comes from the operator's own ``formula`` and ``derivative``
(or ``vjp``) run on the symbolic backend; which nodes vary with the inputs and which need
gradients comes from the same :class:`~graphdl.core.plan.Plan` the interpreter sweeps
with. The reverse sweep follows the interpreter exactly (same node order, same order of
accumulating contributions, the same ``grad * derivative`` products, sums over the batch
at the same nodes), so the compiled program computes the same floating-point operations.

Three steps: :func:`emit_forward` and :func:`emit_backward` write statements,
:func:`render` assembles the source. Text from a node never becomes code: node names
reach the source only as sanitised identifiers (:class:`Names`) or, in comments, as
``repr()`` of a plain ``str``; numbers only as ``repr()`` of a plain ``float``.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from graphdl.compiler.symbolic import CALLABLE, SYMBOLIC, Expr, binary, call, lift, literal, spilling
from graphdl.core.node import Node, Operator, Variable
from graphdl.core.plan import Plan, reached_from
from graphdl.core.primitives import PRIMITIVES

#: Every name the generated code uses for itself (functions, helpers, loop variables,
#: every builtin): a node whose name sanitises to one of them gets a suffix.
RESERVED = frozenset(
    {
        *PRIMITIVES,
        *CALLABLE,
        *dir(builtins),
        "batch_sum",
        "seed",
        "inf",
        "nan",
        "forward",
        "backward",
        "sgd",
        "lr",
        "fallback",
        "losses",
        "check",
        "check_grad",
        "np",
        "math",
        "self",
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


@dataclass(frozen=True)
class Program:
    """The generated source and the meaning of its function arguments."""

    source: str
    inputs: tuple[Variable, ...]
    #: Leaves read at call time (parameters first, then data not listed as inputs).
    leaves: tuple[Variable, ...]
    parameters: tuple[Variable, ...]
    #: True when the target's value depends on an input (a batch gives a batch).
    target_varies: bool
    # Pieces the per-sample SGD loop is assembled from.
    input_names: tuple[str, ...] = ()
    column_names: tuple[str, ...] = ()
    leaf_names: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()
    gradient_names: tuple[str, ...] = ()
    target_value: str = ""
    body: tuple[str, ...] = ()
    #: With ``checked=True``: the node each ``check(value, k)`` / ``check_grad(g, k)`` names.
    checked_nodes: tuple[Node, ...] = ()
    #: ``(operator, argument index, position in the arguments)`` of each checked argument fed by a leaf.
    argument_checks: tuple[tuple[Operator, int, int], ...] = ()


@dataclass
class Layout:
    """Everything decided before writing statements: the plan, who is fed, who is read
    at call time, what varies with the inputs, and the identifiers of every node."""

    target: Node
    inputs: tuple[Variable, ...]
    plan: Plan
    order: tuple[Node, ...]
    parameters: tuple[Variable, ...]
    data: tuple[Variable, ...]
    varies: set[Node]
    names: Names
    symbol: dict[Node, Expr]
    value_name: dict[Node, str]
    grad_name: dict[Node, str]
    checked: bool
    checked_nodes: list[Node] = field(default_factory=list)


def layout(target: Node, inputs: Sequence[Variable], *, checked: bool = False) -> Layout:
    """Decide names and roles for every node upstream of ``target``."""
    upstream = target.upstream()
    order = (*upstream, target)
    input_set = set(inputs)
    leaves = [node for node in order if isinstance(node, Variable) and node not in input_set]
    parameters = tuple(node for node in leaves if getattr(node, "trainable", False))
    data = tuple(node for node in leaves if not node.trainable and not getattr(node, "constant", False))
    plan = Plan(target, upstream, parameters)
    names = Names()
    symbol: dict[Node, Expr] = {}
    value_name: dict[Node, str] = {}
    for node in order:
        if getattr(node, "constant", False) and node not in input_set:
            value = node.cached_value
            assert value is not None  # a constant is made from a number
            symbol[node] = literal(value)  # constants are inlined
        else:
            value_name[node] = names.claim(node.name)
            symbol[node] = Expr(value_name[node])
    for node in inputs:  # an input the target does not use is still an argument
        if node not in value_name:
            value_name[node] = names.claim(node.name)
    grad_name = {  # a constant target (a folded gradient graph: d²(x²)/dx² = 2) has no value name
        node: names.claim(f"g_{value_name.get(node, node.name)}")
        for node in order
        if node in plan.needs or node is target
    }
    return Layout(
        target=target,
        inputs=tuple(inputs),
        plan=plan,
        order=order,
        parameters=parameters,
        data=data,
        varies=reached_from(order, input_set),
        names=names,
        symbol=symbol,
        value_name=value_name,
        grad_name=grad_name,
        checked=checked,
    )


class _Temporaries:
    """Where spilled subexpressions go. Every name is assigned once (the program is
    straight-line code), so equal text means equal value: a text spilled again reuses
    its temporary. Forward temporaries precede the reverse sweep in ``backward``, so the
    sweep may reuse them."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.by_text: dict[str, str] = {}
        self.lines: list[str] = []
        self.owner = "node"  # the node being written, for the temporaries' names

    def into(self, lines: list[str]) -> _Temporaries:
        self.lines = lines
        return self

    def __call__(self, text: str) -> str:
        name = self.by_text.get(text)
        if name is None:
            name = self.by_text[text] = self.names.claim(f"{self.owner}_part")
            self.lines.append(f"{name} = {text}")
        return name


def _check_index(out: Layout, node: Node) -> int:
    out.checked_nodes.append(node)
    return len(out.checked_nodes) - 1


def _comment(node: Node, name: str) -> str:
    """``Kind`` (or ``Kind 'name'`` when the identifier differs from the name), with options.
    The kind is a class attribute; it still goes through the identifier rules."""
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


def emit_forward(out: Layout, temporaries: _Temporaries) -> list[str]:
    """One statement per operator, parents first: ``name = <formula text>``."""
    lines: list[str] = []
    with spilling(temporaries.into(lines)):
        for node in out.order:
            if not isinstance(node, Operator):
                continue
            name = out.value_name[node]
            temporaries.owner = name
            expression = node.formula(SYMBOLIC, *(out.symbol[parent] for parent in node.parents))
            text = expression.text if isinstance(expression, Expr) else literal(expression).text
            lines.append(f"{name} = {text}  # {_comment(node, name)}")
            if out.checked:
                lines.append(f"check({name}, {_check_index(out, node)})")
    return lines


def emit_backward(out: Layout, temporaries: _Temporaries) -> list[str]:
    """The reverse sweep, in the interpreter's order: the contributions to a node's
    gradient are collected as its children are visited (reverse topological order), one
    per argument position, and summed in that order."""
    lines: list[str] = []
    contributions: dict[Node, list[tuple[Expr, bool]]] = {}
    target = out.target
    with spilling(temporaries.into(lines)):
        for node, wanted, custom in out.plan.steps_from(target):
            grad = out.grad_name[node]
            temporaries.owner = grad
            if node is target:
                gradient = "seed"
            elif node in contributions:
                # A scalar feeding a batch sums each path over the samples (as the interpreter does).
                terms = [
                    call("batch_sum", term) if child_varies and node not in out.varies else term
                    for term, child_varies in contributions.pop(node)
                ]
                total = terms[0]
                for term in terms[1:]:
                    total = binary("+", total, term)
                gradient = total.text
            else:
                continue
            lines.append(f"{grad} = {gradient}")
            if out.checked:
                lines.append(f"check_grad({grad}, {_check_index(out, node)})")
            if not wanted:
                continue
            args = [out.symbol[parent] for parent in node.parents]
            own = Expr(grad)
            for index, parent in wanted:
                if custom:
                    product = lift(node.vjp(SYMBOLIC, index, own, out.symbol[node], *args))
                else:
                    product = binary("*", own, node.derivative(SYMBOLIC, index, out.symbol[node], *args))
                contributions.setdefault(parent, []).append((product, node in out.varies))
    return lines


def _argument_checks(out: Layout, positions: dict[Node, int]) -> tuple[tuple[Operator, int, int], ...]:
    checks: list[tuple[Operator, int, int]] = []
    for node in out.order:
        if not isinstance(node, Operator):
            continue
        for index in node.checked_arguments:
            parent = node.parents[index]
            if parent in positions:
                checks.append((node, index, positions[parent]))
            elif not parent.parents:  # a constant, inlined: check it once, now
                node.check_argument(index, parent.cached_value)
    return tuple(checks)


def render(out: Layout, forward_lines: list[str], backward_lines: list[str]) -> Program:
    """Assemble ``forward`` and ``backward`` (and the pieces of the SGD loop)."""
    target = out.target
    input_names = [out.value_name[node] for node in out.inputs]
    leaves = [*out.parameters, *out.data]
    leaf_names = [out.value_name[node] for node in leaves]
    arguments = ", ".join([*input_names, *leaf_names])
    target_value = out.symbol[target].text
    gradients = ", ".join(out.grad_name[p] for p in out.parameters)
    single = "," if len(out.parameters) == 1 else ""
    kept_names = [out.value_name[n] for n in out.order if n.parents and n in out.varies]
    kept_names += [out.grad_name[n] for n in out.order if n in out.grad_name and n in out.varies]
    kept = ", ".join(kept_names) + ("," if len(kept_names) == 1 else "")
    header = [
        f"# Compiled by graphdl from the graph of {plain_text(target.name)}: {len(out.order)} nodes.",
        f"# Inputs, fed per call: {', '.join(input_names) or '(none)'}.",
        f"# Parameters, read at call time: {', '.join(leaf_names[: len(out.parameters)]) or '(none)'}.",
    ]
    if out.data:
        header.append(f"# Data read at call time: {', '.join(leaf_names[len(out.parameters) :])}.")
    header += [
        "# One text, two namespaces: exp, where, sign, ... are float functions for one",
        "# sample and numpy ufuncs for a batch; batch_sum sums a batch (identity for one sample).",
    ]
    indent = "\n    "
    forward_body = indent.join([*forward_lines, f"return {target_value}"])
    backward_body = indent.join(
        [
            *forward_lines,
            "# reverse sweep: g_<node> = d(mean of the target)/d(<node>); seed = 1/batch size",
            *backward_lines,
            "# the batch's arrays go back too: kept until the next call, numpy reuses their memory",
            f"return {target_value}, ({gradients}{single}), ({kept})",
        ]
    )
    source = "\n".join(
        [
            *header,
            "",
            "",
            f"def forward({arguments}):",
            '    """The value of the target for one sample or a batch."""',
            f"    {forward_body}",
            "",
            "",
            f"def backward(seed, {arguments}):" if arguments else "def backward(seed):",
            '    """The target and the gradients of its batch mean w.r.t. the parameters."""',
            f"    {backward_body}",
            "",
        ]
    )
    positions: dict[Node, int] = {node: k for k, node in enumerate([*out.inputs, *leaves])}
    return Program(
        source=source,
        inputs=out.inputs,
        leaves=tuple(leaves),
        parameters=out.parameters,
        target_varies=target in out.varies,
        input_names=tuple(input_names),
        column_names=tuple(out.names.claim(f"{name}_column") for name in input_names),
        leaf_names=tuple(leaf_names),
        parameter_names=tuple(leaf_names[: len(out.parameters)]),
        gradient_names=tuple(out.grad_name[node] for node in out.parameters),
        target_value=target_value,
        body=(*forward_lines, *backward_lines),
        checked_nodes=tuple(out.checked_nodes),
        argument_checks=_argument_checks(out, positions),
    )


def generate(target: Node, inputs: Sequence[Variable], *, checked: bool = False) -> Program:
    """Generate the program computing ``target`` (and the gradients of its batch mean).
    ``checked=True`` adds anomaly checks after every value and gradient."""
    out = layout(target, inputs, checked=checked)
    temporaries = _Temporaries(out.names)
    forward_lines = emit_forward(out, temporaries)
    backward_lines = emit_backward(out, temporaries)
    return render(out, forward_lines, backward_lines)


_BATCH_SUM_CALL = re.compile(r"(?<![\w.])batch_sum\(")


def per_sample_lines(lines: Sequence[str]) -> list[str]:
    """``lines`` for one sample only: ``batch_sum(e)`` becomes ``(e)`` (on one sample the
    sum over the batch is the value itself; a call per gradient costs more than its math)."""
    return [_BATCH_SUM_CALL.sub("(", line) for line in lines]


def sgd_source(program: Program) -> str:
    """A per-sample SGD loop over a whole data set in one function: for each sample the
    forward and backward statements of ``program`` with seed 1.0, then
    ``p = p - lr * g_p`` for every parameter, exactly the interpreter's update."""
    columns = list(program.column_names)
    parameters = ", ".join(program.parameter_names)
    gradients = ", ".join(program.gradient_names)
    comma = "," if len(program.parameter_names) == 1 else ""
    loop_names = ", ".join(program.input_names)
    arguments = ", ".join(program.input_names + program.leaf_names)
    body = "\n            ".join(per_sample_lines(program.body))
    updates = "\n        ".join(
        f"{p} = {p} - lr * {g}" for p, g in zip(program.parameter_names, program.gradient_names)
    )
    return "\n".join(
        [
            f"def sgd(lr, fallback, {', '.join([*columns, *program.leaf_names])}):",
            '    """Per-sample SGD over the columns; returns the losses and the final parameters."""',
            "    seed = 1.0",
            "    losses = []",
            f"    for {loop_names}{',' if len(columns) == 1 else ''} in zip({', '.join(columns)}):",
            "        try:",
            f"            {body}",
            "        except (ZeroDivisionError, OverflowError):",
            f"            {program.target_value}, ({gradients}{comma}) = fallback({arguments})",
            f"        {updates}",
            f"        losses.append({program.target_value})",
            f"    return losses, ({parameters}{comma})",
            "",
        ]
    )
