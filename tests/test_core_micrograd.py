"""micrograd's own test expressions, written with graphdl's sugar and compared with
micrograd itself (installed) and with the numbers in micrograd's README."""

from __future__ import annotations

import pytest
from core_micrograd_cases import more_ops, sanity

import graphdl as gd

micrograd_engine = pytest.importorskip("micrograd.engine")


_sanity, _more_ops = sanity, more_ops


def test_sanity_check_matches_micrograd() -> None:
    xm, ym = _sanity(micrograd_engine.Value)
    ym.backward()
    xg, yg = _sanity(gd.Variable)
    yg.backward()
    assert yg.value == ym.data
    assert xg.grad == xm.grad
    assert isinstance(yg, gd.Add)


def test_more_ops_matches_micrograd_and_its_readme() -> None:
    am, bm, gm = _more_ops(micrograd_engine.Value)
    gm.backward()
    ag, bg, gg = _more_ops(gd.Variable)
    gg.backward()
    assert gg.forward() == pytest.approx(gm.data, rel=1e-12)
    assert ag.grad == pytest.approx(am.grad, rel=1e-12)
    assert bg.grad == pytest.approx(bm.grad, rel=1e-12)
    # the figures printed in micrograd's README
    assert round(gg.value, 4) == 24.7041
    assert round(ag.grad, 4) == 138.8338
    assert round(bg.grad, 4) == 645.5773
    # lazily, one Variable at a time
    gg.clear()
    assert ag.get_grad() == pytest.approx(am.grad, rel=1e-12)
    assert bg.get_grad() == pytest.approx(bm.grad, rel=1e-12)


def test_more_ops_in_a_batch_of_one_and_many() -> None:
    import numpy as np

    _, _, reference = _more_ops(gd.Variable)

    def leaf(value: float) -> gd.Variable:  # a = -4 becomes a batch of three, b = 2 stays one number
        return gd.Variable(np.array([value] * 3), name="a") if value == -4.0 else gd.Variable(value, name="b")

    _, b, g = _more_ops(leaf)
    np.testing.assert_array_equal(g.forward(), [reference.forward()] * 3)
    reference.backward()
    b_reference = reference.ancestors()[1]
    assert b_reference.kind == "Variable" and b_reference.value == 2.0
    assert b.get_grad() == pytest.approx(b_reference.grad, rel=1e-12)
