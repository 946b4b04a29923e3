"""graphdl side by side with JAX, ``torch.compile``, PyTorch eager, hand-written numpy and
micrograd, on the workloads of issue 21, as ratios measured in one run.

How every workload is measured:
  * one thread for everyone (``bench_peers.pin_one_thread``: BLAS, OpenMP, XLA, torch, numba);
  * every implementation first runs the same steps from the same start, and its result must
    match the reference to 1e-6 (graphdl's compiled programs: the interpreter's, to 1e-12);
    one that does not is reported, not timed;
  * then interleaved rounds: each round times every contestant for a short burst, in a
    rotating order, so that a noisy neighbour slows everyone alike; the figure is the median
    over the rounds;
  * a peer that is not installed (JAX, PyTorch, micrograd, numba) is skipped and says so.

Workloads (``run.py --only NAME``): moons16, moons64, cold16, seed, batch, dag, compile64,
example. ``targets_table`` prints each target of issue 21 with its measured ratio.
Only graphdl's public API is used (``graphdl.compile``, ``c.step``, ``c.backward``,
``c.forward``, ``c.sgd``, ``p.update``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_models import (
    LR_A,
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
)
from bench_peers import (
    CHILD_ENV,
    JaxMLP,
    JaxSeedNet,
    NumpyMLP,
    TorchMLP,
    jax_dag_step,
    jax_module,
    torch_module,
    torch_seed_batch,
)

import graphdl
from graphdl import Add, Mul, Sub, Tanh, Variable
from graphdl.tutorial_net import FIG8_INIT, build_seed_net, quadratic_data

try:
    import micrograd
except ImportError:
    micrograd = None
HAS_NUMBA = importlib.util.find_spec("numba") is not None

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MOONS_LR = 0.05
PEER_TOLERANCE = 1e-6
INTERPRETER_TOLERANCE = 1e-12
WORKLOADS = ("moons16", "moons64", "cold16", "seed", "batch", "dag", "compile64", "example")


@dataclass
class Config:
    """Sizes and effort. ``small()`` is the graphdl-only configuration the tests run."""

    quick: bool = False
    peers: bool = True  # False: graphdl alone (no JAX, PyTorch, micrograd, hand numpy)
    backends: tuple[str, ...] = ("numpy", "numba") if HAS_NUMBA else ("numpy",)
    rounds: int = 7
    burst: float = 0.05  # seconds per contestant per round
    check_steps: int = 20
    moons_points: int = 100
    mlp_widths: dict[str, int] = field(default_factory=lambda: {"moons16": 16, "moons64": 64})
    seed_samples: int = 1500
    batch_samples: int = 100_000
    dag_nodes: int = 10_000
    subprocesses: bool = True  # cold starts, JAX on the DAG and the example run in fresh processes

    @classmethod
    def quick_run(cls) -> Config:
        return cls(quick=True, rounds=3, burst=0.02)

    @classmethod
    def small(cls) -> Config:
        return cls(
            peers=False,
            backends=("numpy",),
            rounds=1,
            burst=0.0,
            check_steps=2,
            moons_points=8,
            mlp_widths={"moons16": 2, "moons64": 3},
            seed_samples=20,
            batch_samples=50,
            dag_nodes=60,
            subprocesses=False,
        )


@dataclass
class Contestant:
    """One implementation: ``call()`` is one timed unit of ``steps`` steps; ``check()`` runs
    the agreed steps from the agreed start and returns the vector compared with the reference."""

    name: str
    call: Callable[[], object]
    check: Callable[[], Any]
    steps: int = 1
    graphdl: bool = False


@dataclass
class Outcome:
    seconds: float | None = None  # per step; None: not timed
    deviation: float | None = None
    first_call: float | None = None  # seconds of the check's first call (compiles, warms up)
    note: str = ""


@dataclass
class Result:
    title: str
    text: str
    numbers: dict[str, Any]


# ----------------------------------------------------------------- helpers
def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{type(error).__name__}: {text[:160]}".replace("|", "/")  # a table cell


def deviation(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def fresh_cache() -> str:
    """Point graphdl's kernel cache at a new empty directory (cold compiles) and return it."""
    folder = tempfile.mkdtemp(prefix="graphdl-bench-kernels-")
    os.environ["GRAPHDL_CACHE_DIR"] = folder
    return folder


