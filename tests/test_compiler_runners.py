"""The runners of one lowered program: every primitive on every runner (one sample, a batch,
gradients), full-batch steps, parameters as one array, kernels keyed by structure."""

from __future__ import annotations

import numpy as np
import pytest

import graphdl
from graphdl import ops
from graphdl.compiler import numba_runner, registry
from graphdl.compiler.compiled import NUMBA_STEP_FROM
from graphdl.core.node import Operator, Variable
from graphdl.core.primitives import PRIMITIVES

HAS_NUMBA = numba_runner.available()

#: One use of each primitive on a = w * x + 0.5 (in [0.5, 1.5] for the data below) and w.
USES = {
    "exp": lambda F, a, w: F.exp(a * w),
    "expm1": lambda F, a, w: F.expm1(a - w),
    "log": lambda F, a, w: F.log(a * w),
    "log1p": lambda F, a, w: F.log1p(a * w),
    "tanh": lambda F, a, w: F.tanh(a - w),
    "pow": lambda F, a, w: F.pow(a, w),
    "abs": lambda F, a, w: F.abs(a - 1.0),
    "where": lambda F, a, w: F.where(a > 1.0, a * w, a),
    "sign": lambda F, a, w: F.sign(a - 1.0) * w,
    "clip": lambda F, a, w: F.clip(a, 0.75, 1.25) * w,
    "batch_mean": lambda F, a, w: F.batch_mean(a, 0.0, 0.0) + a * w,  # the estimate: also one sample
}


def _operator(primitive: str) -> type[Operator]:
    use = USES[primitive]

    class Uses(Operator):
        """A test operator whose formula and derivative call one primitive."""

        arity = 2
        kind = f"Uses_{primitive}"

        def formula(self, F, a, w):
            return use(F, a, w)

        def derivative(self, F, index, out, a, w):
            return use(F, a, w) * (0.5 if index else 0.25) + out

    return Uses


def test_every_primitive_has_a_conformance_case():
    assert set(USES) == set(PRIMITIVES)
    assert registry.unlisted() == []


NEEDS_NUMBA = pytest.mark.skipif(not HAS_NUMBA, reason="no numba")
RUNNERS = ["python", "numpy", pytest.param("numba", marks=[NEEDS_NUMBA, pytest.mark.slow])]  # ~8 s per compile


