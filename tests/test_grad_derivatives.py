"""First and second derivatives of every operator of the spec table as gradient graphs
(graphdl.grad, then graphdl.grad again), against torch.autograd.grad(create_graph=True)
where PyTorch has the operator (skipped without PyTorch), else finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from core_opspecs import SPEC_IDS, SPECS, TORCH_FORMULAS, OpSpec, positions

import graphdl as gd

STEP = 1e-5
FD_TOL = 1e-6


def _build(spec: OpSpec, values):
    inputs = [
        gd.Variable(value, name=f"in_{i}", trainable=i not in spec.constant_positions) for i, value in enumerate(values)
    ]
    return inputs, spec.make(inputs)


def _graph_derivatives(spec: OpSpec, values):
    """(inputs, output, first[p], second[p][q]) with first and second derivatives as nodes."""
    inputs, out = _build(spec, values)
    wrt = [inputs[p] for p in positions(spec, len(inputs))]
    first = gd.grad(out, wrt)
    second = [gd.grad(node, wrt) for node in first]
    return inputs, out, first, second


def _torch_derivatives(spec: OpSpec, values):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: these checks compare with it")
    wanted = positions(spec, len(values))
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=i in wanted) for i, v in enumerate(values)]
    leaves = [tensors[p] for p in wanted]
    out = TORCH_FORMULAS[spec.name](torch, *tensors)
    first = torch.autograd.grad(out, leaves, create_graph=True, allow_unused=True)
    second = []
    for g in first:
        if g is None or not g.requires_grad:  # a constant first derivative
            second.append([0.0] * len(leaves))
            continue
        row = torch.autograd.grad(g, leaves, retain_graph=True, allow_unused=True)
        second.append([0.0 if h is None else h.item() for h in row])
    return [0.0 if g is None else g.item() for g in first], second


def _close(got: float, expected: float, tol: float) -> bool:
    return abs(got - expected) <= tol * max(1.0, abs(got), abs(expected))


def _numeric(node: gd.Node, variable: gd.Variable) -> float:
    original = variable.value
    results = []
    for step in (STEP, -STEP):
        variable.set_value(original + step)
        results.append(node.forward())
    variable.set_value(original)
    return (results[0] - results[1]) / (2 * STEP)


TORCH_SPECS = [spec for spec in SPECS if spec.name in TORCH_FORMULAS]
OTHER_SPECS = [spec for spec in SPECS if spec.name not in TORCH_FORMULAS]


@pytest.mark.parametrize("spec", TORCH_SPECS, ids=[spec.name for spec in TORCH_SPECS])
def test_first_and_second_derivatives_match_pytorch(spec: OpSpec) -> None:
    rng = np.random.default_rng(23)
    for _ in range(4):
        values = spec.draw(rng)
        inputs, out, first, second = _graph_derivatives(spec, values)
        expected_first, expected_second = _torch_derivatives(spec, values)
        for p, (node, expected) in enumerate(zip(first, expected_first)):
            assert _close(node.forward(), expected, 1e-10), (spec.name, values, p, node.forward(), expected)
        for p, row in enumerate(second):
            for q, (node, expected) in enumerate(zip(row, expected_second[p])):
                got = node.forward()
                assert _close(got, expected, 1e-10), (spec.name, values, p, q, got, expected)


@pytest.mark.parametrize("spec", OTHER_SPECS, ids=[spec.name for spec in OTHER_SPECS])
def test_first_and_second_derivatives_match_finite_differences(spec: OpSpec) -> None:
    rng = np.random.default_rng(29)
    for _ in range(4):
        values = spec.draw(rng)
        inputs, out, first, second = _graph_derivatives(spec, values)
        wrt = [inputs[p] for p in positions(spec, len(inputs))]
        for p, variable in enumerate(wrt):
            assert _close(first[p].forward(), _numeric(out, variable), FD_TOL), (spec.name, values, p)
            for q, other in enumerate(wrt):
                assert _close(second[p][q].forward(), _numeric(first[p], other), FD_TOL), (spec.name, values, p, q)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_first_derivative_graph_equals_get_grad(spec: OpSpec) -> None:
    """The gradient graph computes what the interpreter's sweep computes, to the last bits."""
    values = spec.draw(np.random.default_rng(31))
    inputs, out, first, _ = _graph_derivatives(spec, values)
    for node, p in zip(first, positions(spec, len(inputs))):
        assert node.forward() == pytest.approx(inputs[p].get_grad(out), rel=1e-14, abs=1e-300)
