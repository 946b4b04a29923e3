"""Batches at tensor speed without numba: one numpy operation per group of like statements.

The compiled program is straight-line code, one statement per node value or gradient
(``mul_12 = w_12 * h_3``). A dense layer of scalar nodes writes n_in × n_out statements
that differ only in the names they read. This module finds them automatically: two
statements belong to one *group* when

* their expressions are the same once names are replaced by placeholders (the same
  operator with the same options, or the same derivative, e.g. ``_0 * _1``),
* each placeholder holds a batch in both or a scalar in both, and
* they sit at the same depth of the data flow (so no statement of a group reads another).

Each group becomes one numpy call on stacked arrays: every batch value lives in a row of
one 2-D array ``V`` (one column per sample) and every scalar in a row of ``S``; a group's
results are consecutive rows, and its operands are slices of rows (strided when the
layout allows) or gathered with an index array. Statements that only copy a name
(``g_mul_12 = g_add_3``) take no row at all: the name reads its source's row. The
arrays are allocated once per batch size and reused (``out=``) on later calls.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphdl.core.primitives import PRIMITIVES

#: Names a statement may use that are not values: primitives and the float names.
FUNCTIONS = frozenset(
    {"exp", "expm1", "log", "log1p", "tanh", "pow", "abs", "where", "sign", "clip", "batch_sum", "batch_mean"}
)
CONSTANTS = frozenset({"inf", "nan"})
_NAME = re.compile(r"\b[A-Za-z_]\w*\b(?!\s*\()")
_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_UFUNCS = {
    ast.Add: "np.add",
    ast.Sub: "np.subtract",
    ast.Mult: "np.multiply",
    ast.Div: "np.divide",
}
_COMPARE = {
    ast.Gt: "np.greater",
    ast.GtE: "np.greater_equal",
    ast.Lt: "np.less",
    ast.LtE: "np.less_equal",
    ast.Eq: "np.equal",
    ast.NotEq: "np.not_equal",
}
_CALLS = {
    "exp": "np.exp",
    "expm1": "np.expm1",
    "log": "np.log",
    "log1p": "np.log1p",
    "tanh": "np.tanh",
    "pow": "np.power",
    "abs": "np.absolute",
    "sign": "np.sign",
    "clip": "np.clip",
}
_PLACEHOLDER = re.compile(r"\b_(\d+)\b")
#: A template of placeholders, float literals, ``+ - *`` and brackets only.
_FLOAT_SAFE = re.compile(r"[\s_\d.e+\-*()]*")
#: From this many operands a scalar statement reads them with one ``tolist()``.
_READ_AT_ONCE = 8
_SCALAR_FUNCTIONS = {name: getattr(np, target.split(".")[1]) for name, target in _CALLS.items()}
_SCALAR_FUNCTIONS["where"] = np.where


def batch_mean_rows(rows: np.ndarray, estimate: Any = 0.0, use_batch: Any = 1.0) -> np.ndarray:
    """The primitive ``batch_mean`` on rows: the mean of each row (a batch value) over its
    samples, broadcast to the row; the estimate when ``use_batch`` is 0."""
    flag = use_batch.flat[0] if isinstance(use_batch, np.ndarray) else use_batch
    if not flag:
        return np.broadcast_to(estimate, np.broadcast_shapes(np.shape(rows), np.shape(estimate)))
    if np.shape(rows)[-1] < 2:
        raise ValueError("batch statistics need at least 2 samples per batch, got 1")
    return np.broadcast_to(np.mean(rows, axis=-1, keepdims=True), np.shape(rows))


_SCALAR_FUNCTIONS["batch_mean"] = PRIMITIVES["batch_mean"].scalar
#: Largest V array (floats) the grouped program may allocate; bigger batches use the per-node program.
MAX_FLOATS = 1 << 27


class Unsupported(ValueError):
    """A statement calls a primitive the grouped program does not know."""


@dataclass
class Statement:
    name: str
    template: str
    operands: tuple[str, ...]
    note: str


def parse(line: str) -> Statement:
    """Split ``name = expression  # note`` into a template with placeholders and its operands."""
    name, _, rest = line.partition(" = ")
    expression, _, note = rest.partition("  # ")
    for called in _CALLED.findall(expression):
        if called not in FUNCTIONS:
            raise Unsupported(f"vectorise: no grouped form for the primitive {called!r}")
    operands: list[str] = []
    index: dict[str, int] = {}

    def placeholder(match: re.Match[str]) -> str:
        word = match.group(0)
        if word in CONSTANTS or word in FUNCTIONS:
            return word
        if word not in index:
            index[word] = len(operands)
            operands.append(word)
        return f"_{index[word]}"

    template = _NAME.sub(placeholder, expression)
    return Statement(name.strip(), template, tuple(operands), note)