@pytest.mark.parametrize("primitive", sorted(PRIMITIVES))
@pytest.mark.parametrize("runner", RUNNERS)
def test_every_primitive_on_every_runner(primitive, runner, monkeypatch):
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(numba_runner.cache_dir().parent))
    x = Variable(name="x", trainable=False)
    w = Variable(0.8, name="w")
    out = _operator(primitive)([w * x + 0.5, w])
    target = out * out
    backend = "numba" if runner == "numba" else "numpy"
    with pytest.warns(RuntimeWarning) if runner == "numba" and primitive == "batch_mean" else _nothing():
        compiled = graphdl.compile(target, inputs=[x], backend=backend)
    if runner == "python":
        compiled.grouping = False
    if runner == "numba" and primitive != "batch_mean":
        assert compiled.backend == "numba"
    for feed in (0.9, np.linspace(0.0, 1.25, 7)):  # one sample, then a batch
        x.set_value(feed)
        expected = target.forward()
        target.backward()
        expected_grad = w.grad
        value = compiled.forward({x: feed})
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15, err_msg=f"{primitive} value")
        compiled.backward({x: feed})
        np.testing.assert_allclose(w.grad, expected_grad, rtol=1e-12, atol=1e-15, err_msg=f"{primitive} gradient")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _mlp_loss(width: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = graphdl.nn.MLP(2, [width, width, 1], rng=rng)
    label = Variable(name="label", trainable=False)
    params = model.parameters()
    penalty = ops.Mul([1e-3, ops.Add([ops.Mul([p, p]) for p in params])])
    loss = ops.Add([ops.HingeLoss([label, model.outputs[0]]), penalty])
    return model, label, loss


def _step_equals_backward_then_update(stepped, reference, feed, lr):
    """``stepped.step(feed, lr)`` gives the loss and the parameters of ``reference.backward``
    followed by ``p.update(lr)`` for every parameter."""
    params = stepped.parameters
    before = [p.value for p in params]
    loss_value = reference.backward(feed)
    expected = [v - lr * p.grad for v, p in zip(before, params)]
    assert stepped.step(feed, lr) == pytest.approx(loss_value, rel=1e-12)
    np.testing.assert_allclose([p.value for p in params], expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(stepped.parameter_values(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "backend",
    ["numpy", pytest.param("numba", marks=[pytest.mark.slow, pytest.mark.skipif(not HAS_NUMBA, reason="no numba")])],
)
def test_a_batch_step_is_backward_then_update_for_every_parameter(backend):
    model, label, loss = _mlp_loss()
    stepped = graphdl.compile(loss, inputs=[*model.inputs, label], backend=backend)
    rng = np.random.default_rng(1)
    feed = {model.inputs[0]: rng.normal(size=40), model.inputs[1]: rng.normal(size=40)}
    feed[label] = np.sign(rng.normal(size=40))
    reference = graphdl.compile(loss, inputs=[*model.inputs, label])
    for _ in range(3):
        _step_equals_backward_then_update(stepped, reference, feed, 0.1)


@pytest.mark.parametrize("width", [1, 6])  # 1: a small program steps as Python floats; 6: through the kernel
@pytest.mark.parametrize(
    "backend",
    ["numpy", pytest.param("numba", marks=[pytest.mark.slow, pytest.mark.skipif(not HAS_NUMBA, reason="no numba")])],
)
def test_a_per_sample_step_is_backward_then_update(backend, width):
    model, label, loss = _mlp_loss(width)
    stepped = graphdl.compile(loss, inputs=[*model.inputs, label], backend=backend)
    reference = graphdl.compile(loss, inputs=[*model.inputs, label])
    assert (len(stepped.program.statements) >= NUMBA_STEP_FROM) == (width == 6)
    for k in range(4):
        feed = {model.inputs[0]: 0.3 * k - 0.4, model.inputs[1]: 0.7 - 0.2 * k, label: (-1.0) ** k}
        _step_equals_backward_then_update(stepped, reference, feed, 0.05)


def test_parameters_live_in_one_array_and_variables_follow():
    model, label, loss = _mlp_loss(3)
    compiled = graphdl.compile(loss, inputs=[*model.inputs, label])
    values = compiled.parameter_values()
    assert values.dtype == np.float64 and values.shape == (len(compiled.parameters),)
    compiled.assign_parameters(values * 0.5)
    assert [p.value for p in compiled.parameters] == (values * 0.5).tolist()
    compiled.parameters[0].set_value(7.0)  # a change from outside is read at the next call
    assert compiled.parameter_values()[0] == 7.0
    with pytest.raises(ValueError, match="not finite|finite"):
        compiled.assign_parameters(np.full(len(values), np.nan))


@pytest.mark.skipif(not HAS_NUMBA, reason="no numba")
def test_kernels_are_keyed_by_structure_not_names(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHDL_CACHE_DIR", str(tmp_path))
    sources = []
    for _ in range(2):  # the same graph built twice: new automatic names
        x = Variable(name=None, trainable=False)
        w, b = Variable(0.5), Variable(-0.25)
        loss = ops.Tanh([x * w + b]) * 2.0
        compiled = graphdl.compile(loss, inputs=[x], backend="numba")
        sources.append(compiled.kernels.source)
        assert w.name not in compiled.kernels.source and x.name not in compiled.kernels.source
    assert sources[0] == sources[1]
    assert len(list((tmp_path / "kernels").glob("*.py"))) == 1


def test_optimisers_step_a_compiled_programs_parameters_as_arrays():
    results = []
    for mode in ("auto", False):
        model, label, loss = _mlp_loss(4, seed=3)
        optimizer = graphdl.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-3)
        trainer = graphdl.train.Trainer(model, optimizer, loss=loss, labels=[label], compile=mode, progress=False)
        rng = np.random.default_rng(2)
        features, targets = rng.normal(size=(32, 2)), np.sign(rng.normal(size=32))
        history = trainer.fit((features, targets), epochs=2, batch_size=8, shuffle=False)
        results.append(([p.value for p in model.parameters()], history.train_loss))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)
