"""The core's rules (issue 10): one rule for update(), no silent wrong gradients, the
compiled program agreeing with the interpreter, no reference cycles, no global state,
and the operator hooks (checked arguments, batch-reducing vjp)."""

from __future__ import annotations

import gc
import linecache
import math
import sys
import types
import weakref

import numpy as np
import pytest

import graphdl as gd
from graphdl import Operator, Relu, Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample


# ------------------------------------------------------------- 1. update() rule
def test_a_graph_built_after_update_is_differentiated_at_the_new_values() -> None:
    """micrograd's pattern, rebuilding the expression every step."""
    a = Variable(0.0)
    a.exp().backward()
    a.update(-1.0)  # a is now 1
    m = a.exp() * a
    assert m.forward() == math.e
    m.backward()
    assert a.grad == pytest.approx(2 * math.e, rel=1e-15)  # d(a e^a)/da = (1 + a) e^a at a = 1


def test_rebuilding_every_step_trains_like_a_fixed_graph() -> None:
    """Rebuild the loss every step (micrograd) vs one graph with forward/backward/update
    and no clear() (full-batch loop): the same parameters after every step."""
    w_rebuilt, w_fixed = Variable(0.5, name="w"), Variable(0.5, name="w")
    b_rebuilt, b_fixed = Variable(-0.2, name="b"), Variable(-0.2, name="b")
    x = Variable(np.linspace(-1.0, 1.0, 5), name="x", trainable=False)
    fixed = ((x * w_fixed + b_fixed).tanh() - x) ** 2
    for _ in range(6):
        rebuilt = ((x * w_rebuilt + b_rebuilt).tanh() - x) ** 2
        rebuilt.backward()
        fixed.forward()
        fixed.backward()
        for p in (w_rebuilt, b_rebuilt, w_fixed, b_fixed):
            p.update(0.3)
        assert (w_rebuilt.value, b_rebuilt.value) == (w_fixed.value, b_fixed.value)
    assert w_fixed.value != 0.5


def test_the_seed_loop_steps_every_parameter_from_one_point() -> None:
    """forward; per parameter get_grad + update; read loss.value; clear: every gradient and
    the recorded loss belong to the step's point (checked against a fresh net per step)."""
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(5, seed=3)
    for x_value, y_value in zip(xs.tolist(), ys.tolist()):
        fresh = build_seed_net()
        fresh.initialise([p.value for p in net.params])
        fresh.x.set_value(x_value)
        fresh.label.set_value(y_value)
        expected_grads = [p.get_grad() for p in fresh.params]
        net.x.set_value(x_value)
        net.label.set_value(y_value)
        net.loss.forward()
        grads = []
        for p in net.params:
            grads.append(p.get_grad())
            p.update(lr=0.1)
        assert grads == expected_grads
        assert net.loss.value == fresh.loss.value  # the pre-update loss
        net.loss.clear()


def test_forward_after_updates_evaluates_at_the_new_values() -> None:
    w = Variable(2.0, name="w")
    loss = (w * 3.0) ** 2
    loss.backward()
    w.update(0.01)  # 2 - 0.01 * 36
    assert loss.value == 36.0  # the step's value stays readable
    assert loss.forward() == pytest.approx((3 * 1.64) ** 2, rel=1e-15)
    loss.backward()
    assert w.grad == pytest.approx(18 * 1.64, rel=1e-15)


def test_a_step_on_one_graph_leaves_another_graph_alone() -> None:
    a, b = Variable(1.0, name="a"), Variable(1.0, name="b")
    ga, gb = a * a, b * 3.0
    ga.backward()
    gb.backward()
    a.update(0.5)
    gb.forward()  # another graph: the step on ga's graph goes on
    assert ga.value == 1.0 and a.grad == 2.0
    ga.forward()
    assert ga.value == 0.0 and a.grad is None


