"""A compiled step leaves its parameters' new values in the program's array (a deferred
write on the graph) instead of writing every Variable. Whatever reads or writes the graph
next must see exactly what it would have seen had the step written them, as
``c.backward(feed)`` followed by ``p.update(lr)`` for each parameter does."""

from __future__ import annotations

import gc
import math
import warnings
import weakref
from typing import Any

import numpy as np
import pytest

import graphdl as gd
from graphdl import Variable
from graphdl.compiler import numba_runner
from graphdl.graph_io import graph_to_dict
from graphdl.optim import Adam

HAS_NUMBA = numba_runner.available()
BACKENDS = [  # numba compiles its kernels first: seconds on a cold cache
    "numpy",
    pytest.param("numba", marks=[pytest.mark.slow, pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")]),
]
LR = 0.1
X = np.array([0.3, -0.7, 1.2, 0.05])
Y = np.array([0.2, 0.1, -0.4, 0.9])


class Net:
    """A small net: two inputs fed as batches (or one sample), four parameters."""

    def __init__(self) -> None:
        self.x = Variable(name="x", trainable=False)
        self.y = Variable(name="y", trainable=False)
        self.w = Variable(0.8, name="w")
        self.b = Variable(-0.3, name="b")
        self.v = Variable(1.1, name="v")
        self.c = Variable(0.2, name="c")
        hidden = (self.x * self.w + self.b).tanh()
        self.out = hidden * self.v + self.c
        self.loss = (self.out - self.y) ** 2 + 0.01 * self.w * self.w
        self.params = [self.w, self.b, self.v, self.c]

    def compiled(self) -> Any:
        return gd.compile(self.loss, inputs=[self.x, self.y])

    def values(self) -> list[float]:
        return [p.value for p in self.params]


def stepped(batch: bool, steps: int = 2) -> tuple[Net, Any, Net]:
    """A net after ``steps`` compiled steps (deferred) and a twin stepped by
    ``c.backward`` + ``p.update`` (written at once)."""
    net, twin = Net(), Net()
    compiled, twin_compiled = net.compiled(), twin.compiled()
    for k in range(steps):
        x, y = (X, Y) if batch else (float(X[k]), float(Y[k]))
        loss = compiled.step({net.x: x, net.y: y}, LR)
        assert loss == twin_compiled.backward({twin.x: x, twin.y: y})
        for p in twin.params:
            p.update(LR)
    return net, compiled, twin


def deferred(net: Net) -> bool:
    """Whether the net's graph still holds a deferred write (peeks at the core's state)."""
    from graphdl.core.component import root_of

    return root_of(net.loss).deferred is not None


@pytest.mark.parametrize("way", ["by name", "numpy floats", "ints"])
def test_one_sample_fed_any_way_takes_the_generated_step(way: str) -> None:
    """Not only finite floats keyed by Variable: any feed of one sample runs the generated
    per-sample step, equal bit for bit to ``c.backward`` + ``p.update``."""
    net, twin = Net(), Net()
    compiled, twin_compiled = net.compiled(), twin.compiled()
    for k in range(3):
        x, y = (k, -1) if way == "ints" else (float(X[k]), float(Y[k]))
        if way == "by name":
            feed: dict[Any, Any] = {"x": x, "y": y}
        else:
            cast = int if way == "ints" else np.float64
            feed = {net.x: cast(x), net.y: cast(y)}
        loss = compiled.step(feed, LR)
        assert loss == twin_compiled.backward({twin.x: float(x), twin.y: float(y)})
        for p in twin.params:
            p.update(LR)
    assert "_step" in vars(compiled._python)  # noqa: SLF001 - the generated step ran, not backward + update
    assert net.values() == twin.values()


@pytest.mark.parametrize("batch", [True, False])
def test_a_step_writes_no_variable_until_one_is_read(batch: bool) -> None:
    net, _, twin = stepped(batch)
    assert deferred(net)
    assert net.w.value == twin.w.value  # carries the write out
    assert not deferred(net)
    assert net.values() == twin.values()


@pytest.mark.parametrize("batch", [True, False])
def test_every_reader_sees_the_stepped_values(batch: bool) -> None:
    readers = {
        "value": lambda n: [p.value for p in n.params],
        "cached_value": lambda n: [p.cached_value for p in n.params],
        "repr": lambda n: [repr(p).split(" grad=")[0] for p in n.params],
        "forward": lambda n: (n.x.set_value(X), n.y.set_value(Y), n.loss.forward().tolist())[-1],
        "interpreter backward": lambda n: (
            n.x.set_value(X),
            n.y.set_value(Y),
            n.loss.backward(),
            [p.grad for p in n.params],
        )[-1],
        "get_grad": lambda n: (n.x.set_value(X), n.y.set_value(Y), n.w.get_grad(n.loss))[-1],
        "graph save": lambda n: [e.get("value") for e in graph_to_dict(n.loss)["nodes"] if e["kind"] == "Variable"],
        "parameters of a Graph": lambda n: [p.value for p in gd.Graph(n.loss).parameters()],
        "a second compiled program": lambda n: n.compiled().parameter_values().tolist(),
        "a second program's step": lambda n: (n.compiled().step({n.x: X, n.y: Y}, LR), n.values())[-1],
    }
    for name, read in readers.items():
        net, _, twin = stepped(batch)
        assert read(net) == read(twin), name


@pytest.mark.parametrize("batch", [True, False])
def test_writers_start_from_the_stepped_values(batch: bool) -> None:
    writers = {
        "set_value of another Variable": lambda n: n.c.set_value(0.5),
        "set_value of an input": lambda n: n.x.set_value(X),
        "unset": lambda n: n.x.unset(),
        "update": lambda n: (n.x.set_value(X), n.y.set_value(Y), n.loss.backward(), n.w.update(LR)),
        "assign": lambda n: n.b.assign(0.25),
        "clear": lambda n: n.loss.clear(),
        "trainable flag": lambda n: setattr(n.c, "trainable", False),
    }
    for name, write in writers.items():
        net, compiled, twin = stepped(batch)
        write(net), write(twin)
        assert net.values() == twin.values(), name
        assert compiled.parameter_values().tolist() == [p.value for p in compiled.parameters], name


def test_a_new_operator_merging_two_graphs_carries_the_write_out() -> None:
    net, _, twin = stepped(batch=True)
    other, other_twin = Variable(2.0, name="other"), Variable(2.0, name="other")
    other.exp(), other_twin.exp()  # each now the graph of an operator: the product merges two graphs
    merged, merged_twin = net.w * other, twin.w * other_twin
    assert not deferred(net)
    assert merged.forward() == merged_twin.forward() == twin.w.value * 2.0
    assert net.values() == twin.values()


@pytest.mark.parametrize("batch", [True, False])
def test_the_point_of_the_step_stays_readable_until_the_graph_is_brought_up_to_date(batch: bool) -> None:
    """As with ``p.update``: values cached before the step are still the step's point;
    gradients of the old point go stale when the step ends."""
    net = Net()
    compiled = net.compiled()
    net.x.set_value(X)
    net.y.set_value(Y)
    net.loss.backward()
    old_loss, old_grads = net.loss.value.tolist(), [p.grad for p in net.params]
    feed = {net.x: X, net.y: Y} if batch else {net.x: 0.3, net.y: 0.2}
    compiled.step(feed, LR)
    assert [p.grad for p in net.params] == old_grads  # the step stored none: the old ones stay readable
    assert net.loss.value.tolist() == old_loss  # the old point's loss, still cached
    assert net.w.value != net.w.value - 1.0 and net.w.value != 0.8  # the new value, carried out
    assert [p.grad for p in net.params] == old_grads  # reading a value ends no step
    compiled.step(feed, LR)  # ends the first step: the old point's gradients and values go stale
    assert [p.grad for p in net.params] == [None] * 4
    assert net.loss.cached_value is None
    compiled.step(feed, LR)
    assert net.loss.cached_value is None and net.w.grad is None


def test_two_compiled_programs_of_one_graph_take_turns() -> None:
    net, twin = Net(), Net()
    first, second, twin_compiled = net.compiled(), net.compiled(), twin.compiled()
    feed, twin_feed = {net.x: X, net.y: Y}, {twin.x: X, twin.y: Y}
    for program in (first, second, second, first, first, second):
        assert program.step(feed, LR) == twin_compiled.step(twin_feed, LR)
    assert net.values() == twin.values()
    assert first.parameter_values().tolist() == second.parameter_values().tolist() == twin.values()


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_and_batch_steps_and_sgd_chain_on_one_program(backend: str) -> None:
    net, twin = Net(), Net()
    compiled = gd.compile(net.loss, inputs=[net.x, net.y], backend=backend)
    twin_compiled = gd.compile(twin.loss, inputs=[twin.x, twin.y], backend=backend)
    for k in range(3):
        compiled.step({net.x: float(X[k]), net.y: float(Y[k])}, LR)
        compiled.step({net.x: X, net.y: Y}, LR)
        compiled.sgd({net.x: X, net.y: Y}, LR)
        twin_compiled.step({twin.x: float(X[k]), twin.y: float(Y[k])}, LR)
        twin.w.value  # noqa: B018  # the twin's write is carried out at every turn
        twin_compiled.step({twin.x: X, twin.y: Y}, LR)
        twin.w.value  # noqa: B018
        twin_compiled.sgd({twin.x: X, twin.y: Y}, LR)
        twin.w.value  # noqa: B018
    assert deferred(net)
    assert net.values() == twin.values()


def test_a_non_finite_step_raises_naming_the_parameter_and_changes_nothing() -> None:
    net = Net()
    compiled = net.compiled()
    compiled.step({net.x: X, net.y: Y}, LR)
    before = compiled.parameter_values().tolist()
    with pytest.raises(ValueError, match="must be finite"):
        compiled.step({net.x: X, net.y: Y}, math.inf)
    assert compiled.parameter_values().tolist() == before == net.values()


def test_a_batch_step_near_the_largest_float_is_no_error_and_no_warning() -> None:
    """The batch step checks its new values with one sum, which overflows here: finite values
    all the same (no ValueError), and numpy's overflow warning is not shown."""
    x = Variable(name="x", trainable=False)
    a, b = Variable(1e308, name="a"), Variable(1.5e308, name="b")
    compiled = gd.compile(x * a + x * b, inputs=[x])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled.step({x: X}, 1e-3)
        assert [a.value, b.value] == [1e308 - 1e-3 * X.mean(), 1.5e308 - 1e-3 * X.mean()]


def test_the_optimisers_array_path_is_deferred_too() -> None:
    net, twin = Net(), Net()
    compiled, twin_compiled = net.compiled(), twin.compiled()
    optimiser, twin_optimiser = Adam(net.params, lr=0.05), Adam(twin.params, lr=0.05)
    for _ in range(3):
        _, grads = compiled.gradients({net.x: X, net.y: Y})
        values = compiled.parameter_values()
        compiled.assign_parameters(optimiser.step_arrays(values, grads))
        assert deferred(net)
        twin_compiled.backward({twin.x: X, twin.y: Y})
        twin_optimiser.step()
    assert net.values() == twin.values()


def test_a_graph_with_a_deferred_write_is_freed_by_reference_counting() -> None:
    net = Net()
    compiled = net.compiled()
    compiled.step({net.x: X, net.y: Y}, LR)
    del compiled
    gc.collect()  # the compiled program holds cycles of its own (its generated code)
    assert deferred(net)
    gc.disable()
    try:
        refs = [weakref.ref(net.loss), weakref.ref(net.w)]
        del net
        assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


def test_the_write_outlives_the_compiled_program() -> None:
    net, compiled, twin = stepped(batch=True)
    del compiled
    gc.collect()
    assert net.values() == twin.values()
    assert all(math.isfinite(v) for v in net.values())


def test_assigning_while_another_program_s_step_is_deferred() -> None:
    """``assign_parameters`` on a program whose values are not current (another program's
    write is pending): written at once, and both programs go on from the assigned values."""
    net = Net()
    first, second = net.compiled(), net.compiled()
    first.step({net.x: X, net.y: Y}, LR)
    assigned = np.array([0.5, -0.25, 0.75, 0.125])
    order = [net.params.index(p) for p in second.parameters]
    second.assign_parameters(assigned[order])
    assert net.values() == assigned.tolist()
    assert first.parameter_values().tolist() == assigned[order].tolist()
    first.step({net.x: X, net.y: Y}, LR)
    second.step({net.x: X, net.y: Y}, LR)
    twin = Net()
    for p, value in zip(twin.params, assigned.tolist()):
        p.set_value(value)
    twin_compiled = twin.compiled()
    twin_compiled.step({twin.x: X, twin.y: Y}, LR)
    twin_compiled.step({twin.x: X, twin.y: Y}, LR)
    assert net.values() == twin.values()
