"""The grouped-numpy runner: batches at tensor speed without numba.

Each group of like statements (:mod:`graphdl.compiler.groups`) becomes one numpy call on
stacked arrays: every batch value lives in a row of one 2-D array ``V`` (one column per
sample) and every scalar in a row of ``S``; a group's results are consecutive rows, and
its operands are slices of rows (strided when the layout allows), (n, m) grids of rows
(a dense layer's weights times its inputs) or gathered with an index array. What depends
on no sample (an L2 penalty, constant subtrees) lives in ``S``: computed once per call.
The arrays are allocated once per batch size and reused (``out=``) on later calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphdl.compiler import matrices, registry
from graphdl.compiler.groups import Group, plan_groups, progression, varies_in
from graphdl.compiler.ir import Program
from graphdl.compiler.symbolic import BINARY, COMPARISONS, NEG, NUMBER, REF, Expr, render
from graphdl.core.primitives import PRIMITIVES

_UFUNCS = {"+": "np.add", "-": "np.subtract", "*": "np.multiply", "/": "np.divide"}
_COMPARE = {
    ">": "np.greater",
    ">=": "np.greater_equal",
    "<": "np.less",
    "<=": "np.less_equal",
    "==": "np.equal",
    "!=": "np.not_equal",
}
#: From this many operands a scalar statement reads them with one ``tolist()``.
_READ_AT_ONCE = 8
#: Largest V array (floats) the grouped program may allocate; bigger batches use the Python runner.
MAX_FLOATS = 1 << 27
_SCALAR_FUNCTIONS: dict[str, Any] = {name: p.array for name, p in PRIMITIVES.items()}


class Unsupported(ValueError):
    """A statement calls a function the grouped program does not know."""


def batch_mean_rows(rows: np.ndarray, estimate: Any = 0.0, use_batch: Any = 1.0) -> np.ndarray:
    """The primitive ``batch_mean`` on rows: the mean of each row (a batch value) over its
    samples, broadcast to the row; the estimate when ``use_batch`` is 0."""
    flag = use_batch.flat[0] if isinstance(use_batch, np.ndarray) else use_batch
    if not flag:
        return np.broadcast_to(estimate, np.broadcast_shapes(np.shape(rows), np.shape(estimate)))
    if np.shape(rows)[-1] < 2:
        raise ValueError("batch statistics need at least 2 samples per batch, got 1")
    return np.broadcast_to(np.mean(rows, axis=-1, keepdims=True), np.shape(rows))


class _Translator:
    """A template and which placeholders hold batches -> numpy calls writing into ``{out}``."""

    def __init__(self, expr: Expr, batch: tuple[bool, ...]) -> None:
        self.batch = batch
        self.varies = varies_in(expr, batch)
        self.text = self._emit(expr, "{out}") if self._takes_out(expr) else f"np.copyto({{out}}, {self._emit(expr)})"

    @staticmethod
    def _takes_out(node: Expr) -> bool:
        forms = registry.FORMS.get(node.op)
        return node.op in BINARY or node.op == NEG or (forms is not None and forms.numpy is not None)

    def _emit(self, node: Expr, out: str | None = None) -> str:
        suffix = f", out={out}" if out else ""
        op, args = node.op, node.args
        if op == REF:
            return "{" + str(node.slot) + "}" if node.slot is not None else node.name
        if op == NUMBER:
            return node.name
        if op == NEG:
            return f"np.negative({self._emit(args[0], self._inner(args[0], out))}{suffix})"
        if op in BINARY:
            return f"{_UFUNCS[op]}({self._emit(args[0], self._inner(args[0], out))}, {self._emit(args[1])}{suffix})"
        if op in COMPARISONS:
            return f"{_COMPARE[op]}({self._emit(args[0])}, {self._emit(args[1])})"
        if op == "batch_sum":
            return f"np.add.reduce({self._emit(args[0])}, axis=-1, keepdims=True)"
        if op == "where":
            return f"np.where({', '.join(self._emit(a) for a in args)})"
        if op == "batch_mean":  # each row's mean over its samples, for every sample
            return f"batch_mean_rows({', '.join(self._emit(a) for a in args)})"
        forms = registry.FORMS.get(op)
        if forms is None or forms.numpy is None:
            raise Unsupported(f"the grouped numpy program has no form for the primitive {op!r}")
        rest = "".join(", " + self._emit(a) for a in args[1:])
        return f"{forms.numpy}({self._emit(args[0], self._inner(args[0], out))}{rest}{suffix})"

    def _inner(self, child: Expr, out: str | None) -> str | None:
        """An operand computed in place of the output: same shape, an elementwise operation."""
        if out is None or not self._takes_out(child):
            return None
        return out if varies_in(child, self.batch) == self.varies else None


def _span(rows: Sequence[int], array: str) -> tuple[str, np.ndarray | None]:
    """Rows as a slice when they form an arithmetic progression, else an index array. The
    same row throughout is that one row, broadcast over the group; a progression walking
    back is a slice with a negative step (views both: gathering would copy every row)."""
    found = progression(rows)
    if found is None:
        return "", np.asarray(rows, dtype=np.intp)
    first, step = found
    if step == 0:
        return f"{array}[{first}:{first + 1}]", None
    if step > 0:
        stop = rows[-1] + 1
        return (f"{array}[{first}:{stop}]" if step == 1 else f"{array}[{first}:{stop}:{step}]"), None
    stop = rows[-1] - 1
    return (f"{array}[{first}:{stop}:{step}]" if stop >= 0 else f"{array}[{first}::{step}]"), None


def _grid_steps(rows: Sequence[int], n: int, m: int) -> tuple[int, int] | None:
    """(step over a, step over b) when ``rows[a * m + b] == rows[0] + a * step_a + b * step_b``."""
    step_b = rows[1] - rows[0] if m > 1 else 0
    step_a = rows[m] - rows[0] if n > 1 else 0
    first = rows[0]
    if any(rows[a * m + b] != first + a * step_a + b * step_b for a in range(n) for b in range(m)):
        return None
    return step_a, step_b


def grid(array: np.ndarray, first: int, n: int, step_a: int, m: int, step_b: int) -> np.ndarray:
    """The rows ``first + a * step_a + b * step_b`` of ``array`` as an (n, m, columns) view
    (steps of 0 repeat a row, negative steps walk back): the operands of an outer product
    without copying them. Every such row is a row of ``array`` (the caller checked each one)."""
    rows, columns = array.strides
    return np.lib.stride_tricks.as_strided(
        array[first:], shape=(n, m, array.shape[1]), strides=(step_a * rows, step_b * rows, columns)
    )


def _views_of(V: np.ndarray, S: np.ndarray) -> Any:
    """``grid`` remembering its views of the buffers ``V`` and ``S`` (a program keeps its
    buffers between calls of one batch size, so each view is made once, not per call)."""
    made: dict[tuple[bool, int, int, int, int, int], np.ndarray] = {}

    def grid_view(array: np.ndarray, first: int, n: int, step_a: int, m: int, step_b: int) -> np.ndarray:
        if array is not V and array is not S:
            return grid(array, first, n, step_a, m, step_b)
        key = (array is V, first, n, step_a, m, step_b)
        view = made.get(key)
        if view is None:
            view = made[key] = grid(array, first, n, step_a, m, step_b)
        return view

    return grid_view


def _outer_views(operand_rows: list[list[int]], arrays: list[str], gather: Any) -> tuple[list[str], int, int] | None:
    """(n, m, samples) views when element ``j = a * m + b`` of every operand reads row
    ``first + a * step_a + b * step_b``: a dense layer's ``w_ab * h_b`` is then one broadcast
    product over views, without gathering copies."""
    gathered = [rows for rows, array in zip(operand_rows, arrays) if array == "V" and progression(rows) is None]
    if not gathered or len(gathered[0]) < 4:
        return None
    first = gathered[0]
    size = len(first)
    run = next((k for k, row in enumerate(first) if row != first[0]), size)
    period = next((k for k, row in enumerate(first) if k and row == first[0]), 0)
    bend = next((k for k in range(2, size) if first[k] - first[k - 1] != first[1] - first[0]), 0)
    for m in sorted({run, period, bend} - {0, 1, size}):
        if size % m:
            continue
        n = size // m
        texts = []
        for rows, array in zip(operand_rows, arrays):
            steps = _grid_steps(rows, n, m)
            if steps is not None:
                texts.append(f"grid({array}, {rows[0]}, {n}, {steps[0]}, {m}, {steps[1]})")
            elif array == "S":  # scalars are small: gathering them costs little
                texts.append(f"{gather(rows)}.reshape({n}, {m}, -1)")
            else:
                break
        else:
            return texts, n, m
    return None


def _left_sum(expr: Expr, count: int) -> bool:
    """Whether ``expr`` is ``_0 + _1 + ... + _{count-1}`` (left to right, each placeholder once)."""
    k = count - 1
    while expr.op == "+":
        right = expr.args[1]
        if right.op != REF or right.slot != k:
            return False
        expr, k = expr.args[0], k - 1
    return expr.op == REF and expr.slot == 0 and k == 0


def _float_safe(expr: Expr) -> bool:
    """Only placeholders, numbers, ``+ - *`` and negation: Python floats compute it as numpy scalars do."""
    if expr.op in (REF, NUMBER):
        return True
    return expr.op in ("+", "-", "*", NEG) and all(_float_safe(a) for a in expr.args)


class GroupedProgram:
    """The grouped program for a batch: ``run(columns, leaves, seed)`` -> (value, outputs)."""

    def __init__(self, program: Program, gradients: bool, grouped: bool = True) -> None:
        outputs = [program.target, *program.gradients] if gradients else [program.target]
        statements = program.statements if gradients else program.forward
        if grouped:
            statements = matrices.prepare(statements, outputs, program.varies, len(program.names))
        batch_row: dict[int, int] = {slot: k for k, slot in enumerate(program.input_slots)}
        self.seed_row = batch_row[program.seed_slot] = len(batch_row)
        scalar_row: dict[int, int] = {slot: k for k, slot in enumerate(program.leaf_slots)}
        translations: dict[tuple[Any, tuple[bool, ...]], _Translator] = {}

        def translate(group_or_template: Any, batch: tuple[bool, ...]) -> _Translator:
            key = (group_or_template.key, batch)
            if key not in translations:
                translations[key] = _Translator(group_or_template.expr, batch)
            return translations[key]

        alias, ordered = plan_groups(
            statements, [*batch_row, *scalar_row], list(batch_row), lambda t, b: translate(t, b).varies, grouped
        )
        self.namespace: dict[str, Any] = {
            **_SCALAR_FUNCTIONS,
            "np": np,
            "inf": float("inf"),
            "nan": float("nan"),
            "batch_mean_rows": batch_mean_rows,
            "grid": grid,
        }
        names = program.names
        body: list[str] = []

        def name_of(slot: int) -> str:
            return names[slot] if slot < len(names) else f"t{slot}"  # t: a statement the matrix pass added

        def row_of(is_batch: bool, slot: int) -> int:
            return (batch_row if is_batch else scalar_row)[slot]

        def gather(source_rows: list[int], array: str = "S") -> str:
            name = f"i{len(self.namespace)}"
            self.namespace[name] = np.asarray(source_rows, dtype=np.intp)
            return f"{array}[{name}]"

        def read_rows(source_rows: list[int], array: str) -> str:
            """Rows as a 2-D operand of a matrix product: a slice view when they are evenly spaced."""
            found = progression(source_rows)
            if found is not None and found[1] != 0 and len(source_rows) > 1:
                return _span(source_rows, array)[0]
            return gather(source_rows, array)

        for group in ordered:
            translator = translations[(group.template.key, group.batch)]
            rows = batch_row if translator.varies else scalar_row
            start = len(rows)
            for statement in group.statements:
                rows[statement.slot] = len(rows)
            array_out = "V" if translator.varies else "S"
            out, _ = _span(list(range(start, len(rows))), array_out)
            first, last = name_of(group.statements[0].slot), name_of(group.statements[-1].slot)
            if not translator.varies and not any(group.batch) and len(group.statements) == 1:
                body += self._scalar_statement(group, scalar_row, first)
                continue
            shown = f"{group.label}: {first} … {last}" if len(group.statements) > 1 else f"{first} ({group.label})"
            product = matrices.dense_call(group, row_of, read_rows, out) if translator.varies else None
            if product is None and not translator.varies:
                product = matrices.outer_sum_call(group, row_of, read_rows, start)
            if product is not None:  # a matrix product: one BLAS call for the whole group
                body += [*product[:-1], f"{product[-1]}  # {shown}, as a matrix product"]
                continue
            operand_rows = [
                [(batch_row if is_batch else scalar_row)[ops[position]] for ops in group.operands]
                for position, is_batch in enumerate(group.batch)
            ]
            arrays = ["V" if is_batch else "S" for is_batch in group.batch]
            outer = _outer_views(operand_rows, arrays, gather)
            if outer is not None:  # an outer product (a dense layer): broadcast views, no gathered copies
                operand_texts, n, m = outer
                out = f"{array_out}[{start}:{len(rows)}].reshape({n}, {m}, -1)"
            else:
                operand_texts = []
                for source_rows, array in zip(operand_rows, arrays):
                    text, index = _span(source_rows, array)
                    operand_texts.append(gather(source_rows, array) if index is not None else text)
            body.append(translator.text.format(*operand_texts, out=out) + f"  # {shown}")
        self.batch_rows, self.scalar_rows = len(batch_row), len(scalar_row)

        def locate(expr: Expr) -> tuple[bool, Any]:
            if expr.slot is None:
                return False, expr.number
            slot = alias.get(expr.slot, expr.slot)
            return (True, batch_row[slot]) if slot in batch_row else (False, scalar_row[slot])

        self.value_at = locate(program.target)
        self.outputs_at = [locate(g) for g in program.gradients] if gradients else []
        self._scalar_outputs = (
            np.array([row for _, row in self.outputs_at], dtype=np.intp)
            if all(not b and isinstance(r, int) for b, r in self.outputs_at)
            else None
        )
        self.groups = sum(not line.startswith("o = ") for line in body)  # the reads are not groups
        title = "backward_batch" if gradients else "forward_batch"
        self.source = "\n".join(
            [
                f"def {title}(V, S):",
                '    """One numpy call per group of like statements: V holds batches (a row each), S scalars."""',
                "    s = S[:, 0]",
                *("    " + line for line in body),
                "",
            ]
        )
        exec(compile(self.source, f"<graphdl vectorised {title}>", "exec"), self.namespace)
        self._function = self.namespace[title]
        self._buffers: tuple[int, np.ndarray, np.ndarray] | None = None

    def _scalar_statement(self, group: Group, scalar_row: dict[int, int], name: str) -> list[str]:
        """One scalar statement: float arithmetic on numpy scalars beats a call on a 1x1 array."""
        statement, operands = group.statements[0], group.operands[0]
        read = [scalar_row[o] for o in operands]
        texts = [f"s[{r}]" for r in read]
        lines = []
        if len(texts) >= _READ_AT_ONCE and _left_sum(group.template.expr, len(texts)):
            # a long sum of distinct values, left to right: np.add.accumulate adds in that order
            index = f"i{len(self.namespace)}"
            self.namespace[index] = np.asarray(read, dtype=np.intp)
            return [f"s[{scalar_row[statement.slot]}] = np.add.accumulate(s[{index}])[-1]  # {name} ({group.label})"]
        if len(texts) >= _READ_AT_ONCE and _float_safe(group.template.expr):
            # many operands (a long sum): one tolist() and Python floats, which add and
            # multiply exactly as numpy's scalars do (no division: floats raise)
            if all(b - a == 1 for a, b in zip(read, read[1:])):
                where = f"s[{read[0]}:{read[-1] + 1}]"
            else:
                where = f"s[i{len(self.namespace)}]"
                self.namespace[f"i{len(self.namespace)}"] = np.asarray(read, dtype=np.intp)
            lines.append(f"o = {where}.tolist()")
            texts = [f"o[{k}]" for k in range(len(read))]
        text = render(group.template.expr, lambda leaf: texts[leaf.slot] if leaf.slot is not None else leaf.name)
        lines.append(f"s[{scalar_row[statement.slot]}] = {text}  # {name} ({group.label})")
        return lines

    @property
    def buffers(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The arrays of batch rows and scalar rows kept from the last call (None before it)."""
        return None if self._buffers is None else self._buffers[1:]

    def fits(self, size: int) -> bool:
        """True when the batch arrays for ``size`` samples stay within the memory cap."""
        return self.batch_rows * size <= MAX_FLOATS

    def run(self, columns: Sequence[np.ndarray], leaves: Sequence[float], seed: float) -> tuple[Any, list[Any]]:
        """Values of the target (a fresh array, or a float) and of the gradients."""
        size = columns[0].shape[0]
        buffers = self._buffers
        if buffers is None or buffers[0] != size:
            buffers = self._buffers = (size, np.empty((self.batch_rows, size)), np.empty((self.scalar_rows, 1)))
            self.namespace["grid"] = _views_of(buffers[1], buffers[2])
        _, V, S = buffers
        for row, column in enumerate(columns):
            V[row] = column
        V[self.seed_row] = seed
        S[: len(leaves), 0] = leaves
        self._function(V, S)
        is_batch, row = self.value_at
        value = V[row].copy() if is_batch else (float(S[row, 0]) if isinstance(row, int) else row)
        if self._scalar_outputs is not None:
            return value, S[self._scalar_outputs, 0].tolist()
        outputs = [(V[r].copy() if b else float(S[r, 0])) if isinstance(r, int) else r for b, r in self.outputs_at]
        return value, outputs


