"""The optimiser base class: gathers gradients, applies weight decay and the learning
rate schedule, checks everything is finite, then writes all new values at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from graphdl.core.node import Variable, assign_values
from graphdl.nn.module import unique_names
from graphdl.validation import FINITE, NON_NEGATIVE, POSITIVE, Count, Real, WrongTypeError

#: The largest step count a state may hold (``beta ** t`` must stay a float operation).
STEP_COUNT = Count(high=2**53)

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
    group with its own ``weight_decay``. Subclasses map their state buffers in ``buffers``
    and their hyper-parameters in ``hyperparameters`` to the rule their values obey (a
    :class:`graphdl.validation.Real`), set the hyper-parameters with
    :meth:`_set_hyperparameters` and implement :meth:`_update`. The same rules check the
    constructor's arguments and a loaded :meth:`state_dict`.
    """

    buffers: dict[str, Real] = {}
    hyperparameters: dict[str, Real] = {}
    lr_rule = POSITIVE
    weight_decay_rule = NON_NEGATIVE

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
        kind = type(self).__name__
        self.lr = self.lr_rule.check(lr, f"{kind}: learning rate lr")
        self.weight_decay = self.weight_decay_rule.check(weight_decay, f"{kind}: weight_decay")
        self.schedule = schedule
        self.step_count = 0
        self.state: dict[str, np.ndarray] = {name: np.zeros(len(self.params)) for name in self.buffers}

    def _set_hyperparameters(self, **values: Any) -> None:
        """Check each hyper-parameter with its rule in ``hyperparameters``, then set them all."""
        checked = self._check_hyperparameters(values, f"{type(self).__name__}: ")
        for name, value in checked.items():
            setattr(self, name, value)

    def _check_hyperparameters(self, values: Any, where: str) -> dict[str, float]:
        rules = self.hyperparameters
        if not isinstance(values, dict) or set(values) != set(rules):
            raise ValueError(f"{where}expected hyperparameters {list(rules)}, got {_shown(values)}")
        return {name: _rule(rules, name).check(values[name], f"{where}{name}") for name in rules}

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
        grads = self._gradient_array()
        bad = ~np.isfinite(grads)
        if bad.any():
            param = self.params[int(np.argmax(bad))]
            raise FloatingPointError(f"the gradient of Variable {param.name!r} is {param.grad}: refusing to step")
        if self.weight_decay:
            grads += self.weight_decay * self.decay_mask * self.values()
        return grads

    def _gradient_array(self) -> np.ndarray:
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
        new_values = self.step_arrays(self.values(), self._gradient_array())
        assign_values(self.params, new_values.tolist())

    def step_arrays(self, values: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """One update computed on arrays: the parameters' current ``values`` and gradients
        ``grads`` (both in :attr:`params` order) -> their new values. Weight decay, the
        schedule and the state advance as in :meth:`step`; nothing is written to the
        Variables (a compiled program writes all of them at once)."""
        bad = ~np.isfinite(grads)
        if bad.any():
            param = self.params[int(np.argmax(bad))]
            raise FloatingPointError(
                f"the gradient of Variable {param.name!r} is {grads[int(np.argmax(bad))]}: refusing to step"
            )
        if self.weight_decay:
            grads = grads + self.weight_decay * self.decay_mask * values
        lr = self.current_lr()
        new_state = {name: buffer.copy() for name, buffer in self.state.items()}
        new_values = self._update(values, grads, lr, new_state, self.step_count + 1)
        bad = ~np.isfinite(new_values)
        if bad.any():
            param = self.params[int(np.argmax(bad))]
            raise FloatingPointError(f"{type(self).__name__} step would make Variable {param.name!r} non-finite")
        self.state = new_state
        self.step_count += 1
        return new_values

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

    def check_state_dict(self, state: Any) -> dict[str, Any]:
        """Validate a :meth:`state_dict` for these parameters with the constructor's own
        rules; return what :meth:`load_state_dict` assigns (nothing is changed).
        Raises ``ValueError``/``TypeError`` naming the field that does not fit."""
        kind = type(self).__name__
        if not isinstance(state, dict):
            raise WrongTypeError(f"{kind} state must be a dict, got {type(state).__name__}")
        expected = {"kind", "step_count", "lr", "weight_decay", "hyperparameters", "buffers"}
        if set(state) != expected:
            raise ValueError(f"{kind} state: expected the fields {sorted(expected)}, got {_shown(sorted(state))}")
        if state["kind"] != kind:
            raise ValueError(f"optimiser state is for {_shown(state['kind'])}, not {kind}")
        where = f"{kind} state: "
        checked: dict[str, Any] = {
            "step_count": STEP_COUNT.check(state["step_count"], f"{where}step_count"),
            "lr": self.lr_rule.check(state["lr"], f"{where}lr"),
            "weight_decay": self.weight_decay_rule.check(state["weight_decay"], f"{where}weight_decay"),
            "hyperparameters": self._check_hyperparameters(state["hyperparameters"], where),
        }
        buffers = state["buffers"]
        if not isinstance(buffers, dict) or set(buffers) != set(self.buffers):
            raise ValueError(f"{where}expected buffers {list(self.buffers)}, got {_shown(buffers)}")
        names = list(unique_names(self.params))
        known = set(names)
        arrays: dict[str, np.ndarray] = {}
        for buf in self.buffers:
            entries = buffers[buf]
            if not isinstance(entries, dict):
                raise WrongTypeError(f"{where}buffer {buf!r} must map parameter names to numbers")
            missing = [n for n in names if n not in entries]
            unexpected = [n for n in entries if n not in known]
            if missing or unexpected:
                raise ValueError(f"{where}buffer {buf!r}: missing {_shown(missing)}, unexpected {_shown(unexpected)}")
            rule = _rule(self.buffers, buf)
            arrays[buf] = np.array([rule.check(entries[n], f"{where}buffer {buf!r} entry {n!r}") for n in names])
        checked["buffers"] = arrays
        return checked

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`, validated first by the constructor's rules: on
        any error nothing changes."""
        checked = self.check_state_dict(state)
        self.state = checked["buffers"]
        self.step_count = checked["step_count"]
        self.lr = checked["lr"]
        self.weight_decay = checked["weight_decay"]
        for name, value in checked["hyperparameters"].items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)}" for name in self.hyperparameters)
        extra = f", {hyper}" if hyper else ""
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr}{extra}, step={self.step_count})"


def _rule(rules: Any, name: str) -> Real:
    """The rule for ``name``; a subclass that lists names in a tuple gets "any finite number"."""
    return rules.get(name, FINITE) if isinstance(rules, dict) else FINITE


def _shown(value: Any) -> str:
    from graphdl.validation import short_repr

    return short_repr(value, 80)
