"""Stateful property test of the caching rules: random sequences of set_value, forward,
backward, get_grad, .value, update, clear, new graphs built on the same Variables and
compiled programs' steps, backward passes and array writes (several compiled programs of
one graph, per sample and on a batch), on two independent graphs interleaved, checked
step by step against a model that recomputes every number from scratch (a fresh graph at
the values the rules say).

A compiled step leaves its new values deferred (written into the Variables only when
something next reads or writes the graph): that must never show. The invariant leaves the
Variables' values unread after a compiled step so that steps chain while deferred;
``read_parameter`` and every other rule read them.

Gradient graphs (``graphdl.grad``) built on the same Variables are ordinary nodes of the
same graph: read at any time, they are the gradient at the current point.

The rules (see the README's "update and clear"): ``set_value`` starts a new point;
``update`` changes the value at once while the step's cached values and gradients stay
readable; ``forward``, ``backward``, ``clear`` and any computation of something not
cached bring the graph up to date first; nothing ever mixes two points.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import graphdl
from graphdl import LeakyRelu, Variable, grad

NAMES = ("a", "b", "c")


def _template_0(a, b, c):
    return (a * b + c).tanh()


def _template_1(a, b, c):
    return a.exp() * a + b * c  # the expression of issue 10's first case, plus b, c


def _template_2(a, b, c):
    return (a - b) ** 2 + c * a


def _template_3(a, b, c):
    return (a * c).sigmoid() * b + a


def _template_4(a, b, c):
    return LeakyRelu([a + b]) * c - b


TEMPLATES = (_template_0, _template_1, _template_2, _template_3, _template_4)


@functools.lru_cache(maxsize=4096)
def reference(template: int, values: tuple[float, ...]) -> tuple[float, list[float]]:
    """The value and the gradients w.r.t. a, b, c on a graph built from scratch."""
    variables = [Variable(value, name=name) for name, value in zip(NAMES, values)]
    out = TEMPLATES[template](*variables)
    out.backward()
    return out.value, [variable.grad for variable in variables]


def same(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


@dataclass
class Target:
    node: object
    template: int
    value_at: tuple[float, ...] | None = None  # the point its cached value belongs to
    grads_at: tuple[float, ...] | None = None  # the point its cached gradients belong to


class World:
    """One graph (three parameters and the targets built on them) and its model."""

    def __init__(self, index: int, start: tuple[float, float, float]) -> None:
        self.variables = [Variable(value, name=f"{name}{index}") for name, value in zip(NAMES, start)]
        self.current = list(start)
        self.pending = False  # an optimiser step is in progress
        self.owner: list[Target | None] = [None, None, None]  # whose gradient each Variable holds
        self.targets: list[Target] = []
        self.gradients: list[tuple[int, int, object]] = []  # (template, Variable index, gradient node)
        self.compiled: dict[tuple[int, bool, bool], object] = {}
        self.deferred = False  # a compiled step happened and no rule read the Variables' values since
        self.build(index % len(TEMPLATES))

    def compiled_for(self, target: Target, batch: bool, second: bool):
        """A compiled program of ``target``: every Variable a parameter, or (``batch``) the
        third one an input fed as a batch; ``second`` picks another program of the same target."""
        key = (self.targets.index(target), batch, second)
        if key not in self.compiled:
            inputs = [self.variables[2]] if batch else []
            self.compiled[key] = graphdl.compile(target.node, inputs=inputs)
        return self.compiled[key]

    def indices(self, compiled) -> list[int]:
        """Where each parameter of ``compiled`` sits among the Variables."""
        return [self.variables.index(p) for p in compiled.parameters]

    def build(self, template: int) -> None:
        node = TEMPLATES[template](*self.variables)
        self.targets.append(Target(node, template))

    def point(self) -> tuple[float, ...]:
        return tuple(self.current)

    def bring_up_to_date(self) -> None:
        if self.pending:
            for target in self.targets:  # every target depends on every Variable
                target.value_at = target.grads_at = None
            self.pending = False

    def sweep(self, target: Target) -> None:
        self.bring_up_to_date()
        target.value_at = target.grads_at = self.point()
        self.owner = [target, target, target]


class CoreRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.worlds = [World(0, (0.5, -0.3, 1.1)), World(1, (-0.8, 0.4, 0.9))]

    def target_of(self, world: World, pick: int) -> Target:
        return world.targets[pick % len(world.targets)]

    @rule(w=st.integers(0, 1), i=st.integers(0, 2), value=st.floats(-2.0, 2.0))
    def set_value(self, w: int, i: int, value: float) -> None:
        world = self.worlds[w]
        world.variables[i].set_value(value)
        world.bring_up_to_date()
        world.current[i] = value
        for target in world.targets:
            target.value_at = target.grads_at = None

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7))
    def forward(self, w: int, pick: int) -> None:
        world = self.worlds[w]
        target = self.target_of(world, pick)
        got = target.node.forward()
        world.bring_up_to_date()
        if target.value_at is None:
            target.value_at = world.point()
        assert target.value_at == world.point()  # up to date: the cache is at the current values
        assert same(got, reference(target.template, world.point())[0])

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7))
    def read_value(self, w: int, pick: int) -> None:
        world = self.worlds[w]
        target = self.target_of(world, pick)
        got = target.node.value
        if target.value_at is None:  # not cached: computed, after bringing the graph up to date
            world.bring_up_to_date()
            target.value_at = world.point()
        assert same(got, reference(target.template, target.value_at)[0])

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7))
    def backward(self, w: int, pick: int) -> None:
        world = self.worlds[w]
        target = self.target_of(world, pick)
        target.node.backward()
        world.sweep(target)
        expected = reference(target.template, world.point())[1]
        assert all(same(v.grad, g) for v, g in zip(world.variables, expected))

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7), i=st.integers(0, 2))
    def get_grad(self, w: int, pick: int, i: int) -> None:
        world = self.worlds[w]
        target = self.target_of(world, pick)
        got = world.variables[i].get_grad(target.node)
        if not (world.owner[i] is target and target.grads_at is not None):
            world.sweep(target)
        assert same(got, reference(target.template, target.grads_at)[1][i])

    @rule(w=st.integers(0, 1), i=st.integers(0, 2))
    def get_grad_of_the_default_target(self, w: int, i: int) -> None:
        """``get_grad()`` with no target: the graph's unique sink (several: an error)."""
        world = self.worlds[w]
        if len(world.targets) > 1:
            with pytest.raises(ValueError, match="reaches several sinks"):
                world.variables[i].get_grad()
            return
        got = world.variables[i].get_grad()
        target = world.targets[0]
        if not (world.owner[i] is target and target.grads_at is not None):
            world.sweep(target)
        assert same(got, reference(target.template, target.grads_at)[1][i])

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7))
    def drop_a_node_inside_a_reference_cycle(self, w: int, pick: int) -> None:
        """A node built on a target and dropped inside a cycle (a traceback, a container
        holding itself) lives until the cyclic collector runs; it must change nothing."""
        junk: list = [self.target_of(self.worlds[w], pick).node * 2.0]
        junk.append(junk)

    @rule(w=st.integers(0, 1), i=st.integers(0, 2), lr=st.floats(0.01, 0.3))
    def update(self, w: int, i: int, lr: float) -> None:
        world = self.worlds[w]
        variable = world.variables[i]
        holder = world.owner[i]
        if holder is None or holder.grads_at is None:
            assert variable.grad is None
            try:
                variable.update(lr)
            except ValueError as error:
                assert "has no gradient at the current point" in str(error)
            else:
                raise AssertionError("update without a gradient must raise")
            return
        grad = reference(holder.template, holder.grads_at)[1][i]
        variable.update(lr)
        world.current[i] = world.current[i] - lr * grad
        world.pending = True
        assert same(variable.value, world.current[i])

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7))
    def clear(self, w: int, pick: int) -> None:
        world = self.worlds[w]
        target = self.target_of(world, pick)
        target.node.clear()
        world.pending = False
        for other in world.targets:  # clear drops every cached value and gradient of the graph
            other.value_at = other.grads_at = None
        world.owner = [None, None, None]
        assert all(other.node.cached_value is None for other in world.targets)

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7), i=st.integers(0, 2), again=st.booleans())
    def gradient_graph(self, w: int, pick: int, i: int, again: bool) -> None:
        """Build a target's gradient graph w.r.t. one Variable (or take one built before)
        and evaluate it: the gradient at the current point, as the reference sweep says."""
        world = self.worlds[w]
        if again and world.gradients:
            template, i, node = world.gradients[pick % len(world.gradients)]
        else:
            target = self.target_of(world, pick)
            template, node = target.template, grad(target.node, [world.variables[i]])[0]
            if len(world.gradients) < 4:
                world.gradients.append((template, i, node))
        got = node.forward()
        world.bring_up_to_date()
        expected = reference(template, world.point())[1][i]
        assert same(got, expected) or math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-300)
        for target in world.targets:  # forward values the gradient reused are at this point now
            if target.value_at is None and target.node.cached_value is not None:
                target.value_at = world.point()

    @rule(
        w=st.integers(0, 1),
        pick=st.integers(0, 7),
        lr=st.floats(0.01, 0.3),
        batch=st.booleans(),
        second=st.booleans(),
    )
    def compiled_step(self, w: int, pick: int, lr: float, batch: bool, second: bool) -> None:
        """``c.step``: brings the graph up to date, then one SGD step at the current point
        (an optimiser step: the point's cached values and gradients stay readable)."""
        world = self.worlds[w]
        target = self.target_of(world, pick)
        compiled = world.compiled_for(target, batch, second)
        indices = world.indices(compiled)  # ``parameters`` brings the graph up to date, as every call does
        world.bring_up_to_date()
        value, grads = reference(target.template, world.point())
        feed = {world.variables[2]: np.full(2, world.current[2])} if batch else {}
        assert same(compiled.step(feed, lr), value)
        for i in indices:
            world.current[i] = world.current[i] - lr * grads[i]
        world.pending = world.deferred = True

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7), second=st.booleans())
    def compiled_backward(self, w: int, pick: int, second: bool) -> None:
        """``c.backward``: brings the graph up to date and stores every parameter's gradient."""
        world = self.worlds[w]
        target = self.target_of(world, pick)
        compiled = world.compiled_for(target, False, second)
        world.bring_up_to_date()
        value, grads = reference(target.template, world.point())
        assert same(compiled.backward({}), value)
        target.grads_at = world.point()
        world.owner = [target, target, target]
        assert all(same(v.grad, g) for v, g in zip(world.variables, grads))

    @rule(w=st.integers(0, 1), pick=st.integers(0, 7), delta=st.floats(-0.2, 0.2), batch=st.booleans())
    def compiled_assign(self, w: int, pick: int, delta: float, batch: bool) -> None:
        """The optimisers' path: ``parameter_values`` (brings the graph up to date), then
        ``assign_parameters`` (an optimiser step)."""
        world = self.worlds[w]
        target = self.target_of(world, pick)
        compiled = world.compiled_for(target, batch, False)
        values = compiled.parameter_values()
        world.bring_up_to_date()
        indices = world.indices(compiled)
        assert values.tolist() == [world.current[i] for i in indices]
        compiled.assign_parameters(values + delta)
        for i, new in zip(indices, (values + delta).tolist()):
            world.current[i] = new
        world.pending = world.deferred = True

    @rule(w=st.integers(0, 1), i=st.integers(0, 2))
    def read_parameter(self, w: int, i: int) -> None:
        world = self.worlds[w]
        assert world.variables[i].value == world.current[i]
        world.deferred = False

    @rule(w=st.integers(0, 1), template=st.integers(0, len(TEMPLATES) - 1))
    def build_a_new_graph_on_the_same_variables(self, w: int, template: int) -> None:
        world = self.worlds[w]
        if len(world.targets) < 4:
            world.build(template)

    @invariant()
    def cached_gradients_belong_to_one_point(self) -> None:
        for world in self.worlds:
            for i, variable in enumerate(world.variables):
                holder = world.owner[i]
                if holder is None or holder.grads_at is None:
                    assert variable.grad is None
                else:
                    assert same(variable.grad, reference(holder.template, holder.grads_at)[1][i])
                if not world.deferred:
                    assert variable.value == world.current[i]


_RULES = {"stateful_step_count": 6, "deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}


class TestCoreRules(CoreRules.TestCase):  # type: ignore[name-defined,misc]
    """The default run: 100 random programs (about a second)."""

    settings = settings(max_examples=100, **_RULES)


@pytest.mark.slow
class TestCoreRulesThoroughly(CoreRules.TestCase):  # type: ignore[name-defined,misc]
    """300 random programs (several seconds): run by ``pytest -m slow`` and CI."""

    settings = settings(max_examples=300, **_RULES)
