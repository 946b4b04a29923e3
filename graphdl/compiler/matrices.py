"""Finding the network's matrices in a statement list, for the grouped-numpy runner.

Lowering writes a dense layer as one sum of ``batch * scalar`` terms per neuron, and each
weight's gradient as a statement ``batch_sum(a * b)`` (see :func:`graphdl.compiler.ir.lower`).
A group of such sums with the same batches in every statement is then one ``W @ X``
(plus the bias row), a group of ``batch_sum(a * b)`` over an (n, m) grid ``A @ B.T``: a
matrix product sums in its own order, equal to the interpreter's to rounding."""

from __future__ import annotations

from collections.abc import Callable

from graphdl.compiler.groups import Group
from graphdl.compiler.ir import terms_of
from graphdl.compiler.symbolic import REF


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
    for term in terms_of(group.template.expr):
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
    if row_of(True, operands[0][pairs[0][0]]) > row_of(True, operands[0][pairs[-1][0]]):
        pairs.reverse()  # the batches' rows counting up: a view BLAS reads as it is
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
