"""The grouped-numpy runner: batches at tensor speed without numba.

Each group of like statements (:mod:`graphdl.compiler.groups`) becomes one numpy call on
stacked arrays: every batch value is a row of ``V`` (a column per sample), every scalar
(what depends on no sample: parameters, an L2 penalty) a row of ``S``. A group's results
are consecutive rows; its operands are views (slices, a layer's weights as a strided
matrix: the parameters are laid out for it) or gathered rows. The arrays and their views
are made once per batch size; the gradients, read by nothing else, are one group.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphdl.compiler import matrices, registry
from graphdl.compiler.groups import Group, Unsupported, plan_groups, progression, varies_in
from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.python_runner import ARRAY_NAMESPACE
from graphdl.compiler.symbolic import BINARY, COMPARISONS, NEG, NUMBER, REF, Expr, render
from graphdl.core.collector import collector_paused

_UFUNCS = {"+": "np.add", "-": "np.subtract", "*": "np.multiply", "/": "np.divide", NEG: "np.negative"}
_isfinite, _add_reduce = math.isfinite, np.add.reduce
_COMPARE = dict(zip("> >= < <= == !=".split(), "greater greater_equal less less_equal equal not_equal".split()))
#: From this many terms a scalar sum is one ``np.add.reduce``.
_LONG_SUM = 8
#: Largest V array (floats) the grouped program may allocate; bigger batches use the Python runner.
MAX_FLOATS = 1 << 27
_NAMESPACE: dict[str, Any] = {**ARRAY_NAMESPACE, "np": np}


def batch_mean_rows(rows: np.ndarray, estimate: Any = 0.0, use_batch: Any = 1.0) -> np.ndarray:
    """The primitive ``batch_mean`` on rows: the mean of each row (a batch value) over its
    samples, broadcast to the row; the estimate when ``use_batch`` is 0."""
    if not (use_batch.flat[0] if isinstance(use_batch, np.ndarray) else use_batch):
        return np.broadcast_to(estimate, np.broadcast_shapes(np.shape(rows), np.shape(estimate)))
    if np.shape(rows)[-1] < 2:
        raise ValueError("batch statistics need at least 2 samples per batch, got 1")
    return np.broadcast_to(np.mean(rows, axis=-1, keepdims=True), np.shape(rows))


class _Translator:
    """A template and which placeholders hold batches -> numpy calls writing into ``{out}``."""

    def __init__(self, expr: Expr, batch: tuple[bool, ...]) -> None:
        self.varying = varies_in(expr, batch)  # id of each subexpression -> whether it is a batch
        self.varies = self.varying[id(expr)]
        self.text = self._emit(expr, "{out}") if self._takes_out(expr) else f"np.copyto({{out}}, {self._emit(expr)})"

    @staticmethod
    def _takes_out(node: Expr) -> bool:
        forms = registry.FORMS.get(node.op)
        numpy_form = forms is not None and forms.numpy is not None
        return node.op in BINARY or node.op in (NEG, "batch_sum") or numpy_form or _positive_part(node) is not None

    def _emit(self, node: Expr, out: str | None = None) -> str:
        suffix = f", out={out}" if out else ""
        op, args = node.op, node.args
        if op == REF:
            return "{" + str(node.slot) + "}" if node.slot is not None else node.name
        if op == NUMBER:
            return node.name
        if op == "*" and _mask(args[0]) is not None and _mask(args[1]) is None:
            args = args[::-1]  # x * mask: multiplication commutes exactly
        mask = _mask(args[1]) if op == "*" else None
        positive = _positive_part(node) if out is not None else None
        first = args[0] if positive is None else positive
        inner = out is not None and self._takes_out(first) and self.varying[id(first)] == self.varies
        head = self._emit(first, out if inner else None)  # computed into ``out``: same shape, elementwise
        rest = "".join(", " + self._emit(a) for a in args[1:])
        if positive is not None:  # where(x > 0, x, 0.0) as fmax(x, 0.0) + 0.0: the same bits (NaN, -0.0 give 0.0)
            return f"np.add(np.fmax({head}, 0.0{suffix}), 0.0{suffix})"
        if mask is not None:  # x * where(c, 1.0, 0.0) is x * c: True is 1.0
            return f"np.multiply({head}, {self._emit(mask)}{suffix})"
        if op == NEG or op in BINARY:
            return f"{_UFUNCS[op]}({head}{rest}{suffix})"
        if op in COMPARISONS or op == "where":
            return f"np.{_COMPARE.get(op, op)}({head}{rest})"
        if op == "batch_sum":
            return f"np.add.reduce({head}, axis=-1, keepdims=True{suffix})"
        if op == "batch_mean":  # each row's mean over its samples, for every sample
            return f"batch_mean_rows({head}{rest})"
        forms = registry.FORMS.get(op)
        if forms is None or forms.numpy is None:
            raise Unsupported(f"the grouped numpy program has no form for the primitive {op!r}")
        return f"{forms.numpy}({head}{rest}{suffix})"


def _is_zero(expr: Expr) -> bool:
    return expr.op == NUMBER and expr.name == "0.0"


def _mask(expr: Expr) -> Expr | None:
    """The condition ``c`` when ``expr`` is ``where(c, 1.0, 0.0)``."""
    ones = expr.op == "where" and expr.args[1].op == NUMBER and expr.args[1].name == "1.0" and _is_zero(expr.args[2])
    return expr.args[0] if ones and expr.args[0].op in COMPARISONS else None


def _positive_part(expr: Expr) -> Expr | None:
    """``x`` when ``expr`` is ``where(x > 0.0, x, 0.0)`` (a ReLU, a hinge)."""
    if expr.op != "where" or not _is_zero(expr.args[2]) or expr.args[0].op != ">":
        return None
    x, zero = expr.args[0].args
    return expr.args[1] if _is_zero(zero) and x.text == expr.args[1].text else None


def _span(rows: Sequence[int], array: str) -> str:
    """Rows in an arithmetic progression as a slice (the same row throughout: that row, broadcast)."""
    first, step = progression(rows)  # type: ignore[misc]  # the caller checked
    stop = rows[-1] + (1 if step >= 0 else -1)
    return f"{array}[{first}:{stop if stop >= 0 else ''}{'' if step in (0, 1) else f':{step}'}]"


def _grid_steps(rows: Sequence[int], n: int, m: int) -> tuple[int, int] | None:
    """(step over a, step over b) when ``rows[a * m + b] == rows[0] + a * step_a + b * step_b``."""
    first, step_a, step_b = rows[0], rows[m] - rows[0] if n > 1 else 0, rows[1] - rows[0] if m > 1 else 0
    grid = all(rows[a * m + b] == first + a * step_a + b * step_b for a in range(n) for b in range(m))
    return (step_a, step_b) if grid else None


def matrix(array: np.ndarray, first: int, n: int, step_a: int, m: int, step_b: int) -> np.ndarray:
    """``array[first + a * step_a + b * step_b, 0]`` as an (n, m) view: a layer's weights where
    they are (every such row is a row of ``array``: the caller checked each one)."""
    row = array.strides[0]
    return np.lib.stride_tricks.as_strided(array[first:, 0], shape=(n, m), strides=(step_a * row, step_b * row))


def _left_sum(count: int) -> Any:
    """The template key of ``_0 + _1 + ... + _{count-1}`` (left to right, each placeholder once)."""
    key: Any = 0
    for k in range(1, count):
        key = ("+", key, k)
    return key


def _sinks_last(groups: list[Group], outputs: Sequence[int]) -> list[Group]:
    """Scalar groups no statement reads (the gradients) last, like ones merged, in the order of
    ``outputs``; sums of batch products stay (each is a matrix product where it is)."""
    read = {slot for group in groups for operands in group.operands for slot in operands}
    kept: list[Group] = []
    sinks: dict[tuple[Any, ...], Group] = {}
    for group in groups:
        expr = group.template.expr
        product_sum = expr.op == "batch_sum" and expr.args[0].op == "*"
        if (
            varies_in(expr, group.batch)[id(expr)]
            or product_sum
            or not read.isdisjoint(s.slot for s in group.statements)
        ):
            kept.append(group)
        else:
            merged = sinks.setdefault((group.template.key, group.batch), Group(group.template, group.batch))
            merged.statements, merged.operands = merged.statements + group.statements, merged.operands + group.operands
    position = {slot: k for k, slot in enumerate(outputs)}
    return kept + [_reordered(group, lambda s, _: position.get(s.slot, len(position))) for group in sinks.values()]


def _reordered(group: Group, key: Callable[[Statement, tuple[int, ...]], int]) -> Group:
    """The group's statements sorted by ``key(statement, operands)``."""
    pairs = sorted(zip(group.statements, group.operands), key=lambda pair: key(*pair))
    return Group(group.template, group.batch, [p[0] for p in pairs], [p[1] for p in pairs])


