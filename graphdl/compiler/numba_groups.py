"""numba on big graphs: one fixed machine-code interpreter of groups of like statements.

numba's compile time grows with every statement and every loop it compiles, so a graph
of thousands of statements cannot be its own kernel. Here the statements are grouped
(:func:`graphdl.compiler.groups.plan_groups`: same template, same depth) and each group's
template is lowered, node by node, to *instructions*: an operation (``+``, ``*``, ``where``,
a primitive's kernel code, ...) applied to ``n`` elements, whose operand and result slots
are listed in an index array. The kernels that run the instructions are the same for every
graph (their source never changes), so numba compiles them once per machine and keeps
them in the kernel cache; a new graph only builds its arrays (``code``, ``I``, ``M``, ``C``).

Each statement computes the same floating-point operations, in the same order, as the
straight-line kernel and the interpreter do (a template is evaluated operation by
operation, without reassociation or fused multiply-adds). The phases are those of the
straight-line kernels: what depends on no sample once (``hoisted``); per sample, the
values and gradients that vary (``forward``, ``backward``), each ``batch_sum`` argument
added to an accumulator (in fixed chunks, added in chunk order); then the gradients of
what does not vary (``after``), reading the sums.
"""

from __future__ import annotations

import math

import numpy as np

from graphdl.compiler import registry
from graphdl.compiler.groups import Group, plan_groups
from graphdl.compiler.ir import Program, Statement
from graphdl.compiler.symbolic import BINARY, COMPARISONS, NEG, NUMBER, REF, Expr, render

_JIT = 'njit(cache=True, error_model="numpy")'
_PARALLEL = 'njit(cache=True, error_model="numpy", parallel=True)'
#: Bumped when the interpreter's source changes.
VERSION = "2"
#: Samples a batch kernel runs together (one row of a block's array per slot); a batch's sums
#: are added per block in sample order, then block by block: the same for any thread count.
BLOCK = 32


class Unsupported(ValueError):
    """The program has a shape the grouped kernels do not handle (named in the message)."""


def _operations() -> list[tuple[str, int, str]]:
    """(operation, arity, kernel expression of ``a``, ``b``, ``c``) for every opcode."""
    found = [("copy", 1, "a")]
    found += [(symbol, 2, f"a {symbol} b") for symbol in BINARY]
    found.append((NEG, 1, "-a"))
    found += [(symbol, 2, f"1.0 if a {symbol} b else 0.0") for symbol in COMPARISONS]
    for name, code in sorted(registry.KERNEL_CODE.items()):
        if name == "batch_sum":
            continue
        arity = code.__code__.co_argcount
        found.append((name, arity, f"{name}({', '.join('abc'[:arity])})"))
    return found


OPERATIONS = _operations()
OPCODE = {name: k for k, (name, _, _) in enumerate(OPERATIONS)}
#: Layout of ``M`` (int64): instruction ranges of the phases, then offsets in ``I`` and sizes.
FIELDS = (
    "hoisted_lo hoisted_hi forward_lo forward_hi backward_lo backward_hi after_lo after_hi "
    "inputs leaves gradients sum_targets sum_sources constants "
    "shared n_inputs n_leaves n_gradients n_sums n_constants n_shared target seed slots"
).split()
_AT = {name: k for k, name in enumerate(FIELDS)}


def _with_sums_as_slots(expr: Expr, sums: dict[str, tuple[int, Expr]], new_slot: list[int]) -> Expr:
    """``expr`` with each ``batch_sum(e)`` replaced by a slot that will hold the sum of ``e``."""
    if expr.op == "batch_sum":
        key = render(expr.args[0], lambda leaf: f"v{leaf.slot}" if leaf.slot is not None else leaf.name)
        if key not in sums:
            sums[key] = (new_slot[0], expr.args[0])
            new_slot[0] += 1
        slot = sums[key][0]
        return Expr(f"t{slot}", slot)
    if not expr.args:
        return expr
    args = tuple(_with_sums_as_slots(a, sums, new_slot) for a in expr.args)
    return Expr(expr.name, op=expr.op, args=args, precedence=expr.precedence)


def _contains_sum(expr: Expr) -> bool:
    return expr.op == "batch_sum" or any(_contains_sum(a) for a in expr.args)