def test_clear_drops_every_cached_value_and_gradient_of_the_graph_only() -> None:
    w, v = Variable(2.0, name="w"), Variable(3.0, name="v")
    first, second = w * v, (w + v).tanh()  # two targets of one graph (they share w and v)
    other = Variable(1.0, name="other")
    elsewhere = other * 5.0  # another graph
    second.backward()
    first.forward()
    elsewhere.backward()
    first.clear()
    assert first.cached_value is None and second.cached_value is None
    assert w.grad is None and v.grad is None
    assert elsewhere.cached_value == 5.0 and other.grad == 5.0


# ------------------------------------------------------------------- 5. Pow at 0
POW_AT_ZERO = [
    # (build, the Variable differentiated); the limit of the derivative is 0 in each case
    pytest.param(lambda: (lambda v: (v**0, v))(Variable(0.0)), id="0**0 wrt base"),
    pytest.param(lambda: (lambda w: (Variable(0.0, trainable=False) ** w, w))(Variable(2.0)), id="0**w wrt w"),
    pytest.param(lambda: (lambda w: (Relu([Variable(-1.5, trainable=False)]) ** w, w))(Variable(3.0)), id="relu**w"),
    pytest.param(lambda: (lambda w: (Variable(0.0, trainable=False) ** w, w))(Variable(0.0)), id="0**0 wrt exp"),
]


@pytest.mark.parametrize("build", POW_AT_ZERO)
def test_pow_with_a_zero_base_has_the_limit_gradient(build) -> None:
    out, variable = build()
    out.backward()
    assert variable.grad == 0.0
    compiled = gd.compile(out)
    compiled.backward({})
    assert variable.grad == 0.0


def test_pow_gradients_elsewhere_are_unchanged() -> None:
    base, exponent = Variable(1.7, name="b"), Variable(-0.6, name="e")
    out = base**exponent
    out.backward()
    assert base.grad == -0.6 * 1.7**-1.6 and exponent.grad == out.value * float(np.log(1.7))
    zero = Variable(0.0, name="z")
    (zero**0.5).backward()  # a genuine infinite slope stays infinite
    assert zero.grad == math.inf


