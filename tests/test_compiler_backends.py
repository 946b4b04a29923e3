"""Every backend of graphdl.compile gives the interpreter's numbers: numpy (grouped batch
programs), numba (machine-code kernels, skipped when numba is absent), and c.step."""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compiler import _feed_value, _random_graph

import graphdl
from graphdl import ops
from graphdl.compiler import numba_groups, numba_runner, numpy_runner, registry
from graphdl.compiler.ir import lower
from graphdl.core.node import Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data

HAS_NUMBA = numba_runner.available()
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")
BACKENDS = ["numpy", pytest.param("numba", marks=needs_numba)]


def _seed_net():
    net = build_seed_net()
    net.initialise("fig8")
    return net


def _reference_grads(target, feed, parameters):
    for variable, value in feed.items():
        variable.set_value(value)
    target.backward()
    return target.value, [p.grad for p in parameters]


def _check_agreement(seed: int, batch, backend: str, tolerance: float) -> None:
    target, inputs, _ = _random_graph(seed)
    rng = np.random.default_rng(seed + 1)
    feed = {v: _feed_value(rng, batch) for v in inputs}
    compiled = graphdl.compile(target, inputs=inputs, backend=backend)
    expected_value, expected_grads = _reference_grads(target, feed, compiled.parameters)
    value = compiled.forward(feed)
    assert type(value) is type(expected_value)
    np.testing.assert_allclose(value, expected_value, rtol=tolerance, atol=tolerance)
    mean = compiled.backward(feed)
    np.testing.assert_allclose(mean, np.mean(expected_value), rtol=tolerance, atol=tolerance)
    for parameter, expected in zip(compiled.parameters, expected_grads):
        assert isinstance(parameter.grad, float)
        np.testing.assert_allclose(parameter.grad, expected, rtol=tolerance, atol=tolerance, err_msg=parameter.name)


# ------------------------------------------------------- random-graph agreement


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([2, 7, 30]))
def test_grouped_numpy_batches_match_the_interpreter(seed, batch):
    _check_agreement(seed, batch, "numpy", 1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_ungrouped_numpy_batches_match_the_interpreter(seed, monkeypatch):
    monkeypatch.setattr(numpy_runner, "GROUPED_BELOW", 0)  # every batch takes the statement-per-call program
    _check_agreement(seed, 7, "numpy", 1e-12)


@needs_numba
@pytest.mark.parametrize("seed", [0, 1])
def test_numba_one_sample_matches_the_interpreter(seed):
    _check_agreement(seed, None, "numba", 1e-9)


@needs_numba
@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([None, 1, 7]))
def test_numba_matches_the_interpreter_on_random_graphs(seed, batch):
    _check_agreement(seed, batch, "numba", 1e-9)


