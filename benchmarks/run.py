"""graphdl side by side with micrograd, hand-written numpy, PyTorch (eager and ``torch.compile``)
and JAX, each when installed.

    PYTHONPATH=. python benchmarks/run.py            # full run (many minutes), printed only
    PYTHONPATH=. python benchmarks/run.py --write    # ... and benchmarks/RESULTS.md rewritten
    PYTHONPATH=. python benchmarks/run.py --quick    # fewer micrograd steps, fewer rounds
    PYTHONPATH=. python benchmarks/run.py --only moons16,seed          # some workloads, printed
    PYTHONPATH=. python benchmarks/run.py --only e --write             # ... their sections updated in place

One process, one run: every ratio compares numbers measured here, now, with one thread for
every library (BLAS, OpenMP, XLA, PyTorch, numba; see ``bench_peers.pin_one_thread``). Prints a
Markdown table per workload and, with ``--write``, replaces benchmarks/RESULTS.md (tracked:
the README quotes it) with these tables and the machine's details, keeping the sections
other benchmark scripts wrote between their markers; with ``--only`` only the sections that
ran are replaced. Compiled kernels go to a fresh cache directory, so numba compile times are
cold ones. The machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as they are and
reported in the header.

Workloads (``--only`` names):
  a. the tutorial's x² net, figure 8's initialisation, 1500 per-sample SGD steps;
  b. the batch-mean gradient of the same net over N = 1 000 and 100 000 samples;
  c. micrograd's moons demo: MLP(2, [16, 16, 1]), hinge loss + 1e-4 L2, 100 steps;
  d. scaling with graph size (MLP width) and with batch size, compile times included;
  e. ``graphdl demo`` end to end;
  moons16, moons64, cold16, seed, batch, dag, compile64, example: issue 21's workloads against
  JAX, torch.compile, torch eager, hand numpy and micrograd in interleaved rounds, each result
  checked first (``side_by_side.py``), then a table of issue 21's targets, met or not.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bench_peers
import numpy as np
import side_by_side
from bench_models import (
    LR_A,
    STEPS_A,
    GraphMLP,
    HandNumpyBuffers,
    a_compiled_loop,
    a_interpreted,
    a_micrograd,
    a_setup,
    a_step,
    a_torch,
    c_micrograd,
    hand_numpy,
    initial_weights,
    make_moons,
    quiet_compile,
    seed_data,
)
from side_by_side import table

import graphdl
from graphdl.compiler import numba_runner
from graphdl.tutorial_net import FIG8_INIT, build_seed_net, quadratic_data

try:
    import micrograd
except ImportError:  # pragma: no cover - the comparison needs it
    micrograd = None
try:
    import torch
except ImportError:
    torch = None

OUT = Path(__file__).with_name("RESULTS.md")
HAS_NUMBA = numba_runner.available()
BACKENDS = ("numpy", "numba") if HAS_NUMBA else ("numpy",)


# ----------------------------------------------------------------- utilities
def best_time(function: Callable[[], object], repeats: int = 7, budget: float = 3.0) -> float:
    """Median wall time of ``function()`` over up to ``repeats`` runs (at least 3; fewer past ``budget`` s)."""
    times = []
    started = time.perf_counter()
    for k in range(repeats):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
        if k >= 2 and time.perf_counter() - started > budget:
            break
    return statistics.median(times)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = function()
    return time.perf_counter() - t0, result


def torch_fastest(measure: Callable[[], float]) -> float:
    """``measure()`` with PyTorch's default threads and with one thread; the faster (on a busy
    shared machine, threads waiting for each other can cost PyTorch 10x on small tensors)."""
    default = torch.get_num_threads()
    first = measure()
    torch.set_num_threads(1)
    try:
        return min(first, measure())
    finally:
        torch.set_num_threads(default)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ------------------------------------------------------------ workload A


def a_compiled(setup, xs, ys):
    net, compiled = setup
    net.initialise("fig8")
    x, label, params = net.x, net.label, net.params
    backward = compiled.backward
    for x_value, y_value in zip(xs, ys):
        backward({x: x_value, label: y_value})
        for param in params:
            param.update(LR_A)
    return [p.value for p in params]


def workload_a() -> tuple[str, dict[str, float]]:
    xs, ys = seed_data()
    reference = a_interpreted(xs, ys)
    times: dict[str, float] = {}
    deviations: dict[str, float] = {}

    def measure(key: str, function: Callable[[], list[float]], budget: float = 4.0) -> None:
        final = function()
        deviations[key] = max(abs(a - b) for a, b in zip(final, reference))
        assert deviations[key] < 1e-9, f"{key} ends {deviations[key]:.2e} away from the interpreter's parameters"
        times[key] = best_time(function, repeats=7, budget=budget) / STEPS_A

    measure("interpreted", lambda: a_interpreted(xs, ys))
    for backend in BACKENDS:
        setup = a_setup(backend)
        measure(f"backward/{backend}", lambda s=setup: a_compiled(s, xs, ys))
        measure(f"step/{backend}", lambda s=setup: a_step(s, xs, ys))
        measure(f"sgd/{backend}", lambda s=setup: a_compiled_loop(s, xs, ys), budget=2.0)
    if micrograd is not None:
        measure("micrograd", lambda: a_micrograd(xs, ys), budget=6.0)
    if torch is not None:
        final = a_torch(xs, ys)
        deviations["torch"] = max(abs(a - b) for a, b in zip(final, reference))
        assert deviations["torch"] < 1e-9, f"torch ends {deviations['torch']:.2e} away from the interpreter"
        times["torch"] = torch_fastest(lambda: best_time(lambda: a_torch(xs, ys), repeats=7, budget=6.0)) / STEPS_A
    mg = times.get("micrograd")

    def cell(key: str) -> str:
        if key not in times:
            return "—"
        ratio = f" ({mg / times[key]:.0f}× micrograd)" if mg else ""
        return fmt_time(times[key]) + ratio

    rows = [["graphdl interpreted (seed API: set_value, forward, get_grad, update, clear)", cell("interpreted"), ""]]
    for label, key in [
        ("graphdl compiled: `c.backward(feed)` + `p.update(lr)` per step", "backward"),
        ("graphdl compiled: `c.step(feed, lr)` per step", "step"),
        ("graphdl compiled SGD loop: `c.sgd(feed, lr)` (one generated loop)", "sgd"),
    ]:
        rows.append([label, *(cell(f"{key}/{backend}") for backend in ("numpy", "numba"))])
    if mg:
        rows.append(["micrograd (LeakyReLU and abs built from relu)", cell("micrograd"), ""])
    if torch is not None:
        rows.append([f"PyTorch {torch.__version__} CPU, 0-dim float64 tensors", cell("torch"), ""])
    worst = max(deviations.values())
    text = table(["implementation (time per step)", "numpy backend", "numba backend"], rows)
    text += (
        f"\n\nEvery run ends at most {worst:.1e} away from the interpreter's parameters (checked < 1e-9). "
        "Compiling (and numba's kernels) happens before the timings; see D for compile times."
    )
    return text, times


# ------------------------------------------------------------ workload B


def batch_timings(n: int) -> dict[str, float]:
    """Seconds per mean-gradient evaluation of the seed net over ``n`` samples."""
    xs, ys = quadratic_data(n, seed=1)
    net = build_seed_net()
    net.initialise("fig8")
    feed = {net.x: xs, net.label: ys}

    def interpreted():
        net.x.set_value(xs)
        net.label.set_value(ys)
        net.loss.backward()

    mean, hand_grads = hand_numpy(xs, ys, *FIG8_INIT)
    buffered = HandNumpyBuffers(n)
    buffered_mean, buffered_grads = buffered(xs, ys, *FIG8_INIT)
    assert abs(buffered_mean - mean) < 1e-12 and max(abs(a - b) for a, b in zip(buffered_grads, hand_grads)) < 1e-12
    budget = 2.0
    result = {
        "interpreted": best_time(interpreted, budget=budget),
        "numpy": best_time(lambda: hand_numpy(xs, ys, *FIG8_INIT), budget=budget),
        "numpy out=": best_time(lambda: buffered(xs, ys, *FIG8_INIT), budget=budget),
    }
    for backend in BACKENDS:
        compiled = quiet_compile(net.loss, [net.x, net.label], backend)
        assert abs(compiled.backward(feed) - mean) < 1e-12
        grads = {p: p.grad for p in net.params}
        assert max(abs(grads[p] - g) for p, g in zip(net.params, hand_grads)) < 1e-12, f"{backend}: grads differ"
        result[backend + " backend"] = best_time(lambda c=compiled: c.backward(feed), budget=budget)
    if torch is not None:
        tx, ty = torch.from_numpy(xs), torch.from_numpy(ys)
        params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in FIG8_INIT]
        w11, w12, b11, b12, w21, w22, b21 = params
        leaky = torch.nn.functional.leaky_relu

        def torch_batch():
            out = leaky(tx * w11 + b11, 0.1) * w21 + leaky(tx * w12 + b12, 0.1) * w22 + b21
            loss = torch.abs(ty - out).mean()
            grads = torch.autograd.grad(loss, params)
            return loss, grads

        result["torch"] = torch_fastest(lambda: best_time(torch_batch, budget=budget))
    return result


def workload_b() -> tuple[str, dict[str, float]]:
    rows, numbers = [], {}
    for n in (1_000, 100_000):
        times = batch_timings(n)

        def cell(key: str, times=times, n=n) -> str:
            if key not in times:
                return "—"
            seconds = times[key]
            return f"{fmt_time(seconds)} ({n / seconds:.2g}/s, {times['numpy out='] / seconds:.2f}× numpy out=)"

        rows.append(
            [f"{n:,}", "graphdl compiled batch (`c.backward(feed)`)", cell("numpy backend"), cell("numba backend")]
        )
        for name, label in [
            ("interpreted", "graphdl interpreted batch (`set_value(array)`, `backward()`)"),
            ("numpy", "hand-written numpy forward + backward (plain expressions)"),
            ("numpy out=", "hand-written numpy with preallocated `out=` buffers"),
            ("torch", "PyTorch batched autograd"),
        ]:
            if name in times:
                rows.append([f"{n:,}", label, cell(name), ""])
        for key, seconds in times.items():
            numbers[f"{key}@{n}"] = seconds
    text = table(["N", "implementation (time per gradient)", "numpy backend", "numba backend"], rows)
    return text, numbers


# ------------------------------------------------------------ workload C


def compiled_mlp(model: GraphMLP, mode: str):
    """``model.loss`` compiled for ``mode``: a backend name, or "per-node" (the numpy backend
    without grouping: one numpy call per node, the program graphdl 0.1 ran)."""
    compiled = quiet_compile(model.loss, model.inputs, "numpy" if mode == "per-node" else mode)
    if mode == "per-node":
        compiled.grouping = False
    return compiled


def c_graphdl(init, points, labels, steps: int, mode: str):
    """Seconds per step, final accuracy, final parameters, backend used, compile seconds."""
    model = GraphMLP(init)
    feed = model.feed(points, labels)
    compiled, compile_seconds, backend = None, 0.0, "interpreted"
    if mode != "interpreted":
        compile_seconds, compiled = timed(lambda: compiled_mlp(model, mode))
        backend = compiled.backend
        first, _ = timed(lambda: compiled.backward(feed))  # builds the batch program / numba kernel
        compile_seconds += first
    started = time.perf_counter()
    for k in range(steps):
        lr = 1.0 - 0.9 * k / 100
        if compiled is not None:
            compiled.backward(feed)
        else:
            for variable, values in feed.items():
                variable.set_value(values)
            model.loss.backward()
        for p in model.params:
            p.update(lr)
        if compiled is None:
            model.loss.clear()
    elapsed = time.perf_counter() - started
    scorer = graphdl.compile(model.score, inputs=model.x)
    scores = scorer.forward({x: feed[x] for x in model.x})
    accuracy = float(np.mean((scores > 0) == (labels > 0)))
    return elapsed / steps, accuracy, [p.value for p in model.params], backend, compile_seconds


def c_torch(init, points, labels, steps: int):
    layers = []
    for layer in init:
        weights = torch.tensor([w for w, _ in layer], dtype=torch.float64, requires_grad=True)
        biases = torch.tensor([b for _, b in layer], dtype=torch.float64, requires_grad=True)
        layers.append((weights, biases))
    params = [t for pair in layers for t in pair]
    data, y = torch.from_numpy(points), torch.from_numpy(labels)

    def scores_of(h):
        for depth, (weights, biases) in enumerate(layers):
            h = h @ weights.T + biases
            if depth < len(layers) - 1:
                h = torch.relu(h)
        return h[:, 0]

    started = time.perf_counter()
    for k in range(steps):
        loss = torch.relu(1 - y * scores_of(data)).mean() + 1e-4 * sum((p * p).sum() for p in params)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= (1.0 - 0.9 * k / 100) * g
    elapsed = time.perf_counter() - started
    with torch.no_grad():
        accuracy = float(((scores_of(data) > 0) == (y > 0)).double().mean())
    return elapsed / steps, accuracy


def workload_c(micrograd_steps: int) -> tuple[str, dict[str, float]]:
    points, labels = make_moons()
    init = initial_weights([2, 16, 16, 1])
    numbers: dict[str, float] = {}
    interp_step, interp_acc, interp_params, _, _ = c_graphdl(init, points, labels, 100, "interpreted")
    numbers.update(interpreted=interp_step, accuracy=interp_acc)
    runs = {}
    for mode in ("per-node", *BACKENDS):
        step, acc, params, backend, compile_seconds = c_graphdl(init, points, labels, 100, mode)
        deviation = max(abs(a - b) for a, b in zip(params, interp_params))
        assert deviation < 1e-9, f"{mode}: compiled and interpreted moons runs differ by {deviation:.2e}"
        runs[mode] = (step, acc, backend, compile_seconds, deviation)
        numbers[mode] = step
        numbers[f"compile {mode}"] = compile_seconds
        numbers[f"backend {mode}"] = backend  # type: ignore[assignment]
    model = GraphMLP(init)
    feed = model.feed(points, labels)
    compiled = compiled_mlp(model, "numpy")
    numbers["numpy backward only"] = best_time(lambda: compiled.backward(feed), budget=2.0)
    numbers["numpy updates only"] = best_time(lambda: [p.update(0.0) for p in model.params], budget=2.0)
    mg_step = None
    notes = []
    if micrograd is not None:
        mg_step, mg_acc, mg_params = c_micrograd(init, points, labels, micrograd_steps)
        _, _, reference, _, _ = c_graphdl(init, points, labels, micrograd_steps, "numpy")
        mg_deviation = max(abs(a - b) for a, b in zip(mg_params, reference))
        notes.append(
            f"micrograd ran {micrograd_steps} steps (accuracy {mg_acc:.0%}); its parameters differ from graphdl's "
            f"after the same steps by at most {mg_deviation:.1e}."
        )
        numbers.update(micrograd=mg_step, mg_accuracy=mg_acc)
    torch_step = None
    if torch is not None:
        accuracies = []

        def torch_run() -> float:
            step, accuracy = c_torch(init, points, labels, 100)
            accuracies.append(accuracy)
            return step

        torch_step, torch_acc = torch_fastest(torch_run), min(accuracies)
        numbers["torch"] = torch_step

    def vs(seconds: float) -> str:
        parts = []
        if mg_step:
            parts.append(f"{mg_step / seconds:.0f}× micrograd")
        if torch_step:
            parts.append(f"{torch_step / seconds:.2f}× PyTorch")
        return f"{fmt_time(seconds)} ({', '.join(parts)})" if parts else fmt_time(seconds)

    def run_cell(mode: str) -> str:
        if mode not in runs:
            return "—"
        step, acc, backend, compile_seconds, _ = runs[mode]
        used = "" if backend == mode or mode == "per-node" else f" [fell back to {backend}]"
        return f"{vs(step)}, accuracy {acc:.0%}, compile {fmt_time(compile_seconds)}{used}"

    rows = [
        ["graphdl compiled batch (`c.backward(feed)`)", run_cell("numpy"), run_cell("numba")],
        ["graphdl compiled, per-node numpy program (graphdl 0.1, before grouping)", run_cell("per-node"), ""],
        ["graphdl interpreted batch", f"{vs(interp_step)}, accuracy {interp_acc:.0%}", ""],
    ]
    if mg_step:
        rows.append([f"micrograd ({micrograd_steps} steps)", vs(mg_step), ""])
    if torch_step:
        rows.append([f"PyTorch {torch.__version__} batched", f"{vs(torch_step)}, accuracy {torch_acc:.0%}", ""])
    worst = max(run[4] for run in runs.values())
    notes.insert(0, f"Every graphdl run ends at most {worst:.1e} from the interpreter's parameters (max |Δ param|).")
    text = table(["implementation (time per step, 100 steps)", "numpy backend", "numba backend"], rows)
    return text + "\n\n" + " ".join(notes), numbers


# ------------------------------------------------------------ workload D
def numba_compile_scaling(widths: tuple[int, ...]) -> tuple[str, list[tuple[int, float, float]]]:
    """Cold numba compile time of the one-sample kernel and the batch-gradient kernel against
    the number of statements (kernels built directly, past the backend's size limit)."""
    points, labels = make_moons()
    rows, samples = [], []
    for width in widths:
        model = GraphMLP(initial_weights([2, width, width, 1]))
        compiled = quiet_compile(model.loss, model.inputs, "numpy")
        program = compiled.program
        statements = len(program.statements)
        kernels = numba_runner.NumbaRunner(program)
        leaves = [p.value for p in program.leaves]
        one = [float(points[0, 0]), float(points[0, 1]), float(labels[0])]
        columns = [np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1]), labels]
        sample_seconds, _ = timed(functools.partial(kernels.backward, one, leaves, None))
        gradient_seconds, _ = timed(functools.partial(kernels.backward, columns, leaves, len(labels)))
        t0 = time.perf_counter()
        numba_runner.NumbaRunner(program).backward(one, leaves, None)  # the same source: loaded from disk
        load_seconds = time.perf_counter() - t0
        samples.append((statements, sample_seconds, gradient_seconds))
        rows.append(
            [
                f"MLP(2, [{width}, {width}, 1])",
                f"{statements:,}",
                fmt_time(sample_seconds),
                fmt_time(gradient_seconds),
                f"{1e3 * (sample_seconds + gradient_seconds) / statements:.1f} ms",
                fmt_time(load_seconds),
            ]
        )
    header = ["net", "statements", "one-sample kernel", "batch-gradient kernel", "per statement", "cached load"]
    return table(header, rows), samples


