"""The benchmark workloads written for graphdl's peers: hand-written numpy with matmuls,
JAX (``jit``, ``lax.scan`` / ``lax.fori_loop``), PyTorch eager and ``torch.compile``.

Every peer is optional: JAX and PyTorch are imported only when a workload asks for them,
and a missing one is reported as absent (``jax_module()`` / ``torch_module()`` return
None). Each implementation computes the same math as the graphdl workload it stands beside:
the same loss, the same parameters in the same order (per layer, per neuron: its weights,
then its bias), the same learning rate. ``side_by_side`` checks that to 1e-6 before timing.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

# One thread for every library: BLAS (numpy, torch), OpenMP and XLA's CPU client. numba's
# NUMBA_NUM_THREADS goes only to child processes (CHILD_ENV): numba refuses a new value once
# its threads run, so this process calls numba.set_num_threads(1) instead.
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}
CHILD_ENV = {**ONE_THREAD_ENV, "NUMBA_NUM_THREADS": "1"}
_LIMITS: list[Any] = []  # the threadpoolctl limiter, kept alive for the whole run


def pin_one_thread() -> list[str]:
    """Limit every library this process uses (and the processes it starts) to one thread.

    The environment variables reach libraries loaded later and child processes; what is
    already loaded is limited at run time (threadpoolctl for BLAS and OpenMP pools, torch
    and numba through their own calls). Returns a description of the thread pools, for the
    report."""
    os.environ.update(ONE_THREAD_ENV)
    pools = []
    try:
        import threadpoolctl
    except ImportError:
        pools.append("threadpoolctl not installed: BLAS pools not inspected")
    else:
        _LIMITS.append(threadpoolctl.threadpool_limits(limits=1))
        for pool in threadpoolctl.threadpool_info():
            pools.append(
                f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('architecture', '-')}, "
                f"{pool.get('num_threads')} thread, {os.path.basename(pool.get('filepath', ''))})"
            )
    torch = torch_module()
    if torch is not None:
        torch.set_num_threads(1)
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.set_num_threads(1)
    else:  # read when numba is imported
        os.environ["NUMBA_NUM_THREADS"] = "1"
    return pools


@functools.cache
def jax_module() -> Any:
    """JAX with float64 enabled (the workloads are float64), or None when not installed."""
    os.environ.setdefault("XLA_FLAGS", ONE_THREAD_ENV["XLA_FLAGS"])
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


@functools.cache
def torch_module() -> Any:
    """PyTorch, or None when not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---------------------------------------------------------------- the MLP
Layers = list[tuple[np.ndarray, np.ndarray]]


def layer_arrays(init: Sequence[Sequence[tuple[Sequence[float], float]]]) -> Layers:
    """``initial_weights``' per-neuron lists as one (weights, biases) pair of arrays per layer."""
    return [
        (np.array([w for w, _ in layer], dtype=float), np.array([b for _, b in layer], dtype=float)) for layer in init
    ]


def flat(layers: Sequence[tuple[Any, Any]]) -> np.ndarray:
    """Every parameter in graphdl's order: per layer, per neuron, its weights then its bias."""
    parts = []
    for weights, biases in layers:
        weights, biases = np.asarray(weights, dtype=float), np.asarray(biases, dtype=float)
        parts.append(np.column_stack([weights, biases]).ravel())
    return np.concatenate(parts)


