"""Every Python snippet of the README runs as printed, in a fresh folder (what a newcomer does)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _snippets() -> list:
    found = []
    for match in re.finditer(r"^```python\n(.*?)^```", README, re.DOTALL | re.MULTILINE):
        line = README.count("\n", 0, match.start()) + 1
        heading = re.findall(r"^## (.+)$", README[: match.start()], re.MULTILINE)[-1]
        # writing a whole training animation, or a script's own process pool, takes seconds
        slow = "Animator(" in match.group(1) or re.match(r"# \w+\.py\n", match.group(1)) is not None
        marks = [pytest.mark.slow] if slow else []
        found.append(pytest.param(match.group(1), id=f"line {line} ({heading})", marks=marks))
    return found


SNIPPETS = _snippets()


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet_runs(code: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    script = re.match(r"# (\w+\.py)\n", code)
    if script:  # a file of its own ("# starts.py"): saved under that name and run as a script
        (tmp_path / script.group(1)).write_text(code, encoding="utf-8")
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, script.group(1)], capture_output=True, text=True, env=environment)
        assert done.returncode == 0, done.stderr
    else:
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})  # the README's own code
    capsys.readouterr()
    for name in re.findall(r"""["']([\w.]+\.(?:gif|svg|npz|png|dot))["']""", code):
        assert (tmp_path / name).is_file(), f"the snippet says it writes {name}"