def measure(
    contestants: Sequence[Contestant], reference: Any, config: Config, interpreter: Any = None
) -> dict[str, Outcome]:
    """Check every contestant against ``reference`` (graphdl's against ``interpreter`` when
    given, to 1e-12), then time those that agree in interleaved rounds."""
    outcomes: dict[str, Outcome] = {}
    timed: list[Contestant] = []
    for contestant in contestants:
        outcome = outcomes[contestant.name] = Outcome()
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                result = contestant.check()
        except Exception as error:  # a peer or a graphdl path that cannot run this workload
            outcome.note = f"not run: {short(error)}"
            continue
        outcome.first_call = time.perf_counter() - started
        against_interpreter = contestant.graphdl and interpreter is not None
        outcome.deviation = deviation(result, interpreter if against_interpreter else reference)
        if not outcome.deviation <= PEER_TOLERANCE:
            outcome.note = f"differs from the reference by {outcome.deviation:.1e} (> {PEER_TOLERANCE:g}): not timed"
            continue
        if against_interpreter and outcome.deviation > INTERPRETER_TOLERANCE:
            outcome.note = f"differs from the interpreter by {outcome.deviation:.1e} (> {INTERPRETER_TOLERANCE:g})"
        timed.append(contestant)
    samples: dict[str, list[float]] = {c.name: [] for c in timed}
    calls = {}
    for contestant in timed:
        t0 = time.perf_counter()
        contestant.call()
        calls[contestant.name] = max(1, int(config.burst / max(time.perf_counter() - t0, 1e-9)))
    for k in range(config.rounds):
        shift = k % max(len(timed), 1)
        for contestant in timed[shift:] + timed[:shift]:
            n, call = calls[contestant.name], contestant.call
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            samples[contestant.name].append((time.perf_counter() - t0) / n / contestant.steps)
    for name, values in samples.items():
        outcomes[name].seconds = statistics.median(values)
    return outcomes


def interpreter_deviation(contestants: Sequence[Contestant], outcomes: dict[str, Outcome]) -> float | None:
    """The largest difference between a graphdl contestant's checked result and the interpreter's."""
    found = [outcomes[c.name].deviation for c in contestants if c.graphdl]
    return max((d for d in found if d is not None), default=None)


def outcome_table(outcomes: dict[str, Outcome], baseline: str, unit: str, extra: dict[str, str] | None = None) -> str:
    """One row per contestant: time per ``unit``, speed relative to ``baseline`` (> 1: faster), the
    check's deviation and how long the check took (compiling included), and notes."""
    base = outcomes.get(baseline)
    base_seconds = base.seconds if base else None
    rows = []
    for name, outcome in outcomes.items():
        ratio = "—"
        if outcome.seconds and base_seconds:
            ratio = f"{base_seconds / outcome.seconds:.3g}×"
        check = "—" if outcome.deviation is None else f"{outcome.deviation:.0e}"
        first = fmt_time(outcome.first_call) if outcome.first_call is not None else "—"
        note = "; ".join(part for part in (outcome.note, (extra or {}).get(name, "")) if part)
        rows.append([name, fmt_time(outcome.seconds), ratio, check, first, note])
    header = [
        "implementation",
        f"time per {unit}",
        f"speed vs {baseline}" if base_seconds else "speed",
        "max Δ at the check",
        "check run (first call included)",
        "note",
    ]
    return table(header, rows)


def seconds_of(outcomes: dict[str, Outcome], *names: str) -> float | None:
    """The fastest measured time among ``names`` (None when none was timed)."""
    values = [outcomes[n].seconds for n in names if n in outcomes and outcomes[n].seconds]
    return min(values) if values else None


# ------------------------------------------------------------------ moons MLP
def interpreted_mlp(init, points, labels, steps: int, lr: float) -> np.ndarray:
    """Full-batch SGD steps of the interpreter (``set_value``, ``backward``, ``update``)."""
    model = GraphMLP(init)
    for _ in range(steps):
        for variable, values in model.feed(points, labels).items():
            variable.set_value(values)
        model.loss.backward()
        for p in model.params:
            p.update(lr)
        model.loss.clear()
    return np.array([p.value for p in model.params])


class GraphdlMLP:
    """A compiled ``GraphMLP`` with both ways of taking a full-batch step."""

    def __init__(self, init, points, labels, backend: str) -> None:
        self.model = model = GraphMLP(init)
        self.feed = model.feed(points, labels)
        self.initial = [p.value for p in model.params]
        t0 = time.perf_counter()
        self.compiled = quiet_compile(model.loss, model.inputs, backend)
        self.compile_seconds = time.perf_counter() - t0

    def reset(self) -> None:
        for p, value in zip(self.model.params, self.initial):
            p.set_value(value)

    def step(self) -> None:
        self.compiled.step(self.feed, MOONS_LR)

    def backward_update(self) -> None:
        self.compiled.backward(self.feed)
        for p in self.model.params:
            p.update(MOONS_LR)

    def params(self) -> np.ndarray:
        return np.array([p.value for p in self.model.params])


def stepper(reset: Callable[[], None], step: Callable[[], None], params: Callable[[], Any], calls: int):
    """The check protocol of a stateful implementation: reset, ``calls`` calls, the parameters."""

    def check() -> Any:
        reset()
        for _ in range(calls):
            step()
        return params()

    return check