# ------------------------------------------------------------ batch = mean


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_gradient_is_the_mean_of_per_sample_gradients(backend):
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend=backend)
    xs, ys = quadratic_data(9, seed=4)
    per_sample = []
    for x_value, y_value in zip(xs, ys):
        compiled.backward({net.x: float(x_value), net.label: float(y_value)})
        per_sample.append([p.grad for p in net.params])
    mean = compiled.backward({net.x: xs, net.label: ys})
    np.testing.assert_allclose([p.grad for p in net.params], np.mean(per_sample, axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mean, np.mean(compiled.forward({net.x: xs, net.label: ys})), rtol=1e-15)
    compiled.backward({net.x: xs[:1], net.label: ys[:1]})  # a batch of one is the one-sample case
    assert [p.grad for p in net.params] == per_sample[0]


# --------------------------------------------------------------- grouping


def _mlp(width: int):
    x = [Variable(name=f"x{i}", trainable=False) for i in range(2)]
    label = Variable(name="label", trainable=False)
    rng = np.random.default_rng(0)
    layer = x
    for depth in range(2):
        biases = [Variable(0.1, name=f"b{depth}_{j}") for j in range(width)]
        weighted = [[Variable(float(rng.uniform(-1, 1))) * a for a in layer] for _ in range(width)]
        layer = [ops.Relu([ops.Add([b, *terms])]) for b, terms in zip(biases, weighted)]
    score = ops.Add([Variable(float(rng.uniform(-1, 1))) * h for h in layer])
    return ops.HingeLoss([label, score], name="hinge"), [*x, label]


def test_a_dense_layer_is_one_numpy_call_per_group():
    loss, inputs = _mlp(8)
    compiled = graphdl.compile(loss, inputs=inputs)
    source = compiled.batch_source
    kernel = source.split("def backward_batch")[1].split("return backward_batch")[0]  # after the views
    lines = [line for line in kernel.splitlines()[2:] if line.strip()]
    statements = len(compiled.program.statements)
    assert statements > 150 and len(lines) < 30
    assert "8 × Add: " in source and "as a matrix product" in source  # a dense layer: one matmul
    assert source.count("np.matmul(") == 7  # 3 layers forward, 1 backward to the hidden inputs, 3 weight grads
    assert "8 × Relu:" in source
    rng = np.random.default_rng(1)
    feed = {v: rng.uniform(-1, 1, size=50) for v in inputs[:2]} | {inputs[2]: np.sign(rng.uniform(-1, 1, 50))}
    grouped_mean = compiled.backward(feed)
    grouped = [p.grad for p in compiled.parameters]
    reference_value, reference = _reference_grads(loss, feed, compiled.parameters)
    assert grouped_mean == pytest.approx(reference_value.mean(), rel=1e-12)
    np.testing.assert_allclose(grouped, reference, rtol=1e-12, atol=1e-15)  # matmul sums in its own order


def test_grouped_buffers_are_reused_and_results_are_fresh():
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label])
    xs, ys = quadratic_data(5, seed=2)
    first = compiled.forward({net.x: xs, net.label: ys})
    program = compiled.batch_program(5, gradients=False)
    buffers = program.buffers[0]
    second = compiled.forward({net.x: xs * 2, net.label: ys})
    assert program.buffers[0] is buffers  # same batch size: same arrays
    assert not np.shares_memory(first, buffers) and not np.array_equal(first, second)


def test_template_and_operands_of_a_statement():
    from graphdl.compiler.groups import template
    from graphdl.compiler.symbolic import SYMBOLIC, Expr

    add = Expr("add_1", 4)
    found = template(SYMBOLIC.where(add > 0.0, add, 0.1 * add))
    assert found.expr.text == "where(_0 > 0.0, _0, 0.1 * _0)" and found.operands == (4,)
    other = template(SYMBOLIC.where(Expr("add_2", 9) > 0.0, Expr("add_2", 9), 0.1 * Expr("add_2", 9)))
    assert other.key == found.key and other.operands == (9,)


def test_grouped_batch_statistics_use_each_rows_mean():
    x, w = Variable(name="x", trainable=False), Variable(0.5, name="w")
    centred = ops.Sub([x, ops.BatchMean([x, 0.0, 1.0])])
    loss = ops.Mul([centred, w])
    compiled = graphdl.compile(loss, inputs=[x])
    xs = np.array([1.0, 2.0, 6.0])
    assert compiled.forward({x: xs}).tolist() == ((xs - xs.mean()) * 0.5).tolist()
    assert "batch_mean_rows(" in compiled.batch_source


# ------------------------------------------------------------- name safety

