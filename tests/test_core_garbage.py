"""The default target of get_grad() does not depend on when Python's cyclic garbage
collector last ran (issue: an unreproduced failure of the update rule).

A node's children are weak references. A node built on the loss and dropped while inside a
reference cycle (a container holding itself, a stored traceback, a test framework's
records) stays alive until the cyclic collector runs; counted as a sink, it became the
default target of every parameter's get_grad(): the tutorial step then took the gradient of
that dead node, and get_grad of a data input after the step gave another point's numbers.
Whether it happened depended on the process's collection history, not on the program.
"""

from __future__ import annotations

import gc

import pytest

import graphdl
from graphdl import Add, LeakyRelu, Mul, ValueLoss, Variable


def _tutorial_world():
    x = Variable(0.5, name="x", trainable=False)
    label = Variable(1.0, name="label", trainable=False)
    w, b, v = Variable(0.3, name="w"), Variable(-0.1, name="b"), Variable(0.7, name="v")
    loss = ValueLoss([label, Mul([LeakyRelu([Add([Mul([x, w]), b])]), v])])
    return x, [w, b, v], loss


def _step_then_data_gradient(garbage: bool):
    x, params, loss = _tutorial_world()
    if garbage:  # dropped inside a reference cycle: alive until the cyclic collector runs
        junk: list = [loss * 2.0, LeakyRelu([x])]
        junk.append(junk)
        del junk
    before = loss.forward()
    grads = [p.get_grad() for p in params]  # the tutorial's loop: the default target
    for p in params:
        p.update(0.1)
    return before, grads, x.get_grad(loss), loss.value, [p.value for p in params]


@pytest.fixture
def collector_off():
    enabled = gc.isenabled()
    gc.disable()  # the garbage stays until collected on purpose (as between collections)
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def test_a_tutorial_step_gives_the_same_numbers_with_uncollected_garbage_on_the_graph(collector_off):
    assert _step_then_data_gradient(garbage=True) == _step_then_data_gradient(garbage=False)


def test_uncollected_garbage_is_not_a_second_sink(collector_off):
    clean_x, clean_params, _ = _tutorial_world()
    expected = [clean_params[0].get_grad(), clean_x.get_grad()]
    x, params, loss = _tutorial_world()
    junk: list = [loss - 1.0, loss * 3.0]
    junk.append(junk)
    del junk
    assert [params[0].get_grad(), x.get_grad()] == expected  # not "reaches several sinks"


def test_garbage_already_in_the_oldest_generation_is_not_a_sink(collector_off):
    """Garbage the young collections cannot reach (moved to the oldest generation, as after
    compiling a big program) is found by the full collection get_grad() falls back to."""
    clean_x, clean_params, _ = _tutorial_world()
    expected = [clean_params[0].get_grad(), clean_x.get_grad()]
    x, params, loss = _tutorial_world()
    for _ in range(2):
        junk: list = [loss * 2.0]
        junk.append(junk)
        del junk
    gc.freeze()  # into the permanent generation, then back into the oldest one
    gc.unfreeze()
    assert [params[0].get_grad(), x.get_grad()] == expected


def test_compiling_does_not_age_garbage_into_a_sink():
    """Compiling freezes what it built into the oldest generation; garbage dropped before
    (a node built on the loss, inside a cycle) must not go along and outlive the young
    collections of get_grad's default target (it had become the only sink)."""
    clean_x, clean_params, _ = _tutorial_world()
    expected = [p.get_grad() for p in clean_params]
    x, params, loss = _tutorial_world()
    junk: list = [loss * 2.0]
    junk.append(junk)
    del junk
    graphdl.compile(loss, inputs=[x]).backward({x: 0.5})
    assert [p.get_grad() for p in params] == expected
