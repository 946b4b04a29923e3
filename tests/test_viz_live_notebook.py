"""LiveView in real notebooks: an nbclient run of a notebook that trains while a
LiveView is displayed, and the same notebook in a real JupyterLab server driven by
Debian's chromium through playwright (the widget's DOM must change while the cell runs,
with no console error). Each skips, saying why, when its tools are missing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SHOW_CELL = """\
from graphdl import datasets, nn, optim
from graphdl.train import Trainer
from graphdl.viz import LiveView

X, y = datasets.make_moons(400, noise=0.1, seed=0)
model = nn.MLP(2, [4, 1], activation="tanh", rng=0)
trainer = Trainer(model, optim.Adam(model, lr=0.05), loss="bce_logits", progress=False)
view = LiveView(trainer.loss, title="moons, live")
view"""
TRAIN_CELL = """\
history = trainer.fit((X, y), epochs={epochs}, batch_size=16, callbacks=[view])
print("frames", len(view.frames), "steps", len(view.losses))"""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Each test starts a Jupyter kernel (5 to 20 s): out of the default run; .ci/run runs them.
pytestmark = pytest.mark.slow


def write_notebook(folder: Path, epochs: int) -> Path:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed: pip install graphdl[dev]")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SHOW_CELL), nbformat.v4.new_code_cell(TRAIN_CELL.format(epochs=epochs))]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "live.ipynb"
    nbformat.write(notebook, str(path))
    return path


def kernel_environment(folder: Path) -> dict[str, str]:
    """The kernel imports this checkout's graphdl and keeps Jupyter's files in ``folder``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["GRAPHDL_BACKEND"] = "numpy"
    env["JUPYTER_RUNTIME_DIR"] = str(folder / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(folder / "config")
    env["IPYTHONDIR"] = str(folder / "ipython")
    return env


def need_notebook_tools() -> None:
    for module, extra in (("anywidget", "notebook"), ("nbclient", "dev"), ("ipykernel", "dev")):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install graphdl[{extra}]")


def test_nbclient_run_shows_the_widget_view(tmp_path, monkeypatch):
    need_notebook_tools()
    import nbclient
    import nbformat

    for name, value in kernel_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    path = write_notebook(tmp_path, epochs=2)
    notebook = nbformat.read(str(path), as_version=4)
    where = {"metadata": {"path": str(tmp_path)}}
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", resources=where)
    client.execute()
    show, train = notebook.cells
    bundles = [output["data"] for output in show.outputs if output.get("output_type") == "execute_result"]
    assert bundles and WIDGET_VIEW in bundles[0], show.outputs
    model_id = bundles[0][WIDGET_VIEW]["model_id"]
    assert model_id in notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    printed = "".join(output.get("text", "") for output in train.outputs)
    frames, steps = (int(word) for word in printed.split()[1::2])
    assert steps == 2 * 25 and 2 <= frames <= steps + 1  # 400 samples in batches of 16, twice


# ------------------------------------------------------------------ JupyterLab in chromium
def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_jupyterlab(folder: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (folder / "jupyterlab.log").open("wb")
    server = subprocess.Popen(command, env=kernel_environment(folder), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {(folder / 'jupyterlab.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("JupyterLab did not answer within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# The status bar names the kernel and its state once it is connected: "Python 3 (ipykernel) | Idle".
KERNEL_IDLE = "() => /\\|\\s*Idle/.test((document.querySelector('#jp-main-statusbar') || {}).textContent || '')"

# Records, on every change of the page, the widget's step and whether the training cell
# (the second one) is still running: its prompt reads [*].
WATCH = """() => {
  window.liveSteps = [];
  new MutationObserver(() => {
    const widget = document.querySelector(".graphdl-live");
    const cells = document.querySelectorAll(".jp-CodeCell");
    if (!widget || cells.length < 2) return;
    const prompt = cells[1].querySelector(".jp-InputPrompt");
    const running = Boolean(prompt && prompt.textContent.includes("*"));
    const step = widget.dataset.step;
    const last = window.liveSteps[window.liveSteps.length - 1];
    if (!last || last.step !== step || last.running !== running) window.liveSteps.push({ step, running });
  }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
}"""


def test_jupyterlab_shows_training_live(tmp_path):
    need_notebook_tools()
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed: pip install graphdl[dev]")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    write_notebook(tmp_path, epochs=40)
    port = free_port()
    server = start_jupyterlab(tmp_path, port)
    errors: list[str] = []
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("console", lambda message: message.type == "error" and errors.append(message.text))
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(f"http://127.0.0.1:{port}/lab/tree/live.ipynb?reset", timeout=60_000)
                page.wait_for_selector(".jp-CodeCell", timeout=60_000)
                page.wait_for_function(KERNEL_IDLE, timeout=60_000)
                page.evaluate(WATCH)
                page.locator(".jp-CodeCell").first.locator(".jp-InputPrompt").click()
                page.keyboard.press("Shift+Enter")  # shows the view, then selects the training cell
                page.wait_for_selector(".graphdl-live g.node", timeout=60_000)
                page.keyboard.press("Shift+Enter")  # trains
                page.wait_for_function(
                    "() => /\\[2\\]/.test(document.querySelectorAll('.jp-CodeCell')[1]"
                    ".querySelector('.jp-InputPrompt').textContent)",
                    timeout=120_000,
                )
                page.wait_for_function("() => document.querySelector('.graphdl-live').dataset.running === 'false'")
                steps = page.evaluate("window.liveSteps")
                widget = page.locator(".graphdl-live")
                frames = int(widget.get_attribute("data-frames") or 0)
                slider = widget.locator("input.gl-step")
                slider.fill("0")  # scrub back to the start of the run
                first_step = widget.get_attribute("data-step")
                first_value = widget.locator("g.node .value-text").last.text_content()
            finally:
                browser.close()
    finally:
        stop(server)
    while_running = {entry["step"] for entry in steps if entry["running"]}
    assert len(while_running) >= 3, steps
    assert frames >= 3 and first_step == "0", (frames, first_step)
    assert first_value and first_value.startswith("value "), first_value
    assert not errors, errors
