"""The explorer page in a real browser: Debian's chromium driven headless by playwright,
with every network request blocked. Skips (saying why) without playwright or chromium."""

from __future__ import annotations

import importlib
import shutil

import numpy as np
import pytest

from graphdl import Add, Graph, Mul, Variable
from graphdl.tutorial_net import build_seed_net, quadratic_data, train_per_sample
from graphdl.viz import TrainingRecorder, explore

render_module = importlib.import_module("graphdl.viz.render")
HOSTILE = "</script><script>alert(\"x\")</script> <b> & 'q'"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the whole module."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright): the explorer's browser tests need it")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium): the explorer's browser tests need it")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A playing page (the tutorial's net, 200 steps, 11 frames), the same page drawn without
    Graphviz, and a still page of a graph with hostile node names."""
    folder = tmp_path_factory.mktemp("explorer")
    net = build_seed_net()
    net.initialise("fig8")
    xs, ys = quadratic_data(200, seed=1)
    recorder = TrainingRecorder.for_seed_net(net, every=20, grid=np.linspace(-0.5, 2.5, 61), total_steps=200)
    recorder.start()
    train_per_sample(net, xs, ys, callback=recorder)
    recorder.finish()
    names = [node.name for node in Graph(net.loss).nodes]
    playing = explore(net.loss, folder / "playing.html", recorder).path
    saved = render_module.dot_available
    render_module.dot_available = lambda: False
    try:
        fallback = explore(net.loss, folder / "fallback.html", recorder).path
    finally:
        render_module.dot_available = saved
    a, b = Variable(2.0, name=HOSTILE), Variable(3.0, name='a"b')
    out = Add([Mul([a, b], name="<mul>"), b], name="out")
    out.backward()
    still = explore(out, folder / "still.html").path
    x = Variable(np.array([1.0, 2.0, 800.0]), name="x", trainable=False)
    with np.errstate(over="ignore"):
        overflow = x.exp() * Variable(0.5, name="w")  # exp(800) is inf: gaps in plots, "—" in the panel
        overflow.backward()
    blown = explore(overflow, folder / "overflow.html").path
    return {
        "playing": (playing, names),
        "fallback": (fallback, names),
        "still": (still, [HOSTILE, 'a"b', "<mul>", "out"]),
        "overflow": (blown, [node.name for node in Graph(overflow).nodes]),
    }


class Visit:
    """A page opened from its file with every other request blocked; collects console
    messages, page errors, dialogs and the requests it tried."""

    def __init__(self, browser, path) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 900})
        self.problems: list[str] = []
        self.blocked: list[str] = []
        url = path.as_uri()
        self.page.on("console", lambda message: self.problems.append(f"console {message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        self.page.route("**/*", lambda route: route.continue_() if route.request.url == url else self._block(route))
        self.page.goto(url)

    def _block(self, route) -> None:
        self.blocked.append(route.request.url)
        route.abort()

    def fills(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#graph g.node .shape", "shapes => shapes.map(s => s.getAttribute('fill'))"
        )

    def step_label(self) -> str:
        return self.page.inner_text("#step-label")

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def visit(browser):
    opened: list[Visit] = []

    def open_page(path) -> Visit:
        opened.append(Visit(browser, path))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


@pytest.mark.parametrize("which", ["playing", "fallback", "still", "overflow"])
def test_page_loads_offline_without_errors_and_draws_every_node(visit, pages, which):
    path, names = pages[which]
    seen = visit(path)
    groups = seen.page.eval_on_selector_all("svg g.node", "groups => groups.map(g => g.id)")
    assert len(groups) >= len(names)
    panel_names = []
    for name in [names[0], names[-1]]:
        node_id = seen.page.evaluate(
            "name => JSON.parse(document.getElementById('graphdl-data').textContent)"
            ".nodes.find(n => n.name === name).id",
            name,
        )
        assert node_id in groups
        seen.page.hover(f"[id='{node_id}']")
        panel_names.append(seen.page.inner_text("#panel .node-name"))
    assert panel_names == [names[0], names[-1]]  # hovering shows each node's own panel, hostile names as text
    assert "value" in seen.page.inner_text("#panel") and "grad" in seen.page.inner_text("#panel")
    assert seen.problems == [] and seen.blocked == []


def test_slider_changes_the_fills_and_the_step_shown(visit, pages):
    seen = visit(pages["playing"][0])
    first_fills, first_label = seen.fills(), seen.step_label()
    assert first_label.startswith("step 0 / 200")
    seen.page.focus("#step")
    seen.page.keyboard.press("End")  # a user's keyboard moving the slider to the last step
    assert seen.step_label().startswith("step 200 / 200")
    assert seen.fills() != first_fills
    fit = seen.page.get_attribute("#charts .chart-box:nth-child(3) path[stroke='#dc2626']", "d")
    seen.page.keyboard.press("Home")
    assert seen.step_label() == first_label and seen.fills() == first_fills
    assert seen.page.get_attribute("#charts .chart-box:nth-child(3) path[stroke='#dc2626']", "d") != fit
    assert seen.problems == []


def test_play_advances_and_pause_stops(visit, pages):
    seen = visit(pages["playing"][0])
    seen.page.select_option("#speed", "0.25")  # 2 frames a second: far from the end when paused
    seen.page.click("#play")
    assert seen.page.inner_text("#play") == "Pause"
    seen.page.wait_for_function(
        "!document.getElementById('step-label').textContent.startsWith('step 0 ')", timeout=3000
    )
    seen.page.click("#play")
    assert seen.page.inner_text("#play") == "Play"
    stopped = seen.step_label()
    seen.page.wait_for_timeout(150)
    assert seen.step_label() == stopped and int(seen.page.input_value("#step")) > 0
    seen.page.click("h1")  # the keyboard back to the page: the space bar plays and pauses
    seen.page.keyboard.press(" ")
    assert seen.page.inner_text("#play") == "Pause"
    seen.page.keyboard.press(" ")
    assert seen.page.inner_text("#play") == "Play"
    assert seen.problems == []


def test_clicking_keeps_a_node_and_the_panel_follows_the_step(visit, pages):
    seen = visit(pages["playing"][0])
    seen.page.click("[id='node-w_11']")
    seen.page.hover("[id='node-b_21']")  # kept: hovering elsewhere does not switch
    assert seen.page.inner_text("#panel .node-name") == "w_11"
    before = seen.page.inner_text("#panel .node-value")
    seen.page.focus("#step")
    seen.page.keyboard.press("End")
    assert seen.page.inner_text("#panel .node-value") != before
    assert "at step 200" in seen.page.inner_text("#panel")
    assert seen.page.locator("#panel svg.chart").count() == 1  # a parameter: its value over the steps only
    seen.page.click("[id='node-add_11']")
    seen.page.click("[id='node-add_11']")  # unpinned: hovering chooses again
    seen.page.hover("[id='node-relu_12']")
    assert seen.page.inner_text("#panel .node-name") == "relu_12"
    assert seen.page.locator("#panel svg.chart").count() == 2  # output over x and value over the steps
    assert seen.problems == []


@pytest.mark.slow  # a full-page screenshot: about 1-2 s on its own
def test_the_example_takes_the_readme_screenshot(browser, tmp_path):
    from PIL import Image
    from test_viz_explorer import load_explore_example

    example = load_explore_example()
    page = example.main(["--out", str(tmp_path), "--steps", "120"])
    picture = example.screenshot(page, tmp_path / "explorer.png", frame=30, browser=browser)
    with Image.open(picture) as image:
        assert image.format == "PNG" and image.width == 1400 and image.height >= 800
        assert len(image.convert("RGB").getcolors(1 << 20)) > 50  # a drawn page, not a blank one


def test_zoom_buttons_resize_the_graph(visit, pages):
    seen = visit(pages["still"][0])
    width = seen.page.evaluate("() => document.querySelector('#graph svg').getBoundingClientRect().width")
    seen.page.click("#zoom-in")
    seen.page.click("#zoom-in")
    larger = seen.page.evaluate("() => document.querySelector('#graph svg').getBoundingClientRect().width")
    assert larger == pytest.approx(width * 1.25**2, rel=0.02)
    seen.page.click("#zoom-fit")
    assert seen.page.evaluate("() => document.querySelector('#graph svg').getBoundingClientRect().width") == width
    assert seen.problems == []


def test_the_loss_legend_sits_top_right_off_the_early_high_losses(visit, pages):
    seen = visit(pages["playing"][0])
    boxes = seen.page.evaluate(
        """() => {
          const chart = Array.from(document.querySelectorAll("svg.chart")).find(
            (svg) => svg.textContent.includes("training loss so far"));
          const frame = chart.querySelector(".frame").getBBox();
          return {frame: [frame.x, frame.width],
                  legend: Array.from(chart.querySelectorAll(".legend-text")).map((t) => t.getBBox().x)};
        }"""
    )
    (left, width), legend = boxes["frame"], boxes["legend"]
    assert len(legend) == 2 and all(x > left + width / 2 for x in legend)
    assert seen.problems == []