#: The names the kernels and the grouped programs use for themselves.
KERNEL_NAMES = [
    "leaves", "inputs", "columns", "count", "values", "partial", "chunk", "i", "lo", "hi", "total", "block",
    "start", "stop", "R", "j", "t", "sums", "GRAD_ROWS", "I0", "T0", "sample", "step", "gradient_chunk",
    "values_chunk", "forward_rows", "njit", "prange", "V", "S", "s", "grid", "i3",
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_names_give_the_interpreters_numbers(backend, monkeypatch):
    from test_compiler_names import CANARY, HOSTILE, _canary_untouched, _hostile_net

    x, label, weights, loss = _hostile_net(HOSTILE[:12] + KERNEL_NAMES)
    compiled = graphdl.compile(loss, inputs=[x, label], backend=backend)
    assert compiled.backend == backend
    for source in (compiled.batch_source, compiled.source):
        compile(source, "<check>", "exec")
        assert all("__import__(" not in line.split("#", 1)[0] for line in source.splitlines())
    xs, ys = np.linspace(0.0, 2.0, 7), np.linspace(0.0, 2.0, 7) ** 2
    mean = compiled.backward({x: xs, label: ys})
    grads = [w.grad for w in weights]
    expected_value, expected = _reference_grads(loss, {x: xs, label: ys}, weights)
    assert mean == pytest.approx(float(np.mean(expected_value)), abs=1e-12)
    assert grads == pytest.approx(expected, abs=1e-12)
    before, point_grads = _reference_grads(loss, {x: 1.5, label: 2.25}, weights)
    updated = [w.value - 0.05 * g for w, g in zip(weights, point_grads)]
    assert compiled.step({x: 1.5, label: 2.25}, 0.05) == pytest.approx(before, abs=1e-12)
    assert [w.value for w in weights] == pytest.approx(updated, abs=1e-12)
    compile(compiled.step_source, "<check>", "exec")
    assert _canary_untouched() and CANARY not in dir(builtins)


# ------------------------------------------------------------------- step


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_is_backward_then_update(backend):
    stepped, reference = _seed_net(), _seed_net()
    c_step = graphdl.compile(stepped.loss, inputs=[stepped.x, stepped.label], backend=backend)
    c_ref = graphdl.compile(reference.loss, inputs=[reference.x, reference.label])
    xs, ys = quadratic_data(40, seed=6)
    for x_value, y_value in zip(xs.tolist(), ys.tolist()):
        loss = c_step.step({stepped.x: x_value, stepped.label: y_value}, 0.05)
        assert loss == c_ref.backward({reference.x: x_value, reference.label: y_value})
        for p in reference.params:
            p.update(0.05)
    assert [p.value for p in stepped.params] == [p.value for p in reference.params]


def test_step_checks_its_feed():
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label])
    with pytest.raises(KeyError, match="'label'"):
        compiled.step({net.x: 1.0}, 0.1)
    with pytest.raises(ValueError, match="'x'"):
        compiled.step({net.x: float("inf"), net.label: 1.0}, 0.1)
    assert compiled.step({"x": 1, "label": 2}, 0.1) == pytest.approx(abs(2 - net.predict(1.0)), abs=1)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("numba", marks=needs_numba)])
@pytest.mark.parametrize("size", [100, 20_000])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_sample_in_a_batch_feed_is_named_at_every_size(size, bad, backend):
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend=backend)
    xs, ys = quadratic_data(size, seed=2)
    ys[size - 1] = bad
    with pytest.raises(ValueError, match="'label'.*must be finite"):
        compiled.backward({net.x: xs, net.label: ys})
    ys[size - 1] = 1e200  # finite, its square is not: no warning of overflow, a finite mean
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(compiled.backward({net.x: xs, net.label: ys}))


@needs_numba
def test_numbas_finiteness_scan_agrees_with_numpy():
    from graphdl.compiler.numba_primitives import finite

    rng = np.random.default_rng(4)
    specials = [0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1e308, np.inf, -np.inf, np.nan, -np.nan]
    for size in (1, 7, 8, 9, 1000):
        for special in specials:
            for where in {0, size // 2, size - 1}:
                values = rng.normal(size=size) * 1e300
                values[where] = special
                expected = bool(np.isfinite(values).all())
                assert finite(values) is expected, (size, special, where)
                assert finite(np.repeat(values, 2)[::2]) is expected  # a strided view


def test_step_reads_parameters_changed_between_calls():
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label])
    compiled.step({net.x: 1.0, net.label: 2.0}, 0.1)
    net.b_21.set_value(5.0)
    prediction = net.predict(1.0)
    assert compiled.step({net.x: 1.0, net.label: 2.0}, 0.1) == abs(2.0 - prediction)  # the loss before the update
    assert net.b_21.value == 5.0 - 0.1 * -np.sign(2.0 - prediction)  # d|label - out|/d b_21 = -sign(label - out)


