"""``graphdl.results``: what an experiment writes is what documents read back."""

from __future__ import annotations

import numpy as np
import pytest

from graphdl.results import read_results, write_results


def test_round_trip_with_numpy_values(tmp_path) -> None:
    path = write_results(tmp_path / "sub" / "demo.json", {"accuracy": np.float64(0.5), "counts": np.arange(3)})
    assert read_results(path) == {"accuracy": 0.5, "counts": [0, 1, 2]}
    assert not list(path.parent.glob("*.tmp"))


def test_non_finite_and_unknown_values_are_refused_by_name(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"demo\.loss is nan"):
        write_results(tmp_path / "demo.json", {"loss": float("nan")})
    with pytest.raises(TypeError, match=r"demo\.model is a object"):
        write_results(tmp_path / "demo.json", {"model": object()})
    assert not (tmp_path / "demo.json").exists()


def test_a_broken_file_names_itself(tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json"):
        read_results(path)
