"""A newcomer's commands leave the checkout as it was: every script answers ``--help`` and
writes nothing, experiments write their numbers only where asked, and every file the README's
commands write is one that ``.gitignore`` covers."""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from experiment_scripts import ROOT

from graphdl.results import read_results, save_results, shown_path

README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = sorted([*(ROOT / "examples").glob("*.py"), *(ROOT / "experiments").glob("*.py")])


def first_paragraph(script: Path) -> str:
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    return " ".join(docstring.split("\n\n")[0].split())


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_script_answers_help_and_writes_nothing(script, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), pytest.raises(SystemExit) as exit:
        runpy.run_path(str(script), run_name="__main__")
    assert exit.value.code == 0
    assert list(tmp_path.iterdir()) == []
    help_text = " ".join(shown.getvalue().split())
    assert help_text.startswith("usage:")
    assert first_paragraph(script) in help_text  # the description whole, not cut mid-sentence


def arguments(tmp_path: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    from graphdl.results import add_results_arguments

    add_results_arguments(parser, tmp_path / "committed" / "toy.json")
    return parser.parse_args(argv)


def test_experiment_numbers_go_where_out_points_and_to_the_committed_file_only_when_asked(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    committed = tmp_path / "committed" / "toy.json"
    assert save_results(arguments(tmp_path), committed, {"a": 1}) is None
    assert "results not saved" in capsys.readouterr().out and list(tmp_path.iterdir()) == []

    assert save_results(arguments(tmp_path, "--out", "figures"), committed, {"a": 2}) == Path("figures/toy.json")
    assert capsys.readouterr().out == "results written: figures/toy.json\n"  # relative, as typed
    assert read_results(tmp_path / "figures" / "toy.json") == {"a": 2} and not committed.exists()

    save_results(arguments(tmp_path, "--out", "figures", "--write-results"), committed, {"a": 3})
    assert capsys.readouterr().out == "results written: committed/toy.json\n"
    assert read_results(committed) == {"a": 3} and read_results(tmp_path / "figures" / "toy.json") == {"a": 2}


def test_shown_paths_are_relative_inside_the_current_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "a" / "b.json") == str(Path("a/b.json"))
    assert shown_path(tmp_path.parent / "elsewhere.json") == str(tmp_path.parent / "elsewhere.json")


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks (continuations joined)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


#: what each README command writes, relative to the repository root (folders end in /)
WRITES = {
    "pip install .": ["build/", "graphdl.egg-info/"],
    'pip install ".[dev]"': ["build/", "graphdl.egg-info/"],
    'pip install ".[sweep]"': ["build/", "graphdl.egg-info/"],
    "pytest": [".pytest_cache/"],
    "graphdl demo": ["graphdl-demo/"],
    "python examples/explore_training.py --out .": ["explorer.html"],
    "graphdl sweep": ["runs.jsonl", "runs_final_loss.png"],
    "dask ": [],
    "python experiments/": ["figures/"],
}


def written_by(command: str) -> list[str]:
    for prefix, paths in WRITES.items():
        if command.startswith(prefix):
            return paths
    raise AssertionError(f"the README runs {command!r}: add what it writes to WRITES")


def ignored(paths: list[str]) -> set[str]:
    """The ``paths`` that git ignores in this checkout."""
    shown = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return set(shown.stdout.split())


needs_git = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a git checkout"
)


@needs_git
def test_gitignore_covers_every_file_the_readme_commands_write() -> None:
    commands = readme_commands()
    assert any(command.startswith("python experiments/") for command in commands)
    paths = {path for command in commands for path in written_by(command)}
    # the files the README's Python snippets name, and the sweep's out= and --out files
    paths |= set(re.findall(r'"([\w.-]+\.(?:gif|png|svg|dot|pdf|html|mp4|npz|jsonl))"', README))
    paths |= set(re.findall(r"--(?:out|runs-file|png) ([\w.-]+\.\w+)", README))
    paths |= {"starts.py"}  # the sweep's example module, saved by the reader
    checked = [path + "x" if path.endswith("/") else path for path in sorted(paths)]  # a file in each folder
    assert sorted(set(checked) - ignored(checked)) == []
    assert "viz/x.png" not in ignored(["viz/x.png"])  # the gallery stays tracked


@needs_git
@pytest.mark.parametrize("name", ["render_graph", "compile_graph"])
def test_what_an_example_writes_at_the_root_is_ignored(name, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name])
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name="__main__")
    written = sorted(path.name for path in tmp_path.iterdir())
    assert sorted(set(written) - ignored(written)) == []


@pytest.mark.slow
def test_a_pytest_session_leaves_no_kernel_cache_behind(tmp_path) -> None:
    test = "tests/test_readme_commands.py::test_shown_paths_are_relative_inside_the_current_folder"
    environment = {**os.environ, "TMPDIR": str(tmp_path)}
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert not list(tmp_path.glob("graphdl-test-kernels-*"))


def timing_keys(value: object, where: str = "") -> list[str]:
    """Keys that name a duration (``seconds``, ``…_ms…``) anywhere in ``value``."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "second" in key or re.search(r"(^|_)ms($|_)", key):
                found.append(f"{where}.{key}")
            found += timing_keys(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += timing_keys(item, f"{where}.{index}")
    return found


@pytest.mark.parametrize("name", sorted(path.stem for path in (ROOT / "experiments" / "results").glob("*.json")))
def test_timings_sit_only_under_timing_which_no_test_compares(name) -> None:
    results = read_results(ROOT / "experiments" / "results" / f"{name}.json")
    outside = {key: value for key, value in results.items() if key != "timing"}
    assert timing_keys(outside) == []
