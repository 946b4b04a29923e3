"""How much a displayed ``graphdl.viz.LiveView`` slows training: examples/train_moons.py's
training (MLP(2, [8, 8, 1]), Adam, 30 epochs of 640 samples in batches of 32, dev set)
with and without the view as a callback, in a real Jupyter kernel (run by nbclient, so
every update is serialised and sent over the kernel's channels as in JupyterLab).

    PYTHONPATH=. python benchmarks/live_view.py [--repeats 5]

The two variants alternate; the report gives their medians and best runs, the ratios, and what the view
itself counted (updates, time spent in them), and the kernel process's CPU time (all its
threads, so the sending of the updates too), which other jobs on a shared machine disturb
less than the wall time. Building and displaying the view (the
graph's SVG) happens before the timed ``fit``, a second before, as in a notebook where one
cell shows the view and the next trains. The machine is shared: the load average is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP = """\
import time
from graphdl import datasets, nn, optim
from graphdl.train import Trainer
from graphdl.viz import LiveView

X, y = datasets.make_moons(1000, noise=0.1, seed=0)
train, dev, test = datasets.train_dev_test_split(X, y, (640, 160, 200), seed=0)


def run(with_view):
    model = nn.MLP(2, [8, 8, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False)
    callbacks = []
    if with_view:
        view = LiveView(trainer.loss)
        display(view)
        callbacks = [view]
    time.sleep(1.0)  # as between a notebook's cells: the view's first message is on its way, in both variants
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(train, dev, epochs=30, batch_size=32, callbacks=callbacks)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if with_view:
        return seconds, cpu, view.throttle.updates, view.throttle.time_spent
    return seconds, cpu, 0, 0.0


run(False)  # warm up: the compiled step, the imports
"""
MEASURE = """\
import json
results = {{"plain": [], "view": []}}
for _ in range({repeats}):
    results["plain"].append(run(False))
    results["view"].append(run(True))
print("RESULTS", json.dumps(results))
"""


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main(argv: list[str] | None = None) -> str:
    import nbclient
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(MEASURE.format(repeats=args.repeats))]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        client = nbclient.NotebookClient(
            notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": folder}}
        )
        client.execute()
    printed = "".join(output.get("text", "") for output in notebook.cells[1].outputs)
    results = json.loads(printed.split("RESULTS", 1)[1])
    plain = median([row[0] for row in results["plain"]])
    view = median([row[0] for row in results["view"]])
    best_plain = min(row[0] for row in results["plain"])
    best_view = min(row[0] for row in results["view"])
    cpu_plain = median([row[1] for row in results["plain"]])
    cpu_view = median([row[1] for row in results["view"]])
    updates = median([row[2] for row in results["view"]])
    spent = median([row[3] for row in results["view"]])
    report = (
        f"LiveView overhead on examples/train_moons.py's training (600 steps), in a Jupyter kernel, "
        f"median of {args.repeats} alternated runs, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load:.1f} → {os.getloadavg()[0]:.1f}:\n"
        f"  without the view {plain:.3f} s, with it {view:.3f} s: {view / plain:.3f}× "
        f"({(view / plain - 1) * 100:+.1f} %); best runs {best_plain:.3f} s and {best_view:.3f} s: "
        f"{best_view / best_plain:.3f}×\n"
        f"  the kernel's CPU time (all its threads, so the sending too; less sensitive to other jobs): "
        f"{cpu_plain:.3f} s and {cpu_view:.3f} s: {cpu_view / cpu_plain:.3f}× "
        f"({(cpu_view / cpu_plain - 1) * 100:+.1f} %)\n"
        f"  the view: {updates:.0f} updates in {view:.2f} s (the start's, then one every 0.1 s at most), "
        f"{spent * 1000:.0f} ms in them "
        f"({spent / plain * 100:.1f} % of the training time)"
    )
    print(report)
    for name, rows in results.items():
        print(f"  {name} runs, wall/CPU (s):", " ".join(f"{row[0]:.3f}/{row[1]:.3f}" for row in rows))
    return report


if __name__ == "__main__":
    sys.exit(main() and 0)
