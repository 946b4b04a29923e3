"""All-zero initial weights keep every hidden unit identical; random ones break the symmetry.

Repeats the parameter-initialisation section of seed 000. A 2-2-1 network (two inputs,
two Sigmoid hidden units, one linear output, squared loss) is built node by node and
trained with full-batch gradient descent on four points (the OR truth table). Sigmoid
hidden units output 0.5 at zero weights, so the gradients are not zero and the weights
do move, but both hidden units receive exactly the same update at every step: they stay
copies of each other forever and the net behaves as if it had one hidden unit. With
small random weights the two units differ from the start and learn different things.

    PYTHONPATH=. python examples/zero_init.py --out out/

Prints the hidden weights of both runs after the last step and the largest difference
between the two hidden units; writes DIR/zero_init.png (hidden weights over the steps).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from graphdl import Add, Mul, Sigmoid, SquaredLoss, Variable

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 1.0])


def build_net(init: np.ndarray) -> tuple[object, list[list[Variable]], list[Variable]]:
    """Build the 2-2-1 net. ``init`` holds 9 numbers: w[j][i] for hidden j, input i, then
    hidden biases, then the two output weights and the output bias. Returns
    (loss, hidden weight rows, all parameters)."""
    inputs = [Variable(X[:, i].copy(), name=f"x_{i + 1}", trainable=False) for i in range(2)]
    label = Variable(Y.copy(), name="label", trainable=False)
    values = iter(float(v) for v in init)
    hidden_weights: list[list[Variable]] = []
    hidden = []
    for j in range(2):
        row = [Variable(next(values), name=f"w_{j + 1}{i + 1}") for i in range(2)]
        hidden_weights.append(row)
    biases = [Variable(next(values), name=f"b_{j + 1}") for j in range(2)]
    for j in range(2):
        pre = Add([Add([Mul([hidden_weights[j][0], inputs[0]]), Mul([hidden_weights[j][1], inputs[1]])]), biases[j]])
        hidden.append(Sigmoid([pre], name=f"h_{j + 1}"))
    out_weights = [Variable(next(values), name=f"v_{j + 1}") for j in range(2)]
    out_bias = Variable(next(values), name="c")
    prediction = Add([Add([Mul([out_weights[0], hidden[0]]), Mul([out_weights[1], hidden[1]])]), out_bias])
    loss = SquaredLoss([label, prediction], name="loss")
    params = [w for row in hidden_weights for w in row] + biases + out_weights + [out_bias]
    return loss, hidden_weights, params


def train(init: np.ndarray, steps: int, lr: float) -> tuple[np.ndarray, list[float]]:
    """Train from ``init``; return hidden weights per step, shape (steps + 1, 2, 2), and mean losses."""
    loss, hidden_weights, params = build_net(init)
    history = [[[float(w.value) for w in row] for row in hidden_weights]]
    losses = []
    for _ in range(steps):
        losses.append(float(np.mean(loss.forward())))
        for param in params:
            param.get_grad()
        for param in params:
            param.update(lr=lr)
        loss.clear()  # update() keeps the old point's caches; the next step needs fresh values
        history.append([[float(w.value) for w in row] for row in hidden_weights])
    return np.array(history), losses


def main(argv: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Train from zero and from random weights; print and plot the hidden weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="gradient descent steps")
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    parser.add_argument("--out", type=Path, default=None, help="directory for zero_init.png")
    args = parser.parse_args(argv)

    inits = {"zero": np.zeros(9), "random": np.random.default_rng(args.seed).normal(0.0, 0.5, 9)}
    histories = {}
    for label, init in inits.items():
        history, losses = train(init, args.steps, args.lr)
        histories[label] = history
        final = history[-1]
        gap = float(np.abs(final[0] - final[1]).max())
        print(f"{label} init, after {args.steps} steps: hidden unit 1 weights = {np.round(final[0], 4).tolist()}, ")
        print(f"  hidden unit 2 weights = {np.round(final[1], 4).tolist()}")
        print(f"  largest difference between the two hidden units: {gap:.6f}")
        print(f"  mean loss: first step {losses[0]:.4f}, last step {losses[-1]:.4f}")

    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        args.out.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
        steps = np.arange(args.steps + 1)
        for ax, (label, history) in zip(axes, histories.items()):
            for j, colour in enumerate(("tab:blue", "tab:orange")):
                for i, style in enumerate(("-", "--")):
                    width = 4 if j == 0 else 1.8
                    ax.plot(steps, history[:, j, i], color=colour, ls=style, lw=width, label=f"w_{j + 1}{i + 1}")
            ax.set_title(f"{label} initialisation")
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend(title="hidden unit j, input i")
        axes[0].set_ylabel("hidden weight")
        fig.suptitle("Zero init: unit 2's weights (thin) lie exactly on unit 1's (thick); random init separates them")
        fig.tight_layout()
        path = args.out / "zero_init.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        print(f"figure written: {path}")
    return histories


if __name__ == "__main__":
    main()