class NumpyMLP:
    """micrograd's moons loss (mean hinge + alpha · Σ p²) and its gradient written by hand
    with matrix products; one full-batch SGD step per ``step()``."""

    def __init__(self, init, points: np.ndarray, labels: np.ndarray, lr: float, alpha: float = 1e-4) -> None:
        self.initial = layer_arrays(init)
        self.points, self.labels, self.lr, self.alpha = points, labels, lr, alpha
        self.reset()

    def reset(self) -> None:
        self.layers = [(w.copy(), b.copy()) for w, b in self.initial]

    def step(self) -> None:
        layers, labels, last = self.layers, self.labels, len(self.layers) - 1
        inputs, masks = [], []
        h = self.points
        for k, (weights, biases) in enumerate(layers):
            inputs.append(h)
            z = h @ weights.T
            z += biases
            if k < last:
                mask = z > 0.0
                masks.append(mask)
                z *= mask
            h = z
        margin = 1.0 - labels * h[:, 0]
        g = (np.where(margin > 0.0, -labels, 0.0) / labels.size)[:, None]
        grads: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(last, -1, -1):
            if k < last:
                g = g * masks[k]
            grads.append((g.T @ inputs[k], g.sum(axis=0)))
            if k:
                g = g @ layers[k][0]
        decay = 2.0 * self.alpha
        for (weights, biases), (g_weights, g_biases) in zip(layers, reversed(grads)):
            weights -= self.lr * (g_weights + decay * weights)
            biases -= self.lr * (g_biases + decay * biases)

    def params(self) -> np.ndarray:
        return flat(self.layers)


def _jax_mlp_loss(jnp: Any, alpha: float):
    def loss(layers, points, labels):
        h, last = points, len(layers) - 1
        for k, (weights, biases) in enumerate(layers):
            z = h @ weights.T + biases
            h = jnp.where(z > 0.0, z, 0.0) if k < last else z
        margin = 1.0 - labels * h[:, 0]
        penalty = sum(jnp.sum(w * w) + jnp.sum(b * b) for w, b in layers)
        return jnp.mean(jnp.where(margin > 0.0, margin, 0.0)) + alpha * penalty

    return loss


class JaxMLP:
    """The same full-batch step as one ``jax.jit`` function (``jax.grad`` inside), or
    ``steps_per_call`` steps in one jitted ``lax.fori_loop``."""

    def __init__(self, init, points, labels, lr: float, alpha: float = 1e-4, steps_per_call: int = 1) -> None:
        jax = jax_module()
        jnp = jax.numpy
        self.jax, self.steps_per_call = jax, steps_per_call
        self.initial = [(jnp.asarray(w), jnp.asarray(b)) for w, b in layer_arrays(init)]
        self.points, self.labels = jnp.asarray(points), jnp.asarray(labels)
        gradient = jax.grad(_jax_mlp_loss(jnp, alpha))

        def one_step(layers, points, labels):
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, layers, gradient(layers, points, labels))

        if steps_per_call == 1:
            self.function = jax.jit(one_step)
        else:
            self.function = jax.jit(
                lambda layers, points, labels: jax.lax.fori_loop(
                    0, steps_per_call, lambda _, state: one_step(state, points, labels), layers
                )
            )
        self.reset()

    def reset(self) -> None:
        self.layers = self.initial

    def step(self) -> None:
        self.layers = self.function(self.layers, self.points, self.labels)
        self.jax.block_until_ready(self.layers)

    def params(self) -> np.ndarray:
        return flat(self.layers)


class TorchMLP:
    """The same step in PyTorch: eager autograd, or ``torch.compile`` of the whole functional
    step (``torch.func.grad`` and the update inside the compiled function)."""

    def __init__(self, init, points, labels, lr: float, alpha: float = 1e-4, compiled: bool = False) -> None:
        torch = torch_module()
        self.torch, self.compiled, self.lr = torch, compiled, lr
        self.initial = [torch.from_numpy(a.copy()) for pair in layer_arrays(init) for a in pair]
        self.points, self.labels = torch.from_numpy(points), torch.from_numpy(labels)

        def loss(params, points, labels):
            h, last = points, len(params) // 2 - 1
            for k in range(last + 1):
                z = h @ params[2 * k].T + params[2 * k + 1]
                h = torch.relu(z) if k < last else z
            return torch.relu(1.0 - labels * h[:, 0]).mean() + alpha * sum((p * p).sum() for p in params)

        self.loss = loss
        if compiled:

            def functional_step(params, points, labels):
                grads = torch.func.grad(loss)(params, points, labels)
                return [p - lr * g for p, g in zip(params, grads)]

            self.function = torch.compile(functional_step)
        self.reset()

    def reset(self) -> None:
        self.params_ = [t.clone().requires_grad_(not self.compiled) for t in self.initial]

    def step(self) -> None:
        if self.compiled:
            self.params_ = self.function(self.params_, self.points, self.labels)
            return
        params = self.params_
        grads = self.torch.autograd.grad(self.loss(params, self.points, self.labels), params)
        with self.torch.no_grad():
            for p, g in zip(params, grads):
                p -= self.lr * g

    def params(self) -> np.ndarray:
        values = [t.detach().numpy() for t in self.params_]
        return flat(list(zip(values[::2], values[1::2])))