def workload_d(micrograd_widths: tuple[int, ...], numba_widths: tuple[int, ...]) -> tuple[str, dict[str, float]]:
    points, labels = make_moons()
    rows, numbers = [], {}
    for width in (2, 4, 8, 16, 32, 64):
        init = initial_weights([2, width, width, 1])
        build_seconds, model = timed(lambda i=init: GraphMLP(i))
        feed = model.feed(points, labels)
        nodes = len(model.loss.ancestors())
        cells = {}
        for mode in ("numpy", "per-node", *(["numba"] if HAS_NUMBA else [])):
            compile_seconds, compiled = timed(lambda m=model, mode=mode: compiled_mlp(m, mode))
            first, _ = timed(lambda c=compiled, f=feed: c.backward(f))
            step = best_time(lambda c=compiled, f=feed: c.backward(f), budget=2.0)
            used = compiled.backend if mode != "per-node" else "per-node"
            cells[mode] = (compile_seconds, first, step, used)
            numbers[f"{mode} step@{width}"] = step
            numbers[f"{mode} compile@{width}"] = compile_seconds + first
            numbers[f"{mode} codegen@{width}"] = compile_seconds
        statements = len(compiled.program.statements)
        grouped = cells["numpy"]
        groups = quiet_compile(model.loss, model.inputs, "numpy").batch_program(100).groups

        def interpreted(m=model, f=feed):
            for variable, values in f.items():
                variable.set_value(values)
            m.loss.backward()

        interp_step = best_time(interpreted, repeats=3, budget=3.0)
        mg = "—"
        if micrograd is not None and width in micrograd_widths:
            mg = fmt_time(c_micrograd(init, points, labels, 1)[0])
        numba_cell = "—"
        if "numba" in cells:
            compile_seconds, first, step, used = cells["numba"]
            numba_cell = (
                f"{fmt_time(step)}, compile {fmt_time(compile_seconds + first)}"
                if used == "numba"
                else "numpy (above the size limit)"
            )
        rows.append(
            [
                f"MLP(2, [{width}, {width}, 1])",
                f"{nodes:,} / {statements:,} / {groups}",
                fmt_time(build_seconds),
                f"{fmt_time(grouped[2])}, compile {fmt_time(grouped[0])} + {fmt_time(grouped[1])}",
                fmt_time(cells["per-node"][2]),
                numba_cell,
                fmt_time(interp_step),
                mg,
            ]
        )
        numbers[f"nodes@{width}"] = nodes
        numbers[f"statements@{width}"] = statements
    width_table = table(
        [
            "net (100 moons points)",
            "nodes / statements / numpy groups",
            "build",
            "numpy backend step, compile + first batch",
            "per-node numpy (0.1)",
            "numba backend step, compile",
            "interpreted step",
            "micrograd step",
        ],
        rows,
    )
    scaling_text = ""
    if HAS_NUMBA and numba_widths:
        scaling_text, samples = numba_compile_scaling(numba_widths)
        numbers["numba per statement"] = statistics.median((a + b) / n for n, a, b in samples)
        scaling_text = (
            "Cold numba compile time against graph size (straight-line kernels, fresh cache; the backend "
            f"runs one grouped kernel above {numba_runner.MAX_STATEMENTS} statements):\n\n" + scaling_text
        )
    rows = []
    for n in (1, 10, 100, 1_000, 10_000, 100_000):
        times = batch_timings(n)
        keys = [f"{b} backend" for b in BACKENDS] + ["interpreted", "numpy", "numpy out="]
        rows.append([f"{n:,}"] + [f"{fmt_time(times[k])} ({n / times[k]:.2g}/s)" for k in keys])
    batch_table = table(
        ["batch size (seed net)", *(f"{b} backend" for b in BACKENDS), "interpreted", "hand numpy", "hand numpy out="],
        rows,
    )
    return "\n\n".join(part for part in (width_table, scaling_text, batch_table) if part), numbers