# ------------------------------------------------------------------ numba


def _sgd_on_numpy_and_numba(xs, ys):
    """The seed net's per-sample SGD over ``xs, ys`` on numpy, then on numba: each one's final
    parameters and losses, and the numba program."""
    results = []
    for backend in ("numpy", "numba"):
        net = _seed_net()
        compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend=backend)
        assert compiled.backend == backend
        losses = compiled.sgd({net.x: xs, net.label: ys}, lr=0.01)
        results.append(([p.value for p in net.params], losses.tolist()))
    return results, compiled


@needs_numba
def test_numba_sgd_equals_the_python_loop_bit_for_bit():
    finals, _ = _sgd_on_numpy_and_numba(*quadratic_data(300, seed=1))
    assert finals[0] == finals[1]  # no transcendental primitive: the same float operations


@needs_numba
def test_leaf_sums_compiles_vectorised_and_leaves_numbas_setting_alone():
    import numba

    from graphdl.compiler.numba_primitives import leaf_sums

    terms = np.random.default_rng(2).standard_normal((3, 128))
    stack = np.zeros((2, 3), order="F")  # a layout the kernels never pass: compiled here, now
    for setting in (0, 1):
        before, numba.config.SLP_VECTORIZE = numba.config.SLP_VECTORIZE, setting
        try:
            leaf_sums(terms, 125, stack, 1, np.empty(8))
            assert numba.config.SLP_VECTORIZE == setting
        finally:
            numba.config.SLP_VECTORIZE = before
        assert stack[1].tobytes() == terms[:, :125].sum(axis=1).tobytes()


@needs_numba
@pytest.mark.parametrize("parts", [1, numba_runner.CHUNKS])
def test_the_kernels_sum_plan_adds_as_np_sum_does_bit_for_bit(parts):
    from graphdl.compiler.numba_primitives import leaf_sums

    rng = np.random.default_rng(5)
    sizes = [1, 3, 7, 8, 9, 100, 128, 129, 1000, 4097] if parts == 1 else [numba_runner.PARALLEL_FROM + 7]
    for size in sizes:
        terms = rng.standard_normal((2, size)) * 10.0 ** rng.integers(-8, 8, (2, size))
        terms[1] = -0.0  # numpy's sum of negative zeros is +0.0
        rows, starts = numba_runner.sum_plan(size, parts)
        block, lanes, partial = np.empty((2, 128)), np.empty(8), []
        for first, last in zip(starts[:-1], starts[1:]):
            stack = []
            for lo, count in rows[first:last]:
                if count == 0:
                    right = stack.pop()
                    stack.append(stack.pop() + right)
                    continue
                block[:, :count] = terms[:, lo : lo + count]
                stack.append(np.empty((1, 2)))
                leaf_sums(block, count, stack[-1], 0, lanes)
                stack[-1] = stack[-1][0]
            assert len(stack) == 1
            partial.append(stack[0])
        while len(partial) > 1:
            partial = [partial[j] + partial[j + 1] for j in range(0, len(partial), 2)]
        total = 0.0 + partial[0]
        assert total[0] == terms[0].sum() and total.tobytes() == terms.sum(axis=1).tobytes(), size