def _leaf_layout(groups: list[Group], leaves: Sequence[int]) -> dict[int, int]:
    """Rows of ``S`` for the leaves: each matrix product's weights as it reads them, then the rest."""
    first_read: dict[int, None] = {}
    known = set(leaves)

    def record(slots: list[int], array: str, columns: int | None = None) -> str:
        if array == "S":
            first_read.update((slot, None) for slot in slots if slot in known)
        return ""

    for group in groups:  # (a group that is no product is no matrix: dense_call says None)
        matrices.dense_call(group, lambda is_batch, slot: slot, record, "")
    first_read.update(dict.fromkeys(leaves))
    return {slot: row for row, slot in enumerate(first_read)}


def _elementwise(expr: Expr) -> bool:
    """Whether the template computes each row from the same rows of its operands alone."""
    return expr.op not in ("batch_sum", "batch_mean") and all(_elementwise(a) for a in expr.args)


def _in_row_order(group: Group, row_of: Callable[[bool, int], int]) -> Group:
    """The group in the row order of its first operand that differs: sorted when its rows are
    consecutive ones shuffled (an L2 penalty's squares of the weights), else reversed when they
    count down (a gradient, made from the last statement back): slices with positive steps."""
    for position, is_batch in enumerate(group.batch):
        rows = [row_of(is_batch, operands[position]) for operands in group.operands]
        if _run(rows):
            return _reordered(group, lambda _, ops: row_of(is_batch, ops[position]))  # noqa: B023  # used at once
        if rows[0] != rows[-1]:
            reverse = Group(group.template, group.batch, group.statements[::-1], group.operands[::-1])
            return group if rows[0] < rows[-1] else reverse
    return group


