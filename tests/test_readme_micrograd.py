"""The README's "Coming from micrograd" loop runs as printed and fits its line."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_micrograd_loop_of_the_readme_fits_its_line(capsys) -> None:
    section = README[README.index("## Coming from micrograd") :]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    exec(compile(code, "README.md (Coming from micrograd)", "exec"), {})  # the README's own code
    printed = capsys.readouterr().out
    assert printed.strip() == "w = 2.000, b = 1.000"
    assert "# w = 2.000, b = 1.000" in code  # the README says what it prints
