"""How long ``graphdl.grad`` takes to build the gradient graph of an MLP's loss, and how the
time and memory grow with the graph.

    PYTHONPATH=. python benchmarks/gradient_graph.py

The loss is the benchmarks' moons MLP(2, [w, w, 1]): hinge loss plus an L2 penalty, one
``Add`` over every parameter's square (4 417 terms at w = 64, a 13 000-node graph). For
each width: forward nodes, gradient nodes built, seconds (wall and CPU, best of 3), peak
memory traced while building, and both per forward node, next to the CPU time of building
the forward graph itself (GraphMLP). Linear growth shows as flat per-node columns. The
machine is shared: the load average is printed with the results.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import GraphMLP, initial_weights

import graphdl


def measure(width: int) -> dict[str, float]:
    """Build the MLP of this width and time ``graphdl.grad(loss, parameters)``."""
    wall, cpu, build = [], [], []
    init = initial_weights([2, width, width, 1])
    for _ in range(3):
        gc.collect()
        start_cpu = time.process_time()
        model = GraphMLP(init)
        build.append(time.process_time() - start_cpu)
        forward_nodes = set(model.loss.ancestors())
        forward = len(forward_nodes)
        gc.collect()
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        grads = graphdl.grad(model.loss, model.params)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
        built = sum(node not in forward_nodes for node in graphdl.Graph(grads).nodes)
        del grads
    model = GraphMLP(initial_weights([2, width, width, 1]))
    tracemalloc.start()
    grads = graphdl.grad(model.loss, model.params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(grads) == len(model.params)
    return {
        "width": width,
        "forward": forward,
        "built": built,
        "wall": min(wall),
        "cpu": min(cpu),
        "build": min(build),
        "peak": peak,
    }


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        "| MLP | forward nodes | gradient nodes | wall s | CPU s | µs / node | building the forward graph, CPU s "
        "| peak MB | bytes / node |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for width in (16, 32, 64):
        row = measure(width)
        print(
            f"| (2, [{width}, {width}, 1]) | {row['forward']:,} | {row['built']:,} | {row['wall']:.3f} | "
            f"{row['cpu']:.3f} | {1e6 * row['cpu'] / row['forward']:.1f} | {row['build']:.3f} | "
            f"{row['peak'] / 1e6:.1f} | "
            f"{row['peak'] / row['forward']:.0f} |"
        )


if __name__ == "__main__":
    main()