@pytest.mark.parametrize("threads_cost", [1.0, 20.0])
def test_big_batches_run_the_way_that_was_faster_here_and_retry_the_other(monkeypatch, threads_cost):
    monkeypatch.setattr(numba_runner, "parallel", lambda count: count >= 100)
    now = [0.0]
    choice = numba_runner.ThreadChoice()
    choice.clock = lambda: now[0]
    ways = []

    def way(name, cost):
        def run():
            ways.append(name)
            now[0] += cost
            return name

        return run

    def call(size=1000):
        return choice.run(size, way("serial", 5.0), way("threads", threads_cost))

    assert [call() for _ in range(6)] == ["serial", "threads"] * 3  # both tried, each compiled then timed
    assert choice.run(10, way("serial", 5.0), way("threads", threads_cost)) == "serial"  # small: never threads
    faster, slower = ("threads", "serial") if threads_cost < 5.0 else ("serial", "threads")
    ways.clear()
    for _ in range(2 * numba_runner.ThreadChoice.RETRY_EVERY):
        call()
    assert ways.count(slower) == 2 and ways.count(faster) == 2 * numba_runner.ThreadChoice.RETRY_EVERY - 2


@needs_numba
@pytest.mark.slow
def test_parallel_batch_gradient_is_deterministic_and_equals_the_serial_one():
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    xs, ys = quadratic_data(numba_runner.PARALLEL_FROM + 1000, seed=3)
    runs = []
    for _ in range(3):
        compiled.backward({net.x: xs, net.label: ys})
        runs.append([p.grad for p in compiled.parameters])
    kernels = compiled.kernels
    leaves = np.array([p.value for p in compiled.parameters])
    seed = 1.0 / xs.size
    serial = kernels.module.gradient(seed, (xs, ys), leaves, *numba_runner.sum_plan(xs.size))
    parts = numba_runner.sum_plan(xs.size, numba_runner.CHUNKS)
    parallel = [kernels.module.gradient_parallel(seed, (xs, ys), leaves, *parts) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2] == serial[1].tolist() == parallel[0][1].tolist() == parallel[2][1].tolist()
    assert serial[0] == parallel[0][0] == parallel[1][0]
    # numpy's order of additions: the interpreter's gradient and mean, bit for bit
    net.x.set_value(xs)
    net.label.set_value(ys)
    net.loss.backward()
    assert runs[0] == [p.grad for p in compiled.parameters]
    assert serial[0] == float(np.mean(net.loss.value))
    values = np.empty(xs.size), np.empty(xs.size)  # the forward kernels, one thread and over the cores
    kernels.module.forward_values((xs, ys), leaves, values[0])
    kernels.module.forward_values_parallel((xs, ys), leaves, values[1])
    assert values[0].tobytes() == values[1].tobytes() == np.asarray(net.loss.value).tobytes()
    for size in (1, 5, 8, 1003):  # one leaf block below 8 terms, one of 8, a tree with remainders
        feed = {net.x: xs[:size], net.label: ys[:size]}
        mean = compiled.backward(feed)
        grads = [p.grad for p in compiled.parameters]
        net.x.set_value(xs[:size])
        net.label.set_value(ys[:size])
        net.loss.backward()
        assert mean == float(np.mean(net.loss.value)) and grads == [p.grad for p in compiled.parameters], size


