"""graphdl.compile: generated programs agree with the interpreter, read like code, fail clearly."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphdl
from graphdl import ops
from graphdl.compiler.symbolic import SYMBOLIC, Expr, binary
from graphdl.core.node import Operator, UnsetValueError, Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data

# ---------------------------------------------------------------- random graphs


def _square_plus_one(a):
    return ops.Add([ops.Mul([a, a]), 1.0])


def _squash(a):
    return ops.Tanh([a])


# How to build each operator from pool nodes so every value stays finite and moderate.
BUILDERS = {
    ops.Abs: lambda r, a, b, c: ops.Abs([a]),
    ops.Add: lambda r, a, b, c: ops.Add([a, b, c][: r.integers(1, 4)]),
    ops.Div: lambda r, a, b, c: ops.Div([a, _square_plus_one(b)]),
    ops.Exp: lambda r, a, b, c: ops.Exp([_squash(a)]),
    ops.Log: lambda r, a, b, c: (
        ops.Log([ops.Exp([_squash(a)])]) if r.random() < 0.5 else ops.Log([_square_plus_one(a)])
    ),
    ops.Mul: lambda r, a, b, c: ops.Mul([_squash(a), b, _squash(c)][: r.integers(1, 4)]),
    ops.Neg: lambda r, a, b, c: ops.Neg([a]),
    ops.Pow: lambda r, a, b, c: (
        ops.Pow([_square_plus_one(a), _squash(b)]) if r.random() < 0.5 else ops.Pow([_squash(a), 2.0])
    ),
    ops.Sub: lambda r, a, b, c: ops.Sub([a, b]),
    ops.Elu: lambda r, a, b, c: ops.Elu([a], alpha=float(r.uniform(0.5, 2.0))),
    ops.Identity: lambda r, a, b, c: ops.Identity([a]),
    ops.LeakyRelu: lambda r, a, b, c: ops.LeakyRelu([a], negative_slope=float(r.uniform(0.0, 0.3))),
    ops.Relu: lambda r, a, b, c: ops.Relu([a]),
    ops.Sigmoid: lambda r, a, b, c: ops.Sigmoid([a]),
    ops.Softplus: lambda r, a, b, c: ops.Softplus([a]),
    ops.Swish: lambda r, a, b, c: ops.Swish([a]),
    ops.Tanh: lambda r, a, b, c: ops.Tanh([a]),
    ops.BCEWithLogits: lambda r, a, b, c: ops.BCEWithLogits([ops.Sigmoid([a]), b]),
    ops.HingeLoss: lambda r, a, b, c: ops.HingeLoss([_squash(a), b]),
    ops.LogLoss: lambda r, a, b, c: ops.LogLoss([ops.Sigmoid([a]), ops.Sigmoid([b])]),
    ops.SoftmaxCrossEntropy: lambda r, a, b, c: ops.SoftmaxCrossEntropy([a, b, c, float(r.integers(0, 3))]),
    ops.SquaredLoss: lambda r, a, b, c: ops.SquaredLoss([a, _squash(b)]),
    ops.ValueLoss: lambda r, a, b, c: ops.ValueLoss([a, b]),
    ops.BatchMean: lambda r, a, b, c: ops.BatchMean([a, b, 0.0]),  # the estimate; batches: test_batch_ops.py
    ops.Expm1: lambda r, a, b, c: ops.Expm1([_squash(a)]),
    ops.Log1p: lambda r, a, b, c: ops.Log1p([_square_plus_one(a)]),
    ops.Sign: lambda r, a, b, c: ops.Mul([ops.Sign([a]), b]),
    ops.Where: lambda r, a, b, c: ops.Where([ops.Greater([a, 0.1]), b, c]),
    ops.Clip: lambda r, a, b, c: ops.Clip([a, -0.5, 0.5]),
    ops.Greater: lambda r, a, b, c: ops.Mul([ops.Greater([a, b]), c]),
    ops.GreaterEqual: lambda r, a, b, c: ops.Mul([ops.GreaterEqual([a, b]), c]),
    ops.Less: lambda r, a, b, c: ops.Mul([ops.Less([a, b]), c]),
    ops.LessEqual: lambda r, a, b, c: ops.Mul([ops.LessEqual([a, b]), c]),
    ops.Equal: lambda r, a, b, c: ops.Add([ops.Equal([a, b]), c]),
    ops.NotEqual: lambda r, a, b, c: ops.Mul([ops.NotEqual([a, b]), c]),
}


def _operator_classes():
    found = set()
    for name in ops.__all__:
        item = getattr(ops, name)
        if inspect.isclass(item) and issubclass(item, Operator) and "formula" in _defined(item):
            found.add(item)
    return found


def _defined(cls):
    return {name for klass in cls.__mro__ if klass is not Operator for name in vars(klass)}


def test_random_graphs_cover_every_operator():
    assert _operator_classes() == set(BUILDERS), "add a builder for every new operator"


def _random_graph(seed: int):
    rng = np.random.default_rng(seed)
    x = Variable(name="x", trainable=False)
    y = Variable(name="y", trainable=False)
    fed_param = Variable(name="fed", trainable=True)  # trainable but fed: not a parameter
    data = Variable(float(rng.uniform(-1, 1)), name="data", trainable=False)  # read at call time
    params = [Variable(float(rng.uniform(-1, 1)), name=f"w{i}") for i in range(4)]
    pool = [x, y, fed_param, data, *params, 0.5]
    kinds = list(BUILDERS)
    for _ in range(int(rng.integers(4, 14))):
        op = kinds[int(rng.integers(len(kinds)))]
        picks = [pool[int(rng.integers(len(pool)))] for _ in range(3)]
        picks = [p if not isinstance(p, float) else Variable(p, trainable=False, _constant=True) for p in picks]
        pool.append(BUILDERS[op](rng, *picks))
    tail = [n for n in pool[-3:] if not isinstance(n, float)]
    target = ops.Add(tail + [ops.Mul([params[0], x])])  # every graph depends on x and a parameter
    return target, [x, y, fed_param], params


def _feed_value(rng, batch):
    if batch is None:
        return float(rng.uniform(-2, 2))
    return rng.uniform(-2, 2, size=batch)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), batch=st.sampled_from([None, 1, 7]))
def test_compiled_matches_interpreter_on_random_graphs(seed, batch):
    target, inputs, _ = _random_graph(seed)
    rng = np.random.default_rng(seed + 1)
    feed = {v: _feed_value(rng, batch) for v in inputs}
    for variable, value in feed.items():
        variable.set_value(value)
    target.backward()
    compiled = graphdl.compile(target, inputs=inputs)
    expected_value = target.value
    expected_grads = {p: p.grad for p in compiled.parameters}
    assert expected_grads and all(g is not None for g in expected_grads.values())

    value = compiled.forward(feed)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-12)
    assert type(value) is type(expected_value)

    mean = compiled.backward(feed)
    np.testing.assert_allclose(mean, np.mean(expected_value), rtol=1e-12, atol=1e-12)
    for parameter, expected in expected_grads.items():
        assert isinstance(parameter.grad, float)
        np.testing.assert_allclose(parameter.grad, expected, rtol=1e-12, atol=1e-12, err_msg=parameter.name)


def test_a_product_read_once_by_a_sum_is_written_into_it_and_no_other():
    """``w * x`` read once, as a term of a sum, is no statement of its own; read twice by one
    sum, by an activation, or by the gradient graph, it stays one. Values stay the interpreter's."""
    x = Variable(name="x", trainable=False)
    w = [Variable(0.1 * (k + 1), name=f"w{k}") for k in range(4)]
    once = ops.Add([Variable(0.2, name="b"), ops.Mul([w[0], x], name="once")], name="s1")
    twice = ops.Mul([w[1], x], name="twice")
    by_relu = ops.Mul([w[2], x], name="by_relu")
    by_tanh = ops.Mul([w[3], x], name="by_tanh")
    loss = ops.Add([once, ops.Add([twice, twice]), ops.Relu([by_relu]), ops.Tanh([by_tanh]) * once], name="loss")
    compiled = graphdl.compile(loss, inputs=[x])
    forward = compiled.source.split("def backward")[0]
    assert "once =" not in forward and "s1 = b + w0 * x" in forward
    for kept in ("twice =", "by_relu =", "by_tanh ="):
        assert kept in forward
    values = np.linspace(-1.5, 2.0, 9)
    x.set_value(values)
    loss.backward()
    expected = [p.grad for p in compiled.parameters]
    np.testing.assert_allclose(compiled.forward({x: values}), loss.value, rtol=1e-12, atol=1e-12)
    compiled.backward({x: values})
    np.testing.assert_allclose([p.grad for p in compiled.parameters], expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ seed net


@pytest.fixture
def seed_net():
    net = build_seed_net()
    net.initialise("fig8")
    return net


def test_the_backward_is_the_gradient_graph_lowered_with_the_forward_graph():
    """The backward statements are the nodes graphdl.grad builds: named after the node whose
    gradient they are, reusing forward values (tanh' = 1 - tanh² reads the tanh statement),
    and a weight's gradient is the batch sum of its per-sample gradient node."""
    x = Variable(name="x", trainable=False)
    w = Variable(0.3, name="w")
    b = Variable(-0.2, name="b")
    h = ops.Tanh([ops.Add([x * w, b], name="z")], name="h")
    loss = ops.Mul([h, h], name="loss")
    compiled = graphdl.compile(loss, inputs=[x])
    backward = compiled.source.split("def backward")[1]
    assert backward.count("tanh(") == 1, backward  # the derivative reads the forward value
    assert "g_w = batch_sum(g_z * x)" in backward and "g_b = batch_sum(g_z)" in backward, backward
    forward_nodes = set(loss.upstream()) | {loss}
    gradient_nodes = [s.node for s in compiled.program.backward if s.role == "grad"]
    assert set(gradient_nodes) <= forward_nodes and {w, b} <= set(gradient_nodes)
    xs = np.linspace(-2.0, 2.0, 7)
    mean = compiled.backward({x: xs})
    grads = [w.grad, b.grad]
    x.set_value(xs)
    assert mean == pytest.approx(float(np.mean(loss.forward())), rel=1e-12)
    reference = [float(np.mean(g.forward())) for g in graphdl.grad(loss, [w, b])]
    np.testing.assert_allclose(grads, reference, rtol=1e-12)


def test_seed_source_reads_like_a_program(seed_net):
    compiled = graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label])
    source = compiled.source
    assert "def forward(x, label," in source and "def backward(seed, x, label," in source
    for name in ("add_11", "relu_11", "add_21", "loss", "w_11", "b_21", "g_w_11"):
        assert name in source
    assert "add_11 = x * w_11 + b_11  # Add" in source  # a product of a batch and a scalar read once: in its sum
    assert "mul_11 =" not in source
    assert "loss = abs(label - add_21)  # ValueLoss" in source
    assert "g_add_21 = seed * -sign(label - add_21)" in source
    assert "g_w_21 = batch_sum(g_add_21 * relu_11)" in source
    assert "* 1.0" not in source and "* -1.0" not in source
    compile(source, "<check>", "exec")  # valid Python


