"""numba on big graphs: one fixed machine-code interpreter of groups of like operations.

numba's compile time grows with the code it compiles, so a graph of thousands of
statements cannot be its own kernel. Here the statements are lowered, node by node, to
*instructions*: an operation applied to ``n`` values at once (every such operation at one
depth of the data flow), whose operand and result rows are listed in an index array. The
kernel's text is the same for every graph, so numba compiles it once per machine (the
kernel cache keeps it) and a new graph only builds its arrays (``code``, ``I``, ``M``).

Values live in two arrays: ``S``, one float per row for what depends on no sample
(leaves, numbers, what is computed once per step such as an L2 penalty, the batch sums
and the gradients after them), and ``W``, one row per per-sample value with one column
per sample of a block. A dense layer (the lowering writes
each ``w * x`` into its sum) is one ``sum`` instruction: per output, per term, a loop over
the block's samples adding ``x * w``, the weight read once from ``S`` (an L2 penalty's long
sum too); a weight's gradient ``batch_sum(g * x)`` is a dot product of two rows per block.

Each statement computes the same floating-point operations, in the same order, as the
interpreter (``a + b * c`` rounded twice, never fused). A batch sum adds each block's
samples in four running sums, then the blocks in order: the same for any batch of that size.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np

from graphdl.compiler import registry
from graphdl.compiler.groups import Unsupported
from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.symbolic import BINARY, COMPARISONS, NEG, NUMBER, REF, Expr, sums_replaced

_JIT = 'njit(cache=True, error_model="numpy")'
#: Bumped when the kernel's source changes.
VERSION = "4"
#: Most samples a block holds (a batch is cut into equal blocks of at most this many).
BLOCK = 128


def _operations() -> list[tuple[str, int, str]]:
    """(operation, arity, kernel expression of ``a``, ``b``, ``c``) for every opcode."""
    found = [("copy", 1, "a"), ("sum", 1, "a")]  # sum: its own loop only
    found += [(symbol, 2, f"a {symbol} b") for symbol in BINARY]
    found.append((NEG, 1, "-a"))
    found += [(symbol, 2, f"1.0 if a {symbol} b else 0.0") for symbol in COMPARISONS]
    for name, code in sorted(registry.KERNEL_CODE.items()):
        if name != "batch_sum":
            arity = code.__code__.co_argcount
            found.append((name, arity, f"{name}({', '.join('abc'[:arity])})"))
    return found


OPERATIONS = _operations()
#: operation -> (opcode, arity)
ARITY = {name: (k, arity) for k, (name, arity, _) in enumerate(OPERATIONS)}
SUM = ARITY["sum"][0]
#: Operations with a loop of their own (the others go through ``apply``, one element at a time).
OWN_LOOPS = ("*", ">", "where")
#: Layout of ``M`` (int64): instruction ranges of the phases, offsets of row lists in ``I``, sizes.
#: Inputs are the first rows of ``W`` (then the seed), leaves the first rows of ``S``.
FIELDS = (
    "hoisted_lo hoisted_hi forward_lo forward_hi backward_lo backward_hi after_lo after_hi "
    "gradients sum_a sum_b shared_w shared_s n_gradients n_sums n_shared sums target"
).split()
_AT = {name: k for k, name in enumerate(FIELDS)}


class GroupedKernels:
    """A program as instructions: the arrays the fixed kernel takes (:attr:`arrays`),
    and the runner's methods, which call the kernel module's ``program``."""

    def __init__(self, program: Program) -> None:
        per_sample = {*program.varies, *program.input_slots, program.seed_slot}
        forward_slots = {s.slot for s in program.forward}
        statements = program.statements  # a dense layer's w * x is written into its sum by the lowering
        first = max([len(program.names), *(s.slot + 1 for s in statements)])  # the sums' slots, then parts
        sums: dict[str, tuple[int, Expr]] = {}
        phases: dict[str, list[Statement]] = {"hoisted": [], "forward": [], "backward": [], "after": []}
        after_slots: set[int] = set()
        for statement in statements:
            if statement.slot in per_sample:  # (one that reads a batch sum is refused by _lower)
                phases["forward" if statement.slot in forward_slots else "backward"].append(statement)
                continue
            expr = sums_replaced(statement.expr, sums, lambda k: Expr(f"t{first + k}", first + k))
            if expr is not statement.expr or (after_slots and not after_slots.isdisjoint(statement.reads)):
                phases["after"].append(Statement(statement.slot, expr, statement.role, statement.node))
                after_slots.add(statement.slot)
            else:
                phases["hoisted"].append(statement)
        # each sum: of a product of two per-sample slots, else of a slot (a new one when needed) times 1.0
        summed: list[tuple[int, int | None, int | None]] = []
        part = first + len(sums)
        for k, expr in sums.values():
            factors = list(expr.args) if expr.op == "*" else [expr]
            if not all(f.op == REF and f.slot is not None for f in factors):
                phases["backward"].append(Statement(part, expr, "part"))
                factors = [Expr("t", part)]
                part += 1
            summed.append((first + k, factors[0].slot, factors[1].slot if len(factors) > 1 else None))
        self.s_row = {slot: k for k, slot in enumerate(program.leaf_slots)}  # slot -> row of S
        self.w_row = {slot: k for k, slot in enumerate([*program.input_slots, program.seed_slot])}  # -> row of W
        self.counts = [len(self.s_row), len(self.w_row)]  # rows of S, of W
        self.shared: dict[int, int] = {}  # row of S -> the row of W that holds it for every sample
        self.constants: dict[str, tuple[int, float]] = {}  # number -> (row of S, number)
        self.index: list[int] = []
        self.code: list[tuple[int, ...]] = []
        bounds: list[int] = []
        for name, listed in phases.items():
            self.per_sample = name in ("forward", "backward")
            if name == "after":
                self.s_row.update((slot, self._new_row(False)) for slot, *_ in summed)
            bounds.append(len(self.code))
            self._lower(listed)
            bounds.append(len(self.code))
            if name == "backward":
                one = Expr("1.0", op=NUMBER, number=1.0)
                factor_rows = [[self._row(Expr("", f) if f is not None else one) for f in fs] for _, *fs in summed]
                target = self._row(program.target)
        layout = dict(zip(FIELDS, bounds))
        for name, rows in (
            ("gradients", [self._row(g) for g in program.gradients]),
            ("sum_a", [a for a, _ in factor_rows]),
            ("sum_b", [b for _, b in factor_rows]),
            ("shared_w", list(self.shared.values())),
            ("shared_s", list(self.shared)),
        ):
            layout[name] = len(self.index)  # rows listed in the index array, from this offset
            self.index += rows
        layout.update(
            n_gradients=len(program.gradients),
            n_sums=len(summed),
            n_shared=len(self.shared),
            sums=self.s_row[summed[0][0]] if summed else 0,  # the sums' rows of S follow each other
            target=target,
        )
        code = np.array(self.code or [(0,) * 7], dtype=np.int64)  # (numba needs a row to know the type)
        #: The arguments the kernel takes last: instructions, index array, layout.
        self.arrays = (
            code,
            np.asarray(self.index, dtype=np.int64),
            np.array([layout[k] for k in FIELDS], dtype=np.int64),
        )
        self._S, self._W = np.empty(self.counts[0]), np.empty((self.counts[1], 0))  # the kernel's rows, kept
        self._S[[row for row, _ in self.constants.values()]] = [number for _, number in self.constants.values()]

    def _new_row(self, of_w: bool) -> int:
        """A new row: of ``W``, else of ``S``."""
        self.counts[of_w] += 1
        return self.counts[of_w] - 1

    def _constant(self, value: Any) -> int:
        """The row of ``S`` holding a number of a statement, or of a leaf (one row per distinct number)."""
        if isinstance(value, Expr):
            value = value.number if value.op == NUMBER else value.name
        if isinstance(value, str) and value not in ("inf", "nan"):
            raise Unsupported(f"the name {value!r} in a statement")
        key = repr(float(value))
        if key not in self.constants:
            self.constants[key] = (self._new_row(False), float(value))
        return self.constants[key][0]

    def _row(self, expr: Expr) -> int:
        """The row holding leaf ``expr`` as an operand in the current phase (a value of ``S`` read
        per sample: its row of ``W``)."""
        rows, slot = self.w_row if self.per_sample else self.s_row, expr.slot
        if slot in rows:
            return rows[slot]
        if slot is not None and slot not in self.s_row:  # computed after the batch sums
            raise Unsupported(f"a per-sample statement reads a sum over the batch (slot {slot})")
        row = self.s_row[slot] if slot is not None else self._constant(expr)
        if self.per_sample and row not in self.shared:  # its row of W, the same for every sample
            self.shared[row] = self._new_row(True)
        return self.shared[row] if self.per_sample else row

    def _lower(self, statements: list[Statement]) -> None:
        """Instructions computing ``statements`` (one phase), node by node: the operations of a
        kind at the same depth of the phase's data flow are one instruction, and an operation's
        first computed argument is computed in the operation's own row."""
        per_sample, w_row, s_row, counts = self.per_sample, self.w_row, self.s_row, self.counts
        known: dict[Any, int] = {}
        row_of = w_row if per_sample else s_row
        # row -> depth of the instruction writing it (0: before); a phase makes at most two rows per tree node
        depth = [0] * (counts[per_sample] + 2 * sum(s.expr.size for s in statements) + 2)
        levels: Any = defaultdict(dict)  # per depth: op, or (SUM, K) -> per operation: its rows

        def term(expr: Expr) -> tuple[Expr, int] | None:
            """A term ``b * c`` of a sum, ``c`` in ``S`` (``b`` alone is ``b * 1.0``, exactly)."""
            if not expr.args:
                return expr, self._constant(1.0)
            if expr.op == "*" and not expr.args[0].args and not expr.args[1].args:
                for b, c in (expr.args, expr.args[::-1]):  # b * c is c * b, exactly
                    if c.op == NUMBER:
                        return b, self._constant(c)
                    if c.slot in s_row:
                        return b, s_row[c.slot]
            return None

        def emit(expr: Expr, out: int | None) -> int:
            """The row of computed ``expr``'s value, computed into row ``out`` (None: a new row)."""
            args: Any = expr.args
            key: Any
            row: Any
            if out is None:
                out = counts[per_sample]
                counts[per_sample] += 1
            key, arity = ARITY.get(expr.op, (-1, -1))
            if expr.op == "+" and (args[0].args or args[1].args) and (found := term(args[1])) is not None:
                terms, first = [found], args[0]  # a sum first + b_1 * c_1 + ... + b_K * c_K, left to right
                while first.op == "+" and (found := term(first.args[1])) is not None:
                    terms.append(found)
                    first = first.args[0]
                if len(terms) > 1 or args[1].args:  # rows: out, start, b rows, c rows
                    args = [first, *[b for b, _ in terms[::-1]]]
                    key, arity = (SUM, len(terms)), len(args)
            if arity != len(args):
                raise Unsupported(f"no grouped kernel code for {expr.op!r}")
            into: int | None
            rows, into, level = [out], out, 0  # the first computed argument into out
            for arg in args:
                if arg.args:
                    row, into = emit(arg, into), None
                elif (row := row_of.get(slot := arg.slot)) is None:  # (a leaf's row then kept for the phase)
                    if (row := known.get(leaf := arg.name if slot is None else slot)) is None:
                        row = known[leaf] = self._row(arg)
                rows.append(row)
                if depth[row] > level:
                    level = depth[row]
            depth[out] = level = level + 1
            if key.__class__ is tuple:
                rows += [c for _, c in terms[::-1]]
            if (bucket := levels[level].setdefault(key, rows)) is not rows:
                bucket += rows
            return out

        for statement in statements:
            expr = statement.expr
            if expr.args:
                row_of[statement.slot] = emit(expr, None)
            else:  # a copy (of a number too): the row of what it copies
                rows = w_row if expr.slot in w_row else s_row
                rows[statement.slot] = rows[expr.slot] if expr.slot is not None else self._constant(expr)
        for key, flat in (item for level in sorted(levels) for item in levels[level].items()):
            op, count = key if key.__class__ is tuple else (key, 0)
            width = 2 + 2 * count if count else 1 + OPERATIONS[op][1]
            n, at = len(flat) // width, len(self.index)
            for k in range(width):  # out, a (a sum: start), b, c rows (a sum: its K terms' b rows, c rows)
                self.index += flat[k::width]
            offsets = (0, 1, 2, 2 + count) if count else (*range(width), 1, 1, 1)[:4]  # o0 a0 b0 c0, in n
            self.code.append((op, n, *[at + k * n for k in offsets], count))

    def _run(self, module: Any, mode: int, rate: float, values: list[Any], leaves: Any) -> tuple[np.ndarray, Any]:
        columns = np.array(values, dtype=np.float64).reshape(len(values), -1)
        count = columns.shape[1]
        blocks = count if mode == 2 else -(-count // BLOCK)
        width = -(-count // blocks)
        rows = self._W if self._W.shape[1] == width else np.empty((self._W.shape[0], width))
        self._W, out = rows, np.empty(count)
        leaf_array = np.asarray(leaves, dtype=np.float64)
        return out, module.program(mode, rate, columns, leaf_array, out, self._S, rows, *self.arrays)

    def forward(self, module: Any, values: list[Any], leaves: list[float], size: int | None) -> Any:
        out = self._run(module, 0, 0.0, values, leaves)[0]
        return out if size is not None else float(out[0])

    def backward(self, module: Any, values: list[Any], leaves: list[float], size: int | None) -> Any:
        out, grads = self._run(module, 1, 1.0 / size if size else 1.0, values, leaves)
        return (out if size is not None else float(out[0])), grads

    def sgd(self, module: Any, lr: float, columns: list[Any], leaves: list[float]) -> Any:
        """Per-sample SGD over the columns (floats: one sample, a step): the losses, the leaves after it."""
        out, final = self._run(module, 2, lr, columns, leaves)
        return out, final.tolist()


_KERNEL = """
@JIT
def apply(op, a, b, c):
    \"\"\"One element of an instruction that has no loop of its own.\"\"\"
APPLY
    return a


@njit(cache=True, error_model="numpy", inline="always")
def run(W, S, m, code, I, lo, hi):
    \"\"\"Instructions lo..hi-1 on the m samples of a block (a row of W per value, a column per sample).\"\"\"
    for p in range(lo, hi):
        op, n, o0, a0, b0, c0, K = code[p, 0], code[p, 1], code[p, 2], code[p, 3], code[p, 4], code[p, 5], code[p, 6]
        if op == SUM:  # a + b_1 * c_1 + ... + b_K * c_K, each c in S
            for j in range(n):
                o, a = I[o0 + j], I[a0 + j]
                for t in range(m):
                    W[o, t] = W[a, t]
                for k in range(K):
                    b, s = I[b0 + k * n + j], S[I[c0 + k * n + j]]
                    for t in range(m):
                        W[o, t] += W[b, t] * s
OWN


@JIT
def program(mode, rate, X, leaves, values, S, W, code, I, M):
    \"\"\"mode 0: the target's value for each sample (a column of X) into values; 1: also the gradient
    of the sum of the values (the seed is rate), returned; 2: per-sample SGD at rate (values: the
    losses), returns the leaves after it. S and W: rows (W: a column per sample of a block).\"\"\"
    count = X.shape[1]
    blocks = count if mode == 2 else (count + BLOCK - 1) // BLOCK
    scalars = S.reshape((S.shape[0], 1))
    leaves = leaves.copy()
    out = np.zeros(M.n_gradients)
    for t in range(W.shape[1]):
        W[X.shape[0], t] = 1.0 if mode == 2 else rate  # the seed
    for task in range(3 * count if mode == 2 else blocks + 2):
        phase = task % 3 if mode == 2 else (0 if task == 0 else (2 if task == blocks + 1 else 1))
        block = task // 3 if mode == 2 else task - 1
        first = block * count // blocks
        m = (block + 1) * count // blocks - first if phase == 1 else 1
        if phase == 0:
            for k in range(leaves.shape[0]):
                S[k] = leaves[k]
            for k in range(M.n_sums):
                S[M.sums + k] = 0.0
            lo, hi = M.hoisted_lo, M.hoisted_hi
        elif phase == 1:
            for k in range(X.shape[0]):
                for t in range(m):
                    W[k, t] = X[k, first + t]
            lo, hi = M.forward_lo, M.backward_hi if mode else M.forward_hi
        else:
            lo, hi = M.after_lo, M.after_hi if mode else M.after_lo
        run(W if phase == 1 else scalars, S, m, code, I, lo, hi)
        if phase == 0:
            for k in range(M.n_shared):
                for t in range(W.shape[1]):
                    W[I[M.shared_w + k], t] = S[I[M.shared_s + k]]
        elif phase == 1:
            for t in range(m):
                values[first + t] = W[M.target, t]
            for k in range(M.n_sums if mode else 0):  # four running sums (sample t in t % 4), added in pairs
                a, b, q0, q1, q2, q3 = I[M.sum_a + k], I[M.sum_b + k], 0.0, 0.0, 0.0, 0.0
                for t in range(0, m - 3, 4):
                    q0 += W[a, t] * W[b, t]
                    q1 += W[a, t + 1] * W[b, t + 1]
                    q2 += W[a, t + 2] * W[b, t + 2]
                    q3 += W[a, t + 3] * W[b, t + 3]
                for t in range(m - m % 4, m):
                    q0 += W[a, t] * W[b, t]
                S[M.sums + k] += (q0 + q1) + (q2 + q3)
        elif mode:
            for k in range(M.n_gradients):
                out[k] = S[I[M.gradients + k]]
                if mode == 2:
                    leaves[k] = leaves[k] - rate * out[k]
    return leaves if mode == 2 else out
"""


def _loop(head: str, formula: str) -> str:
    """A branch of ``run``: the instruction's ``n`` operations, each on the block's ``m`` samples."""
    row = re.sub(r"\b([abc])\b", r"W[\1, t]", formula)
    return f"""        {head}
            for j in range(n):
                o, a, b, c = I[o0 + j], I[a0 + j], I[b0 + j], I[c0 + j]
                for t in range(m):
                    W[o, t] = {row}"""


def kernel_source() -> str:
    """The kernel's source: the same text for every graph."""
    apply, own = [], []
    for k, (name, _, formula) in enumerate(OPERATIONS):
        apply.append(f"    {'elif' if k else 'if'} op == {k}:  # {name}\n        return {formula}")
        if name in OWN_LOOPS:  # vectorised; each loop adds to numba's compile time
            own.append(_loop(f"elif op == {k}:  # {name}", formula))
    own.append(_loop("else:", "apply(op, a, b, c)"))
    text = _KERNEL.replace("@JIT", f"@{_JIT}").replace("APPLY", "\n".join(apply)).replace("OWN", "\n".join(own))
    text = text.replace("SUM", str(SUM)).replace("BLOCK", str(BLOCK))
    text = re.sub(r"M\.(\w+)", lambda found: f"M[{_AT[found.group(1)]}]", text)
    header = registry.kernel_module_header(f"graphdl grouped machine-code kernels, version {VERSION}: any graph")
    return "\n".join(header) + text
