"""micrograd's engine tests against PyTorch, as micrograd itself runs them, and random
expression graphs differentiated by graphdl and by PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from core_micrograd_cases import more_ops, sanity

import graphdl as gd

torch = pytest.importorskip("torch", reason="PyTorch is not installed: these checks compare with it")


def _torch_leaf(value: float):
    leaf = torch.tensor([value], dtype=torch.float64)
    leaf.requires_grad = True
    return leaf


def test_sanity_check_against_pytorch() -> None:
    xg, yg = sanity(gd.Variable)
    yg.backward()
    xt, yt = sanity(_torch_leaf)
    yt.backward()
    assert yg.value == pytest.approx(yt.item(), rel=1e-12)
    assert xg.grad == pytest.approx(xt.grad.item(), rel=1e-12)


def test_more_ops_against_pytorch() -> None:
    ag, bg, gg = more_ops(gd.Variable)
    gg.backward()
    at, bt, gt = more_ops(_torch_leaf)
    gt.backward()
    assert gg.value == pytest.approx(gt.item(), rel=1e-12)
    assert ag.grad == pytest.approx(at.grad.item(), rel=1e-12)
    assert bg.grad == pytest.approx(bt.grad.item(), rel=1e-12)


UNARY = {
    "exp": (lambda n: n.exp(), torch.exp),
    "tanh": (lambda n: n.tanh(), torch.tanh),
    "sigmoid": (lambda n: n.sigmoid(), torch.sigmoid),
    "relu": (lambda n: n.relu(), torch.relu),
    "neg": (lambda n: -n, lambda t: -t),
    "log_abs": (lambda n: (n * n + 1.0).log(), lambda t: torch.log(t * t + 1.0)),
    "square": (lambda n: n**2, lambda t: t**2),
    "leaky": (lambda n: n.leaky_relu(0.1), lambda t: torch.nn.functional.leaky_relu(t, 0.1)),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "pow": lambda a, b: (a * a + 0.25) ** (b * 0.5),
}


def _random_program(rng: np.random.Generator, leaves: int, steps: int) -> list[tuple]:
    program = []
    for step in range(steps):
        available = leaves + step
        if rng.random() < 0.4:
            program.append(("unary", str(rng.choice(list(UNARY))), int(rng.integers(available))))
        else:
            pair = rng.integers(available, size=2)
            program.append(("binary", str(rng.choice(list(BINARY))), int(pair[0]), int(pair[1])))
    return program


def _run(program: list[tuple], leaves: list, unary_index: int) -> list:
    values = list(leaves)
    for instruction in program:
        if instruction[0] == "unary":
            values.append(UNARY[instruction[1]][unary_index](values[instruction[2]]))
        else:
            values.append(BINARY[instruction[1]](values[instruction[2]], values[instruction[3]]))
    total = values[-1]
    for extra in values[len(leaves) : -1 : 3]:  # a sink that uses several intermediate nodes
        total = total + extra * 0.1
    return [*values, total]


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_match_pytorch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = rng.uniform(-1.5, 1.5, size=3).tolist()
    program = _random_program(rng, 3, int(rng.integers(3, 12)))
    ours = [gd.Variable(value, name=f"v{k}") for k, value in enumerate(start)]
    theirs = [_torch_leaf(value) for value in start]
    out = _run(program, ours, 0)[-1]
    reference = _run(program, theirs, 1)[-1]
    out.backward()
    reference.backward()
    expected_value = reference.item()
    if not math.isfinite(expected_value):
        pytest.skip("overflow in this random graph")
    assert out.value == pytest.approx(expected_value, rel=1e-10, abs=1e-12)
    expected = [0.0 if leaf.grad is None else leaf.grad.item() for leaf in theirs]
    got = [0.0 if variable.grad is None else variable.grad for variable in ours]  # None: unused
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), program
    compiled = gd.compile(out)
    compiled.backward({})
    got = [0.0 if variable.grad is None else variable.grad for variable in ours]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), program
