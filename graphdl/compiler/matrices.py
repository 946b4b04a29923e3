"""Finding the network's matrices in a statement list, for the grouped-numpy runner.

A dense layer of scalar nodes is n_in × n_out ``Mul`` statements and n_out ``Add``
statements; its gradient graph is a sum of products per input and a ``batch_sum`` of a
product per weight. Two exact rewrites (they move work between statements, never change
an operation) expose the matrices:

* a product of a batch and a scalar read once, by a sum, is written into that sum
  (``add_j = x_0 * w_0j + x_1 * w_1j + b_j``);
* ``batch_sum(a * b)`` of two batches becomes a statement of its own.

Then a group of sums of ``batch_t * scalar_st`` whose batches are the same for every
statement is one matrix product ``W @ X`` (plus the bias row), and a group of
``batch_sum(a * b)`` over an (n, m) grid of rows is ``A @ B.T``. A matrix product sums in
its own order, so its results equal the interpreter's to rounding (1e-15 relative), not
bit for bit.
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
            if any(t.op == REF and t.slot in products for t in terms):
                inlined.update(t.slot for t in terms if t.op == REF and t.slot in products)
                terms = [products.get(t.slot, t) if t.op == REF else t for t in terms]  # type: ignore[arg-type]
                expr = terms[0]
                for term in terms[1:]:
                    expr = operation("+", expr, term)
                statement = Statement(statement.slot, expr, statement.role, statement.node, statement.note)
        out.append(statement)
    return [s for s in out if s.slot not in inlined]


def _spill_sums(item: Expr, batch: set[int], free: int, spilled: list[Statement]) -> Expr:
    """``item`` with each ``batch_sum(a * b)`` of two batches read from a statement of its own."""
    if not item.sums:
        return item  # nothing to spill below: the same expression, not rebuilt
    if item.op == "batch_sum":
        inner = item.args[0]
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
    group: Group, row_of: Callable[[bool, int], int], gather: Callable[[list[int], str], str], out: str
) -> list[str] | None:
    """``out = W @ X (+ carry) (+ bias)`` when every statement of ``group`` is a sum of
    ``batch_t * scalar_st`` terms whose batches are the same for all statements, plus at most
    one scalar term (a bias) and one batch term (the part of a long sum written before).
    ``gather(rows, array)`` reads rows of ``V`` or ``S`` (a view when it can)."""
    template = group.template.expr
    terms = _terms(template)
    if len(terms) < 2:
        return None
    placeholders = group.batch
    batch_positions: list[int] = []
    scalar_positions: list[int] = []
    bias: int | None = None
    carry: int | None = None
    for term in terms:
        if term.op == "*" and term.args[0].slot is not None and term.args[1].slot is not None:
            p, q = term.args[0].slot, term.args[1].slot
            if term.args[0].op == REF and term.args[1].op == REF and placeholders[p] != placeholders[q]:
                batch_positions.append(p if placeholders[p] else q)
                scalar_positions.append(q if placeholders[p] else p)
                continue
        slot = term.slot if term.op == REF else None
        if slot is not None and not placeholders[slot] and bias is None:
            bias = slot
            continue
        if slot is not None and placeholders[slot] and carry is None:
            carry = slot  # the part of a long sum written before (a temporary)
            continue
        return None
    operands = group.operands
    if not batch_positions or (len(batch_positions) < 2 and len(operands) < 2):
        return None
    batch_rows = [row_of(True, operands[0][p]) for p in batch_positions]
    if any(ops[p] != operands[0][p] for ops in operands for p in batch_positions):
        return None  # each statement multiplies other batches: no common matrix
    weights = [row_of(False, ops[q]) for ops in operands for q in scalar_positions]
    X = gather(batch_rows, "V")
    W = f"{gather(weights, 'S')}.reshape({len(operands)}, {len(scalar_positions)})"
    lines = [f"np.matmul({W}, {X}, out={out})"]
    if carry is not None:
        lines.append(f"np.add({out}, {gather([row_of(True, ops[carry]) for ops in operands], 'V')}, out={out})")
    if bias is not None:
        lines.append(f"np.add({out}, {gather([row_of(False, ops[bias]) for ops in operands], 'S')}, out={out})")
    return lines


def outer_sum_call(
    group: Group, row_of: Callable[[bool, int], int], gather: Callable[[list[int], str], str], start: int
) -> list[str] | None:
    """``S[rows] = A @ B.T`` when the statements are ``batch_sum(a * b)`` over an (n, m) grid."""
    expr = group.template.expr
    if not (expr.op == "batch_sum" and expr.args[0].op == "*" and all(group.batch)) or len(group.batch) != 2:
        return None
    if [a.slot for a in expr.args[0].args if a.op == REF] != [0, 1]:
        return None  # not a plain product of the two batches
    first = [row_of(True, ops[0]) for ops in group.operands]
    second = [row_of(True, ops[1]) for ops in group.operands]
    count = len(first)
    for rows_a, rows_b in ((first, second), (second, first)):
        m = next((k for k, row in enumerate(rows_a) if row != rows_a[0]), count)
        if count % m:
            continue
        n = count // m
        if all(rows_a[k] == rows_a[(k // m) * m] for k in range(count)) and all(
            rows_b[k] == rows_b[k % m] for k in range(count)
        ):
            A, B = gather(rows_a[::m], "V"), gather(rows_b[:m], "V")
            return [f"np.matmul({A}, {B}.T, out=S[{start}:{start + count}].reshape({n}, {m}))"]
    return None
