"""Explore the tutorial's network while it trains: one offline HTML page (the graph, a step
slider, Play, hover panels, the tutorial's charts) written by ``graphdl.viz.explore``.

    python examples/explore_training.py --out graphdl-demo             # writes explorer.html
    python examples/explore_training.py --out viz --screenshot viz/explorer.png

``--screenshot`` photographs the page with headless chromium through playwright
(``pip install playwright`` and the system's chromium; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from graphdl.seednet import build_seed_net, quadratic_data, train_per_sample
from graphdl.viz import TrainingRecorder, explore

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def screenshot(page: Path, picture: Path, *, frame: int = 40, node: str = "add_12", browser: Any = None) -> Path:
    """Open ``page`` in headless chromium (every request but the page itself blocked),
    move the slider to ``frame``, hover ``node`` and save a full-page PNG. ``browser``: a
    running playwright browser to use instead of starting one."""
    if browser is not None:
        return _photograph(browser, page, picture, frame, node)
    from playwright.sync_api import sync_playwright

    executable = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if executable is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            return _photograph(browser, page, picture, frame, node)
        finally:
            browser.close()


def _photograph(browser: Any, page: Path, picture: Path, frame: int, node: str) -> Path:
    url = page.resolve().as_uri()
    tab = browser.new_page(viewport={"width": 1400, "height": 940}, device_scale_factor=1)
    try:
        tab.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
        tab.goto(url)
        tab.eval_on_selector(
            "#step", "(slider, frame) => { slider.value = frame; slider.dispatchEvent(new Event('input')); }", frame
        )
        tab.hover(f"[id='node-{node}']")
        tab.screenshot(path=str(picture), full_page=True)
    finally:
        tab.close()
    return picture


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
