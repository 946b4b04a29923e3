"""Explore a Trainer run: a moons MLP trained with a RunRecorder callback, then one offline
page with the loss and accuracy curves, the decision boundary at every epoch (it follows the
slider), each layer's gradient norm, and the graph: one box per layer that opens on click,
and Backprop, which replays the reverse sweep of one sample node by node.

    python examples/explore_moons.py                 # writes moons_explorer.html
    python examples/explore_moons.py --screenshot viz/explorer_moons.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdl import datasets, nn, optim
from graphdl.train import Trainer
from graphdl.viz import RunRecorder, explore
from graphdl.viz.screenshot import screenshot


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for moons_explorer.html (default: here)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--screenshot", type=Path, default=None, help="also save a PNG of the page here")
    args = parser.parse_args(argv)

    X, y = datasets.make_moons(400, noise=0.15, seed=0)
    train, dev = datasets.train_dev_test_split(X, y, (320, 80, 0), seed=0)[:2]
    model = nn.MLP(2, [8, 8, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False)
    recorder = RunRecorder(train)  # a frame before training and after every epoch
    history = trainer.fit(train, dev, epochs=args.epochs, batch_size=32, callbacks=[recorder])
    print(f"dev accuracy {history.dev_metric[-1]:.3f} after {args.epochs} epochs")

    page = Path(explore(trainer.loss, args.out / "moons_explorer.html", recorder, title="graphdl explorer: moons"))
    print(f"wrote {page} ({page.stat().st_size / 1e6:.2f} MB): open it in any browser, offline")
    if args.screenshot is not None:
        print(f"wrote {screenshot(page, args.screenshot, frame=len(recorder) - 1, node='loss')}")
    return page


if __name__ == "__main__":
    main()