def _index(rows: list[int]) -> Any:
    """A slice when ``rows`` count up one by one, else an index array."""
    start = rows[0] if rows else 0
    return slice(start, start + len(rows)) if rows == list(range(start, start + len(rows))) else np.array(rows)


def _run(rows: Sequence[int]) -> bool:
    """Whether ``rows`` are consecutive rows in some order."""
    return sorted(rows) == list(range(min(rows), min(rows) + len(rows)))


def _sum_chains(groups: list[Group], outputs: Sequence[int]) -> tuple[dict[int, list[int]], set[int]]:
    """Long scalar sums continued by another (``part_2 = part_1 + ...``, read nowhere else): the
    terms of each last part (all, to add at once) and the parts it continues (not computed)."""
    reads = Counter([*outputs, *(slot for group in groups for operands in group.operands for slot in operands)])
    terms: dict[int, list[int]] = {}
    heads: dict[int, list[int]] = {}
    for group in groups:
        operands, slot = group.operands[0], group.statements[0].slot
        if len(group.statements) > 1 or any(group.batch) or group.template.key != _left_sum(len(operands)):
            continue
        head = operands[0]
        if head in terms and reads[head] == 1:
            terms[slot], heads[slot] = terms.pop(head) + list(operands[1:]), [*heads.pop(head), head]
        else:
            terms[slot], heads[slot] = list(operands), []
    kept = [slot for slot, found in terms.items() if len(found) >= _LONG_SUM]
    return {slot: terms[slot] for slot in kept}, {head for slot in kept for head in heads[slot]}


