"""SGD, Momentum, AdaGrad, RMSProp and Adam, with the update rules of seed 001.

Notation: g the gradient (plus weight decay), lr the learning rate, t the step (from 1).
"""

from __future__ import annotations

import numpy as np

from graphdl.optim.base import Optimizer
from graphdl.validation import FINITE, NON_NEGATIVE, Real

#: An exponential-average factor: 0 <= beta < 1.
BETA = Real(low=0.0, high=1.0, high_open=True)


class SGD(Optimizer):
    """Plain gradient descent: w ← w − lr · g."""

    def _update(self, values, grads, lr, state, t):
        return values - lr * grads


class Momentum(Optimizer):
    """Gradient descent on an exponentially weighted average of the gradients (seed 001):
    s₁ = g₁, then s_t = β · s_{t−1} + (1 − β) · g_t, and w ← w − lr · s_t.

    (This is ``torch.optim.SGD(momentum=β, dampening=β)``: the step size stays lr · g
    for a constant gradient.)
    """

    buffers = {"velocity": FINITE}
    hyperparameters = {"beta": BETA}

    def __init__(self, params, lr: float = 0.01, beta: float = 0.9, **kwargs) -> None:
        super().__init__(params, lr, **kwargs)
        self._set_hyperparameters(beta=beta)

    def _update(self, values, grads, lr, state, t):
        velocity = grads.copy() if t == 1 else self.beta * state["velocity"] + (1.0 - self.beta) * grads
        state["velocity"] = velocity
        return values - lr * velocity


class AdaGrad(Optimizer):
    """Per-parameter learning rates from the sum of squared gradients (seed 001):
    s ← s + g², w ← w − lr / (√s + ε) · g, with ε = 1e-6."""

    buffers = {"sum_squares": NON_NEGATIVE}
    hyperparameters = {"eps": NON_NEGATIVE}

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(params, lr, **kwargs)
        self._set_hyperparameters(eps=eps)

    def _update(self, values, grads, lr, state, t):
        state["sum_squares"] = state["sum_squares"] + grads * grads
        return values - lr * grads / (np.sqrt(state["sum_squares"]) + self.eps)


class RMSProp(Optimizer):
    """AdaGrad with an exponentially weighted average instead of the sum (seed 001):
    s ← β · s + (1 − β) · g², w ← w − lr / (√s + ε) · g, with β = 0.9, ε = 1e-6."""

    buffers = {"mean_squares": NON_NEGATIVE}
    hyperparameters = {"beta": BETA, "eps": NON_NEGATIVE}

    def __init__(self, params, lr: float = 0.01, beta: float = 0.9, eps: float = 1e-6, **kwargs) -> None:
        super().__init__(params, lr, **kwargs)
        self._set_hyperparameters(beta=beta, eps=eps)

    def _update(self, values, grads, lr, state, t):
        state["mean_squares"] = self.beta * state["mean_squares"] + (1.0 - self.beta) * grads * grads
        return values - lr * grads / (np.sqrt(state["mean_squares"]) + self.eps)


class Adam(Optimizer):
    """Momentum and RMSProp combined, with bias correction:
    m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ),
    w ← w − lr · m̂ / (√v̂ + ε); β₁ = 0.9, β₂ = 0.999, ε = 1e-8."""

    buffers = {"m": FINITE, "v": NON_NEGATIVE}
    hyperparameters = {"beta1": BETA, "beta2": BETA, "eps": NON_NEGATIVE}

    def __init__(
        self, params, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **kwargs
    ) -> None:
        super().__init__(params, lr, **kwargs)
        self._set_hyperparameters(beta1=beta1, beta2=beta2, eps=eps)

    def _update(self, values, grads, lr, state, t):
        m = state["m"] = self.beta1 * state["m"] + (1.0 - self.beta1) * grads
        v = state["v"] = self.beta2 * state["v"] + (1.0 - self.beta2) * grads * grads
        m_hat = m / (1.0 - self.beta1**t)
        v_hat = v / (1.0 - self.beta2**t)
        return values - lr * m_hat / (np.sqrt(v_hat) + self.eps)