#: Batch size from which the Python runner's statement-per-call program is faster than the
#: grouped one (gathering operands costs a copy; call overhead no longer matters).
GROUPED_BELOW = 20_000


class NumpyRunner:
    """Batches through the grouped programs (built per need, buffers per batch size); one
    sample, big batches and steps through the Python runner it wraps."""

    name = "numpy"

    def __init__(self, program: Program, python: Any) -> None:
        self.program = program
        self.python = python
        self._built: dict[tuple[bool, bool], GroupedProgram] = {}
        self.unsupported: str | None = None
        self.grouping = True

    def grouped(self, gradients: bool, size: int) -> GroupedProgram | None:
        """The grouped program for ``size`` samples, or None when the Python runner must run
        (a function without a grouped form, arrays over the memory cap, grouping off)."""
        if self.unsupported is not None or not self.grouping or not self.program.target_varies:
            return None
        grouped = size < GROUPED_BELOW
        built = self._built.get((gradients, grouped))
        if built is None:
            try:
                built = self._built[(gradients, grouped)] = GroupedProgram(self.program, gradients, grouped)
            except Unsupported as error:
                self.unsupported = str(error)
                return None
        return built if built.fits(size) else None

    def forward(self, values: list[Any], leaves: list[float], size: int | None) -> Any:
        program = self.grouped(False, size) if size is not None else None
        if program is None:
            return self.python.forward(values, leaves, size)
        with np.errstate(all="ignore"):
            return program.run(values, leaves, 1.0)[0]

    def backward(self, values: list[Any], leaves: list[float], size: int | None) -> tuple[Any, list[float]]:
        program = self.grouped(True, size) if size is not None else None
        if program is None:
            return self.python.backward(values, leaves, size)
        with np.errstate(all="ignore"):
            return program.run(values, leaves, 1.0 / size)  # type: ignore[operator]  # a batch has a size

    def step(self, lr: float, values: list[Any], leaves: list[float]) -> tuple[float, list[float]]:
        return self.python.step(lr, values, leaves)

    def sgd(self, lr: float, columns: list[np.ndarray], leaves: list[float]) -> tuple[np.ndarray, list[float]]:
        return self.python.sgd(lr, columns, leaves)

    def source(self) -> str:
        """The grouped batch program as text (built on first use); the Python source when there is none."""
        built = self.grouped(True, 2)
        return self.python.source if built is None else built.source
