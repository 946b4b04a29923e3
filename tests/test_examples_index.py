"""Every example script is documented in the README and smoke-tested; every picture the
README shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = sorted(path.stem for path in (ROOT / "experiments").glob("*.py"))
TEST_FILES = [path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")]


def test_there_are_examples() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_is_in_the_readme_and_tested(name: str) -> None:
    assert f"experiments/{name}.py" in README, f"README.md does not mention experiments/{name}.py"
    loaders = (f'load_example("{name}")', f'"experiments" / "{name}.py"')
    runners = [text for text in TEST_FILES if any(loader in text for loader in loaders) and "main" in text]
    assert runners, f"no test loads experiments/{name}.py and runs its main"


def test_every_readme_picture_exists() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(pictures) >= 15
    missing = [picture for picture in pictures if not (ROOT / picture).is_file()]
    assert not missing, f"README.md shows pictures that do not exist: {missing}"