def test_compile_is_deterministic(seed_net):
    first = graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label]).source
    second = graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label]).source
    assert first == second


def test_parameters_are_read_at_call_time(seed_net):
    compiled = graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label])
    feed = {seed_net.x: 1.5, seed_net.label: 2.25}
    before = compiled.forward(feed)
    compiled.backward(feed)
    for param in seed_net.params:
        param.update(lr=0.1)
    after = compiled.forward(feed)
    assert after != before
    seed_net.x.set_value(1.5)
    seed_net.label.set_value(2.25)
    assert after == seed_net.loss.forward()


def test_backward_writes_grads_like_the_interpreter(seed_net):
    xs, ys = quadratic_data(50, seed=3)
    compiled = graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label])
    mean = compiled.backward({"x": xs, "label": ys})
    grads = {p: p.grad for p in seed_net.params}
    seed_net.x.set_value(xs)
    seed_net.label.set_value(ys)
    seed_net.loss.backward()
    assert mean == pytest.approx(seed_net.loss.value.mean(), rel=1e-12)
    for param in seed_net.params:
        assert grads[param] == pytest.approx(param.grad, rel=1e-12, abs=1e-15)


def test_compiled_sgd_matches_the_seed_loop():
    xs, ys = quadratic_data(200, seed=1)
    interpreted, compiled_net = build_seed_net(), build_seed_net()
    interpreted.initialise("fig8")
    compiled_net.initialise("fig8")
    from graphdl.tutorial_net import train_per_sample

    train_per_sample(interpreted, xs, ys, lr=0.01)
    compiled = graphdl.compile(compiled_net.loss, inputs=[compiled_net.x, compiled_net.label])
    for x_value, y_value in zip(xs, ys):
        compiled.backward({compiled_net.x: float(x_value), compiled_net.label: float(y_value)})
        for param in compiled_net.params:
            param.update(lr=0.01)
    for a, b in zip(interpreted.params, compiled_net.params):
        assert a.value == pytest.approx(b.value, abs=1e-12)