class GroupedProgram:
    """The grouped program for a batch: ``run(columns, leaves, seed)`` -> (value, outputs). Its
    source, ``bind(V, S)``, makes the buffers' views and returns the kernel that reads them."""

    def __init__(self, program: Program, gradients: bool, grouped: bool = True) -> None:
        outputs = [program.target, *program.gradients] if gradients else [program.target]
        statements = program.statements if gradients else program.forward
        batch_row: dict[int, int] = {slot: k for k, slot in enumerate(program.input_slots)}
        self.seed_row = batch_row[program.seed_slot] = len(batch_row)
        translations: dict[tuple[Any, tuple[bool, ...]], _Translator] = {}

        def varies(template: Any, batch: tuple[bool, ...]) -> bool:
            found = translations.get((template.key, batch))
            found = found or translations.setdefault((template.key, batch), _Translator(template.expr, batch))
            return found.varies

        leaves = program.leaf_slots
        alias, ordered = plan_groups(statements, [*batch_row, *leaves], list(batch_row), varies, grouped)
        output_slots = [alias.get(e.slot, e.slot) for e in outputs if e.slot is not None]
        if grouped:
            ordered = _sinks_last(ordered, output_slots)
        scalar_row = _leaf_layout(ordered, leaves) if grouped else {s: k for k, s in enumerate(leaves)}
        #: The leaves arrive in program order (rows ``leaf_rows`` of ``S``), then are taken into their layout.
        self._inverse = np.argsort([scalar_row[slot] for slot in leaves])
        program_row = {slot: len(leaves) + k for k, slot in enumerate(leaves)}
        self.leaf_rows = slice(len(leaves), 2 * len(leaves))
        terms, folded = _sum_chains(ordered, output_slots)
        self.namespace: dict[str, Any] = {**_NAMESPACE, "batch_mean_rows": batch_mean_rows, "matrix": matrix}
        names, body = program.names, []
        views: dict[str, str] = {}  # a view of the buffers -> its name in the bound program

        def name_of(slot: int) -> str:
            return names[slot] if slot < len(names) else f"t{slot}"  # t: a statement the matrix pass added

        def row_of(is_batch: bool, slot: int) -> int:
            return (batch_row if is_batch else scalar_row)[slot]

        def gather(source_rows: list[int], array: str) -> str:
            self.namespace[name := f"i{len(self.namespace)}"] = np.asarray(source_rows, dtype=np.intp)
            return f"{array}[{name}]"

        def view(text: str) -> str:
            return views.setdefault(text, f"v{len(views)}")

        def read(source_rows: list[int], array: str, columns: int | None = None, broadcast: bool = False) -> str:
            """Rows of an array: a view when evenly spaced (or the same row, with ``broadcast``), else
            gathered; with ``columns``, scalar rows as a matrix (a view when they form a grid)."""
            found = progression(source_rows)
            if found is not None and (found[1] != 0 or broadcast or len(source_rows) == 1):
                if columns is None:
                    return view(_span(source_rows, array))
                if found[1] == 1:
                    return view(f"{_span(source_rows, array)}.reshape({len(source_rows) // columns}, {columns})")
            if columns is None:
                return gather(source_rows, array)
            n = len(source_rows) // columns
            steps = _grid_steps(source_rows, n, columns)
            if steps is None:
                return f"{gather(source_rows, array)}.reshape({n}, {columns})"
            return view(f"matrix({array}, {source_rows[0]}, {n}, {steps[0]}, {columns}, {steps[1]})")

        def scalar_statement(group: Group, name: str, terms: list[int] | None) -> str:
            """Arithmetic on numpy scalars beats a call on a 1x1 array; a long sum (its first parts
            folded in) is one pairwise ``np.add.reduce``: a documented reorder, equal to rounding."""
            target, note = f"s[{scalar_row[group.statements[0].slot]}]", f"  # {name} ({group.label})"
            if terms is not None:
                rows = [scalar_row[o] for o in terms]
                where = view(_span(sorted(rows), "s")) if _run(rows) else gather(rows, "s")
                return f"{target} = np.add.reduce({where}){note}"
            texts = [f"s[{scalar_row[o]}]" for o in group.operands[0]]
            text = render(group.template.expr, lambda e: texts[e.slot] if e.slot is not None else e.name)
            return f"{target} = {text}{note}"

        used = {"V": len(batch_row), "S": self.leaf_rows.stop}  # rows taken
        for group in ordered:
            if group.statements[0].slot in folded:
                continue  # the first part of a long sum: added by the statement that continues it
            translator = translations[(group.template.key, group.batch)]
            rows, array_out = (batch_row, "V") if translator.varies else (scalar_row, "S")
            if len(group.statements) > 1 and set(output_slots).isdisjoint(st.slot for st in group.statements):
                group = _in_row_order(group, row_of)
            if len(group.statements) > 1 and not any(group.batch) and _elementwise(group.template.expr):
                array_out = "s"  # scalars only: one value per row, read as a vector
            start = used[array_out.upper()]
            used[array_out.upper()] = stop = start + len(group.statements)
            rows.update((statement.slot, start + k) for k, statement in enumerate(group.statements))
            first, last = name_of(group.statements[0].slot), name_of(group.statements[-1].slot)
            if not translator.varies and not any(group.batch) and len(group.statements) == 1:
                body.append(scalar_statement(group, first, terms.get(group.statements[0].slot)))
                continue
            shown = f"{group.label}: {first} … {last}" if len(group.statements) > 1 else f"{first} ({group.label})"
            out = view(_span(range(start, stop), array_out))
            if translator.varies:
                product = matrices.dense_call(group, row_of, read, out)
            else:
                grid = _span(range(start, stop), "S")
                product = matrices.outer_sum_call(group, row_of, read, lambda n, m: view(f"{grid}.reshape({n}, {m})"))  # noqa: B023
            if product is not None:  # a matrix product: one BLAS call for the whole group
                body += [*product[:-1], f"{product[-1]}  # {shown}, as a matrix product"]
                continue
            scalars = "s" if array_out == "s" else "S"
            operands = [[row_of(b, ops[k]) for ops in group.operands] for k, b in enumerate(group.batch)]
            for k in [k for k, b in enumerate(group.batch) if not b and progression(operands[k]) is None]:
                in_order = [program_row.get(ops[k], -1) for ops in group.operands]  # leaves, in program order:
                if -1 not in in_order and progression(in_order):  # a slice there (the L2 gradients' parameters)
                    operands[k] = in_order
            broadcast = group.template.expr.op != "batch_sum"  # a sum into rows needs all of them
            texts = [read(rows, "V" if b else scalars, None, broadcast) for rows, b in zip(operands, group.batch)]
            body.append(translator.text.format(*texts, out=out) + f"  # {shown}")
        self.batch_rows, self.scalar_rows = used["V"], used["S"]

        def locate(expr: Expr) -> tuple[bool, Any]:
            slot = alias.get(expr.slot, expr.slot)  # type: ignore[arg-type]  # a number has no slot
            return (False, expr.number) if slot is None else (slot in batch_row, row_of(slot in batch_row, slot))

        self.value_at = locate(program.target)
        self.outputs_at = [locate(g) for g in program.gradients] if gradients else []
        rows_out = [row for is_batch, row in self.outputs_at if not is_batch and isinstance(row, int)]
        #: The gradients' rows of ``S`` (a slice or an index array) when each is a scalar row, else None.
        self.gradient_rows = _index(rows_out) if rows_out and len(rows_out) == len(self.outputs_at) else None
        title = "backward_batch" if gradients else "forward_batch"
        bound = "".join(f"\n    {name} = {text}" for text, name in views.items())
        lines = "".join(f"\n        {line}" for line in body)
        self.source = (
            f'def bind(V, S):\n    """Views of the buffers (V: a row per batch value, S: per scalar), made once."""'
            f'\n    s = S[:, 0]{bound}\n\n    def {title}():\n        """One numpy call per group of like ones."""'
            f"{lines}\n\n    return {title}\n"
        )
        exec(compile(self.source, f"<graphdl vectorised {title}>", "exec"), self.namespace)
        self._bind = self.namespace["bind"]
        self._buffers: tuple[Any, ...] | None = None  # the batch size, V, S, their views, the bound kernel
        self.finite = True  # whether a step's new parameter values were all finite

    @property
    def buffers(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The arrays of batch rows and scalar rows kept from the last call (None before it)."""
        return None if self._buffers is None else self._buffers[1:3]

    def run(
        self, columns: Sequence[np.ndarray], leaves: Sequence[float], seed: float, lr: float | None = None
    ) -> tuple[Any, Any]:
        """Values of the target (a fresh array, or a float) and of the gradients (an array
        when every gradient is a scalar row, else a list); ``seed``: 1 / the batch's size.
        With ``lr`` (every gradient a scalar row): the parameters' values after an SGD step
        instead of the gradients, and :attr:`finite` says whether they all are."""
        size = columns[0].shape[0]
        buffers = self._buffers
        if buffers is None or buffers[0] != size:
            V, S = np.empty((self.batch_rows, size)), np.empty((self.scalar_rows, 1))
            self._buffers = buffers = (size, V, S, S[self.leaf_rows, 0], S[: len(self._inverse), 0], self._bind(V, S))
        _, V, S, in_order, in_layout, function = buffers
        for row, column in enumerate(columns):
            V[row] = column
        V[self.seed_row] = seed
        in_order[:] = leaves
        in_order.take(self._inverse, out=in_layout, mode="clip")  # each leaf to its row of the layout
        with np.errstate(all="ignore"):  # numpy's floating-point warnings: the values say it
            function()
            if lr is not None:  # p - lr * grad (a finite sum proves every new value finite)
                new = np.multiply(S[self.gradient_rows, 0], lr)
                self.finite = _isfinite(_add_reduce(np.subtract(in_order[: new.size], new, out=new)))
        is_batch, row = self.value_at
        value = V[row].copy() if is_batch else (float(S[row, 0]) if isinstance(row, int) else row)
        if self.gradient_rows is not None:  # the gradients as one array (a copy: S is reused), or after a step
            grads = new if lr is not None else S[self.gradient_rows, 0]
            return value, grads.copy() if grads.base is S else grads
        outputs = [(V[r].copy() if b else float(S[r, 0])) if isinstance(r, int) else r for b, r in self.outputs_at]
        return value, outputs


#: Batch size from which the Python runner's statement-per-call program is faster than the
#: grouped one (gathering operands costs a copy; call overhead no longer matters).
GROUPED_BELOW = 20_000


class NumpyRunner:
    """Batches through the grouped programs (built per need, buffers per batch size); one
    sample, big batches and steps through the Python runner it wraps."""

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
                with collector_paused():
                    built = self._built[(gradients, grouped)] = GroupedProgram(self.program, gradients, grouped)
            except Unsupported as error:
                self.unsupported = str(error)
                return None
        return built if built.batch_rows * size <= MAX_FLOATS else None  # arrays within the memory cap

    def forward(self, values: list[Any], leaves: list[float], size: int | None) -> Any:
        if size is None or (program := self.grouped(False, size)) is None:
            return self.python.forward(values, leaves, size)
        return program.run(values, leaves, 1.0)[0]

    def backward(self, values: list[Any], leaves: list[float], size: int | None) -> tuple[Any, list[float]]:
        if size is None or (program := self.grouped(True, size)) is None:
            return self.python.backward(values, leaves, size)
        return program.run(values, leaves, 1.0 / size)

    def source(self) -> str:
        """The grouped batch program as text (built on first use); the Python source when there is none."""
        built = self.grouped(True, 2)
        return self.python.source if built is None else built.source