def workload_moons(name: str, config: Config) -> Result:
    width = config.mlp_widths[name]
    sizes = [2, width, width, 1]
    points, labels = make_moons(config.moons_points)
    init = initial_weights(sizes)
    steps = config.check_steps
    reference_net = NumpyMLP(init, points, labels, MOONS_LR)
    reference = stepper(reference_net.reset, reference_net.step, reference_net.params, steps)()
    interpreter = interpreted_mlp(init, points, labels, steps, MOONS_LR)
    contestants, notes, numbers = [], {}, {"width": width}
    for backend in config.backends:
        ways = (("c.step(feed, lr)", GraphdlMLP.step), ("c.backward + p.update", GraphdlMLP.backward_update))
        for label, way in ways:
            net = GraphdlMLP(init, points, labels, backend)  # a model of its own: rounds interleave the ways
            used = net.compiled.backend
            method = way.__get__(net)
            key = f"graphdl {label} [{backend}]"
            contestants.append(Contestant(key, method, stepper(net.reset, method, net.params, steps), graphdl=True))
            notes[key] = f"compile {fmt_time(net.compile_seconds)}" + ("" if used == backend else f", ran {used}")
    if config.peers:
        hand = NumpyMLP(init, points, labels, MOONS_LR)
        contestants.append(
            Contestant("hand numpy (matmuls)", hand.step, stepper(hand.reset, hand.step, hand.params, steps))
        )
        if jax_module() is not None:
            for per_call in (1, steps):
                jax_net = JaxMLP(init, points, labels, MOONS_LR, steps_per_call=per_call)
                key = "JAX jit step" if per_call == 1 else f"JAX {per_call} steps in one jit (fori_loop)"
                check = stepper(jax_net.reset, jax_net.step, jax_net.params, steps // per_call)
                contestants.append(Contestant(key, jax_net.step, check, steps=per_call))
        else:
            notes["JAX jit step"] = "JAX not installed"
        if torch_module() is not None:
            for compiled, key in ((True, "torch.compile"), (False, "torch eager")):
                torch_net = TorchMLP(init, points, labels, MOONS_LR, compiled=compiled)
                check = stepper(torch_net.reset, torch_net.step, torch_net.params, steps)
                contestants.append(Contestant(key, torch_net.step, check))
    outcomes = measure(contestants, reference, config, interpreter)
    if config.peers and micrograd is not None and (width <= 16 or not config.quick):
        mg_steps = 1 if width > 16 or config.quick else 3
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 100_000))  # micrograd's topological sort recurses through Σ p²
        try:
            seconds, _, mg_params = c_micrograd(init, points, labels, mg_steps, lr=lambda _: MOONS_LR)
        except Exception as error:
            outcomes["micrograd"] = Outcome(note=f"not run: {short(error)}")
        else:
            reference_net.reset()
            for _ in range(mg_steps):
                reference_net.step()
            mg_deviation = deviation(mg_params, reference_net.params())
            ok = mg_deviation <= PEER_TOLERANCE
            outcomes["micrograd"] = Outcome(
                seconds if ok else None,
                mg_deviation,
                note=f"{mg_steps} step(s), measured alone" + ("" if ok else ": differs, not timed"),
            )
        finally:
            sys.setrecursionlimit(limit)
    numbers["outcomes"] = outcomes
    numbers["interpreter deviation"] = interpreter_deviation(contestants, outcomes)
    title = f"MLP(2, [{width}, {width}, 1]) on {config.moons_points} moons points, one full-batch SGD step"
    text = outcome_table(outcomes, "JAX jit step", "step", notes)
    text += (
        f"\n\nHinge loss + 1e-4·Σp², lr {MOONS_LR}. Checked after {steps} steps from micrograd's initialisation: "
        "peers against the hand-written numpy step (1e-6), graphdl's compiled steps against graphdl's "
        "interpreter (1e-12). `speed` > 1 is faster than the JAX jit step."
    )
    return Result(title, text, numbers)


# ----------------------------------------------------------- cold first step
COLD_CHILD = "import sys; sys.path.insert(0, {here!r}); import side_by_side; side_by_side.cold_child(sys.argv[1:])"


def cold_first_step(kind: str, width: int, points: int = 100) -> dict[str, Any]:
    """From compiling to the end of the first full-batch step of MLP(2, [width, width, 1]),
    for ``kind`` = ``graphdl:<backend>``, ``jax`` or ``torch.compile`` (libraries already imported)."""
    xs, labels = make_moons(points)
    init = initial_weights([2, width, width, 1])
    result: dict[str, Any] = {"kind": kind}
    if kind.startswith("graphdl:"):
        backend = kind.split(":", 1)[1]
        model = GraphMLP(init)
        feed = model.feed(xs, labels)
        result["started"] = time.time()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            compiled = graphdl.compile(model.loss, inputs=model.inputs, backend=backend)
        t1 = time.perf_counter()
        try:
            compiled.step(feed, MOONS_LR)
            result["how"] = "c.step"
        except ValueError:  # a batch c.step not available in this graphdl
            compiled.backward(feed)
            for p in model.params:
                p.update(MOONS_LR)
            result["how"] = "c.backward + p.update"
        t2 = time.perf_counter()
        result["backend"] = compiled.backend
    elif kind == "jax":
        net = JaxMLP(init, xs, labels, MOONS_LR)
        result["started"] = time.time()
        t0 = t1 = time.perf_counter()
        net.step()
        t2 = time.perf_counter()
    elif kind == "torch.compile":
        torch_net = TorchMLP(init, xs, labels, MOONS_LR, compiled=True)
        result["started"] = time.time()
        t0 = t1 = time.perf_counter()
        torch_net.step()
        t2 = time.perf_counter()
    else:
        raise ValueError(f"cold_first_step: unknown kind {kind!r}")
    result.update(compile=t1 - t0 if kind.startswith("graphdl") else None, first_step=t2 - t1, total=t2 - t0)
    return result


