"""Two threads, each with its own graph, never affect each other (no global state)."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable

import numpy as np
import pytest

import graphdl as gd
from graphdl import Variable
from graphdl.core.anomaly import anomaly_enabled
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample


@pytest.fixture
def switch_often():
    """Make the interpreter switch threads every few bytecodes, so the runs interleave."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _in_threads(*jobs: Callable[[], object]) -> list[object]:
    results: list[object] = [None] * len(jobs)
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = jobs[index]()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _seed_run(init: list[float], seed: int) -> tuple[list[float], list[float]]:
    """The tutorial's loop: set_value, forward, get_grad + update, clear."""
    xs, ys = quadratic_data(200, seed=seed)
    net = build_seed_net()
    net.initialise(init)
    losses = train_per_sample(net, xs.tolist(), ys.tolist(), lr=0.02)
    return losses, [p.value for p in net.params]


def _rebuild_run(start: float, steps: int = 150) -> list[float]:
    """micrograd's loop: a new expression on the same Variables every step."""
    w, b = Variable(start, name="w"), Variable(-0.5, name="b")
    x = Variable(np.linspace(-1.0, 1.0, 8), name="x", trainable=False)
    history = []
    for _ in range(steps):
        loss = ((x * w + b).tanh() - 0.5 * x) ** 2
        loss.backward()
        w.update(0.2)
        b.update(0.2)
        history.append(w.value)
    return history


def _compiled_run(init: list[float], seed: int) -> list[float]:
    xs, ys = quadratic_data(200, seed=seed)
    net = build_seed_net()
    net.initialise(init)
    compiled = gd.compile(net.loss, inputs=[net.x, net.label])
    for x_value, y_value in zip(xs.tolist(), ys.tolist()):
        compiled.backward({net.x: x_value, net.label: y_value})
        for p in net.params:
            p.update(0.02)
    return [p.value for p in net.params]


def test_two_threads_training_their_own_graphs_equal_the_sequential_runs(switch_often) -> None:
    first = [0.9, -0.8, 0.1, 0.2, 1.1, 1.2, 0.0]
    second = [-0.3, 0.7, 0.5, -0.4, 0.8, -0.9, 0.3]
    jobs = [
        lambda: _seed_run(first, 1),
        lambda: _seed_run(second, 2),
        lambda: _rebuild_run(0.3),
        lambda: _rebuild_run(-0.7),
        lambda: _compiled_run(first, 3),
        lambda: _compiled_run(second, 4),
    ]
    sequential = [job() for job in jobs]
    together = _in_threads(*jobs)
    assert together == sequential


def test_detect_anomaly_in_overlapping_threads_keeps_each_threads_setting() -> None:
    a_inside, b_checked, b_inside, a_left = (threading.Event() for _ in range(4))
    seen: dict[str, object] = {}

    def nan_forward() -> float:
        v = Variable(-1.0, name="v")
        return gd.Log([v], name="log_v").forward()

    def thread_a() -> None:
        with gd.detect_anomaly():
            a_inside.set()
            b_checked.wait(5)
            seen["a enabled"] = anomaly_enabled()
            try:
                nan_forward()
            except gd.AnomalyError as error:
                seen["a raised"] = str(error)
            b_inside.wait(5)
        seen["a after"] = anomaly_enabled()
        a_left.set()

    def thread_b() -> None:
        a_inside.wait(5)
        seen["b before"] = anomaly_enabled()
        seen["b nan"] = nan_forward()
        b_checked.set()
        with gd.detect_anomaly():
            b_inside.set()
            a_left.wait(5)
            seen["b enabled after a left"] = anomaly_enabled()
        seen["b after"] = anomaly_enabled()

    _in_threads(thread_a, thread_b)
    assert seen["a enabled"] is True and seen["b before"] is False
    assert "Log 'log_v': value is not finite" in seen["a raised"]
    assert math.isnan(seen["b nan"])
    assert seen["b enabled after a left"] is True
    assert seen["a after"] is False and seen["b after"] is False
    assert anomaly_enabled() is False


def test_auto_names_stay_unique_across_threads(switch_often) -> None:
    def build() -> list[str]:
        a = Variable(1.0)
        return [(a * a).name for _ in range(1000)]

    names = [name for batch in _in_threads(build, build, build) for name in batch]
    assert len(set(names)) == len(names)
