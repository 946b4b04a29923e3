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

    def __init__(self, browser, path, viewport=(1300, 900)) -> None:
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
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

    def open_page(path, viewport=(1300, 900)) -> Visit:
        opened.append(Visit(browser, path, viewport))
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


# ------------------------------------------------------------------ the contracts
@pytest.fixture(scope="module")
def contract_pages(tmp_path_factory):
    """The demo's page (``graphdl demo --format html``, 200 steps) and the page of a moons
    MLP trained with the Trainer and a RunRecorder."""
    from graphdl import datasets, nn, optim
    from graphdl.demo import run_demo
    from graphdl.train import Trainer
    from graphdl.viz import RunRecorder

    folder = tmp_path_factory.mktemp("contracts")
    run_demo(folder / "demo", steps=200, format="html", progress=False)
    X, y = datasets.make_moons(120, noise=0.1, seed=0)
    model = nn.MLP(2, [8, 8, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", metric="accuracy", progress=False)
    recorder = RunRecorder((X, y))
    trainer.fit((X, y), epochs=6, batch_size=32, callbacks=[recorder])
    moons = explore(trainer.loss, folder / "moons.html", recorder).path
    return {"demo": folder / "demo" / "training.html", "moons": moons}


def current_node(seen: Visit) -> str:
    return seen.page.eval_on_selector_all(".node.current", "groups => groups.map(g => g.id).join(' ')")


def test_backprop_steps_through_the_demo_page_one_node_at_a_time(visit, contract_pages):
    seen = visit(contract_pages["demo"], (1280, 800))
    seen.page.get_by_role("button", name="Backprop", exact=True).click()
    assert current_node(seen) == "node-loss"  # the sweep starts at the loss
    visited = []
    for _ in range(3):
        seen.page.get_by_role("button", name="Next", exact=True).click()
        visited.append(current_node(seen))
    assert len(set(visited)) == 3 and all(node.startswith("node-") and " " not in node for node in visited)
    labels = seen.page.eval_on_selector_all(".sweep-labels text", "texts => texts.map(t => t.textContent)")
    products = [label for label in labels if label.startswith("∂=") and " × " in label and " = " in label]
    assert products, labels
    local, rest = products[0][2:].split(" × ")
    upstream, product = rest.split(" = ")
    assert float(local) * float(upstream) == pytest.approx(float(product), rel=0.02)  # the chain rule, in numbers
    seen.page.get_by_role("button", name="Prev", exact=True).click()
    assert current_node(seen) == visited[1]
    seen.page.keyboard.press("ArrowRight")
    assert current_node(seen) == visited[2]
    assert "d" + "loss/d" in seen.page.inner_text("#sweep-label")
    seen.page.get_by_role("button", name="Backprop", exact=True).click()
    assert current_node(seen) == "" and seen.page.eval_on_selector_all(".sweep-labels text", "t => t.length") == 0
    assert seen.problems == []


def test_demo_box_text_is_readable_and_the_slider_stays_put(visit, contract_pages):
    seen = visit(contract_pages["demo"], (1280, 800))
    heights = seen.page.eval_on_selector_all(
        "#graph g.node text", "texts => texts.map(t => t.getBoundingClientRect().height)"
    )
    assert len(heights) > 40 and min(heights) >= 11
    box = "() => { const r = document.getElementById('step').getBoundingClientRect(); return [r.x, r.width]; }"
    before = seen.page.evaluate(box)
    seen.page.focus("#step")
    seen.page.keyboard.press("End")  # the label grows: "step 200 / 200   loss … (mean of last 20)"
    assert len(seen.step_label()) > len("step 0 / 200") + 10
    assert seen.page.evaluate(box) == before
    assert seen.problems == []


def test_the_moons_run_page_boundary_follows_the_slider_and_layers_open(visit, contract_pages):
    seen = visit(contract_pages["moons"], (1280, 800))
    picture = "() => document.querySelector('canvas.boundary').toDataURL()"
    first = seen.page.evaluate(picture)
    seen.page.focus("#step")
    seen.page.keyboard.press("End")
    assert seen.step_label().startswith("epoch 6 / 6")
    assert seen.page.evaluate(picture) != first
    assert "epoch 6" in seen.page.inner_text(".boundary-box")
    assert seen.page.locator("#overview g.layer-box").count() == 3 and seen.page.locator("#graph").is_hidden()
    norms = seen.page.eval_on_selector_all("#overview .norm-text", "texts => texts.map(t => t.textContent)")
    assert all(text.startswith("grad norm ") and text != "grad norm —" for text in norms)
    seen.page.click("#overview g.layer-box[data-layer='fc2']")
    assert seen.page.locator("#graph").is_visible() and seen.page.locator("#overview").is_hidden()
    assert seen.page.locator("#charts svg.chart").count() == 3  # loss, accuracy, gradient norms
    seen.page.click("#zoom-layers")
    assert seen.page.locator("#overview").is_visible()
    seen.page.get_by_role("button", name="Backprop", exact=True).click()  # the sweep goes node by node: full graph
    seen.page.get_by_role("button", name="Next", exact=True).click()
    assert seen.page.locator("#graph").is_visible() and current_node(seen).startswith("node-")
    assert seen.problems == []


def test_a_node_reached_by_several_paths_shows_their_sum(visit, tmp_path):
    x, w = Variable(1.5, name="x", trainable=False), Variable(0.4, name="w")
    a = Mul([x, w], name="a")
    out = Add(
        [Mul([a, a], name="square"), Mul([a, Variable(2.0, name="two", trainable=False)], name="double")], name="out"
    )
    seen = visit(explore(out, tmp_path / "paths.html").path, (1280, 800))
    seen.page.get_by_role("button", name="Backprop", exact=True).click()
    while current_node(seen) != "node-a":
        seen.page.keyboard.press("ArrowRight")
    text = seen.page.text_content("[id='node-a'] .grad-text")
    paths = text.removeprefix("grad ").split(" = ")[0].split(" + ")
    assert len(paths) == 3 and sum(float(p) for p in paths) == pytest.approx(2 * 0.6 + 2.0, rel=1e-3)
    assert float(text.split(" = ")[1]) == pytest.approx(3.2, rel=1e-3)  # d out/d a = 2a + 2
    assert "Reached by 3 paths" in seen.page.inner_text("#panel")
    assert seen.problems == []


@pytest.mark.slow  # the moons page loaded in a frame: about 2-3 s
def test_in_a_notebook_the_frame_takes_the_pages_height(visit, contract_pages, tmp_path):
    from graphdl.viz.explorer import ExplorerPage

    page = ExplorerPage(contract_pages["moons"].read_text(encoding="utf-8"))
    host = tmp_path / "notebook.html"
    host.write_text(f'<!DOCTYPE html><html><body style="width: 1000px">{page._repr_html_()}</body></html>', "utf-8")
    seen = visit(host, (1280, 800))
    frame = seen.page.frames[1]
    frame.wait_for_selector("#charts svg.chart")
    inside = frame.evaluate("() => document.documentElement.scrollHeight")
    seen.page.wait_for_function(
        "height => Math.abs(document.querySelector('iframe').getBoundingClientRect().height - height) < 8", arg=inside
    )
    assert inside > 900 and frame.evaluate("() => document.body.classList.contains('embedded')")
    assert seen.problems == []


def test_the_gradient_graph_toggle_draws_grad_of_the_loss_with_the_steps_values(visit, contract_pages):
    seen = visit(contract_pages["demo"], (1280, 800))
    assert seen.page.locator("#gradient-box").is_hidden()
    seen.page.get_by_role("button", name="Gradient graph").click()
    assert seen.page.locator("#gradient-box").is_visible()
    value = "() => document.querySelector(\"[id='grad-node-d_loss__d_w_11_'] .value-text\").textContent"
    first = seen.page.evaluate(value)
    seen.page.focus("#step")
    seen.page.keyboard.press("End")
    assert seen.page.evaluate(value) != first and "step 200" in seen.page.inner_text("#gradient-where")
    seen.page.get_by_role("button", name="Backprop", exact=True).click()
    seen.page.keyboard.press("End")  # not a key of the sweep: nothing moves
    for _ in range(16):  # to w_11, the sweep's last node: its gradient is the gradient graph's d(loss)/d(w_11)
        seen.page.keyboard.press("ArrowRight")
    assert current_node(seen) == "node-w_11"
    swept = seen.page.inner_text("#panel .node-grad")
    assert seen.page.evaluate(value) == "value " + swept
    assert seen.problems == []
