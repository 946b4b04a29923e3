"""Groups of like statements: what both batch runners loop over instead of statements.

Two statements belong to one *group* when their expression trees are the same once the
slots they read are replaced by placeholders (the same operator with the same options, or
the same derivative), each placeholder holds a batch in both or a scalar in both, and
they sit at the same depth of the data flow (so no statement of a group reads another).
A dense layer of scalar nodes, n_in × n_out statements, is then a handful of groups.
Statements that only copy a slot (``g_mul_12 = g_add_3``) are *aliases*: no work at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphdl.compiler.ir import Statement
from graphdl.compiler.symbolic import REF, Expr, Template, template


class Unsupported(ValueError):
    """A program the grouped numpy program or the grouped kernels cannot run (named in the message)."""


@dataclass
class Group:
    """Like statements: one template, the batch flag of each placeholder, its statements."""

    template: Template
    batch: tuple[bool, ...]
    statements: list[Statement] = field(default_factory=list)
    operands: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def label(self) -> str:
        first = self.statements[0]
        note = first.note or "statement"
        return f"{len(self.statements)} × {note}" if len(self.statements) > 1 else note


def plan_groups(
    statements: Iterable[Statement],
    sources: Sequence[int],
    batch_sources: Iterable[int],
    varies: Callable[[Template, tuple[bool, ...]], bool],
    grouped: bool = True,
    alias: dict[int, int] | None = None,
) -> tuple[dict[int, int], list[Group]]:
    """Group ``statements`` (each slot assigned once, in order) over the slots ``sources``.

    Returns the aliases (slot -> the slot it copies) and the groups in an order that runs
    every statement after its operands. ``varies(template, batch)`` says whether a
    statement's result is a batch; ``grouped=False`` puts each statement in a group of its
    own; ``alias`` continues the aliases of earlier statements.
    """
    level: dict[int, int] = dict.fromkeys(sources, 0)
    alias = dict(alias or {})
    batch_slots = set(batch_sources)
    groups: dict[tuple[Any, ...], Group] = {}
    for statement in statements:
        found = statement.expr.template or template(statement.expr)
        operands = tuple([alias.get(o, o) for o in found.operands]) if alias else found.operands
        if statement.expr.op == REF and statement.expr.slot is not None:
            alias[statement.slot] = operands[0]
            continue
        batch = tuple([o in batch_slots for o in operands])
        depth = 1 + max([level[o] for o in operands]) if operands else 1
        level[statement.slot] = depth
        key = (depth, found.key, batch) if grouped else (depth, statement.slot, batch)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(found, batch)
        group.statements.append(statement)
        group.operands.append(operands)
        if varies(found, batch):
            batch_slots.add(statement.slot)
    ordered = sorted(groups.items(), key=lambda item: item[0][0])  # stable: insertion order within a depth
    return alias, [group for _, group in ordered]


def progression(rows: Sequence[int]) -> tuple[int, int] | None:
    """(first, step) when ``rows`` is an arithmetic progression (any step)."""
    step = rows[1] - rows[0] if len(rows) > 1 else 0
    if any(b - a != step for a, b in zip(rows, rows[1:])):
        return None
    return rows[0], step


def varies_in(expr: Expr, batch: tuple[bool, ...]) -> dict[int, bool]:
    """For ``expr`` and each of its subexpressions (by ``id``): whether its value is a
    batch, given which placeholders of a template hold batches."""
    found: dict[int, bool] = {}

    def walk(item: Expr) -> bool:
        if item.op == REF:
            answer = item.slot is not None and batch[item.slot]
        else:  # every argument is walked (a list, not a generator): each gets its answer
            answer = any([walk(arg) for arg in item.args]) and item.op != "batch_sum"
        found[id(item)] = answer
        return answer

    walk(expr)
    return found