# ---------------------------------------------------------------- targets
def targets_table(a: dict, b: dict, c: dict, d: dict) -> str:
    """Each target of issue 13 next to what this run measured."""
    rows = []

    def row(target: str, measured: str, met: bool | None, why: str = "") -> None:
        verdict = "—" if met is None else ("met" if met else "not met")
        rows.append([target, measured, verdict + (f": {why}" if why else "")])

    mg = a.get("micrograd")
    if mg:
        ratio = mg / a["step/numpy"]
        why = (
            f"the generated step costs about what one sample of `c.sgd` costs ({fmt_time(a['sgd/numpy'])}); the "
            f"other {fmt_time(a['step/numpy'] - a['sgd/numpy'])} are the feed check, reading the parameters and "
            "writing them back (one `assign_values` call that marks the step for the core)"
        )
        row("compiled per-sample step ≥ 30× micrograd (numpy backend, `c.step`)", f"{ratio:.0f}×", ratio >= 30, why)
        ratio = mg / a["sgd/numpy"]
        row("`c.sgd` loop on the Python backend vs micrograd (floor ≈ 180×)", f"{ratio:.0f}×", None)
    if "sgd/numba" in a:
        per_sample = a["sgd/numba"]
        ratio = f", {mg / per_sample:.0f}× micrograd" if mg else ""
        row("seed net `sgd` ≤ 0.15 µs per sample (numba)", f"{fmt_time(per_sample)}{ratio}", per_sample <= 0.15e-6)
    if "numba backend@100000" in b:
        ratio = b["numpy out=@100000"] / b["numba backend@100000"]
        row("batch gradient at N = 10⁵ ≥ 1× numpy with `out=` buffers (numba)", f"{ratio:.2f}×", ratio >= 1)
    ratio = b["numpy@100000"] / b["numpy backend@100000"]
    interp = b["interpreted@100000"] / b["numpy backend@100000"]
    row(
        "batch gradient at N = 10⁵ ≥ 1× plain hand numpy and ≥ our interpreter (numpy backend)",
        f"{ratio:.2f}× hand numpy, {interp:.2f}× interpreter",
        ratio >= 1 and interp >= 1,
    )
    if "torch" in c:
        for mode in BACKENDS:
            used = c[f"backend {mode}"]
            ratio = c["torch"] / c[mode]
            note = "" if used == mode else f"ran the {used} backend"
            if mode == "numpy" and ratio < 1:
                note = (
                    f"`c.backward` alone takes {fmt_time(c['numpy backward only'])}; the step's 337 `p.update(lr)` "
                    f"calls take {fmt_time(c['numpy updates only'])} (PyTorch updates 6 tensors)"
                )
            row(
                f"moons MLP(2, [16, 16, 1]) step faster than PyTorch ({mode} backend)",
                f"{ratio:.2f}×",
                ratio >= 1,
                note,
            )
    if HAS_NUMBA:
        target = "first numba compile of MLP(2, [16, 16, 1]) ≤ 5 s (compile + first batch, cold cache)"
        if c["backend numba"] == "numba":
            seconds = c["compile numba"]
            row(target, fmt_time(seconds), seconds <= 5, "" if seconds <= 5 else "numba's typing and lowering")
        else:
            row(target, "numba not used (size limit)", False)
        per = d.get("numba per statement")
        if per:
            row(
                "how numba's compile time grows (straight-line kernels)",
                f"≈ {1e3 * per:.0f} ms per statement; one grouped kernel above {numba_runner.MAX_STATEMENTS}",
                None,
            )
    ratio = d["per-node step@64"] / d["numpy step@64"]
    row("MLP(2, [64, 64, 1]) step ≥ 5× faster than the per-node numpy program", f"{ratio:.1f}×", ratio >= 5)
    seconds = d["numpy compile@64"]
    row(
        f"compile of the {d['nodes@64']:,.0f}-node MLP(2, [64, 64, 1]) ≤ 0.3 s (numpy; + first batch)",
        fmt_time(seconds),
        seconds <= 0.3,
        ""
        if seconds <= 0.3
        else (
            f"`graphdl.compile` (generating the {d['statements@64']:,.0f} statements from the formulas) takes "
            f"{fmt_time(d['numpy codegen@64'])}; grouping them and the first batch "
            f"{fmt_time(seconds - d['numpy codegen@64'])}"
        ),
    )
    return table(["target", "measured", "verdict"], rows)


