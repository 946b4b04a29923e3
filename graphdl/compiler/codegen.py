"""Program generation: turn the graph upstream of a target into straight-line Python.

Every operator statement comes from the operator's own ``formula`` and
``derivative`` run on the symbolic backend; this module only decides names, order
and which gradients are needed. The reverse sweep follows the interpreter exactly
(same node order, same order of accumulating contributions, the same ``grad *
derivative`` products, sums over the batch at the same nodes), so the compiled
program computes the same floating-point operations as the interpreter.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graphdl.compiler.symbolic import PRIMITIVES, SYMBOLIC, Expr, binary, call, literal, spilling
from graphdl.core.node import Node, Variable

#: Names the generated code uses for itself; node names that clash get a suffix.
RESERVED = frozenset({*PRIMITIVES, "batch_sum", "seed", "inf", "nan", "forward", "backward", "np"})


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
    leaf_names: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()
    gradient_names: tuple[str, ...] = ()
    target_value: str = ""
    body: tuple[str, ...] = ()


class _Names:
    """Unique Python identifiers for node names, deterministic for a given graph."""

    def __init__(self) -> None:
        self.taken: set[str] = set(RESERVED)

    def claim(self, wanted: str) -> str:
        base = re.sub(r"\W", "_", wanted, flags=re.ASCII) or "node"
        if base[0].isdigit():
            base = f"n_{base}"
        if keyword.iskeyword(base) or keyword.issoftkeyword(base):
            base += "_"
        name, suffix = base, 2
        while name in self.taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.taken.add(name)
        return name


def _describe(node: Node, name: str) -> str:
    kind = node.kind
    options = getattr(node, "options", ())
    if options:
        kind += "(" + ", ".join(f"{option}={getattr(node, option)!r}" for option in options) + ")"
    return kind if name == node.name else f"{kind} {node.name!r}"


def _signature(names: Sequence[str]) -> str:
    return ", ".join(names)


def generate(target: Node, inputs: Sequence[Variable]) -> Program:
    """Generate the program computing ``target`` (and the gradients of its batch mean)."""
    order = target.ancestors()
    input_set = set(inputs)
    parameters = [n for n in order if not n.parents and n not in input_set and getattr(n, "trainable", False)]
    data = [
        n
        for n in order
        if not n.parents and n not in input_set and not n.trainable and not getattr(n, "constant", False)
    ]
    parameter_set = set(parameters)

    # Which nodes hold a batch (depend on an input) and which need gradient work.
    varies: set[Node] = set(input_set)
    needs: set[Node] = set(parameter_set)
    for node in order:
        if node.parents:
            if any(parent in varies for parent in node.parents):
                varies.add(node)
            if any(parent in needs for parent in node.parents):
                needs.add(node)

    names = _Names()
    symbol: dict[Node, Expr] = {}
    value_name: dict[Node, str] = {}
    for node in order:
        if getattr(node, "constant", False) and node not in input_set:
            symbol[node] = literal(node._value)  # constants are inlined
        else:
            value_name[node] = names.claim(node.name)
            symbol[node] = Expr(value_name[node])
    for node in inputs:  # an input the target does not use is still an argument
        if node not in value_name:
            value_name[node] = names.claim(node.name)
    grad_name = {node: names.claim(f"g_{value_name[node]}") for node in order if node in needs or node is target}

    forward_lines: list[str] = []
    current: list[str] = [""]  # the name of the node being written, for temporaries' names
    # text -> temporary holding it. Every name is assigned once (the program is straight-line
    # code), so equal text means equal value: a text spilled again reuses its temporary.
    # Forward temporaries precede the reverse sweep in backward(), so the sweep may reuse them.
    temporaries: dict[str, str] = {}

    def spill_to(lines: list[str]) -> Callable[[str], str]:
        def sink(text: str) -> str:
            name = temporaries.get(text)
            if name is None:
                name = temporaries[text] = names.claim(f"{current[0]}_part")
                lines.append(f"{name} = {text}")
            return name

        return sink

    with spilling(spill_to(forward_lines)):
        for node in order:
            if not node.parents:
                continue
            current[0] = value_name[node]
            args = [symbol[parent] for parent in node.parents]
            expression = node.formula(SYMBOLIC, *args)
            text = expression.text if isinstance(expression, Expr) else literal(expression).text
            forward_lines.append(f"{value_name[node]} = {text}  # {_describe(node, value_name[node])}")

    # Reverse sweep, in the interpreter's order: contributions[parent] grows as the
    # children are visited in reverse topological order, one entry per argument index.
    contributions: dict[Node, list[tuple[Expr, bool]]] = {}
    backward_lines: list[str] = []
    spill_context = spilling(spill_to(backward_lines))
    spill_context.__enter__()
    for node in reversed(order):
        current[0] = grad_name.get(node, "g")
        if node is target:
            gradient = "seed"
        elif node in needs and node in contributions:
            # A scalar feeding a batch sums each path over the samples (as the interpreter does).
            terms = [
                call("batch_sum", term) if child_varies and node not in varies else term
                for term, child_varies in contributions.pop(node)
            ]
            total = terms[0]
            for term in terms[1:]:
                total = binary("+", total, term)
            gradient = total.text
        else:
            continue
        backward_lines.append(f"{grad_name[node]} = {gradient}")
        if not node.parents:
            continue
        args = [symbol[parent] for parent in node.parents]
        own = Expr(grad_name[node])
        for index, parent in enumerate(node.parents):
            if parent in needs:
                derivative = node.derivative(SYMBOLIC, index, symbol[node], *args)
                contributions.setdefault(parent, []).append((binary("*", own, derivative), node in varies))
    spill_context.__exit__(None, None, None)

    input_names = [value_name[node] for node in inputs]
    leaves = [*parameters, *data]
    arguments = _signature([*input_names, *(value_name[node] for node in leaves)])
    target_value = symbol[target].text
    gradients = ", ".join(grad_name[p] for p in parameters)
    kept_names = [value_name[n] for n in order if n.parents and n in varies]
    kept_names += [grad_name[n] for n in order if n in grad_name and n in varies]
    kept = ", ".join(kept_names) + ("," if len(kept_names) == 1 else "")
    indent = "\n    "
    described = _describe(target, value_name.get(target, target.name))
    header = [
        f"# Compiled by graphdl from the graph of {target.name!r} ({described}): {len(order)} nodes.",
        f"# Inputs, fed per call: {', '.join(input_names) or '(none)'}.",
        f"# Parameters, read at call time: {', '.join(value_name[p] for p in parameters) or '(none)'}.",
    ]
    if data:
        header.append(f"# Data read at call time: {', '.join(value_name[n] for n in data)}.")
    header += [
        "# One text, two namespaces: exp, where, sign, ... are float functions for one",
        "# sample and numpy ufuncs for a batch; batch_sum sums a batch (identity for one sample).",
    ]
    forward_body = indent.join([*forward_lines, f"return {target_value}"])
    backward_body = indent.join(
        [
            *forward_lines,
            f"# reverse sweep: g_<node> = d(mean of {target.name})/d(<node>); seed = 1/batch size",
            *backward_lines,
            "# the batch's arrays go back too: kept until the next call, numpy reuses their memory",
            f"return {target_value}, ({gradients}{',' if len(parameters) == 1 else ''}), ({kept})",
        ]
    )
    source = "\n".join(
        [
            *header,
            "",
            "",
            f"def forward({arguments}):",
            f'    """The value of {target.name!r} for one sample or a batch."""',
            f"    {forward_body}",
            "",
            "",
            f"def backward(seed, {arguments}):" if arguments else "def backward(seed):",
            f'    """{target.name!r} and the gradients of its batch mean w.r.t. the parameters."""',
            f"    {backward_body}",
            "",
        ]
    )
    return Program(
        source=source,
        inputs=tuple(inputs),
        leaves=tuple(leaves),
        parameters=tuple(parameters),
        target_varies=target in varies,
        input_names=tuple(input_names),
        leaf_names=tuple(value_name[node] for node in leaves),
        parameter_names=tuple(value_name[node] for node in parameters),
        gradient_names=tuple(grad_name[node] for node in parameters),
        target_value=target_value,
        body=(*forward_lines, *backward_lines),
    )


def sgd_source(program: Program) -> str:
    """A per-sample SGD loop over a whole data set in one function: for each sample the
    forward and backward statements of ``program`` with seed 1.0, then
    ``p = p - lr * g_p`` for every parameter, exactly the interpreter's update."""
    columns = [f"{name}_column" for name in program.input_names]
    parameters = ", ".join(program.parameter_names)
    gradients = ", ".join(program.gradient_names)
    comma = "," if len(program.parameter_names) == 1 else ""
    loop_names = ", ".join(program.input_names)
    arguments = ", ".join(program.input_names + program.leaf_names)
    body = "\n            ".join(program.body)
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