@needs_numba
@pytest.mark.slow  # starts a second Python process
def test_kernels_are_cached_on_disk_by_source(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(tmp_path))
    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    compiled.backward({net.x: 1.0, net.label: 2.0})
    files = sorted(p.name for p in (tmp_path / "kernels").iterdir())
    assert len([f for f in files if f.endswith(".py")]) == 1
    assert any(name.endswith(".nbi") for name in os.listdir(tmp_path / "kernels" / "__pycache__"))
    # a second process compiling the same graph loads the machine code instead of compiling
    script = (
        "import graphdl\nfrom graphdl.tutorial_net import build_seed_net\n"
        "net = build_seed_net(); net.initialise('fig8')\n"
        "c = graphdl.compile(net.loss, inputs=[net.x, net.label], backend='numba')\n"
        "c.backward({net.x: 1.0, net.label: 2.0})\n"
        "print(dict(c.kernels.sample.stats.cache_hits), dict(c.kernels.sample.stats.cache_misses))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    hits, misses = result.stdout.strip().split("} {")
    assert hits.count(": 1") == 1 and misses.endswith("}") and ": " not in misses


def test_every_primitive_has_kernel_code():
    from graphdl.core.primitives import PRIMITIVES

    assert registry.unlisted() == [], "add the new primitive to graphdl/compiler/registry.py"
    for name, primitive in PRIMITIVES.items():  # the kernel code computes what the float version computes
        if name in registry.KERNEL_CODE:
            for args in [(0.5, 2.0, 3.0), (-1.5, 0.25, 0.75), (0.0, 2.0, 1.0)]:
                arguments = args[: primitive.arity]
                if name == "pow" and arguments[0] < 0:
                    continue  # plain Python gives a complex number here; compiled, NaN as numpy
                with np.errstate(all="ignore"):
                    expected = primitive.scalar(*arguments)
                got = registry.KERNEL_CODE[name](*arguments)
                assert got == pytest.approx(expected, rel=1e-15, nan_ok=True), name


@needs_numba
def test_an_unwritable_kernel_cache_falls_back_to_numpy(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(blocker))
    net = _seed_net()
    with pytest.warns(RuntimeWarning, match="no kernel cache at .*file.kernels"):
        compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    assert compiled.backend == "numpy"


def test_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_runner.cache_dir() == tmp_path / "mine" / "kernels"
    monkeypatch.delenv("GRAPHDL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert numba_runner.cache_dir() == tmp_path / "xdg" / "graphdl" / "kernels"


def test_without_numba_a_one_line_note_and_numpy(monkeypatch):
    monkeypatch.setattr(numba_runner, "available", lambda: False)
    net = _seed_net()
    with pytest.warns(RuntimeWarning, match=r'numba is not installed \(pip install "graphdl\[fast\]"\)') as caught:
        compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert compiled.backend == "numpy"
    assert compiled.backward({net.x: 1.0, net.label: 2.0}) == abs(2.0 - net.predict(1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" falls back silently
        assert graphdl.compile(net.loss, inputs=[net.x, net.label], backend="auto").backend == "numpy"


@needs_numba
@pytest.mark.parametrize("width", [1, 120])  # straight-line kernels; the grouped kernel (over 400 statements)
def test_a_primitive_numba_cannot_compute_is_named_once(monkeypatch, width):
    monkeypatch.setattr(registry, "KERNEL_CODE", {k: v for k, v in registry.KERNEL_CODE.items() if k != "tanh"})
    monkeypatch.setattr(numba_groups, "ARITY", {k: v for k, v in numba_groups.ARITY.items() if k != "tanh"})
    x = Variable(name="x", trainable=False)
    weights = [Variable(0.1 * k, name=f"w{k}") for k in range(width)]
    loss = ops.Add([ops.Tanh([ops.Mul([w, x])]) for w in weights] + [ops.Tanh([x])], name="loss")
    with pytest.warns(RuntimeWarning, match="tanh") as caught:
        compiled = graphdl.compile(loss, inputs=[x], backend="numba")
    assert len(caught) == 1 and compiled.backend == "numpy"
    assert (len(compiled.source.splitlines()) > numba_runner.MAX_STATEMENTS) == (width > 1)


@needs_numba
@pytest.mark.slow  # compiles the grouped kernels when the cache does not hold them
def test_big_graphs_run_the_grouped_kernels(monkeypatch):
    monkeypatch.setattr(numba_runner, "MAX_STATEMENTS", 10)
    results, compiled = _sgd_on_numpy_and_numba(*quadratic_data(50, seed=2))
    assert "grouped machine-code kernels" in compiled.kernels.source
    assert results[0] == results[1]  # the same float operations in the same order


def _mlp_with_feed(width: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = graphdl.nn.MLP(2, [width, width, 1], rng=rng)
    label = Variable(name="label", trainable=False)
    penalty = ops.Mul([1e-4, ops.Add([ops.Mul([p, p]) for p in model.parameters()])])
    loss = ops.Add([ops.HingeLoss([label, model.outputs[0]]), penalty])
    rng = np.random.default_rng(seed + 1)
    feed = {model.inputs[0]: rng.normal(size=30), model.inputs[1]: rng.normal(size=30)}
    feed[label] = np.sign(rng.normal(size=30))
    return loss, [*model.inputs, label], feed


def test_grouped_instructions_take_the_like_operations_of_a_depth_together():
    loss, inputs, _ = _mlp_with_feed(16)
    program = lower(loss, inputs)
    code = numba_groups.GroupedKernels(program).arrays[0]
    assert len(code) * 20 < len(program.statements)
    sums = code[code[:, 0] == numba_groups.SUM]
    assert [16, 16] in sums[:, [1, 6]].tolist()  # a layer: 16 sums of 16 terms, one instruction
    # a random DAG: the operations of one depth, whatever their statements, are one instruction
    rng = np.random.default_rng(3)
    x = Variable(name="x", trainable=False)
    values = [x, *[Variable(float(v), name=f"p{k}") for k, v in enumerate(rng.uniform(-1, 1, 20))]]
    for _ in range(1000):
        a, b = values[-1 - int(rng.integers(min(len(values), 32)))], values[int(rng.integers(len(values)))]
        values.append(ops.Tanh([(ops.Add if rng.random() < 0.5 else ops.Mul)([a, b])]))
    program = lower(ops.Add(values[-100:]), [x])
    code = numba_groups.GroupedKernels(program).arrays[0]
    assert len(code) * 4 < len(program.statements)


@needs_numba
@pytest.mark.slow
@pytest.mark.parametrize("width", [16, 64])
def test_mlps_run_on_numba_with_the_interpreters_numbers(width):
    loss, inputs, feed = _mlp_with_feed(width)
    compiled = graphdl.compile(loss, inputs=inputs, backend="numba")
    assert compiled.backend == "numba" and "grouped" in compiled.kernels.source
    parameters = compiled.parameters
    start = [p.value for p in parameters]
    expected_value, expected_grads = _reference_grads(loss, feed, parameters)
    np.testing.assert_allclose(compiled.forward(feed), expected_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled.backward(feed), np.mean(expected_value), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([p.grad for p in parameters], expected_grads, rtol=1e-12, atol=1e-12)
    assert compiled.step(feed, 0.1) == pytest.approx(np.mean(expected_value), rel=1e-12)
    stepped = [v - 0.1 * g for v, g in zip(start, expected_grads)]
    np.testing.assert_allclose([p.value for p in parameters], stepped, rtol=1e-12, atol=1e-12)
    # per-sample SGD against the Python program, from the same point
    short = {v: values[:10] for v, values in feed.items()}
    losses = compiled.sgd(short, 0.05)
    after = [p.value for p in parameters]
    for p, value in zip(parameters, stepped):
        p.set_value(value)
    reference = graphdl.compile(loss, inputs=inputs, backend="numpy")
    np.testing.assert_allclose(reference.sgd(short, 0.05), losses, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose([p.value for p in parameters], after, rtol=1e-12, atol=1e-12)


@needs_numba
@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([None, 2, 30]))
def test_grouped_numba_kernels_match_the_interpreter_on_random_graphs(seed, batch):
    old = numba_runner.MAX_STATEMENTS
    numba_runner.MAX_STATEMENTS = 0  # every graph takes the grouped kernels
    try:
        _check_agreement(seed, batch, "numba", 1e-9)
    finally:
        numba_runner.MAX_STATEMENTS = old


def test_auto_follows_graphdl_backend(monkeypatch):
    net = _seed_net()
    monkeypatch.setenv("GRAPHDL_BACKEND", "numpy")
    assert graphdl.compile(net.loss, inputs=[net.x, net.label], backend="auto").backend == "numpy"
    monkeypatch.delenv("GRAPHDL_BACKEND")  # numpy: results never depend on numba being installed
    assert graphdl.compile(net.loss, inputs=[net.x, net.label], backend="auto").backend == "numpy"
    monkeypatch.setenv("GRAPHDL_BACKEND", "numba")
    expected = "numba" if HAS_NUMBA else "numpy"
    assert graphdl.compile(net.loss, inputs=[net.x, net.label], backend="auto").backend == expected


def test_unknown_backend_is_named():
    net = _seed_net()
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'numba', 'auto', got 'cuda'"):
        graphdl.compile(net.loss, inputs=[net.x, net.label], backend="cuda")


@needs_numba
def test_a_kernel_numba_cannot_compile_falls_back_to_numpy(monkeypatch):
    from numba.core.errors import TypingError

    net = _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")

    def refuse(*arguments):
        raise TypingError("no typing for this")

    monkeypatch.setattr(compiled.kernels, "sample", refuse)
    with pytest.warns(RuntimeWarning, match=r"numba could not compile the kernels \(TypingError\); using the numpy"):
        mean = compiled.backward({net.x: 1.0, net.label: 2.0})
    assert compiled.backend == "numpy" and compiled.kernels is None
    assert mean == abs(2.0 - net.predict(1.0))


@needs_numba
def test_an_sgd_loop_numba_cannot_compile_runs_on_the_python_runner(monkeypatch):
    from numba.core.errors import TypingError

    xs, ys = np.array([0.5, 1.0, 1.5]), np.array([0.2, 1.1, 2.0])
    net, twin = _seed_net(), _seed_net()
    compiled = graphdl.compile(net.loss, inputs=[net.x, net.label], backend="numba")
    expected = graphdl.compile(twin.loss, inputs=[twin.x, twin.label]).sgd({twin.x: xs, twin.label: ys}, lr=0.01)

    def refuse(*arguments):
        raise TypingError("no typing for this")

    monkeypatch.setattr(compiled.kernels.module, "sgd", refuse)
    with pytest.warns(RuntimeWarning, match=r"numba could not compile the kernels \(TypingError\); using the numpy"):
        losses = compiled.sgd({net.x: xs, net.label: ys}, lr=0.01)
    assert compiled.backend == "numpy"
    assert list(losses) == list(expected) and [p.value for p in net.params] == [p.value for p in twin.params]


@needs_numba
def test_numba_division_by_zero_behaves_like_numpy():
    a, b = Variable(name="a", trainable=False), Variable(0.0, name="b")
    out = ops.Div([a, b])
    compiled = graphdl.compile(out, inputs=[a], backend="numba")
    assert compiled.forward({a: 1.0}) == np.inf
    assert np.isnan(compiled.forward({a: 0.0}))
    assert compiled.forward({a: np.array([1.0, -1.0])}).tolist() == [np.inf, -np.inf]


@needs_numba
@pytest.mark.slow
def test_grouped_batches_in_several_blocks_equal_numpys(monkeypatch):
    monkeypatch.setattr(numba_runner, "MAX_STATEMENTS", 0)  # the grouped kernel
    loss, inputs, _ = _mlp_with_feed(4)
    compiled = graphdl.compile(loss, inputs=inputs, backend="numba")
    reference = graphdl.compile(loss, inputs=inputs, backend="numpy")
    assert compiled.kernels.grouped is not None
    rng = np.random.default_rng(5)
    size = 3 * numba_groups.BLOCK + 7  # four blocks, their sums added in order
    feed = dict(zip(inputs, (rng.normal(size=size), rng.normal(size=size), np.sign(rng.normal(size=size)))))
    values, grads = compiled.gradients(feed)
    expected_values, expected_grads = reference.gradients(feed)
    np.testing.assert_allclose(grads, expected_grads, rtol=1e-12, atol=1e-15)
    assert values == pytest.approx(expected_values, rel=1e-12)
    np.testing.assert_allclose(compiled.forward(feed), reference.forward(feed), rtol=1e-12, atol=1e-15)