class GroupedKernels:
    """A program as instructions over groups: the arrays the fixed kernels take."""

    def __init__(self, program: Program) -> None:
        varies = program.varies
        next_slot = [len(program.names)]
        sums: dict[str, tuple[int, Expr]] = {}
        hoisted: list[Statement] = [s for s in program.forward if s.slot not in varies]
        forward = [s for s in program.forward if s.slot in varies]
        backward: list[Statement] = []
        after: list[Statement] = []
        after_slots: set[int] = set()
        for statement in program.backward:
            reads_sum = _contains_sum(statement.expr) or any(r in after_slots for r in statement.reads)
            if statement.slot in varies:
                if reads_sum:
                    raise Unsupported(f"a per-sample statement (slot {statement.slot}) reads a sum over the batch")
                backward.append(statement)
            elif reads_sum:
                expr = _with_sums_as_slots(statement.expr, sums, next_slot)
                after.append(Statement(statement.slot, expr, statement.role, statement.node, statement.note))
                after_slots.add(statement.slot)
            else:
                hoisted.append(statement)
        # each summed expression: a per-sample slot (a new statement unless it is a slot already)
        sum_targets: list[int] = []
        sum_sources: list[int] = []
        for slot, summed in sums.values():
            if summed.op == REF and summed.slot is not None:
                source = summed.slot
            else:
                source = next_slot[0]
                next_slot[0] += 1
                backward.append(Statement(source, summed, "part"))
            sum_targets.append(slot)
            sum_sources.append(source)
        self.slots = next_slot[0]
        self.constants: dict[str, tuple[int, float]] = {}
        self.index: list[int] = []
        self.code: list[tuple[int, ...]] = []
        alias: dict[int, int] = {}
        bounds: list[int] = []
        everything = list(range(self.slots))
        for statements in (hoisted, forward, backward, after):
            if statements is after:
                sum_sources = [alias.get(s, s) for s in sum_sources]
            alias, groups = plan_groups(statements, everything, [], lambda t, b: False, alias=alias)
            bounds.append(len(self.code))
            for group in groups:
                self._lower_group(group)
            bounds.append(len(self.code))

        def resolve(expr: Expr) -> int:
            if expr.slot is not None:
                return alias.get(expr.slot, expr.slot)
            return self._constant(expr)

        # the rows a block's samples share: what the per-sample instructions read but do not write
        per_sample = self.code[bounds[2] : bounds[5]]
        written = {*program.input_slots, *(slot for row in per_sample for slot in self._column(row[2], row[1]))}
        read = {slot for row in per_sample for offset in row[3:] for slot in self._column(offset, row[1])}
        read |= {*sum_sources, resolve(program.target)}
        shared = sorted(read - written)

        layout = {name: bound for name, bound in zip(FIELDS, bounds)}
        for name, where in (
            ("inputs", list(program.input_slots)),
            ("leaves", list(program.leaf_slots)),
            ("gradients", [resolve(g) for g in program.gradients]),
            ("sum_targets", sum_targets),
            ("sum_sources", sum_sources),
            ("constants", [slot for slot, _ in self.constants.values()]),
            ("shared", shared),
        ):
            layout[name] = self._listed(where)
        layout.update(
            n_shared=len(shared),
            n_inputs=len(program.input_slots),
            n_leaves=len(program.leaf_slots),
            n_gradients=len(program.gradients),
            n_sums=len(sum_targets),
            n_constants=len(self.constants),
            target=resolve(program.target),
            seed=program.seed_slot,
            slots=self.slots,
        )
        code = np.zeros((max(len(self.code), 1), 6), dtype=np.int64)
        for k, row in enumerate(self.code):
            code[k, : len(row)] = row
        #: The arguments every kernel takes last: instructions, index array, layout, constants.
        self.arrays = (
            code,
            np.asarray(self.index, dtype=np.int64),
            np.array([layout[name] for name in FIELDS], dtype=np.int64),
            np.array([value for _, value in self.constants.values()], dtype=np.float64),
        )
        self.instructions = len(self.code)
        self.statements = len(program.statements)

    def _column(self, offset: int, count: int) -> list[int]:
        return self.index[offset : offset + count]

    def _listed(self, slots: list[int]) -> int:
        """Append ``slots`` to the index array; their offset."""
        offset = len(self.index)
        self.index += slots
        return offset

    def _new_slots(self, count: int) -> list[int]:
        first = self.slots
        self.slots += count
        return list(range(first, first + count))

    def _constant(self, expr: Expr) -> int:
        """The slot holding a number of a statement (one slot per distinct number)."""
        value = expr.number if expr.op == NUMBER else {"inf": math.inf, "nan": math.nan}.get(expr.name)
        if value is None:
            raise Unsupported(f"the name {expr.name!r} in a statement")
        key = repr(float(value))
        if key not in self.constants:
            self.constants[key] = (self._new_slots(1)[0], float(value))
        return self.constants[key][0]

    def _lower_group(self, group: Group) -> None:
        """Instructions computing every statement of ``group``, its template node by node."""
        count = len(group.statements)
        operand_slots = list(zip(*group.operands)) if group.operands[0] else []
        outputs = [statement.slot for statement in group.statements]

        def emit(expr: Expr, into: list[int] | None) -> list[int]:
            if expr.op == REF and expr.slot is not None:
                column = list(operand_slots[expr.slot])
            elif not expr.args:
                column = [self._constant(expr)] * count
            else:
                arguments = [emit(arg, None) for arg in expr.args]
                name = expr.op
                if name not in OPCODE or OPERATIONS[OPCODE[name]][1] != len(arguments):
                    raise Unsupported(f"no grouped kernel code for {name!r}")
                column = into if into is not None else self._new_slots(count)
                self.code.append((OPCODE[name], count, self._listed(column), *map(self._listed, arguments)))
                return column
            if into is not None:  # the statement copies a number (or an operand)
                self.code.append((OPCODE["copy"], count, self._listed(into), self._listed(column)))
                return into
            return column

        emit(group.template.expr, outputs)


