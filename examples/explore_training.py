"""Explore the tutorial's network while it trains: one offline HTML page (the graph, a step
slider, Play, hover panels, the tutorial's charts) written by ``graphdl.viz.explore``.

    python examples/explore_training.py --out graphdl-demo             # writes explorer.html
    python examples/explore_training.py --out viz --screenshot viz/explorer.png

``--screenshot`` photographs the page with headless chromium through playwright
(``pip install playwright`` and the system's chromium; nothing is downloaded).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample
from graphdl.viz import TrainingRecorder, explore
from graphdl.viz.screenshot import screenshot


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for explorer.html (default: here)")
    parser.add_argument("--steps", type=int, default=1500, help="per-sample SGD steps (default 1500)")
    parser.add_argument("--screenshot", type=Path, default=None, help="also save a PNG of the page here")
    args = parser.parse_args(argv)

    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(args.steps, seed=0)
    recorder = TrainingRecorder.for_seed_net(net, every=max(1, args.steps // 60), total_steps=args.steps)
    recorder.start()
    train_per_sample(net, xs, ys, callback=recorder)
    recorder.finish()
    net.x.set_value(xs)  # the boxes get value and grad lines; the page rewrites them step by step
    net.label.set_value(ys)
    net.loss.backward()

    title = "graphdl explorer: fitting y = x² node by node"
    page = Path(explore(net.loss, args.out / "explorer.html", recorder, title=title))
    print(f"wrote {page} ({page.stat().st_size / 1e6:.2f} MB): open it in any browser, offline")
    if args.screenshot is not None:
        print(f"wrote {screenshot(page, args.screenshot)}")
    return page


if __name__ == "__main__":
    main()