def test_division_by_zero_behaves_like_numpy():
    a, b = Variable(name="a", trainable=False), Variable(0.0, name="b")
    out = ops.Div([a, b])
    compiled = graphdl.compile(out, inputs=[a])
    assert compiled.forward({a: 1.0}) == np.inf
    assert np.isnan(compiled.forward({a: 0.0}))
    assert compiled.forward({a: np.array([1.0, -1.0])}).tolist() == [np.inf, -np.inf]
    compiled.backward({a: 1.0})
    a.set_value(1.0)
    out.backward()
    assert isinstance(b.grad, float)


# ---------------------------------------------------------------- bad feeds


@pytest.fixture
def compiled_seed(seed_net):
    return seed_net, graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.label])


def test_missing_input_is_named(compiled_seed):
    net, compiled = compiled_seed
    with pytest.raises(KeyError, match="'label'"):
        compiled.forward({net.x: 1.0})


def test_unknown_input_is_named(compiled_seed):
    net, compiled = compiled_seed
    with pytest.raises(KeyError, match="'w_11' is not an input"):
        compiled.forward({net.x: 1.0, net.label: 1.0, net.w_11: 2.0})
    with pytest.raises(KeyError, match="'z' is not an input"):
        compiled.forward({net.x: 1.0, "z": 1.0})