class _Translator:
    """A template and which placeholders hold batches -> numpy calls writing into ``{out}``."""

    def __init__(self, template: str, batch: tuple[bool, ...]) -> None:
        self.batch = batch
        tree = ast.parse(template, mode="eval").body
        self.varies = self._varies(tree)
        self.text = self._root(tree)

    def _varies(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id.startswith("_") and self.batch[int(node.id[1:])]
        if isinstance(node, ast.Call) and node.func.id == "batch_sum":  # type: ignore[attr-defined]  # formulas call primitives by name (ast.Name)
            return False
        return any(self._varies(child) for child in ast.iter_child_nodes(node))

    def _root(self, node: ast.AST) -> str:
        if self._takes_out(node):
            return self._emit(node, "{out}")
        return f"np.copyto({{out}}, {self._emit(node, None)})"

    @staticmethod
    def _takes_out(node: ast.AST) -> bool:
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            return not isinstance(node, ast.UnaryOp) or not isinstance(node.operand, ast.Constant)
        return isinstance(node, ast.Call) and node.func.id in _CALLS  # type: ignore[attr-defined]  # formulas call primitives by name (ast.Name)

    def _emit(self, node: ast.AST, out: str | None) -> str:
        suffix = f", out={out}" if out else ""
        if isinstance(node, ast.Name):
            return "{" + node.id[1:] + "}" if node.id.startswith("_") else node.id
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return repr(float(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
                return repr(-float(node.operand.value))
            return f"np.negative({self._emit(node.operand, self._inner(node.operand, out))}{suffix})"
        if isinstance(node, ast.BinOp):
            left = self._emit(node.left, self._inner(node.left, out))
            return f"{_UFUNCS[type(node.op)]}({left}, {self._emit(node.right, None)}{suffix})"
        if isinstance(node, ast.Compare):
            left, right = self._emit(node.left, None), self._emit(node.comparators[0], None)
            return f"{_COMPARE[type(node.ops[0])]}({left}, {right})"
        if isinstance(node, ast.Call):
            name = node.func.id  # type: ignore[attr-defined]  # formulas call primitives by name (ast.Name)
            if name == "batch_sum":
                return f"np.sum({self._emit(node.args[0], None)}, axis=-1, keepdims=True)"
            if name == "where":
                return f"np.where({', '.join(self._emit(a, None) for a in node.args)})"
            if name == "batch_mean":  # each row's mean over its samples, for every sample
                return f"batch_mean_rows({', '.join(self._emit(a, None) for a in node.args)})"
            first = self._emit(node.args[0], self._inner(node.args[0], out))
            rest = "".join(", " + self._emit(a, None) for a in node.args[1:])
            return f"{_CALLS[name]}({first}{rest}{suffix})"
        raise ValueError(f"vectorise: unexpected expression {ast.dump(node)}")

    def _inner(self, child: ast.AST, out: str | None) -> str | None:
        """An operand computed in place of the output: same shape, an elementwise operation."""
        if out is None or not self._takes_out(child):
            return None
        return out if self._varies(child) == self.varies else None


@dataclass
class _Group:
    template: str
    batch: tuple[bool, ...]
    statements: list[Statement] = field(default_factory=list)


def plan_groups(
    lines: Sequence[str],
    sources: Sequence[str],
    batch_sources: Sequence[str],
    varies: Any,
    grouped: bool = True,
    alias: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[_Group]]:
    """Group the statements ``lines`` (defined in order, each name once) over ``sources``.

    Returns the copies (``name -> the name it copies``, no statement of their own) and the
    groups in an order that runs every statement after its operands. ``varies(template,
    batch)`` says whether a statement's result is a batch; ``grouped=False`` puts each
    statement in a group of its own; ``alias`` continues the copies of earlier statements.
    """
    level: dict[str, int] = dict.fromkeys(sources, 0)
    alias = dict(alias or {})
    batch_names = set(batch_sources)
    groups: dict[tuple[Any, ...], _Group] = {}
    for line in lines:
        statement = parse(line)
        operands = tuple(alias.get(o, o) for o in statement.operands)
        statement.operands = operands
        if statement.template == "_0":
            alias[statement.name] = operands[0]
            continue
        batch = tuple(o in batch_names for o in operands)
        depth = 1 + max((level[o] for o in operands), default=0)
        level[statement.name] = depth
        key = (depth, statement.template, batch) if grouped else (depth, statement.name, batch)
        group = groups.setdefault(key, _Group(statement.template, batch))
        group.statements.append(statement)
        if varies(statement.template, batch):
            batch_names.add(statement.name)
    ordered = sorted(groups.items(), key=lambda item: item[0][0])  # stable: insertion order within a depth
    return alias, [group for _, group in ordered]


def _span(rows: Sequence[int], array: str) -> tuple[str, np.ndarray | None]:
    """Rows as a slice when they form an arithmetic progression, else an index array. The
    same row throughout is that one row, broadcast over the group; a progression walking
    back is a slice with a negative step (views both: gathering would copy every row)."""
    first = rows[0]
    if len(rows) == 1:
        return f"{array}[{first}:{first + 1}]", None
    step = rows[1] - first
    if all(b - a == step for a, b in zip(rows, rows[1:])):
        if step == 0:
            return f"{array}[{first}:{first + 1}]", None
        if step > 0:
            stop = rows[-1] + 1
            return (f"{array}[{first}:{stop}]" if step == 1 else f"{array}[{first}:{stop}:{step}]"), None
        stop = rows[-1] - 1
        return (f"{array}[{first}:{stop}:{step}]" if stop >= 0 else f"{array}[{first}::{step}]"), None
    return "", np.asarray(rows, dtype=np.intp)


def _progression(rows: Sequence[int]) -> tuple[int, int] | None:
    """(first, step) when ``rows`` is an arithmetic progression with a step >= 0."""
    step = rows[1] - rows[0] if len(rows) > 1 else 1
    if step < 0 or any(b - a != step for a, b in zip(rows, rows[1:])):
        return None
    return rows[0], step


def _slice(array: str, first: int, step: int, count: int) -> str:
    if step == 0:
        return f"{array}[{first}:{first + 1}]"
    stop = first + step * (count - 1) + 1
    return f"{array}[{first}:{stop}]" if step == 1 else f"{array}[{first}:{stop}:{step}]"


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


def _outer_views(
    operand_rows: list[list[int]], arrays: list[str], gather: Any
) -> tuple[list[str], tuple[int, int]] | None:
    """(n, m, samples) views when element ``j = a * m + b`` of every operand reads row
    ``first + a * step_a + b * step_b``: a dense layer's ``w_ab * h_b`` is then one broadcast
    product over views, without gathering copies."""
    gathered = [rows for rows, array in zip(operand_rows, arrays) if array == "V" and _progression(rows) is None]
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
            return texts, (n, m)
    return None


class VectorProgram:
    """The grouped program for a batch: ``run(columns, leaves)`` -> (values, gradients)."""

    def __init__(
        self,
        lines: Sequence[str],
        input_names: Sequence[str],
        leaf_names: Sequence[str],
        outputs: Sequence[str],
        value: str,
        title: str = "batch",
        grouped: bool = True,
    ) -> None:
        self.input_names = tuple(input_names)
        batch_row: dict[str, int] = {name: k for k, name in enumerate(input_names)}
        batch_row["seed"] = len(batch_row)
        scalar_row: dict[str, int] = {name: k for k, name in enumerate(leaf_names)}
        self.seed_row = batch_row["seed"]
        translations: dict[tuple[str, tuple[bool, ...]], _Translator] = {}

        def translate(template: str, batch: tuple[bool, ...]) -> _Translator:
            key = (template, batch)
            if key not in translations:
                translations[key] = _Translator(template, batch)
            return translations[key]

        alias, ordered = plan_groups(
            lines,
            [*batch_row, *scalar_row],
            list(batch_row),
            lambda template, batch: translate(template, batch).varies,
            grouped,
        )
        self.namespace: dict[str, Any] = {
            **_SCALAR_FUNCTIONS,
            "np": np,
            "inf": float("inf"),
            "nan": float("nan"),
            "batch_mean_rows": batch_mean_rows,
            "grid": grid,
        }
        body: list[str] = []
        for group in ordered:
            translator = translations[(group.template, group.batch)]
            rows = batch_row if translator.varies else scalar_row
            start = len(rows)
            for statement in group.statements:
                rows[statement.name] = len(rows)
            out, _ = _span(list(range(start, len(rows))), "V" if translator.varies else "S")
            if not translator.varies and not any(group.batch) and len(group.statements) == 1:
                # one scalar statement: float arithmetic on numpy scalars beats a call on a 1x1 array
                statement = group.statements[0]
                operands = [f"s[{scalar_row[o]}]" for o in statement.operands]
                if len(operands) >= _READ_AT_ONCE and _FLOAT_SAFE.fullmatch(statement.template):
                    # many operands (a long sum): one tolist() and Python floats, which add
                    # and multiply exactly as numpy's scalars do (no division: floats raise)
                    read = [scalar_row[o] for o in statement.operands]
                    if all(b - a == 1 for a, b in zip(read, read[1:])):
                        where = f"s[{read[0]}:{read[-1] + 1}]"
                    else:
                        where = f"s[i{len(self.namespace)}]"
                        self.namespace[f"i{len(self.namespace)}"] = np.asarray(read, dtype=np.intp)
                    body.append(f"o = {where}.tolist()")
                    operands = [f"o[{k}]" for k in range(len(read))]
                text = _PLACEHOLDER.sub(lambda m, ops=operands: ops[int(m.group(1))], statement.template)  # type: ignore[misc]  # a lambda with a default argument (bound for B023)
                body.append(f"s[{scalar_row[statement.name]}] = {text}  # {statement.name} ({statement.note})")
                continue
            operand_rows = [
                [(batch_row if is_batch else scalar_row)[s.operands[position]] for s in group.statements]
                for position, is_batch in enumerate(group.batch)
            ]
            arrays = ["V" if is_batch else "S" for is_batch in group.batch]

            def gather(source_rows: list[int], array: str = "S") -> str:
                name = f"i{len(self.namespace)}"
                self.namespace[name] = np.asarray(source_rows, dtype=np.intp)
                return f"{array}[{name}]"

            outer = _outer_views(operand_rows, arrays, gather)
            if outer is not None:  # an outer product (a dense layer): broadcast views, no gathered copies
                operand_texts, (n, m) = outer
                out = f"{'V' if translator.varies else 'S'}[{start}:{len(rows)}].reshape({n}, {m}, -1)"
            else:
                operand_texts = []
                for source_rows, array in zip(operand_rows, arrays):
                    text, index = _span(source_rows, array)
                    operand_texts.append(gather(source_rows, array) if index is not None else text)
            first, last, note = group.statements[0].name, group.statements[-1].name, group.statements[0].note
            if len(group.statements) > 1:
                shown = f"{len(group.statements)} × {note or 'statement'}: {first} … {last}"
            else:
                shown = f"{first} ({note})" if note else f"{first} = {group.template}"
            body.append(translator.text.format(*operand_texts, out=out) + f"  # {shown}")
        self.batch_rows = len(batch_row)
        self.scalar_rows = len(scalar_row)

        def locate(name: str) -> tuple[bool, int]:
            name = alias.get(name, name)
            if name in batch_row:
                return True, batch_row[name]
            return False, scalar_row[name]

        self.value_at = locate(value)
        self.outputs_at = [locate(name) for name in outputs]
        # the common case, every output a scalar: one gather and one tolist()
        self._scalar_outputs = (
            np.array([row for _, row in self.outputs_at], dtype=np.intp)
            if not any(is_batch for is_batch, _ in self.outputs_at)
            else None
        )
        self.groups = sum(not line.startswith("o = ") for line in body)  # the reads are not groups
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

    @property
    def buffers(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The arrays of batch rows and scalar rows kept from the last call (None before it)."""
        return None if self._buffers is None else self._buffers[1:]

    def fits(self, size: int) -> bool:
        """True when the batch arrays for ``size`` samples stay within the memory cap."""
        return self.batch_rows * size <= MAX_FLOATS

    def run(self, columns: Sequence[np.ndarray], leaves: Sequence[float], seed: float) -> tuple[Any, list[Any]]:
        """Values of the target (a fresh array, or a float) and of ``outputs``."""
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
        value = V[row].copy() if is_batch else float(S[row, 0])
        if self._scalar_outputs is not None:
            return value, S[self._scalar_outputs, 0].tolist()
        outputs = [float(S[r, 0]) if not b else V[r].copy() for b, r in self.outputs_at]
        return value, outputs