# ----------------------------------------------------- 6. compiled == interpreted
@pytest.mark.parametrize("x_value", [1.0, 0.0, -2.0])
def test_compiled_division_by_a_zero_constant_is_ieee_like_the_interpreter(x_value) -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(1.5, name="w")
    out = x * w / 0.0 + w
    compiled = gd.compile(out, inputs=[x])
    got = compiled.forward({x: x_value}), compiled.backward({x: x_value}), w.grad
    x.set_value(x_value)
    expected = out.forward(), out.forward(), w.get_grad()
    np.testing.assert_array_equal(got, expected)
    batch = np.array([x_value, 1.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(compiled.forward({x: batch}), (batch * 1.5) / 0.0 + 1.5)


def test_detect_anomaly_stops_the_compiled_forward_and_backward_at_the_node() -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(2.0, name="w")
    logged = gd.Log([x * w], name="logged")
    out = gd.Add([logged, w], name="out")
    compiled = gd.compile(out, inputs=[x])
    assert math.isnan(compiled.forward({x: -1.0}))  # no anomaly mode: NaN flows
    with gd.detect_anomaly():
        with pytest.raises(gd.AnomalyError, match="Log 'logged': value is not finite"):
            compiled.forward({x: -1.0})
        with pytest.raises(gd.AnomalyError, match="Log 'logged': value is not finite"):
            compiled.backward({x: np.array([1.0, -1.0])})
        assert compiled.forward({x: 1.0}) == pytest.approx(math.log(2.0) + 2.0)
    zero = Variable(name="zero", trainable=False)
    root = gd.Pow([zero * w, 0.5], name="root")
    compiled = gd.compile(root, inputs=[zero])
    with gd.detect_anomaly(), pytest.raises(gd.AnomalyError, match="gradient is not finite"):
        compiled.backward({zero: 0.0})  # d sqrt(u)/du at 0 is inf


# ------------------------------------------------------------------ 7. memory
def _seed_graph_refs() -> tuple[weakref.ref, weakref.ref]:
    net = build_seed_net()
    net.initialise("fig8")
    net.x.set_value(1.0)
    net.label.set_value(1.0)
    net.loss.forward()
    return weakref.ref(net.loss), weakref.ref(net.params[0])


def test_no_reference_cycles_after_forward_or_backward() -> None:
    gc.collect()
    gc.disable()
    try:
        loss_ref, param_ref = _seed_graph_refs()
        assert loss_ref() is None and param_ref() is None  # freed by reference counting alone
        x = Variable(np.linspace(0, 1, 4), name="x", trainable=False)
        w = Variable(0.3, name="w")
        loss = ((x * w).tanh() - x) ** 2
        loss.backward()
        w.get_grad()
        loss_ref = weakref.ref(loss)
        del loss
        assert loss_ref() is None
        assert w.grad is not None  # the gradient outlives its target until a value changes
        w.set_value(0.4)
        assert w.grad is None
    finally:
        gc.enable()


def test_compiled_source_leaves_linecache_with_the_compiled_graph() -> None:
    x = Variable(name="x", trainable=False)
    w = Variable(0.5, name="w")
    before = set(linecache.cache)
    compiled = gd.compile((x * w).tanh(), inputs=[x])
    compiled.forward({x: 0.3})  # the per-sample program is loaded on first use
    compiled.sgd({x: np.array([0.1, 0.2])}, lr=0.1)
    with gd.detect_anomaly():
        compiled.forward({x: 0.3})
    added = set(linecache.cache) - before
    assert len(added) == 3  # program, sgd loop, anomaly-checking program
    assert all("".join(linecache.cache[name][2]).count("def ") >= 1 for name in added)
    del compiled
    gc.collect()
    assert not added & set(linecache.cache)


# -------------------------------------------------------------- no global state
def test_no_module_level_mutable_state_in_the_core() -> None:
    """Nothing module-level and mutable in graphdl.core and graphdl.compiler, apart from
    the name counters (each behind a lock) and the per-thread context variables."""
    import graphdl.compiler.compiled
    import graphdl.compiler.groups
    import graphdl.compiler.ir
    import graphdl.compiler.numba_runner
    import graphdl.compiler.numpy_runner
    import graphdl.compiler.python_runner
    import graphdl.compiler.registry
    import graphdl.compiler.symbolic
    import graphdl.core.anomaly
    import graphdl.core.component
    import graphdl.core.interpreter
    import graphdl.core.names
    import graphdl.core.node
    import graphdl.core.plan
    import graphdl.core.primitives
    import graphdl.core.values

    allowed = {("graphdl.core.names", "_counters")}  # one counter per kind, each behind a lock
    modules = [
        graphdl.core.node,
        graphdl.core.component,
        graphdl.core.interpreter,
        graphdl.core.names,
        graphdl.core.values,
        graphdl.core.plan,
        graphdl.core.primitives,
        graphdl.core.anomaly,
        graphdl.compiler.ir,
        graphdl.compiler.groups,
        graphdl.compiler.registry,
        graphdl.compiler.python_runner,
        graphdl.compiler.numpy_runner,
        graphdl.compiler.numba_runner,
        graphdl.compiler.symbolic,
        graphdl.compiler.compiled,
    ]
    found = []
    for module in modules:
        for name, value in vars(module).items():
            if isinstance(value, (list, set, dict, bytearray)) and not name.startswith("__"):
                if (module.__name__, name) not in allowed and not name.isupper():
                    found.append(f"{module.__name__}.{name}")
    assert found == []
    # the upper-case tables are read-only in practice: the namespaces are copied per program
    assert isinstance(graphdl.compiler.compiled.SCALAR_NAMESPACE, dict)


# ------------------------------------------------------------ operator hooks
class _Checked(Operator):
    """``label * x`` whose label (argument 0) must be 0 or 1."""

    __slots__ = ()
    arity = 2
    checked_arguments = (0,)

    def formula(self, F, label, x):
        return label * x

    def derivative(self, F, index, out, label, x):
        return x if index == 0 else label

    def check_argument(self, index, value):
        values = np.atleast_1d(value)
        bad = values[(values != 0.0) & (values != 1.0)]
        if bad.size:
            raise ValueError(f"{self.kind} {self.name!r}: label must be 0 or 1, got {bad[0]}")


def test_checked_arguments_are_validated_by_the_interpreter_and_the_compiled_program() -> None:
    label = Variable(name="label", trainable=False)
    w = Variable(0.5, name="w")
    out = _Checked([label, w * 2.0], name="picked")
    label.set_value(np.array([1.0, 0.0]))
    assert out.forward().tolist() == [1.0, 0.0]
    label.set_value(np.array([1.0, 0.5]))
    with pytest.raises(ValueError, match="_Checked 'picked': label must be 0 or 1, got 0.5"):
        out.forward()
    compiled = gd.compile(out, inputs=[label])
    assert compiled.forward({label: 1.0}) == 1.0
    for run in (compiled.forward, compiled.backward, lambda feed: compiled.sgd(feed, lr=0.1)):
        with pytest.raises(ValueError, match="label must be 0 or 1, got 2.0"):
            run({label: np.array([0.0, 2.0])})
    assert w.value == 0.5  # nothing was trained


class _MinusBatchMean(Operator):
    """x - mean(x) over the batch: each sample's output depends on every sample."""

    __slots__ = ()
    reduces_batch = True

    seen_shapes: list = []

    def formula(self, F, x):
        return x - F.batch_mean(x)

    def derivative(self, F, index, out, x):
        raise AssertionError("the sweep must call vjp for a batch-reducing operator")

    def vjp(self, F, index, grad, out, x):
        type(self).seen_shapes.append((np.shape(grad), np.shape(x)))
        return grad - F.batch_mean(grad)


def test_a_batch_reducing_operator_gets_the_whole_batch_in_its_vjp() -> None:
    x = Variable(np.array([0.5, -1.0, 2.0, 0.25]), name="x", trainable=False)
    w = Variable(1.3, name="w")
    centred = _MinusBatchMean([x * w])
    loss = (centred * x).tanh()
    loss.backward()
    samples = x.value
    mean_of = lambda v: float(np.mean(np.tanh((samples * v - np.mean(samples * v)) * samples)))  # noqa: E731
    numeric = (mean_of(1.3 + 1e-6) - mean_of(1.3 - 1e-6)) / 2e-6
    assert w.grad == pytest.approx(numeric, rel=1e-6)
    assert _MinusBatchMean.seen_shapes == [((4,), (4,))]  # the whole batch, in one call
    assert gd.gradcheck(loss, [w]) < 1e-7
    compiled = gd.compile(loss, inputs=[x])
    compiled.backward({x: samples})
    assert w.grad == pytest.approx(numeric, rel=1e-6)


# ------------------------------------------------------------ seed regression
def test_the_seed_loop_is_bit_identical_to_the_compiled_sgd_loop() -> None:
    xs, ys = quadratic_data(40, seed=1)
    net = build_seed_net()
    net.initialise("fig8")
    losses = train_per_sample(net, xs.tolist(), ys.tolist(), lr=0.01)
    other = build_seed_net()
    other.initialise("fig8")
    compiled = gd.compile(other.loss, inputs=[other.x, other.label])
    compiled_losses = compiled.sgd({other.x: xs, other.label: ys}, lr=0.01)
    assert compiled_losses.tolist() == losses
    assert [p.value for p in other.params] == [p.value for p in net.params]


def test_core_imports_nothing_above_it() -> None:
    """graphdl.core depends on numpy and graphdl.ops (the operator sugar) only."""
    sources = []
    for name, module in list(sys.modules.items()):
        if name.startswith("graphdl.core.") and isinstance(module, types.ModuleType):
            sources.append(open(module.__file__, encoding="utf-8").read())
    imports = {
        line.split()[1]
        for text in sources
        for line in text.splitlines()
        if line.strip().startswith(("from graphdl", "import graphdl"))
    }
    assert imports and all(name.startswith(("graphdl.core", "graphdl.ops")) for name in imports), imports