def test_unused_input_is_accepted(seed_net):
    compiled = graphdl.compile(seed_net.add_21, inputs=[seed_net.x, seed_net.label])
    assert compiled.forward({seed_net.x: 1.0, seed_net.label: 5.0}) == seed_net.predict(1.0)


def test_mismatched_batch_sizes_are_named(compiled_seed):
    net, compiled = compiled_seed
    with pytest.raises(ValueError, match="'x' has 3.*'label' has 2"):
        compiled.backward({net.x: np.ones(3), net.label: np.ones(2)})


def test_bad_values_name_the_input(compiled_seed):
    net, compiled = compiled_seed
    with pytest.raises(ValueError, match="'x'"):
        compiled.forward({net.x: float("nan"), net.label: 1.0})
    with pytest.raises(TypeError, match="'label'"):
        compiled.forward({net.x: 1.0, net.label: "one"})
    with pytest.raises(TypeError, match="dict"):
        compiled.forward([1.0, 2.0])


def test_unset_parameter_is_named():
    x, w = Variable(name="x", trainable=False), Variable(name="w")
    compiled = graphdl.compile(ops.Mul([x, w]), inputs=[x])
    with pytest.raises(UnsetValueError, match="'w'"):
        compiled.forward({x: 1.0})


def test_bad_inputs_at_compile_time(seed_net):
    with pytest.raises(TypeError, match="Variables"):
        graphdl.compile(seed_net.loss, inputs=[seed_net.add_11])
    with pytest.raises(ValueError, match="twice"):
        graphdl.compile(seed_net.loss, inputs=[seed_net.x, seed_net.x])


def test_scalar_and_batch_feeds_mix(compiled_seed):
    net, compiled = compiled_seed
    values = compiled.forward({net.x: np.array([0.5, 1.0]), net.label: 1.0})
    net.x.set_value(np.array([0.5, 1.0]))
    net.label.set_value(1.0)
    assert values.tolist() == net.loss.forward().tolist()


# ------------------------------------------------------------- the symbols


def test_symbolic_values_refuse_python_branching():
    with pytest.raises(TypeError, match="F.where"):
        bool(Expr("x") > 0.0)


def test_symbolic_rendering_keeps_needed_brackets_only():
    a, b, c = Expr("a"), Expr("b"), Expr("c")
    assert (a - (b - c)).text == "a - (b - c)"
    assert (a + (b + c)).text == "a + (b + c)"  # floats are not associative
    assert ((a + b) * c).text == "(a + b) * c"
    assert (a * b + c).text == "a * b + c"
    negated = -a
    assert (a * -1.0).text == "-a" and (-negated).text == "a" and (1.0 * a).text == "a"
    assert (
        binary("-", 1.0, 0.25).text == "0.75" and binary("/", 1.0, 0.0).text == "inf"
    )  # folded as IEEE arithmetic says
    assert SYMBOLIC.where(a > 0.0, a, 0.1 * a).text == "where(a > 0.0, a, 0.1 * a)"
    assert (-(a * b)).text == "-(a * b)"


