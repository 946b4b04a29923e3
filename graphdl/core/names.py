"""Automatic node names (``Mul_1``, ``Mul_2``, ...): unique per kind, thread-safe, and
never equal to an explicit name given before."""

from __future__ import annotations

import itertools
import threading


class _NameCounter:
    """The numbers of one kind's automatic names: ``next`` on an :func:`itertools.count`
    is atomic, so creating nodes takes no lock. An explicit name such as ``Mul_7`` moves
    the count past 7 (under a lock, rare), so later automatic names never repeat it."""

    __slots__ = ("numbers", "lock")

    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def skip_past(self, number: int) -> None:
        with self.lock:
            upcoming = int(repr(self.numbers)[6:-1])  # "count(n)": the next number, not consumed
            if number >= upcoming:
                self.numbers = itertools.count(number + 1)


# One counter per kind, made when the class is defined (plus "Constant" for wrapped numbers).
_counters: dict[str, _NameCounter] = {"Constant": _NameCounter()}
_counters_lock = threading.Lock()


def register_kind(kind: str) -> _NameCounter:
    """The counter of ``kind``'s automatic names (made on first use; classes register at definition)."""
    counter = _counters.get(kind)
    if counter is None:
        with _counters_lock:
            counter = _counters.setdefault(kind, _NameCounter())
    return counter


def auto_name(kind: str) -> str:
    """``<kind>_<n>`` with a number no node of that kind had before."""
    counter = _counters.get(kind)
    if counter is None:
        counter = register_kind(kind)
    return f"{kind}_{next(counter.numbers)}"


def note_explicit_name(name: str) -> None:
    """Remember an explicit ``<kind>_<n>`` so automatic names of that kind skip past it."""
    kind, _, number = name.rpartition("_")
    if number.isdigit() and number.isascii() and len(number) < 19:
        counter = _counters.get(kind)
        if counter is not None:  # only kinds that have automatic names can collide with them
            counter.skip_past(int(number))
