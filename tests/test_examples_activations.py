"""``examples/activations.py``: smoke test and derivatives checked by finite differences."""

from __future__ import annotations

import re

import numpy as np
import pytest
from example_scripts import load_example

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    return load_example("activations")


def test_smoke_writes_png_and_prints_each_activation(example, tmp_path, capsys) -> None:
    results = example.main(["--points", "41", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    data = (tmp_path / "activation_derivatives.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    for name, (_, derivative) in results.items():
        match = re.search(rf"^{re.escape(name)}: .*largest derivative on \S+ \S+ = ([0-9.]+)$", output, re.MULTILINE)
        assert match, name
        assert float(match.group(1)) == pytest.approx(derivative.max(), abs=1e-4)
    assert "Logistic: value at 0 = 0.5000, derivative at 0 = 0.2500" in output


def test_derivatives_match_finite_differences(example) -> None:
    # Grid points avoid x = 0, where ReLU and LeakyReLU have a kink.
    grid = np.linspace(-3.05, 3.05, 62)
    h = 1e-6
    for name in example.ACTIVATIONS:
        values, derivative = example.curve_and_derivative(name, grid)
        upper, _ = example.curve_and_derivative(name, grid + h)
        lower, _ = example.curve_and_derivative(name, grid - h)
        assert values.shape == grid.shape
        np.testing.assert_allclose(derivative, (upper - lower) / (2 * h), atol=1e-6, err_msg=name)


def test_bad_grids_are_rejected(example) -> None:
    for flags in (["--low", "4", "--high", "-4"], ["--points", "1"], ["--high", "inf"]):
        with pytest.raises(SystemExit):
            example.main(flags)