def cold_child(argv: list[str]) -> None:
    """The child process of ``workload_cold``: one cold first step, printed as JSON."""
    kind, width = argv[0], int(argv[1])
    if kind == "jax":
        jax_module()
    print(json.dumps(cold_first_step(kind, width)), flush=True)


def child_environment(cache: str) -> dict[str, str]:
    python_path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {
        **os.environ,
        **CHILD_ENV,
        "PYTHONPATH": python_path,
        "GRAPHDL_CACHE_DIR": cache,
        "TORCHINDUCTOR_CACHE_DIR": os.path.join(cache, "inductor"),
    }


def workload_cold(config: Config) -> Result:
    width = config.mlp_widths["moons16"]
    kinds = [f"graphdl:{b}" for b in (*(("auto",) if config.subprocesses else ()), *config.backends)]
    if config.peers:
        kinds += [
            k for k, ok in (("jax", jax_module() is not None), ("torch.compile", torch_module() is not None)) if ok
        ]
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        if not config.subprocesses:
            fresh_cache()
            results[kind] = cold_first_step(kind, width, config.moons_points)
            continue
        with tempfile.TemporaryDirectory(prefix="graphdl-bench-cold-") as cache:
            command = [sys.executable, "-c", COLD_CHILD.format(here=str(HERE)), kind, str(width)]
            try:
                process = subprocess.run(
                    command, capture_output=True, text=True, env=child_environment(cache), timeout=600, check=True
                )
            except (subprocess.SubprocessError, OSError) as error:
                results[kind] = {"error": short(error)}
                continue
            ended = time.time()
            result = json.loads(process.stdout.strip().splitlines()[-1])
            result["exit"] = ended - result["started"]  # from compile to the process's end
            results[kind] = result
    rows = []
    for kind, r in results.items():
        if "error" in r:
            rows.append([kind, "—", "—", "—", "—", r["error"]])
            continue
        how = f"ran {r['backend']}, {r['how']}" if "backend" in r else ""
        rows.append(
            [
                kind,
                fmt_time(r["compile"]),
                fmt_time(r["first_step"]),
                fmt_time(r["total"]),
                fmt_time(r.get("exit")),
                how,
            ]
        )
    header = ["implementation", "compile", "first step (peers: compile included)", "compile + first step",
              "until the process ends", "note"]  # fmt: skip
    text = table(header, rows) + (
        "\n\nEach in a fresh process with an empty kernel cache (graphdl's `GRAPHDL_CACHE_DIR`, PyTorch's "
        "`TORCHINDUCTOR_CACHE_DIR`); imports and building the model are not counted. The last column runs from "
        "the start of compiling to the end of the process (a job that ends first must not wait for a background "
        "compile)."
    )
    title = f"MLP(2, [{width}, {width}, 1]): compile + first full-batch step, cold cache"
    return Result(title, text, {"cold": results})


# ------------------------------------------------------------------ seed net
def workload_seed(config: Config) -> Result:
    xs_array, ys_array = quadratic_data(config.seed_samples, seed=0)
    xs, ys = xs_array.tolist(), ys_array.tolist()
    interpreter = a_interpreted(xs, ys)
    contestants: list[Contestant] = []
    for backend in config.backends:
        setup = a_setup(backend)
        net, compiled = setup
        feed = {net.x: xs_array, net.label: ys_array}

        def sgd(compiled=compiled, feed=feed) -> Any:  # timed: the epoch alone, as JAX's scan is
            return compiled.sgd(feed, lr=LR_A)

        def sgd_check(setup=setup) -> Any:  # from figure 8's start
            return a_compiled_loop(setup, xs, ys)

        def steps(setup=setup) -> Any:
            return a_step(setup, xs, ys)

        key = f"graphdl c.sgd(feed, lr) [{backend}]"
        contestants.append(Contestant(key, sgd, sgd_check, steps=len(xs), graphdl=True))
        key = f"graphdl c.step per sample [{backend}]"
        contestants.append(Contestant(key, steps, steps, steps=len(xs), graphdl=True))
    if config.peers:
        if jax_module() is not None:
            jax_net = JaxSeedNet(FIG8_INIT, LR_A)
            jxs, jys = jax_module().numpy.asarray(xs_array), jax_module().numpy.asarray(ys_array)

            def scan() -> Any:
                return jax_net.epoch(jxs, jys)

            def per_call() -> Any:
                return jax_net.steps(xs, ys)

            contestants.append(Contestant("JAX lax.scan epoch", scan, scan, steps=len(xs)))
            contestants.append(Contestant("JAX jit step per call", per_call, per_call, steps=len(xs)))
        if micrograd is not None:

            def mg() -> Any:
                return a_micrograd(xs, ys)

            contestants.append(Contestant("micrograd", mg, mg, steps=len(xs)))
        if torch_module() is not None:

            def torch_steps() -> Any:
                return a_torch(xs, ys)

            contestants.append(Contestant("torch eager, 0-dim tensors", torch_steps, torch_steps, steps=len(xs)))
    outcomes = measure(contestants, interpreter, config, interpreter)
    title = f"Seed x² net: per-sample SGD over {len(xs)} samples (figure 8 init, lr {LR_A})"
    text = outcome_table(outcomes, "JAX lax.scan epoch", "sample")
    text += "\n\nEvery implementation's final parameters checked against graphdl's interpreter first."
    return Result(
        title, text, {"outcomes": outcomes, "interpreter deviation": interpreter_deviation(contestants, outcomes)}
    )