# ------------------------------------------------------------- the seed net
def _jax_seed_loss(jnp: Any):
    def loss(p, x, y):
        w11, w12, b11, b12, w21, w22, b21 = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        a1, a2 = x * w11 + b11, x * w12 + b12
        out = jnp.where(a1 > 0.0, a1, 0.1 * a1) * w21 + jnp.where(a2 > 0.0, a2, 0.1 * a2) * w22 + b21
        return jnp.abs(y - out)

    return loss


class JaxSeedNet:
    """The seed's x² net (LeakyReLU 0.1, |error| loss) in JAX: per-sample SGD over a data set
    as one jitted ``lax.scan`` (``epoch``), one jitted step per call (``steps``), and the
    batch-mean loss and gradient (``batch_gradient``)."""

    def __init__(self, initial: Sequence[float], lr: float) -> None:
        jax = jax_module()
        jnp = jax.numpy
        self.jax, self.initial = jax, jnp.asarray(np.array(initial, dtype=float))
        loss = _jax_seed_loss(jnp)
        gradient = jax.grad(loss)

        def sgd_step(p, sample):
            x, y = sample
            return p - lr * gradient(p, x, y), None

        self._epoch = jax.jit(lambda p, xs, ys: jax.lax.scan(sgd_step, p, (xs, ys))[0])
        self._step = jax.jit(lambda p, x, y: p - lr * gradient(p, x, y))
        self._batch = jax.jit(jax.value_and_grad(lambda p, xs, ys: jnp.mean(loss(p, xs, ys))))

    def epoch(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.asarray(self._epoch(self.initial, xs, ys))

    def steps(self, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
        p, step = self.initial, self._step
        for x, y in zip(xs, ys):
            p = step(p, x, y)
        return np.asarray(p)

    def batch_gradient(self, xs: Any, ys: Any) -> np.ndarray:
        loss, grads = self._batch(self.initial, xs, ys)
        return np.concatenate([[float(loss)], np.asarray(grads)])


def torch_seed_batch(initial: Sequence[float], xs: np.ndarray, ys: np.ndarray):
    """The seed net's batch-mean loss and gradient in PyTorch; returns a function computing
    them as one vector (loss first)."""
    torch = torch_module()
    tx, ty = torch.from_numpy(xs), torch.from_numpy(ys)
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in initial]
    w11, w12, b11, b12, w21, w22, b21 = params
    leaky = torch.nn.functional.leaky_relu

    def gradient() -> np.ndarray:
        out = leaky(tx * w11 + b11, 0.1) * w21 + leaky(tx * w12 + b12, 0.1) * w22 + b21
        loss = torch.abs(ty - out).mean()
        grads = torch.autograd.grad(loss, params)
        return np.array([float(loss.detach()), *(float(g) for g in grads)])

    return gradient


# ------------------------------------------------------------ the random DAG
def jax_dag_step(spec: Any, lr: float):
    """``side_by_side.DagSpec`` as a jitted JAX per-sample SGD step over its parameter vector:
    every scalar node becomes one traced operation (XLA then compiles the unrolled graph)."""
    jax = jax_module()
    jnp = jax.numpy

    def loss(p, x, label):
        values = [x, *(p[i] for i in range(spec.parameters))]
        for kind, a, b in spec.ops:
            u, v = values[a], values[b]
            values.append(jnp.tanh(u + v) if kind == "add" else jnp.tanh(u * v))
        total = sum(values[i] for i in spec.outputs)
        return (total - label) ** 2

    gradient = jax.grad(loss)
    return jax.jit(lambda p, x, label: p - lr * gradient(p, x, label))
