"""A picture of an explorer page, taken by headless chromium through playwright.

Needs ``pip install playwright`` and a chromium on the PATH (Debian: ``apt-get install
chromium``); nothing is downloaded, and the page may fetch nothing but itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def screenshot(
    page: str | Path,
    picture: str | Path,
    *,
    frame: int = 40,
    node: str = "add_12",
    browser: Any = None,
    backprop: int = 0,
    size: tuple[int, int] | None = None,
) -> Path:
    """Open ``page`` in headless chromium (every request but the page itself blocked),
    move the slider to ``frame``, hover ``node`` and save a full-page PNG at ``picture``.
    ``backprop``: instead of hovering, switch Backprop on and show its ``backprop``-th
    visit. ``size``: (width, height) of a window-sized picture instead of the full page.
    ``browser``: a running playwright browser to use instead of starting one."""
    page, picture = Path(page), Path(picture)
    if browser is not None:
        return _photograph(browser, page, picture, frame, node, backprop, size)
    from playwright.sync_api import sync_playwright

    executable = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if executable is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            return _photograph(browser, page, picture, frame, node, backprop, size)
        finally:
            browser.close()


def _photograph(
    browser: Any, page: Path, picture: Path, frame: int, node: str, backprop: int, size: tuple[int, int] | None
) -> Path:
    url = page.resolve().as_uri()
    width, height = size or (1400, 940)
    tab = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
    try:
        tab.route("**/*", lambda route: route.continue_() if route.request.url == url else route.abort())
        tab.goto(url)
        tab.eval_on_selector(
            "#step", "(slider, frame) => { slider.value = frame; slider.dispatchEvent(new Event('input')); }", frame
        )
        if backprop:
            tab.click("#backprop")
            for _ in range(backprop - 1):
                tab.click("#next")
        else:
            # a big graph's node may be shown on its overview only
            tab.locator(f"[id='node-{node}'], [id='overview-node-{node}']").locator("visible=true").first.hover()
        tab.screenshot(path=str(picture), full_page=size is None)
    finally:
        tab.close()
    return picture
