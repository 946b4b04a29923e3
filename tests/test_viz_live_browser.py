"""LiveView's script (graphdl/viz/static/live.js) in headless chromium without Jupyter: a
stand-in for anywidget's model replays the messages a real LiveView sent while a Trainer
ran, and the widget's DOM must follow them, then scrub the whole run. Skips without
anywidget, playwright or chromium."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

from graphdl import Graph, datasets, nn, optim
from graphdl.train import Trainer

# anywidget's model, as the widget sees it: get, on, off. window.send(key, value) changes
# a trait and tells the listeners, as a message from the kernel does.
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>{css}</style></head><body>
<div id="root"></div>
<script type="module">
import widget from "data:text/javascript;base64,{script}";
const state = {state};
const listeners = {{}};
const model = {{
  get: (key) => state[key],
  on: (name, listener) => (listeners[name] = listeners[name] || []).push(listener),
  off: (name, listener) => (listeners[name] = (listeners[name] || []).filter((f) => f !== listener)),
}};
window.send = (key, value) => {{
  state[key] = value;
  for (const listener of listeners["change:" + key] || []) listener();
}};
widget.render({{ model, el: document.getElementById("root") }});
window.rendered = true;
</script></body></html>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def run():
    """A Trainer run with a LiveView: the widget's first state and every message after it."""
    pytest.importorskip("anywidget", reason="anywidget is not installed: pip install graphdl[notebook]")
    from graphdl.viz import LiveView

    X, y = datasets.make_moons(96, noise=0.1, seed=0)
    model = nn.MLP(2, [3, 1], activation="tanh", rng=0)
    trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", progress=False)
    view = LiveView(trainer.loss, max_rate=1e6, budget=1.0)
    first = {key: view.get_state()[key] for key in ("svg", "nodes", "title", "note", "history", "live")}
    messages: list[tuple[str, object]] = []
    view.observe(lambda change: messages.append((change["name"], change["new"])), names=["live", "history"])
    trainer.fit((X, y), epochs=2, batch_size=16, callbacks=[view])
    return first, messages, view, Graph(trainer.loss)


@pytest.fixture(scope="module")
def page(run):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    from importlib import resources

    static = resources.files("graphdl.viz").joinpath("static")
    script = base64.b64encode(static.joinpath("live.js").read_bytes()).decode("ascii")
    css = static.joinpath("live.css").read_text(encoding="utf-8")
    first = run[0]
    html = PAGE.format(css=css, script=script, state=json.dumps(first).replace("</", "<\\/"))
    errors: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.set_content(html)
        tab.wait_for_function("window.rendered === true")
        yield tab, errors
        browser.close()


def test_the_widget_follows_the_messages_and_scrubs_the_run(run, page):
    _, messages, view, graph = run
    tab, errors = page
    assert tab.locator(".graphdl-live g.node").count() == len(graph.nodes)
    # every node has a grad line, even those drawn before any gradient existed
    assert tab.locator(".graphdl-live g.node .grad-text").count() == len(graph.nodes)
    seen = []
    for name, value in messages:
        tab.evaluate("([key, value]) => window.send(key, value)", [name, value])
        seen.append(tab.locator(".graphdl-live").get_attribute("data-step"))
    steps = [str(frame["step"]) for frame in view.frames]
    assert seen[: len(steps)] == steps  # each update showed its step (the start, then every step)
    assert tab.locator(".graphdl-live").get_attribute("data-running") == "false"
    assert tab.locator(".graphdl-live").get_attribute("data-frames") == str(len(view.frames))
    parameter = graph.nodes.index(next(iter(view.graph.parameters())))
    group = tab.locator(f'.graphdl-live g.node[data-index="{parameter}"]')
    last_value = group.locator(".value-text").text_content()
    slider = tab.locator(".graphdl-live input.gl-step")
    slider.fill("0")  # back to the start of the run
    assert tab.locator(".graphdl-live").get_attribute("data-step") == "0"
    assert group.locator(".value-text").text_content() != last_value  # the parameter as it started
    group.click()  # keeps the panel on this node
    assert tab.locator(".gl-node-name").text_content() == graph.nodes[parameter].name
    started = view.frames[0]["value"][parameter]
    shown = tab.locator(".gl-node-value").text_content()
    assert group.locator(".value-text").text_content() == f"value {shown}"
    assert float(shown) == pytest.approx(started, rel=1e-3)
    assert tab.locator(".gl-loss-mean").count() == 1
    assert not errors, errors