# ------------------------------------------------------------ batch gradient
def workload_batch(config: Config) -> Result:
    n = config.batch_samples
    xs, ys = quadratic_data(n, seed=1)
    net = build_seed_net()
    net.initialise("fig8")
    feed = {net.x: xs, net.label: ys}
    mean, grads = hand_numpy(xs, ys, *FIG8_INIT)
    reference = np.array([mean, *grads])
    net.x.set_value(xs)
    net.label.set_value(ys)
    net.loss.backward()
    interpreter = np.array([np.mean(net.loss.value), *(p.grad for p in net.params)])
    contestants = []
    for backend in config.backends:
        compiled = quiet_compile(net.loss, [net.x, net.label], backend)

        def gradient(compiled=compiled) -> Any:
            loss = compiled.backward(feed)
            return np.array([loss, *(p.grad for p in net.params)])

        contestants.append(Contestant(f"graphdl c.backward(feed) [{backend}]", gradient, gradient, graphdl=True))
    if config.peers:
        buffered = HandNumpyBuffers(n)

        def hand() -> Any:
            loss, g = hand_numpy(xs, ys, *FIG8_INIT)
            return np.array([loss, *g])

        def hand_out() -> Any:
            loss, g = buffered(xs, ys, *FIG8_INIT)
            return np.array([loss, *g])

        contestants += [
            Contestant("hand numpy", hand, hand),
            Contestant("hand numpy, out= buffers", hand_out, hand_out),
        ]
        if jax_module() is not None:
            jax_net = JaxSeedNet(FIG8_INIT, LR_A)
            jxs, jys = jax_module().numpy.asarray(xs), jax_module().numpy.asarray(ys)

            def jax_gradient() -> Any:
                return jax_net.batch_gradient(jxs, jys)

            contestants.append(Contestant("JAX jit value_and_grad", jax_gradient, jax_gradient))
        if torch_module() is not None:
            torch_gradient = torch_seed_batch(FIG8_INIT, xs, ys)
            contestants.append(Contestant("torch batched autograd", torch_gradient, torch_gradient))
    outcomes = measure(contestants, reference, config, interpreter)
    title = f"Batch-mean loss and gradient of the seed net, N = {n:,}"
    text = outcome_table(outcomes, "JAX jit value_and_grad", "gradient")
    return Result(
        title, text, {"outcomes": outcomes, "interpreter deviation": interpreter_deviation(contestants, outcomes)}
    )


# -------------------------------------------------------------- random DAG
@dataclass
class DagSpec:
    """A random scalar DAG: ``parameters`` leaves after the input ``x`` (index 0); each op
    ``(kind, a, b)`` appends ``tanh(values[a] + values[b])`` or ``tanh(values[a] · values[b])``
    (two nodes); the loss is ``(Σ values[outputs] − label)²``, ``outputs`` being every value
    no op reads (so every node is upstream of the loss)."""

    parameters: int
    ops: list[tuple[str, int, int]]
    outputs: list[int]


