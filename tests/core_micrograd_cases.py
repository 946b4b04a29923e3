"""micrograd's engine tests (``test_sanity_check``, ``test_more_ops``) as builders that take
the leaf constructor, so the same expression is built with graphdl, micrograd and PyTorch."""

from __future__ import annotations


def sanity(make):
    """micrograd's sanity check: returns (x, y)."""
    x = make(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return x, y


def more_ops(make):
    """micrograd's "more ops" check: returns (a, b, g)."""
    a = make(-4.0)
    b = make(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g
