"""Operands of a grouped statement that repeat one row, or walk rows backwards, are read
as views (a broadcast row, a negative-step slice) instead of gathered copies; a dense
layer is a matrix product."""

from __future__ import annotations

import re

import numpy as np
import pytest

import graphdl as gd
from graphdl import Add, Mul, Relu, Variable
from graphdl.compiler.numpy_runner import _span


def test_span_reads_progressions_as_slices() -> None:
    assert _span([5, 5, 5], "V") == "V[5:6]"
    assert _span([9, 7, 5], "S") == "S[9:4:-2]"
    assert _span([4, 2, 0], "S") == "S[4::-2]"
    assert _span([1, 3, 5], "V") == "V[1:6:2]"
    rows = np.arange(12.0).reshape(12, 1)
    for wanted in ([9, 7, 5], [4, 2, 0], [6, 3, 0], [5, 5, 5]):
        view = eval(_span(wanted, "S"), {"S": rows})
        assert np.broadcast_to(view, (3, 1)).ravel().tolist() == [float(r) for r in wanted]


def _mlp(width: int):
    rng = np.random.default_rng(3)
    x = [Variable(name=f"x{i}", trainable=False) for i in range(2)]
    params = []
    activations = x
    for depth, size in enumerate([width, width, 1]):
        outputs = []
        for j in range(size):
            ws = [Variable(float(rng.normal()), name=f"w{depth}_{j}_{i}") for i in range(len(activations))]
            b = Variable(float(rng.normal()), name=f"b{depth}_{j}")
            params += [*ws, b]
            total = Add([b, *(Mul([w, a]) for w, a in zip(ws, activations))])
            outputs.append(total if depth == 2 else Relu([total]))
        activations = outputs
    return x, params, activations[0] * activations[0]


def test_grouped_batch_with_matrix_products_equals_the_per_node_program() -> None:
    x, params, loss = _mlp(6)
    compiled = gd.compile(loss, inputs=x)
    rng = np.random.default_rng(0)
    feed = {x[0]: rng.normal(size=50), x[1]: rng.normal(size=50)}
    grouped_mean = compiled.backward(feed)
    grouped = [p.grad for p in params]
    source = compiled.batch_source
    # forward: three dense layers; backward: the hidden inputs of one layer, the weights of three
    assert source.count("np.matmul(") == 7, source
    assert re.search(r"V\[\d+:\d*:-\d+\]", source)  # a backward walk read as a view
    compiled.grouping = False
    assert compiled.backward(feed) == pytest.approx(grouped_mean, rel=1e-12)
    np.testing.assert_allclose([p.grad for p in params], grouped, rtol=1e-12, atol=1e-15)


def test_views_follow_the_buffers_when_the_batch_size_changes() -> None:
    """The grouped program's views are made once per buffer; a new batch size allocates
    new buffers and new views, never reads the old ones."""
    x, params, loss = _mlp(4)
    compiled = gd.compile(loss, inputs=x)
    reference = gd.compile(loss, inputs=x)
    reference.grouping = False
    rng = np.random.default_rng(1)
    for size in (40, 40, 25, 40, 25):
        feed = {x[0]: rng.normal(size=size), x[1]: rng.normal(size=size)}
        mean = compiled.backward(feed)
        grads = [p.grad for p in params]
        assert reference.backward(feed) == pytest.approx(mean, rel=1e-12)
        np.testing.assert_allclose([p.grad for p in params], grads, rtol=1e-12, atol=1e-15)


def test_long_scalar_sums_are_one_call_with_the_same_results() -> None:
    x = Variable(name="x", trainable=False)
    ws = [Variable(0.1 * k - 0.35, name=f"w{k}") for k in range(12)]
    penalty = Add([Mul([w, w]) for w in ws])
    zero = Variable(0.0, name="zero")
    ratio = Add(list(ws[:9])) / zero  # division: stays numpy scalar arithmetic (inf, no error)
    loss = (x * ws[0]).tanh() + penalty * 1e-3
    feed = {x: np.linspace(-1.0, 1.0, 30)}
    compiled = gd.compile(loss, inputs=[x])
    compiled.backward(feed)
    assert re.search(
        r"s\[\d+\] = np\.add\.reduce\(", compiled.batch_source
    )  # a long sum in one call (pairwise: equal to rounding)
    grouped = [w.grad for w in ws]
    compiled.grouping = False
    compiled.backward(feed)
    np.testing.assert_allclose([w.grad for w in ws], grouped, rtol=1e-12, atol=1e-15)
    with np.errstate(all="ignore"):
        value = gd.compile(ratio * x, inputs=[x]).forward(feed)
    assert np.all(np.isinf(value[feed[x] != 0.0]))