def kernel_source() -> str:
    """The interpreter's source: the same text for every graph."""
    at = _AT
    block_dispatch = []
    for k, (name, arity, formula) in enumerate(OPERATIONS):
        rows = "".join(f"; {x}r = I[{x}0 + j]" for x in "abc"[:arity])
        reads = "; ".join(f"{x} = W[{x}r, t]" for x in "abc"[:arity])
        block_dispatch += [
            f"        {'if' if k == 0 else 'elif'} op == {k}:  # {name}",
            "            for j in range(n):",
            f"                o = I[o0 + j]{rows}",
            "                for t in range(m):",
            f"                    {reads}",
            f"                    W[o, t] = {formula}",
        ]
    run_block = [
        f"@{_JIT}",
        "def run_block(W, m, code, I, lo, hi):",
        '    """Instructions lo..hi-1 for the m samples of a block (row = slot, column = sample)."""',
        "    for p in range(lo, hi):",
        "        op = code[p, 0]; n = code[p, 1]; o0 = code[p, 2]; a0 = code[p, 3]; b0 = code[p, 4]; c0 = code[p, 5]",
        *block_dispatch,
        "",
        "",
    ]

    def loop(what: str, count: str, line: str, indent: str = "    ") -> list[str]:
        return [
            f"{indent}for k in range(M[{at[count]}]):",
            f"{indent}    s = I[M[{at[what]}] + k]",
            f"{indent}    {line}",
        ]

    def phase(name: str, indent: str = "    ") -> str:
        """One phase on the slot array ``v``, seen as a block of one sample."""
        bounds = f"M[{at[name + '_lo']}], M[{at[name + '_hi']}]"
        return f"{indent}run_block(v.reshape((v.shape[0], 1)), 1, code, I, {bounds})"

    def start(indent: str = "    ") -> list[str]:
        return [
            *loop("constants", "n_constants", "v[s] = C[k]", indent),
            *loop("leaves", "n_leaves", "v[s] = leaves[k]", indent),
            phase("hoisted", indent=indent),
        ]

    def one_sample(inputs: str, indent: str = "    ") -> list[str]:
        return [
            *loop("inputs", "n_inputs", f"v[s] = {inputs}", indent),
            phase("forward", indent=indent),
            phase("backward", indent=indent),
            *loop("sum_targets", "n_sums", f"v[s] = v[I[M[{at['sum_sources']}] + k]]", indent),
            phase("after", indent=indent),
        ]

    target, seed, slots = f"M[{at['target']}]", f"M[{at['seed']}]", f"M[{at['slots']}]"
    out = [
        *registry.kernel_module_header(
            f"graphdl grouped machine-code kernels, version {VERSION}: the same for every graph"
        ),
        *run_block,
        f"@{_JIT}",
        "def sample(seed, inputs, leaves, code, I, M, C):",
        '    """Value and parameter gradients for one sample (seed = d(mean)/d(value))."""',
        f"    v = np.zeros({slots})",
        *start(),
        f"    v[{seed}] = seed",
        *one_sample("inputs[k]"),
        f"    grads = np.empty(M[{at['n_gradients']}])",
        *loop("gradients", "n_gradients", "grads[k] = v[s]"),
        f"    return v[{target}], grads",
        "",
        "",
        f"@{_JIT}",
        "def step(lr, inputs, leaves, code, I, M, C):",
        '    """One SGD step for one sample: the loss, and the leaves after the update."""',
        f"    v = np.zeros({slots})",
        *start(),
        f"    v[{seed}] = 1.0",
        *one_sample("inputs[k]"),
        "    leaves = leaves.copy()",
        *loop("gradients", "n_gradients", "leaves[k] = leaves[k] - lr * v[s]"),
        f"    return v[{target}], leaves",
        "",
        "",
        f"@{_JIT}",
        "def sgd(lr, columns, leaves, code, I, M, C):",
        '    """Per-sample SGD over the columns; returns the losses and the final leaves."""',
        "    leaves = leaves.copy()",
        "    count = columns[0].shape[0]",
        "    losses = np.empty(count)",
        f"    v = np.zeros({slots})",
        f"    v[{seed}] = 1.0",
        "    for i in range(count):",
        *start("        "),
        *one_sample("columns[k][i]", "        "),
        *loop("gradients", "n_gradients", "leaves[k] = leaves[k] - lr * v[s]", "        "),
        f"        losses[i] = v[{target}]",
        "    return losses, leaves",
    ]

    def block_start(indent: str) -> list[str]:
        """A block's array: the rows every sample shares (leaves, hoisted values, the seed) filled."""
        return [
            f"{indent}W = np.empty(({slots}, {BLOCK}))",
            *loop("shared", "n_shared", f"for t in range({BLOCK}):", indent),
            f"{indent}        W[s, t] = v[s]",
        ]

    def block_run(phases: tuple[str, ...], indent: str) -> list[str]:
        return [
            f"{indent}lo = block * {BLOCK}",
            f"{indent}m = min({BLOCK}, count - lo)",
            *loop("inputs", "n_inputs", "for t in range(m):", indent),
            f"{indent}        W[s, t] = columns[k][lo + t]",
            *[f"{indent}run_block(W, m, code, I, M[{at[name + '_lo']}], M[{at[name + '_hi']}])" for name in phases],
            f"{indent}for t in range(m):",
            f"{indent}    values[lo + t] = W[{target}, t]",
        ]

    for suffix, decorator, kind in (("", _JIT, "range"), ("_parallel", _PARALLEL, "prange")):
        serial = kind == "range"
        out += [
            "",
            "",
            f"@{decorator}",
            f"def gradient{suffix}(seed, columns, leaves, values, code, I, M, C):",
            f'    """Batch-mean gradient: blocks of {BLOCK} samples ({kind}), each block\'s sums added in '
            'sample order, the blocks\' in block order."""',
            "    count = columns[0].shape[0]",
            f"    blocks = (count + {BLOCK - 1}) // {BLOCK}",
            f"    n_sums = max(M[{at['n_sums']}], 1)",
            f"    v = np.zeros({slots})",
            *start(),
            f"    v[{seed}] = seed",
            "    partial = np.zeros((blocks, n_sums))",
            *(block_start("    ") if serial else []),
            f"    for block in {kind}(blocks):",
            *([] if serial else block_start("        ")),
            *block_run(("forward", "backward"), "        "),
            f"        for k in range(M[{at['n_sums']}]):",
            f"            s = I[M[{at['sum_sources']}] + k]",
            "            total = 0.0",
            "            for t in range(m):",
            "                total += W[s, t]",
            "            partial[block, k] = total",
            *loop("sum_targets", "n_sums", "v[s] = partial[0, k]"),
            "        for block in range(1, blocks):",
            "            v[s] = v[s] + partial[block, k]",
            phase("after"),
            f"    grads = np.empty(M[{at['n_gradients']}])",
            *loop("gradients", "n_gradients", "grads[k] = v[s]"),
            "    return grads",
            "",
            "",
            f"@{decorator}",
            f"def forward_values{suffix}(columns, leaves, values, code, I, M, C):",
            f'    """The target\'s value for every sample (blocks of {BLOCK} samples, {kind})."""',
            "    count = columns[0].shape[0]",
            f"    blocks = (count + {BLOCK - 1}) // {BLOCK}",
            f"    v = np.zeros({slots})",
            *start(),
            *(block_start("    ") if serial else []),
            f"    for block in {kind}(blocks):",
            *([] if serial else block_start("        ")),
            *block_run(("forward",), "        "),
        ]
    return "\n".join([*out, ""])