# ------------------------------------------------- E. the demo end to end
DEMO_TITLE = "E. `graphdl demo` end to end (issue 11)"
ISSUE_21_TITLE = "Targets (issue 21): side by side with JAX and torch.compile, 1 thread each"
DEMO_CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from graphdl.demo import run_demo
result = run_demo(sys.argv[1], steps=int(sys.argv[2]), every=int(sys.argv[3]) or None, progress=False)
usage = resource.getrusage(resource.RUSAGE_SELF)
try:  # this process's own high-water mark (ru_maxrss would include the parent's, kept across exec)
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
except (OSError, IndexError):
    peak = usage.ru_maxrss / 1024
print(json.dumps({"wall_parts": result.timings, "cpu_parts": result.cpu_timings, "wall": time.perf_counter() - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": peak, "notes": result.notes}))
"""


def demo_end_to_end(runs: tuple[tuple[int, int], ...] = ((1500, 0), (20000, 1))) -> str:
    """Run the demo in a fresh process per (steps, every) as a user would (every 0: the
    default), with the graph panel and a GIF; report each part's time, the CPU time
    (user + sys, the machine is shared) and the process's peak RSS."""
    import json
    import subprocess
    import tempfile

    rows = []
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for steps, every in runs:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            output = subprocess.run(
                [sys.executable, "-c", DEMO_CHILD, folder, str(steps), str(every)],
                capture_output=True, text=True, check=True, env=environment,
            ).stdout  # fmt: skip
            wall = time.perf_counter() - started
            measured = json.loads(output.strip().splitlines()[-1])
            gif = Path(folder, "training.gif").stat().st_size / 1e6
        cpu, parts = measured["cpu_parts"], measured["wall_parts"]
        names = ("training", "graph", "drawing", "encoding", "loss plot")
        times = " | ".join(f"{cpu[name]:.2f} s ({parts[name]:.2f} s)" for name in names)
        rows.append(
            f"| {steps} | {'default' if not every else every} → {parts['frames']:.0f} frames | {measured['cpu']:.1f} s "
            f"({wall:.1f} s) | {times} | {gif:.2f} MB | {measured['peak_mb']:.0f} MB |"
        )
    header = (
        "| --steps | --every | whole process | training | graph | drawing frames | encoding | loss plot | GIF | "
        "peak RSS |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    note = (
        "Times are CPU seconds of the demo's process (wall seconds in brackets): on a shared machine the wall "
        "times are inflated by other processes, the CPU times are what the demo itself used. Each run is "
        "`run_demo` in a fresh Python process (imports included in the whole-process figures; Graphviz's `dot` "
        "program runs as a child, outside the process's CPU time), graph panel on, GIF. `--every 1` with "
        "20000 steps asks for 20001 frames: the demo draws every 21st step (954 frames)."
    )
    return header + "\n" + "\n".join(rows) + "\n\n" + note


def merged_rows(old_section: str, new_table: str) -> str:
    """``new_table`` with the rows of the table in ``old_section`` that it does not replace
    (a row is identified by its first cell), old rows first, in their order."""
    new_lines = new_table.splitlines()
    new_rows = {line.split("|")[1].strip(): line for line in new_lines[2:] if line.startswith("|")}
    old_rows = [line for line in old_section.splitlines()[2:] if line.startswith("|") and "---" not in line][1:]
    rows = [new_rows.pop(line.split("|")[1].strip(), line) for line in old_rows]
    return "\n".join([*new_lines[:2], *rows, *new_rows.values()])


def write_sections(sections: list[tuple[str, str]], note: str) -> None:
    """Put each ``(heading, body)`` into RESULTS.md in place of the section whose heading starts
    the same way (up to its first ``:`` or ``.``), or before "What limits each path" when new;
    the rest of the file stays as it is. ``note`` (when and how this partial run was made)
    ends each section."""
    text = OUT.read_text(encoding="utf-8") if OUT.exists() else "# graphdl benchmarks\n"
    for heading, body in sections:
        section = f"## {heading}\n\n{body}\n\n{note}\n"
        key = "## " + re.split(r"(?<=[.:])", heading, maxsplit=1)[0]
        start = text.find(key)
        if start < 0:
            marker = text.find("## What limits each path")
            text = text + "\n" + section if marker < 0 else text[:marker] + section + "\n" + text[marker:]
        else:
            end = text.find("\n## ", start + 3)
            kept = text.find("\n<!-- ", start + 3)
            end = min(e for e in (end, kept, len(text)) if e >= 0)
            if heading == ISSUE_21_TITLE:  # the targets of the workloads that did not run stay
                section = f"## {heading}\n\n{merged_rows(text[start:end], body)}\n\n{note}\n"
            text = text[:start] + section + text[end:]
    OUT.write_text(text, encoding="utf-8")


def kept_sections() -> str:
    """The sections other benchmark scripts wrote into RESULTS.md between their own
    ``<!-- NAME: begin -->`` / ``<!-- NAME: end -->`` markers (``benchmarks/sweep.py``):
    a rewrite of the file keeps them."""
    if not OUT.exists():
        return ""
    blocks = re.finditer(r"<!-- (\S+): begin -->.*?<!-- \1: end -->\n", OUT.read_text(encoding="utf-8"), re.DOTALL)
    return "".join("\n" + block.group(0) for block in blocks)


# ------------------------------------------------------------------- main
SECTIONS = ("a", "b", "c", "d", "e")


def selected(only: str | None) -> list[str]:
    """The workloads ``--only`` names (all of them without it), in run order."""
    every = [*SECTIONS, *side_by_side.WORKLOADS]
    if not only:
        return every
    names = [name.strip().lower() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in every]
    if unknown:
        raise SystemExit(f"run.py: unknown workload {', '.join(unknown)}; choose from {', '.join(every)}")
    return [name for name in every if name in names]


def machine_state() -> dict[str, str]:
    """What the report says about how this run was made: the BLAS settings the machine left
    in the environment (never changed here), and the load from other processes."""
    blas = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return {
        "blas": ", ".join(f"{k}={v}" for k, v in blas.items()) or "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset",
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="fewer micrograd steps (workload C), fewer rounds and smaller cold runs"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also write benchmarks/RESULTS.md: the whole file for a full run, the sections that ran with --only",
    )
    parser.add_argument("--demo-only", action="store_true", help="time only `graphdl demo` (section E; = --only e)")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help=f"run only these workloads: {', '.join((*SECTIONS, *side_by_side.WORKLOADS))}",
    )
    args = parser.parse_args(argv)
    names = selected("e" if args.demo_only else args.only)
    partial = len(names) < len(SECTIONS) + len(side_by_side.WORKLOADS)
    pools = bench_peers.pin_one_thread()
    state_before = machine_state()
    os.environ["GRAPHDL_CACHE_DIR"] = tempfile.mkdtemp(prefix="graphdl-bench-kernels-")  # cold compiles
    started = time.perf_counter()
    sections: list[tuple[str, str]] = []

    def section(title: str, body: str) -> None:
        print(f"\n## {title}\n\n{body}", flush=True)
        sections.append((title, body))

    old: dict[str, dict] = {}
    if "a" in names:
        a_text, old["a"] = workload_a()
        section(f"A. Seed x² net, {STEPS_A} per-sample SGD steps (figure 8 init, LeakyReLU 0.1, lr {LR_A})", a_text)
    if "b" in names:
        b_text, old["b"] = workload_b()
        section("B. Batch-mean gradient of the seed net", b_text)
    if "c" in names:
        c_text, old["c"] = workload_c(micrograd_steps=10 if args.quick else 100)
        section("C. micrograd's moons demo: MLP(2, [16, 16, 1]), 100 points, hinge + 1e-4 L2", c_text)
    if "d" in names:
        d_text, old["d"] = workload_d(micrograd_widths=(4, 16), numba_widths=() if args.quick else (1, 2, 4, 6))
        section("D. Scaling: graph size (MLP width) and batch size", d_text)
    if "e" in names:
        section(DEMO_TITLE, demo_end_to_end())
    if all(name in old for name in "abcd"):
        section("Targets (issue 13), side by side", targets_table(old["a"], old["b"], old["c"], old["d"]))
    config = side_by_side.Config.quick_run() if args.quick else side_by_side.Config()
    results = {}
    for name in side_by_side.WORKLOADS:
        if name in names:
            results[name] = side_by_side.run_reported(name, config)
            section(f"F·{name}: {results[name].title}", results[name].text)
    if results:
        section(ISSUE_21_TITLE, side_by_side.targets_table(results))

    elapsed = time.perf_counter() - started
    state_after = machine_state()
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    if micrograd is not None:
        versions.append(f"micrograd {getattr(micrograd, '__version__', '0.1.0')}")
    versions.append(f"PyTorch {torch.__version__}" if torch is not None else "PyTorch not installed")
    jax = bench_peers.jax_module() if results else None
    versions.append(f"JAX {jax.__version__}" if jax is not None else "JAX not installed")
    if HAS_NUMBA:
        import numba

        versions.append(f"numba {numba.__version__}")
    load = (
        f"load average {state_before['load']} at the start, {state_after['load']} at the end, on {os.cpu_count()} cores"
    )
    busy = max(float(state_before["load"]), float(state_after["load"])) > 1.0
    how = (
        f"One thread for every library ({', '.join(f'{k}={v}' for k, v in bench_peers.ONE_THREAD_ENV.items())}, "
        "threadpoolctl limits, `torch.set_num_threads(1)`, `numba.set_num_threads(1)`); BLAS as the machine left "
        f"it ({state_before['blas']}); thread pools: {'; '.join(pools) or 'none found'}."
    )
    under_load = (
        f"**Measured under load** ({load}): other jobs shared the cores, so absolute times are inflated and "
        "noisy; the ratios come from interleaved rounds and are the figures to read, but rerun on a quiet machine "
        "before quoting them."
        if busy
        else f"Machine quiet ({load})."
    )
    if partial:
        command = f"`benchmarks/run.py --only {','.join(names)}{' --quick' if args.quick else ''}`"
        note = f"_Updated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by {command}; {load}._"
        if args.write:
            write_sections(sections, note)
            print(f"\nupdated {len(sections)} section(s) of {OUT} ({elapsed:.0f} s)")
        return
    header = "\n".join(
        [
            "# graphdl benchmarks",
            "",
            f"Measured {datetime.date.today().isoformat()} by `benchmarks/run.py`{' --quick' if args.quick else ''} "
            f"in one process ({elapsed:.0f} s): {cpu_model()}, {os.cpu_count()} cores; {', '.join(versions)}; "
            f"{platform.system()} {platform.machine()}. Times are medians of several runs on a shared machine "
            "(±30%); ratios come from the same run. The garbage collector is left on, as users have it.",
            "",
            how,
            "",
            under_load,
        ]
    )
    limits = "\n".join(
        [
            "## What limits each path",
            "",
            "- Interpreted: every node is a Python object visited through method calls: a few hundred ns per node "
            "per pass.",
            "- numpy backend, one sample: one generated Python function per step; `c.step` also updates the "
            "parameters inside it. What remains is the Python-level feed check and writing the parameters back.",
            "- numpy backend, batches: one numpy call per group of like statements (a dense layer's n_in × n_out "
            "products are one call), results written into arrays kept between calls of the same batch size; "
            "the cost is gathering operands and the numpy call overhead of the remaining groups. For big batches "
            "of small graphs the ungrouped statement-per-call program (same buffers) is used.",
            "- numba backend: the same statements as machine code; one sample costs a dispatch (~1 µs), `sgd` runs "
            "at the speed of the float arithmetic, batches run one fused loop per chunk of samples over the cores. "
            "The price is compile time, which grows with every statement, so big graphs stay on numpy.",
        ]
    )
    body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
    report = header + "\n\n" + body + "\n\n" + limits + "\n" + kept_sections()
    if args.write:
        OUT.write_text(report, encoding="utf-8")
        print(f"\nwrote {OUT} ({elapsed:.0f} s)")
    gc.collect()


if __name__ == "__main__":
    sys.exit(main())
