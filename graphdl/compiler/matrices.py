"""Finding the network's matrices in a statement list, for the grouped-numpy runner.

A dense layer of scalar nodes is n_in × n_out ``Mul`` and n_out ``Add`` statements; its
gradient graph, sums of products and a ``batch_sum`` of a product per weight. Two exact
rewrites (they move work between statements, never change an operation) expose them: a
product of a batch and a scalar read once, by a sum, is written into that sum; and
``batch_sum(a * b)`` (or ``batch_sum(a)``) becomes a statement of its own. A group of sums
of ``batch_t * scalar_st`` with the same batches in every statement is then one ``W @ X``
(plus the bias row), a group of ``batch_sum(a * b)`` over an (n, m) grid ``A @ B.T``: a
matrix product sums in its own order, equal to the interpreter's to rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from graphdl.compiler.groups import Group, Template, template
from graphdl.compiler.ir import Statement
from graphdl.compiler.symbolic import REF, Expr, binary, leaves, operation


def _terms(expr: Expr) -> list[Expr]:
    """The terms of a left-to-right sum ``((t0 + t1) + t2) + ...`` (one term if not a sum)."""
    terms = []
    while expr.op == "+":
        terms.append(expr.args[1])
        expr = expr.args[0]
    terms.append(expr)
    return terms[::-1]


def _product(expr: Expr, batch: set[int]) -> tuple[int, int] | None:
    """(batch slot, scalar slot) when ``expr`` is a product of a batch ref and a scalar ref."""
    if expr.op != "*" or any(a.op != REF or a.slot is None for a in expr.args):
        return None
    a, b = expr.args[0].slot, expr.args[1].slot
    if (a in batch) == (b in batch):
        return None
    return (a, b) if a in batch else (b, a)  # type: ignore[return-value]  # refs with slots


def prepare(
    statements: Sequence[Statement], outputs: Sequence[Expr], batch: set[int], first_free: int
) -> list[Statement]:
    """The two exact rewrites of the module docstring; new statements get slots from ``first_free``."""
    spilled: list[Statement] = []
    free = first_free
    for statement in statements:
        expr = statement.expr
        if expr.sums and expr.op != "batch_sum":
            parts: list[Statement] = []
            expr = _spill_sums(expr, batch, free, parts)
            free += len(parts)
            spilled += parts
            if expr is not statement.expr:
                statement = Statement(statement.slot, expr, statement.role, statement.node, statement.note)
        spilled.append(statement)
    reads: dict[int, int] = {}
    for operands in [template(s.expr).operands for s in spilled] + [tuple(leaves(e)) for e in outputs]:
        for slot in operands:
            reads[slot] = reads.get(slot, 0) + 1
    products = {s.slot: s.expr for s in spilled if s.expr.op == "*" and reads[s.slot] == 1 and _product(s.expr, batch)}
    inlined: set[int] = set()
    out: list[Statement] = []
    for statement in spilled:
        expr = statement.expr
        if expr.op == "+":
            terms = _terms(expr)
            if any(t.op == REF and t.slot in products for t in terms) and _read_once_as_terms(terms, products):
                inlined.update(t.slot for t in terms if t.op == REF and t.slot in products)
                terms = [products.get(t.slot, t) if t.op == REF else t for t in terms]  # type: ignore[arg-type]
                expr = terms[0]
                for term in terms[1:]:
                    expr = operation("+", expr, term)
                statement = Statement(statement.slot, expr, statement.role, statement.node, statement.note)
        out.append(statement)
    return [s for s in out if s.slot not in inlined]


def _read_once_as_terms(terms: list[Expr], products: dict[int, Expr]) -> bool:
    """Whether no product among ``terms`` is also read elsewhere in the sum (a second term, or
    inside another term): the read counts are per statement, so a product read twice by one
    sum looks read once."""
    seen: set[int] = set()
    for term in terms:
        if term.op == REF:
            if term.slot in seen:
                return False
            seen.add(term.slot)  # type: ignore[arg-type]  # a slot leaf
        elif any(slot in products for slot in leaves(term)):
            return False
    return True


def _spill_sums(item: Expr, batch: set[int], free: int, spilled: list[Statement]) -> Expr:
    """``item`` with each ``batch_sum(a * b)`` of two batches (and ``batch_sum(a)`` of one)
    read from a statement of its own."""
    if not item.sums:
        return item  # nothing to spill below: the same expression, not rebuilt
    if item.op == "batch_sum":
        inner = item.args[0]
        if inner.op == REF and inner.slot in batch:  # the batch sum of one batch: a row sum
            slot = free + len(spilled)
            item.template = Template(("batch_sum", 0), (inner.slot,), item)  # known: not walked
            spilled.append(Statement(slot, item, "part", None, "Σ batch"))
            return Expr(f"t{slot}", slot)
        if inner.op == "*" and all(a.op == REF and a.slot in batch for a in inner.args):
            slot = free + len(spilled)
            operands: tuple[int, ...] = tuple(dict.fromkeys(a.slot for a in inner.args))  # type: ignore[misc]
            item.template = Template(("batch_sum", ("*", 0, len(operands) - 1)), operands, item)  # known: not walked
            spilled.append(Statement(slot, item, "part", None, "Σ batch product"))
            return Expr(f"t{slot}", slot)
        return item
    args = tuple(_spill_sums(a, batch, free, spilled) for a in item.args)
    if all(new is old for new, old in zip(args, item.args)):
        return item
    if item.op in ("+", "-", "*", "/"):
        return binary(item.op, *args)
    return Expr(item.name, op=item.op, args=args, precedence=item.precedence)


def dense_call(
    group: Group, row_of: Callable[[bool, int], int], read: Callable[..., str], out: str
) -> list[str] | None:
    """``out = W @ X (+ each other term)`` when every statement of ``group`` is a sum of
    ``batch_t * scalar_st`` terms whose batches are the same for all statements, and of plain
    terms (a bias; the part of a long sum written before). ``read(rows, array, columns=None)``
    reads rows of ``V`` or ``S`` (a view when it can), with ``columns`` as a matrix."""
    batch, operands = group.batch, group.operands
    pairs: list[tuple[int, int]] = []  # (batch placeholder, scalar placeholder) of each product
    others: list[int] = []
    for term in _terms(group.template.expr):
        p, q = (a.slot if a.op == REF else None for a in term.args) if term.op == "*" else (None, None)
        if p is not None and q is not None and batch[p] != batch[q]:
            pairs.append((p, q) if batch[p] else (q, p))
        elif term.op == REF and term.slot is not None:
            others.append(term.slot)
        else:
            return None
    if not pairs or (len(pairs) < 2 and len(operands) < 2) or len(pairs) + len(others) < 2:
        return None
    if any(ops[p] != operands[0][p] for ops in operands for p, _ in pairs):
        return None  # each statement multiplies other batches: no common matrix
    X = read([row_of(True, operands[0][p]) for p, _ in pairs], "V")
    W = read([row_of(False, ops[q]) for ops in operands for _, q in pairs], "S", len(pairs))
    lines = [f"np.matmul({W}, {X}, out={out})"]
    for k in others:
        lines.append(
            f"np.add({out}, {read([row_of(batch[k], ops[k]) for ops in operands], 'VS'[not batch[k]])}, out={out})"
        )
    return lines


def outer_sum_call(
    group: Group, row_of: Callable[[bool, int], int], gather: Callable[..., str], out: Callable[[int, int], str]
) -> list[str] | None:
    """``A @ B.T`` into ``out(n, m)`` (the group's rows as an (n, m) matrix) when the
    statements are ``batch_sum(a * b)`` over an (n, m) grid."""
    if group.template.key != ("batch_sum", ("*", 0, 1)) or group.batch != (True, True):
        return None  # not a sum of a plain product of two batches
    first = [row_of(True, ops[0]) for ops in group.operands]
    second = [row_of(True, ops[1]) for ops in group.operands]
    count = len(first)
    for rows_a, rows_b in ((first, second), (second, first)):
        m = next((k for k, row in enumerate(rows_a) if row != rows_a[0]), count)
        if count % m:
            continue
        n = count // m
        if all(rows_a[k] == rows_a[k - k % m] and rows_b[k] == rows_b[k % m] for k in range(count)):
            A, B = gather(rows_a[::m], "V"), gather(rows_b[:m], "V")
            return [f"np.matmul({A}, {B}.T, out={out(n, m)})"]
    return None
