"""Shared table of operators for the operator tests: how to build each one, where its
inputs may be drawn without touching a kink, and an independent reference formula."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import graphdl as gd


@dataclass
class OpSpec:
    """One operator under test.

    ``make(parents)`` builds the node; ``draw(rng)`` returns one valid tuple of input
    values (away from kinks); ``reference(*values)`` is the value computed independently
    with :mod:`math`; ``differentiable`` lists the argument positions that carry a
    derivative (labels of the classification losses do not).
    """

    name: str
    make: Callable[[list], gd.Node]
    draw: Callable[[np.random.Generator], tuple[float, ...]]
    reference: Callable[..., float]
    differentiable: tuple[int, ...] | None = None
    constant_positions: tuple[int, ...] = field(default_factory=tuple)


def _away(rng: np.random.Generator, low: float, high: float, kink: float = 0.0, gap: float = 0.05) -> float:
    while True:
        value = float(rng.uniform(low, high))
        if abs(value - kink) > gap:
            return value


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high)) * (1.0 if rng.random() < 0.5 else -1.0)


def _value_loss_draw(rng):
    label = float(rng.uniform(-2, 2))
    return label, label + _signed(rng, 0.05, 2.0)


def _hinge_draw(rng):
    label = 1.0 if rng.random() < 0.5 else -1.0
    while True:
        score = float(rng.uniform(-3, 3))
        if abs(1.0 - label * score) > 0.05:
            return label, score


def _softmax_ce_reference(*args):
    *logits, label = args
    top = max(logits)
    return top + math.log(sum(math.exp(z - top) for z in logits)) - logits[int(label)]


def _softmax_draw(k):
    def draw(rng):
        return (*rng.uniform(-3, 3, size=k).tolist(), float(rng.integers(0, k)))

    return draw


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _apart(rng):
    """Two numbers at least 0.05 apart (a comparison away from its tie)."""
    a = float(rng.uniform(-3, 3))
    return a, _away(rng, -3, 3, kink=a)


def _clip_draw(rng):
    low, high = sorted(rng.uniform(-2, 2, 2).tolist())
    high += 0.2
    while True:
        x = float(rng.uniform(-3, 3))
        if min(abs(x - low), abs(x - high)) > 0.05:
            return x, low, high


def _comparison(name, relation):
    return OpSpec(name, lambda p: getattr(gd, name)(p), _apart, lambda a, b: float(relation(a, b)))


SPECS: list[OpSpec] = [
    OpSpec("Add2", lambda p: gd.Add(p), lambda r: tuple(r.uniform(-3, 3, 2)), lambda a, b: a + b),
    OpSpec("Add1", lambda p: gd.Add(p), lambda r: tuple(r.uniform(-3, 3, 1)), lambda a: a),
    OpSpec("Add4", lambda p: gd.Add(p), lambda r: tuple(r.uniform(-3, 3, 4)), lambda a, b, c, d: a + b + c + d),
    OpSpec("Mul2", lambda p: gd.Mul(p), lambda r: tuple(r.uniform(-3, 3, 2)), lambda a, b: a * b),
    OpSpec("Mul3", lambda p: gd.Mul(p), lambda r: tuple(r.uniform(-3, 3, 3)), lambda a, b, c: a * b * c),
    OpSpec("Sub", lambda p: gd.Sub(p), lambda r: tuple(r.uniform(-3, 3, 2)), lambda a, b: a - b),
    OpSpec("Neg", lambda p: gd.Neg(p), lambda r: tuple(r.uniform(-3, 3, 1)), lambda a: -a),
    OpSpec(
        "Div",
        lambda p: gd.Div(p),
        lambda r: (float(r.uniform(-3, 3)), _signed(r, 0.5, 3.0)),
        lambda a, b: a / b,
    ),
    OpSpec(
        "PowNode",
        lambda p: gd.Pow(p),
        lambda r: (float(r.uniform(0.2, 3.0)), float(r.uniform(-2.0, 2.0))),
        lambda a, b: a**b,
    ),
    OpSpec(
        "PowConst3",
        lambda p: gd.Pow([p[0], 3]),
        lambda r: (float(r.uniform(-3, 3)),),
        lambda a: a**3,
    ),
    OpSpec(
        "PowConstHalf",
        lambda p: gd.Pow([p[0], 0.5]),
        lambda r: (float(r.uniform(0.2, 3.0)),),
        lambda a: math.sqrt(a),
    ),
    OpSpec("Exp", lambda p: gd.Exp(p), lambda r: (float(r.uniform(-3, 3)),), math.exp),
    OpSpec("Log", lambda p: gd.Log(p), lambda r: (float(r.uniform(0.1, 5)),), math.log),
    OpSpec("Abs", lambda p: gd.Abs(p), lambda r: (_away(r, -3, 3),), abs),
    OpSpec(
        "LeakyRelu",
        lambda p: gd.LeakyRelu(p),
        lambda r: (_away(r, -3, 3),),
        lambda a: a if a > 0 else 0.1 * a,
    ),
    OpSpec(
        "LeakyRelu0.3",
        lambda p: gd.LeakyRelu(p, negative_slope=0.3),
        lambda r: (_away(r, -3, 3),),
        lambda a: a if a > 0 else 0.3 * a,
    ),
    OpSpec("Relu", lambda p: gd.Relu(p), lambda r: (_away(r, -3, 3),), lambda a: max(a, 0.0)),
    OpSpec("Sigmoid", lambda p: gd.Sigmoid(p), lambda r: (float(r.uniform(-5, 5)),), _sigmoid),
    OpSpec("Logistic", lambda p: gd.Logistic(p), lambda r: (float(r.uniform(-5, 5)),), _sigmoid),
    OpSpec("Tanh", lambda p: gd.Tanh(p), lambda r: (float(r.uniform(-3, 3)),), math.tanh),
    OpSpec(
        "Elu",
        lambda p: gd.Elu(p),
        lambda r: (_away(r, -3, 3),),
        lambda a: a if a > 0 else math.exp(a) - 1.0,
    ),
    OpSpec(
        "Elu0.5",
        lambda p: gd.Elu(p, alpha=0.5),
        lambda r: (_away(r, -3, 3),),
        lambda a: a if a > 0 else 0.5 * (math.exp(a) - 1.0),
    ),
    OpSpec(
        "Softplus",
        lambda p: gd.Softplus(p),
        lambda r: (float(r.uniform(-5, 5)),),
        lambda a: math.log(1.0 + math.exp(a)),
    ),
    OpSpec("Swish", lambda p: gd.Swish(p), lambda r: (float(r.uniform(-5, 5)),), lambda a: a * _sigmoid(a)),
    OpSpec("SiLU", lambda p: gd.SiLU(p), lambda r: (float(r.uniform(-5, 5)),), lambda a: a * _sigmoid(a)),
    OpSpec("Identity", lambda p: gd.Identity(p), lambda r: (float(r.uniform(-3, 3)),), lambda a: a),
    OpSpec("ValueLoss", lambda p: gd.ValueLoss(p), _value_loss_draw, lambda y, p: abs(y - p)),
    OpSpec("SquaredLoss", lambda p: gd.SquaredLoss(p), lambda r: tuple(r.uniform(-3, 3, 2)), lambda y, p: (y - p) ** 2),
    OpSpec(
        "LogLoss",
        lambda p: gd.LogLoss(p),
        lambda r: (float(r.uniform(0, 1)), float(r.uniform(0.05, 0.95))),
        lambda y, p: -(y * math.log(p) + (1 - y) * math.log(1 - p)),
    ),
    OpSpec(
        "BCEWithLogits",
        lambda p: gd.BCEWithLogits(p),
        lambda r: (float(r.uniform(0, 1)), float(r.uniform(-6, 6))),
        lambda y, z: -(y * math.log(_sigmoid(z)) + (1 - y) * math.log(1 - _sigmoid(z))),
    ),
    OpSpec(
        "SoftmaxCE3",
        lambda p: gd.SoftmaxCrossEntropy(p),
        _softmax_draw(3),
        _softmax_ce_reference,
        differentiable=(0, 1, 2),
        constant_positions=(3,),
    ),
    OpSpec(
        "SoftmaxCE5",
        lambda p: gd.SoftmaxCrossEntropy(p),
        _softmax_draw(5),
        _softmax_ce_reference,
        differentiable=(0, 1, 2, 3, 4),
        constant_positions=(5,),
    ),
    OpSpec("HingeLoss", lambda p: gd.HingeLoss(p), _hinge_draw, lambda y, s: max(0.0, 1.0 - y * s)),
    OpSpec("Expm1", lambda p: gd.Expm1(p), lambda r: (float(r.uniform(-3, 3)),), math.expm1),
    OpSpec("Log1p", lambda p: gd.Log1p(p), lambda r: (float(r.uniform(-0.9, 5)),), math.log1p),
    OpSpec("Sign", lambda p: gd.Sign(p), lambda r: (_away(r, -3, 3),), lambda a: math.copysign(1.0, a)),
    OpSpec(
        "Where",
        lambda p: gd.Where(p),
        lambda r: (float(r.random() < 0.5), *r.uniform(-3, 3, 2).tolist()),
        lambda c, a, b: a if c else b,
        differentiable=(1, 2),
        constant_positions=(0,),
    ),
    OpSpec("Clip", lambda p: gd.Clip(p), _clip_draw, lambda x, low, high: min(max(x, low), high)),
    _comparison("Greater", operator.gt),
    _comparison("GreaterEqual", operator.ge),
    _comparison("Less", operator.lt),
    _comparison("LessEqual", operator.le),
    _comparison("Equal", operator.eq),
    _comparison("NotEqual", operator.ne),
    OpSpec(
        "Dropout",
        lambda p: gd.nn.Dropout(p, keep=0.5),
        lambda r: (float(r.uniform(-3, 3)), 2.0 if r.random() < 0.5 else 0.0),
        lambda x, mask: x * mask,
    ),
]

SPEC_IDS = [spec.name for spec in SPECS]


def positions(spec: OpSpec, count: int) -> tuple[int, ...]:
    """The differentiable argument positions of ``spec`` for ``count`` arguments."""
    return spec.differentiable if spec.differentiable is not None else tuple(range(count))


# Operators that reduce over the batch: a sample's value depends on the other samples, so a
# spec draws whole columns and its reference maps columns to the output column.
@dataclass
class BatchOpSpec:
    """``make(parents)`` builds the node; ``draw(rng, size)`` returns one column per input
    (an array of ``size`` samples, or a float for a value shared by the batch); ``reference``
    maps those columns to the expected output column; only ``differentiable`` positions are
    checked (the running estimate and the mode switch are data)."""

    name: str
    make: Callable[[list], gd.Node]
    draw: Callable[[np.random.Generator, int], tuple]
    reference: Callable[..., np.ndarray]
    differentiable: tuple[int, ...] = (0,)


def _estimate_draw(use_batch: float):
    def draw(rng, size):
        return rng.uniform(-3, 3, size), float(rng.uniform(-1, 1)), use_batch

    return draw


BATCH_SPECS: list[BatchOpSpec] = [
    BatchOpSpec(
        "BatchMean",
        lambda p: gd.BatchMean(p),
        lambda r, size: (r.uniform(-3, 3, size),),
        lambda x: np.full(x.shape, sum(x.tolist()) / x.size),
    ),
    BatchOpSpec(
        "BatchMeanTraining",
        lambda p: gd.BatchMean(p),
        _estimate_draw(1.0),
        lambda x, estimate, use_batch: np.full(x.shape, sum(x.tolist()) / x.size),
    ),
    BatchOpSpec(
        "BatchMeanEstimate",
        lambda p: gd.BatchMean(p),
        _estimate_draw(0.0),
        lambda x, estimate, use_batch: np.full(x.shape, estimate),
    ),
]

BATCH_SPEC_IDS = [spec.name for spec in BATCH_SPECS]
