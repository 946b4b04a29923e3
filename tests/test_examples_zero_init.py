"""``examples/zero_init.py``: smoke test; zero init keeps hidden units identical, random does not."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "zero_init.py"


def test_smoke_symmetry(tmp_path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("zero_init_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    histories = module.main(["--steps", "30", "--out", str(tmp_path)])
    output = capsys.readouterr().out
    assert (tmp_path / "zero_init.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    gaps = [float(g) for g in re.findall(r"largest difference between the two hidden units: ([0-9.]+)", output)]
    assert gaps[0] == 0.0 and gaps[1] > 0.0
    zero = histories["zero"]
    assert np.abs(zero[-1]).max() > 0.0
    np.testing.assert_array_equal(zero[:, 0], zero[:, 1])
