"""Each program in ``examples/`` runs as a reader would run it and does what its docstring says."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from experiment_scripts import PNG_MAGIC, ROOT

EXAMPLES = ROOT / "examples"


def run_example(
    name: str, folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str
) -> str:
    """Run ``examples/NAME.py`` as ``python examples/NAME.py ARGS`` would, in ``folder``; return what it printed."""
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / f"{name}.py"), *args])
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    return capsys.readouterr().out


def test_examples_are_short_programs() -> None:
    names = sorted(path.stem for path in EXAMPLES.glob("*.py"))
    assert names == ["animate_training", "compile_graph", "custom_operator", "explore_moons", "explore_training",
                     "fit_quadratic", "render_graph", "second_derivative", "train_moons"]  # fmt: skip
    for name in names:
        lines = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8").splitlines()
        assert len(lines) <= 80, f"examples/{name}.py has {len(lines)} lines: an example is read top to bottom"


def test_fit_quadratic(tmp_path, monkeypatch, capsys) -> None:
    printed = run_example("fit_quadratic", tmp_path, monkeypatch, capsys)
    last = float(printed.split("mean loss of the last 100 steps: ")[1].split()[0])
    assert last < 0.15  # figure 8's start fits x² in 1500 steps
    assert "x = 1.0: net" in printed


def test_custom_operator(tmp_path, monkeypatch, capsys) -> None:
    printed = run_example("custom_operator", tmp_path, monkeypatch, capsys)
    error = float(printed.split("worst relative error ")[1].split()[0])
    assert error < 1e-6
    softsign = np.array([-2.0, 0.0, 2.0]) * 0.8 - 0.3
    expected = np.round(softsign / (1 + np.abs(softsign)), 6)
    assert f"batch: {expected}" in printed
    d1, d2 = (float(printed.split(f"{label} = ")[1].split(",")[0].split()[0]) for label in ("dy/dx", "d2y/dx2"))
    z = 1.5 * 0.8 - 0.3  # Softsign's input at x = 1.5: y' = 0.8 / (1 + z)², y'' = -2 · 0.8² / (1 + z)³
    assert d1 == pytest.approx(0.8 / (1 + z) ** 2, abs=1e-6) and d2 == pytest.approx(-2 * 0.64 / (1 + z) ** 3, abs=1e-6)
    compiled = float(printed.split("compiled mean loss: ")[1].split()[0])
    assert compiled == pytest.approx(np.mean((softsign / (1 + np.abs(softsign)) - 0.5) ** 2), abs=1e-6)


def test_render_graph(tmp_path, monkeypatch, capsys) -> None:
    printed = run_example("render_graph", tmp_path, monkeypatch, capsys)
    assert "8 nodes, 4 trainable Variables" in printed
    dot = (tmp_path / "graph.dot").read_text(encoding="utf-8")
    assert dot.startswith("digraph graphdl") and 'tooltip="out"' in dot
    assert (tmp_path / "graph.svg").read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    assert (tmp_path / "graph.png").read_bytes().startswith(PNG_MAGIC)


def test_second_derivative(tmp_path, monkeypatch, capsys) -> None:
    lines = (EXAMPLES / "second_derivative.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 60
    with pytest.raises(SystemExit) as done:
        run_example("second_derivative", tmp_path, monkeypatch, capsys, "--help")
    assert done.value.code == 0 and "--out" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # --help writes nothing
    printed = run_example("second_derivative", tmp_path, monkeypatch, capsys, "--out", str(tmp_path / "pictures"))
    error = float(printed.split("finite differences of f'|: ")[1].split()[0])
    assert error < 2e-3  # np.gradient's own error at step 0.025
    folder = tmp_path / "pictures"
    assert (folder / "second_derivative.png").read_bytes().startswith(PNG_MAGIC)
    assert (folder / "gradient_graph.png").read_bytes().startswith(PNG_MAGIC)
    dot = (folder / "gradient_graph.dot").read_text(encoding="utf-8")
    assert 'tooltip="d(f)/d(x)"' in dot and 'tooltip="∂(tanh(x))/∂(x)"' in dot
    assert (folder / "seed_gradient_graph.png").read_bytes().startswith(PNG_MAGIC)
    seed_dot = (folder / "seed_gradient_graph.dot").read_text(encoding="utf-8")
    assert all(f'tooltip="d(loss)/d({name})"' in seed_dot for name in ("w_11", "b_12", "w_22", "b_21"))
    assert "d(loss)/d(w_11) = " in printed


def test_compile_graph(tmp_path, monkeypatch, capsys) -> None:
    printed = run_example("compile_graph", tmp_path, monkeypatch, capsys)
    assert "def backward(" in printed  # the generated source is shown
    compiled = printed.split("compiled: ")[1].splitlines()[0]
    interpreted = printed.split("interpreted: ")[1].splitlines()[0]
    assert compiled == interpreted


def test_train_moons(tmp_path, monkeypatch, capsys) -> None:
    printed = run_example("train_moons", tmp_path, monkeypatch, capsys)
    accuracy = float(printed.split("best dev accuracy ")[1].split()[0])
    assert accuracy > 0.95
    assert (tmp_path / "best_moons.npz").read_bytes().startswith(b"PK")  # the best checkpoint, an .npz archive
    assert "logits of the first three test points: [" in printed


def test_animate_training_records_and_sets_up_the_animation(tmp_path, monkeypatch, capsys) -> None:
    """The example's recording and animation set-up; writing the GIF is left to the slow test below
    (matplotlib draws every frame twice: over 2 s on a busy machine)."""
    from graphdl.viz import Animator

    saved = []
    monkeypatch.setattr(Animator, "save", lambda animator, path: saved.append((animator, path)) or Path(path))
    printed = run_example("animate_training", tmp_path, monkeypatch, capsys)
    assert printed.startswith("6 snapshots")  # steps 0, 80, …, 400
    ((animator, path),) = saved
    assert path == "training.gif" and animator.frame_count == 6
    assert animator.hidden == ("z1", "z2") and animator.output == "y"
    final = animator.recorder.snapshots[-1].outputs["y"]
    grid = animator.recorder.grid
    inside = np.abs(grid) <= 1.0
    assert np.mean(np.abs(final[inside] - np.abs(grid[inside]))) < 0.1  # the net has learnt |x| on [-1, 1]
    # the loss is named after its node, a SquaredLoss, in the title and on the loss axis
    assert animator.loss_symbol == "(y − ŷ)²"
    figure = animator.frame(animator.frame_count - 1)
    labels = [axes.get_ylabel() for axes in figure.axes]
    texts = [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
    assert "loss (y − ŷ)²" in labels and "|y − ŷ|" not in " ".join(labels + texts)
    assert any("mean (y − ŷ)² over the last" in text for text in texts)


@pytest.mark.slow
def test_animate_training_writes_the_gif(tmp_path, monkeypatch, capsys) -> None:
    from PIL import Image

    run_example("animate_training", tmp_path, monkeypatch, capsys)
    with Image.open(tmp_path / "training.gif") as gif:
        assert gif.n_frames == 6 and gif.size[0] > 600


def test_the_readme_shows_train_moons_as_it_is() -> None:
    """The README's "Training a model" snippet is examples/train_moons.py without its docstring and
    the lines that make it answer --help."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Training a model") :]
    snippet = section[
        section.index("```python\n") + len("```python\n") : section.index("```", section.index("```python\n") + 3)
    ]
    script = (EXAMPLES / "train_moons.py").read_text(encoding="utf-8")
    code = [line for line in script.splitlines(keepends=True) if "argparse" not in line]
    assert "".join(code).replace("\n\n\n", "\n\n").endswith(snippet)
