"""The optimiser base class: gathers gradients, applies weight decay and the learning
rate schedule, checks everything is finite, then writes all new values at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphdl.core.node import Variable
from graphdl.nn.module import unique_names

Schedule = Callable[[int], float]


def _parameter_list(params: Any) -> list[Variable]:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, Variable) or not isinstance(params, Iterable):
        raise TypeError(f"optimisers take a list of Variables or a model, got {type(params).__name__}")
    found: list[Variable] = []
    seen: set[Variable] = set()
    for param in params:
        if not isinstance(param, Variable):
            raise TypeError(f"optimisers update Variables only, got {type(param).__name__} {param!r}")
        if not param.trainable:
            raise ValueError(f"Variable {param.name!r} is not trainable (trainable=False): leave it out")
        if param not in seen:
            seen.add(param)
            found.append(param)
    if not found:
        raise ValueError("the optimiser got no parameters")
    return found


class Optimizer:
    """Base class. ``step()`` reads ``p.grad`` of every parameter (taken at the current
    point), computes the new values and writes them with ``Variable.assign``, which
    keeps the point's cached values and gradients (so ``loss.value`` read afterwards is
    still the loss at that point). ``zero_grad()`` forgets the gradients.

    ``lr`` is the learning rate; ``schedule(step) -> lr`` (step counted from 0)
    overrides it per step. ``weight_decay`` adds ``weight_decay · w`` to each gradient
    (L2 regularisation: the gradient of the penalty ``weight_decay / 2 · Σ w²``);
    ``decay_params`` lists the parameters it applies to (default: all of them), e.g.
    ``decay_params=layer.weights`` leaves the biases undecayed, like a PyTorch parameter
    group with its own ``weight_decay``. Subclasses list their state buffers in ``buffers`` and their
    hyper-parameters in ``hyperparameters`` and implement :meth:`_update`.
    """

    buffers: tuple[str, ...] = ()
    hyperparameters: tuple[str, ...] = ()

    def __init__(
        self,
        params: Any,
        lr: float = 0.01,
        *,
        weight_decay: float = 0.0,
        decay_params: Iterable[Variable] | None = None,
        schedule: Schedule | None = None,
    ):
        self.params = _parameter_list(params)
        self.decay_mask = self._decay_mask(decay_params)
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.schedule = schedule
        self.step_count = 0
        self.state: dict[str, np.ndarray] = {name: np.zeros(len(self.params)) for name in self.buffers}

    def _decay_mask(self, decay_params: Iterable[Variable] | None) -> np.ndarray:
        """1.0 for each parameter that weight decay applies to, else 0.0."""
        if decay_params is None:
            return np.ones(len(self.params))
        if isinstance(decay_params, Variable) or not isinstance(decay_params, Iterable):
            raise TypeError(f"decay_params must be a list of Variables, got {type(decay_params).__name__}")
        position = {param: k for k, param in enumerate(self.params)}
        mask = np.zeros(len(self.params))
        for param in decay_params:
            if param not in position:
                name = getattr(param, "name", repr(param))
                raise ValueError(f"decay_params: {name!r} is not one of this optimiser's parameters")
            mask[position[param]] = 1.0
        return mask

    # ------------------------------------------------------------------ stepping
    def current_lr(self) -> float:
        """The learning rate the next ``step()`` uses."""
        if self.schedule is None:
            return self.lr
        lr = float(self.schedule(self.step_count))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"{type(self).__name__}: the schedule gave lr={lr} at step {self.step_count}")
        return lr

    def gradients(self) -> np.ndarray:
        """Every parameter's gradient (plus weight decay), as one array."""
        grads = np.empty(len(self.params))
        for k, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                raise ValueError(
                    f"Variable {param.name!r} has no gradient at the current point: "
                    "run loss.backward() (or a compiled backward) before step()"
                )
            if isinstance(grad, np.ndarray):
                raise ValueError(f"Variable {param.name!r} holds a batch gradient; parameters must be scalars")
            grads[k] = grad
        bad = ~np.isfinite(grads)
        if bad.any():
            param = self.params[int(np.argmax(bad))]
            raise FloatingPointError(f"the gradient of Variable {param.name!r} is {param.grad}: refusing to step")
        if self.weight_decay:
            grads += self.weight_decay * self.decay_mask * self.values()
        return grads

    def values(self) -> np.ndarray:
        """Every parameter's current value, as one array."""
        values = np.empty(len(self.params))
        for k, param in enumerate(self.params):
            value = param.value
            if value is None:
                raise ValueError(f"Variable {param.name!r} has no value: initialise it before training")
            values[k] = value
        return values

    def step(self) -> None:
        """One update of every parameter from its current gradient."""
        grads = self.gradients()
        values = self.values()
        lr = self.current_lr()
        new_state = {name: buffer.copy() for name, buffer in self.state.items()}
        new_values = self._update(values, grads, lr, new_state, self.step_count + 1)
        bad = ~np.isfinite(new_values)
        if bad.any():
            param = self.params[int(np.argmax(bad))]
            raise FloatingPointError(f"{type(self).__name__} step would make Variable {param.name!r} non-finite")
        for param, value in zip(self.params, new_values.tolist()):
            param.assign(value)
        self.state = new_state
        self.step_count += 1

    def _update(self, values: np.ndarray, grads: np.ndarray, lr: float, state: dict[str, np.ndarray], t: int):
        """New values from the current ``values`` and ``grads``; may update ``state`` in
        place. ``t`` counts steps from 1."""
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Forget every parameter's cached gradient (``p.grad`` becomes None).

        Gradients in graphdl are caches taken at a point, not accumulators, so this is
        only needed to make sure a stale gradient is never stepped on."""
        for param in self.params:
            param.drop_grad()

    # --------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: JSON-ready (numbers, lists and strings), with the
        buffers keyed by parameter name."""
        names = list(unique_names(self.params))
        return {
            "kind": type(self).__name__,
            "step_count": self.step_count,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "hyperparameters": {name: getattr(self, name) for name in self.hyperparameters},
            "buffers": {buf: dict(zip(names, self.state[buf].tolist())) for buf in self.buffers},
        }

    def check_state_dict(self, state: Any) -> dict[str, np.ndarray]:
        """Validate a :meth:`state_dict` for these parameters; return the buffers as arrays
        (nothing is changed). Raises ``ValueError`` naming what does not fit."""
        kind = type(self).__name__
        if not isinstance(state, dict):
            raise ValueError(f"{kind} state must be a dict, got {type(state).__name__}")
        if state.get("kind") != kind:
            raise ValueError(f"optimiser state is for {state.get('kind')!r}, not {kind}")
        step_count = state.get("step_count")
        if not isinstance(step_count, int) or isinstance(step_count, bool) or step_count < 0:
            raise ValueError(f"{kind} state: step_count must be a non-negative integer, got {step_count!r}")
        buffers = state.get("buffers")
        if not isinstance(buffers, dict) or set(buffers) != set(self.buffers):
            raise ValueError(f"{kind} state: expected buffers {list(self.buffers)}, got {buffers!r:.80}")
        names = list(unique_names(self.params))
        arrays: dict[str, np.ndarray] = {}
        for buf in self.buffers:
            entries = buffers[buf]
            if not isinstance(entries, dict):
                raise ValueError(f"{kind} state: buffer {buf!r} must map parameter names to numbers")
            missing = [n for n in names if n not in entries]
            unexpected = [n for n in entries if n not in set(names)]
            if missing or unexpected:
                raise ValueError(f"{kind} state buffer {buf!r}: missing {missing}, unexpected {unexpected}")
            values = [entries[n] for n in names]
            for n, v in zip(names, values):
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                    raise ValueError(f"{kind} state buffer {buf!r}: entry {n!r} is not a finite number ({v!r})")
            arrays[buf] = np.array(values, dtype=float)
        for name in ("lr", "weight_decay"):
            value = state.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{kind} state: {name} must be a finite number, got {value!r}")
        hyper = state.get("hyperparameters")
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyperparameters):
            raise ValueError(f"{kind} state: expected hyperparameters {list(self.hyperparameters)}, got {hyper!r}")
        return arrays

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (validated first: on error nothing changes)."""
        arrays = self.check_state_dict(state)
        self.state = arrays
        self.step_count = state["step_count"]
        self.lr = float(state["lr"])
        self.weight_decay = float(state["weight_decay"])
        for name, value in state["hyperparameters"].items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)}" for name in self.hyperparameters)
        extra = f", {hyper}" if hyper else ""
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr}{extra}, step={self.step_count})"
