"""Trial functions for the sweep tests, at module level so worker processes can import them."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from graphdl import Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample

COUNTER_ENV = "GRAPHDL_SWEEP_TEST_COUNTER"


def _count_call(seed: int) -> None:
    """One line per call in the file named by $GRAPHDL_SWEEP_TEST_COUNTER (if set): O_APPEND
    writes of one short line do not interleave between processes."""
    path = os.environ.get(COUNTER_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(f"{seed}\n")


def seed_net_fit(seed: int, activation: str, steps: int = 20, lr: float = 0.01) -> dict:
    """A few per-sample SGD steps of the seed's x² net from a random start drawn from ``seed``."""
    _count_call(seed)
    net = build_seed_net(activation=activation)
    net.initialise("random", rng=np.random.default_rng(seed))
    xs, labels = quadratic_data(steps, seed=seed)
    losses = train_per_sample(net, xs, labels, lr=lr)
    return {
        "final_loss": float(np.mean(losses[-5:])),
        "fitted": bool(np.mean(losses[-5:]) < 0.5),
        "steps": steps,
        "w_11": np.float64(net.w_11.value),  # a numpy number: stored as a plain float
    }


def sometimes_fails(seed: int, scale: float) -> dict:
    """Raises ValueError for odd seeds; returns a product of a graph for even ones."""
    _count_call(seed)
    if seed % 2:
        raise ValueError(f"odd seed {seed} refused")
    x = Variable(float(seed), name="x")
    return {"value": float((x * scale).value)}


def slow_fit(seed: int, activation: str, pause: float = 0.1) -> dict:
    """``seed_net_fit`` after a pause, so that a sweep is still running when a worker is killed."""
    time.sleep(pause)
    return seed_net_fit(seed, activation)


def worker_pid(seed: int) -> dict:
    """The process a run ran in."""
    return {"pid": os.getpid()}


def slow_pid(seed: int) -> dict:
    """The process a run ran in, after a pause long enough for every worker to get a run."""
    time.sleep(0.1)
    return worker_pid(seed)


def bad_return(seed: int, kind: str) -> object:
    """What a trial must not return (``list``, ``set``) and what it may (``nan``: a number)."""
    if kind == "list":
        return [1.0]
    if kind == "set":
        return {"values": {1, 2}}
    return {"loss": float("nan")}


def dies_on_seed_one(seed: int) -> dict:
    """Ends its worker process abruptly for seed 1 (as a crash or the out-of-memory killer would)."""
    if seed == 1:
        time.sleep(0.2)  # let the other runs finish first
        os._exit(3)
    return {"seed_squared": seed * seed}


def global_draws(seed: int) -> dict:
    """Draws from the global generators instead of from ``seed`` (what a trial should not do)."""
    import random

    return {"python": random.random(), "numpy": float(np.random.rand())}


def exits_on_odd(seed: int) -> dict:
    """Calls sys.exit for odd seeds, as a script's argparse error or an "abort" would."""
    if seed % 2:
        sys.exit(f"seed {seed}: giving up")
    return {"seed": seed}


def gated(seed: int, gate: str) -> dict:
    """Waits (at most 20 s) until the file ``gate`` exists: a sweep that is surely running."""
    deadline = time.monotonic() + 20
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.005)
    _count_call(seed)
    return {"seed_squared": seed * seed}


def nan_metric(seed: int) -> dict:
    """A diverged run: NaN and infinite metrics, also inside a list."""
    return {"v": float("nan"), "peak": float("inf") if seed else 1.0, "curve": [1.0, float("-inf")]}
