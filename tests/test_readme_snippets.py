"""Every Python snippet of the README runs as printed, in a fresh folder (what a newcomer does)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _snippets() -> list:
    found = []
    for match in re.finditer(r"^```python\n(.*?)^```", README, re.DOTALL | re.MULTILINE):
        line = README.count("\n", 0, match.start()) + 1
        heading = re.findall(r"^## (.+)$", README[: match.start()], re.MULTILINE)[-1]
        slow = "Animator(" in match.group(1)  # writing a whole training animation takes seconds
        marks = [pytest.mark.slow] if slow else []
        found.append(pytest.param(match.group(1), id=f"line {line} ({heading})", marks=marks))
    return found


SNIPPETS = _snippets()


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("code", SNIPPETS)
def test_snippet_runs(code: str, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})  # the README's own code
    capsys.readouterr()
    for name in re.findall(r"""["']([\w.]+\.(?:gif|svg|npz|png|dot))["']""", code):
        assert (tmp_path / name).is_file(), f"the snippet says it writes {name}"