def test_generated_sgd_loop_matches_the_seed_loop():
    xs, ys = quadratic_data(300, seed=2)
    interpreted, compiled_net = build_seed_net(), build_seed_net()
    interpreted.initialise("fig8")
    compiled_net.initialise("fig8")
    from graphdl.tutorial_net import train_per_sample

    expected = train_per_sample(interpreted, xs, ys, lr=0.01)
    compiled = graphdl.compile(compiled_net.loss, inputs=[compiled_net.x, compiled_net.label])
    losses = compiled.sgd({compiled_net.x: xs, compiled_net.label: ys}, lr=0.01)
    np.testing.assert_allclose(losses, expected, rtol=1e-12, atol=1e-12)
    for a, b in zip(interpreted.params, compiled_net.params):
        assert a.value == pytest.approx(b.value, abs=1e-12)
    assert "for x, label in zip(x_column, label_column):" in compiled.sgd_source


def test_sgd_loop_survives_division_by_zero():
    x, w = Variable(name="x", trainable=False), Variable(1.0, name="w")
    target = ops.Add([ops.Div([x, x]), ops.Mul([w, w])])  # 0 / 0 raises for Python floats
    compiled = graphdl.compile(target, inputs=[x])
    losses = compiled.sgd({x: np.array([0.0, 1.0])}, lr=0.25)
    assert np.isnan(losses[0]) and losses[1] == 1.0 + 0.5**2
    assert w.value == 0.25  # 1.0 - 0.25 * 2.0, then 0.5 - 0.25 * 1.0


@pytest.mark.parametrize("compiled_mode", [False, True])
def test_parameter_on_batch_and_scalar_paths_gets_the_mean_gradient(compiled_mode):
    # mean over the batch of (w·x + w²) = w·mean(x) + w²: the gradient is mean(x) + 2w.
    # (Regression: the w² path used to be broadcast over the batch before summing.)
    x, w = Variable(name="x", trainable=False), Variable(0.5, name="w")
    target = ops.Add([ops.Mul([w, x]), ops.Mul([w, w])])
    xs = np.array([1.0, 2.0, 4.0])
    if compiled_mode:
        graphdl.compile(target, inputs=[x]).backward({x: xs})
    else:
        x.set_value(xs)
        target.backward()
    assert w.grad == pytest.approx(xs.mean() + 2 * 0.5, rel=1e-12)


def test_very_long_sums_compile():
    x = Variable(name="x", trainable=False)
    params = [Variable(0.001 * i, name=f"p{i}") for i in range(3000)]
    target = ops.Add([ops.Mul([x, p]) for p in params])
    compiled = graphdl.compile(target, inputs=[x])
    assert "_part = " in compiled.source
    x.set_value(np.array([1.0, 2.0]))
    expected = target.forward().tolist()
    np.testing.assert_allclose(compiled.forward({x: np.array([1.0, 2.0])}), expected, rtol=1e-12)  # matrix products


def test_softmax_cross_entropy_source_grows_linearly_with_the_classes():
    # Regression: the log-sum-exp's running maximum where(m > z, m, z) uses m twice, so its
    # text doubled per logit (2**K copies; 10 digit classes made each step 10x slower).
    # Long operands now go to temporaries, and one text is written to one temporary only.
    classes = 16
    x, label = Variable(name="x", trainable=False), Variable(name="label", trainable=False)
    weights = [Variable(0.1 * k - 0.7, name=f"w{k}") for k in range(classes)]
    loss = ops.SoftmaxCrossEntropy([*[ops.Mul([x, w]) for w in weights], label])
    compiled = graphdl.compile(loss, inputs=[x, label])
    source = compiled.source
    assert len(source) < 20_000
    assert max(len(line) for line in source.splitlines()) < 2_000
    assigned = [line.split(" = ")[0].strip() for line in source.split("def backward")[1].splitlines() if " = " in line]
    assert len(assigned) == len(set(assigned))  # straight-line code: every name is assigned once
    assert sum("_part" in name for name in assigned) >= classes // 4  # the shared parts are temporaries
    xs, labels = np.array([0.5, -2.0, 3.0, 40.0]), np.array([0.0, 3.0, 15.0, 7.0])
    mean = compiled.backward({x: xs, label: labels})
    compiled_grads = [w.grad for w in weights]
    x.set_value(xs)
    label.set_value(labels)
    loss.backward()
    assert mean == pytest.approx(float(np.mean(loss.value)), rel=1e-12)
    np.testing.assert_allclose(compiled_grads, [w.grad for w in weights], rtol=1e-12, atol=1e-15)