def random_dag_spec(nodes: int, seed: int = 0) -> DagSpec:
    """About ``nodes`` nodes: an operand from the 32 newest values (depth) and one from all
    of them (width); the first ops read ``x`` and each parameter once."""
    rng = np.random.default_rng(seed)
    parameters = max(2, nodes // 50)
    count = 1 + parameters
    ops: list[tuple[str, int, int]] = []
    while 2 * len(ops) + parameters + 6 < nodes:
        a = count - 1 - int(rng.integers(min(count, 32))) if ops else 0
        b = 1 + len(ops) if len(ops) < parameters else int(rng.integers(count))
        ops.append(("add" if rng.random() < 0.5 else "mul", a, b))
        count += 1
    read = {i for _, a, b in ops for i in (a, b)}
    return DagSpec(parameters, ops, outputs=[i for i in range(1 + parameters, count) if i not in read])


def build_dag(spec: DagSpec, seed: int = 0):
    """The graphdl graph of ``spec``: (loss, x, label, parameters)."""
    rng = np.random.default_rng(seed + 1)
    x = Variable(name="x", trainable=False)
    label = Variable(name="label", trainable=False)
    params = [Variable(float(rng.uniform(-1, 1)), name=f"p{i}") for i in range(spec.parameters)]
    values: list[Any] = [x, *params]
    for kind, a, b in spec.ops:
        inner = Add([values[a], values[b]]) if kind == "add" else Mul([values[a], values[b]])
        values.append(Tanh([inner]))
    error = Sub([Add([values[i] for i in spec.outputs]), label])
    return Mul([error, error], name="loss"), x, label, params


DAG_LR = 0.01
DAG_SAMPLE = (0.3, 0.5)
JAX_DAG_CHILD = (
    "import sys; sys.path.insert(0, {here!r}); import side_by_side; side_by_side.jax_dag_child(int(sys.argv[1]))"
)


def jax_dag_child(nodes: int) -> None:
    """Child process: JAX on the random DAG (compile, then the step time), printed as JSON."""
    jax = jax_module()
    spec = random_dag_spec(nodes)
    _, _, _, params = build_dag(spec)
    p = jax.numpy.asarray(np.array([q.value for q in params]))
    step = jax_dag_step(spec, DAG_LR)
    t0 = time.perf_counter()
    p = jax.block_until_ready(step(p, *DAG_SAMPLE))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(100):
        p = step(p, *DAG_SAMPLE)
    jax.block_until_ready(p)
    print(json.dumps({"first": first, "step": (time.perf_counter() - t0) / 100}), flush=True)


def run_limited(command: list[str], env: dict[str, str], seconds: float, rss_gb: float) -> tuple[str, float, float]:
    """Run ``command``; stop it past ``seconds`` or ``rss_gb`` GB resident. Returns (stdout or
    the reason it was stopped, seconds, peak GB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    peak = 0.0
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
            peak = max(peak, int(status.split("VmRSS:")[1].split()[0]) / 1e6)
        except (OSError, IndexError, ValueError):
            pass
        elapsed = time.perf_counter() - started
        if elapsed > seconds or peak > rss_gb:
            process.kill()
            process.wait()
            return f"stopped after {elapsed:.0f} s at {peak:.1f} GB resident", elapsed, peak
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    return output, time.perf_counter() - started, peak


def workload_dag(config: Config) -> Result:
    spec = random_dag_spec(config.dag_nodes)
    rows, numbers = [], {}
    loss, x, label, params = build_dag(spec)
    nodes = len(graphdl.Graph(loss).nodes)
    feed = {x: DAG_SAMPLE[0], label: DAG_SAMPLE[1]}
    initial = [p.value for p in params]

    def reset() -> None:
        for p, value in zip(params, initial):
            p.set_value(value)

    x.set_value(DAG_SAMPLE[0])
    label.set_value(DAG_SAMPLE[1])
    loss.backward()
    for p in params:
        p.update(DAG_LR)
    interpreter = np.array([p.value for p in params])
    loss.clear()
    reset()
    outcomes: dict[str, Outcome] = {}
    for backend in ("default", *(["auto", "numba"] if HAS_NUMBA and config.subprocesses else [])):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            compiled = graphdl.compile(
                loss, inputs=[x, label], **({} if backend == "default" else {"backend": backend})
            )
        compile_seconds = time.perf_counter() - t0
        numbers[f"compile {backend}"] = compile_seconds

        def step(compiled=compiled) -> None:
            compiled.step(feed, DAG_LR)

        def check(step=step) -> Any:
            reset()
            step()
            return np.array([p.value for p in params])

        key = f"graphdl c.step per sample [{backend}]"
        outcomes.update(measure([Contestant(key, step, check, graphdl=True)], interpreter, config, interpreter))
        o = outcomes[key]
        note = o.note or f"ran {compiled.backend}; max Δ vs interpreter {o.deviation:.0e}"
        rows.append([key, fmt_time(compile_seconds), fmt_time(o.first_call), fmt_time(o.seconds), note])
    if "compile numba" in numbers:  # again, the grouped kernel now on disk (it is compiled once per machine)
        t0 = time.perf_counter()
        compiled = graphdl.compile(loss, inputs=[x, label], backend="numba")
        compile_seconds = time.perf_counter() - t0
        reset()
        t0 = time.perf_counter()
        compiled.step(feed, DAG_LR)
        first = time.perf_counter() - t0
        reset()
        numbers["compile numba, kernel cached"] = {"compile": compile_seconds, "first": first}
        rows.append(
            ["graphdl.compile [numba], grouped kernel cached", fmt_time(compile_seconds), fmt_time(first), "",
             f"ran {compiled.backend}; warm: the kernel was compiled by the row above (once per machine)"]
        )  # fmt: skip
    if config.peers and config.subprocesses and jax_module() is not None:
        with tempfile.TemporaryDirectory() as cache:
            command = [sys.executable, "-c", JAX_DAG_CHILD.format(here=str(HERE)), str(config.dag_nodes)]
            limit_s, limit_gb = (30, 2.0) if config.quick else (90, 3.0)
            output, elapsed, peak = run_limited(command, child_environment(cache), limit_s, limit_gb)
        try:
            jax_result = json.loads(output.strip().splitlines()[-1])
            rows.append(
                ["JAX jit step", fmt_time(jax_result["first"]), "", fmt_time(jax_result["step"]), f"peak {peak:.1f} GB"]
            )
            numbers["jax"] = jax_result
        except (ValueError, IndexError, KeyError):
            rows.append(["JAX jit step", "—", "", "—", output.strip()[:200] or "no result"])
            numbers["jax"] = {"failed": output.strip()[:200]}
    numbers.update(nodes=nodes, outcomes=outcomes)
    deviations = [o.deviation for o in outcomes.values() if o.deviation is not None]
    numbers["interpreter deviation"] = max(deviations, default=None)
    title = f"Random scalar DAG, {nodes:,} nodes ({spec.parameters} parameters), per-sample SGD step"
    text = table(["implementation", "compile", "check step (first call)", "step", "note"], rows)
    text += (
        "\n\nEach operation is tanh(a + b) or tanh(a · b), one operand among the 32 newest values and one among "
        "all; loss (Σ of the values no operation reads − label)², one sample per step. The [numba] row's first "
        "call compiles the grouped kernel when the kernel cache does not hold it yet (cold); the row after it "
        "compiles the graph again with the kernel on disk (warm, as on any run after the first). JAX traces every "
        "scalar node (the graph unrolled), compiled in a "
        "separate process stopped past a time or memory limit."
    )
    return Result(title, text, numbers)


# ------------------------------------------------------------ MLP64 compile
def workload_compile64(config: Config) -> Result:
    width = config.mlp_widths["moons64"]
    points, labels = make_moons(config.moons_points)
    init = initial_weights([2, width, width, 1])
    rows, numbers = [], {}
    backends = config.backends if not config.quick else ("numpy",)
    for backend in backends:
        fresh_cache()
        t0 = time.perf_counter()
        model = GraphMLP(init)
        build = time.perf_counter() - t0
        feed = model.feed(points, labels)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            compiled = graphdl.compile(model.loss, inputs=model.inputs, backend=backend)
        compile_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            compiled.step(feed, MOONS_LR)
            how = "c.step"
        except ValueError:
            compiled.backward(feed)
            for p in model.params:
                p.update(MOONS_LR)
            how = "c.backward + p.update"
        first = time.perf_counter() - t0
        numbers[backend] = {"compile": compile_seconds, "first": first, "backend": compiled.backend}
        nodes = len(model.loss.ancestors())
        rows.append(
            [f"graphdl.compile(backend={backend!r})", fmt_time(build), fmt_time(compile_seconds), fmt_time(first),
             fmt_time(compile_seconds + first), f"ran {compiled.backend}; first step by {how}; {nodes:,} nodes"]
        )  # fmt: skip
    text = table(["compile", "building the graph", "compile", "first step", "compile + first step", "note"], rows)
    text += "\n\nIn this process (numba already imported), kernel cache empty."
    return Result(f"MLP(2, [{width}, {width}, 1]): compile time", text, numbers)


# ---------------------------------------------------- examples/train_moons.py
# the script sees its own command line (``python examples/train_moons.py``), not ``-c``'s
RUN_SCRIPT = "import sys, runpy; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
HIDE_NUMBA = "import sys; sys.modules['numba'] = None; " + RUN_SCRIPT


def workload_example(config: Config) -> Result:
    """``examples/train_moons.py`` as a new user runs it, with and without numba, cold cache."""
    script = str(ROOT / "examples" / "train_moons.py")
    rows, numbers = [], {}
    if not config.subprocesses:
        return Result("examples/train_moons.py end to end, cold cache", "Not run (no subprocesses).", numbers)
    variants = [("without numba", HIDE_NUMBA)] + ([("with numba (graphdl[fast])", RUN_SCRIPT)] if HAS_NUMBA else [])
    for label, code in variants:
        with tempfile.TemporaryDirectory(prefix="graphdl-bench-example-") as folder:
            t0 = time.perf_counter()
            process = subprocess.run(
                [sys.executable, "-c", code, script], cwd=folder, env=child_environment(folder),
                capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            seconds = time.perf_counter() - t0
        ok = process.returncode == 0
        numbers[label] = seconds if ok else None
        rows.append([label, fmt_time(seconds), "ok" if ok else f"failed: {process.stderr.strip()[-200:]}"])
    text = table(["examples/train_moons.py", "whole process", "result"], rows)
    text += "\n\nA fresh process each, empty kernel cache, imports included."
    return Result("examples/train_moons.py end to end, cold cache", text, numbers)


RUNNERS: dict[str, Callable[[Config], Result]] = {
    "moons16": lambda config: workload_moons("moons16", config),
    "moons64": lambda config: workload_moons("moons64", config),
    "cold16": workload_cold,
    "seed": workload_seed,
    "batch": workload_batch,
    "dag": workload_dag,
    "compile64": workload_compile64,
    "example": workload_example,
}


def run_workload(name: str, config: Config) -> Result:
    return RUNNERS[name](config)


def run_reported(name: str, config: Config) -> Result:
    """``run_workload``, with a failure reported as the workload's result (the others still run)."""
    try:
        return run_workload(name, config)
    except Exception as error:
        return Result(name, f"Failed: {short(error)}", {})


# ------------------------------------------------------------------ targets
def compiler_lines() -> int:
    return sum(
        len(path.read_text(encoding="utf-8").splitlines()) for path in (ROOT / "graphdl" / "compiler").rglob("*.py")
    )


def targets_table(results: dict[str, Result]) -> str:
    """Each target of issue 21 next to what this run measured (rows for the workloads that ran)."""
    results = {name: result for name, result in results.items() if result.numbers}  # failed ones: none
    rows = []

    def row(target: str, measured: str, met: bool | None) -> None:
        rows.append([target, measured, "—" if met is None else ("met" if met else "not met")])

    def graphdl_step(outcomes: dict[str, Outcome]) -> tuple[float | None, str]:
        steps = [n for n in outcomes if n.startswith("graphdl c.step")]
        best = seconds_of(outcomes, *steps)
        if best is not None:
            return best, "`c.step`"
        others = [n for n in outcomes if n.startswith("graphdl")]
        return seconds_of(outcomes, *others), "c.step not available; c.backward + p.update"

    for name, peers in (("moons16", ("JAX jit step",)), ("moons64", ("JAX jit step", "torch.compile"))):
        if name not in results:
            continue
        outcomes = results[name].numbers["outcomes"]
        ours, how = graphdl_step(outcomes)
        width = results[name].numbers["width"]
        parts, met = [], ours is not None
        for peer in (*peers, "hand numpy (matmuls)"):
            theirs = seconds_of(outcomes, peer)
            if ours and theirs:
                parts.append(f"{theirs / ours:.2f}× {peer}")
                if peer in peers:
                    met = met and theirs > ours
            elif peer in peers:
                parts.append(f"{peer} not measured")
                met = False
        met = met and how == "`c.step`"  # the target is c.step on the batch
        measured = f"{fmt_time(ours)} ({how}): " + ", ".join(parts)
        row(f"MLP(2, [{width}, {width}, 1]) full-batch step faster than {' and '.join(peers)}", measured, met)
    if "cold16" in results:
        auto = results["cold16"].numbers["cold"].get("graphdl:auto", {})
        if "total" in auto:
            measured = f"{fmt_time(auto['total'])} (process ends {fmt_time(auto.get('exit'))} after compile starts)"
            row(
                "MLP16 with backend='auto', cold cache: compile to end of first step ≤ 1 s",
                measured,
                auto["total"] <= 1,
            )
    if "seed" in results:
        outcomes = results["seed"].numbers["outcomes"]
        ours, scan = seconds_of(outcomes, "graphdl c.sgd(feed, lr) [numba]"), seconds_of(outcomes, "JAX lax.scan epoch")
        if ours and scan:
            row(
                "seed net per-sample epoch: numba `c.sgd` ≥ 1.3× JAX lax.scan",
                f"{scan / ours:.2f}×",
                scan / ours >= 1.3,
            )
        step = seconds_of(outcomes, *(n for n in outcomes if n.startswith("graphdl c.step per sample")))
        mg = seconds_of(outcomes, "micrograd")
        if step and mg:
            row("per-sample `c.step` ≥ 30× micrograd", f"{mg / step:.0f}× ({fmt_time(step)} per step)", mg / step >= 30)
    if "batch" in results:
        outcomes = results["batch"].numbers["outcomes"]
        ours = seconds_of(outcomes, "graphdl c.backward(feed) [numba]")
        theirs = seconds_of(outcomes, "JAX jit value_and_grad")
        if ours and theirs:
            row("batch gradient, N = 1e5: numba ≥ 2× JAX", f"{theirs / ours:.2f}×", theirs / ours >= 2)
    if "dag" in results:
        numbers = results["dag"].numbers
        for backend in ("default", "numba"):
            compile_seconds = numbers.get(f"compile {backend}")
            step = seconds_of(numbers["outcomes"], f"graphdl c.step per sample [{backend}]")
            warm = numbers.get("compile numba, kernel cached") if backend == "numba" else None
            if compile_seconds is not None and step is not None:
                row(
                    f"{numbers['nodes']:,}-node random DAG ({backend}): compile ≤ 0.5 s and step ≤ 1 ms",
                    f"compile {fmt_time(compile_seconds)}"
                    + (f" (again, kernel cached: {fmt_time(warm['compile'])})" if warm else "")
                    + f", step {fmt_time(step)}",
                    compile_seconds <= 0.5 and step <= 1e-3,
                )
    if "compile64" in results:
        numbers = results["compile64"].numbers
        if "numpy" in numbers:
            row(
                "MLP64 compile ≤ 0.3 s (numpy backend)",
                fmt_time(numbers["numpy"]["compile"]),
                numbers["numpy"]["compile"] <= 0.3,
            )
        if "numba" in numbers:
            n = numbers["numba"]
            total = n["compile"] + n["first"]
            ran = n["backend"]
            measured = f"{fmt_time(total)} (ran {ran})"
            row("MLP64 on numba, cold cache: compile + first step ≤ 5 s", measured, ran == "numba" and total <= 5)
    if "example" in results:
        numbers = results["example"].numbers
        without, with_numba = numbers.get("without numba"), numbers.get("with numba (graphdl[fast])")
        if without and with_numba:
            row(
                "examples/train_moons.py never slower with graphdl[fast] (cold cache)",
                f"{fmt_time(with_numba)} with, {fmt_time(without)} without",
                with_numba <= without * 1.1,
            )
    deviations = [r.numbers.get("interpreter deviation") for r in results.values()]
    deviations = [d for d in deviations if d is not None]
    if deviations:
        worst = max(deviations)
        row("every compiled result equals the interpreter's (1e-12)", f"max Δ {worst:.1e}", worst <= 1e-12)
    lines = compiler_lines()
    row("`graphdl/compiler/` shorter than 2 700 lines", f"{lines:,} lines", lines < 2700)
    return table(["target (issue 21)", "measured in this run", "verdict"], rows)
