"""Deferred parameter writes: a compiled program keeps its parameters' values in one array
and writes them into the Variables only when something else next reads or writes the
graph (see ``Component.deferred``), so a step costs nothing per parameter and
``Variable.value`` still reads the current value.

:class:`DeferredWrite` is what the graph's component holds; :class:`LeafValues` is the
program's side: its leaves' current values as floats and as one array, read from the
Variables only when its own write is no longer pending.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphdl.core.component import Component, end_step, new_version, root_of, settle
from graphdl.core.node import Node, Variable, VariableBlock, _drain, _write_value, check_finite
from graphdl.core.plan import Plan

__all__ = ["DeferredWrite", "LeafValues"]

_ndarray = np.ndarray


class DeferredWrite:
    """New values for a fixed list of Variables, kept outside them (in a compiled program's
    parameter array) until their graph is next read or written: the graph's
    ``Component.deferred`` (see :mod:`graphdl.core.component`).

    ``values`` is a sequence (a list, a tuple or a float64 array) whose first entries are
    the new values, in order; ``open`` is True while the step that made them has not
    ended (carrying it out then marks the Variables pending, as an optimiser step does).
    Holds the Variables through weak references only, so a graph with a deferred write is
    still freed by reference counting alone. After it is carried out, ``written`` holds
    the floats it wrote (its owner reads them back to know the Variables hold its values)."""

    __slots__ = ("_order", "_refs", "sources", "values", "open", "written")

    def __init__(self, variables: Sequence[Variable]) -> None:
        self._order = tuple(variable._ref for variable in variables)
        self._refs = dict.fromkeys(self._order)
        #: The Variables' references as a set (what ``end_step`` compares its work list with).
        self.sources = frozenset(self._refs)
        self.values: Any = None
        self.open = False
        self.written: list[float] | None = None

    def defer(self, node: Node, values: Any) -> None:
        """Record ``values`` (checked finite) as a new, open step of ``node``'s graph: nothing
        is written now. Another deferred write of the graph is carried out first."""
        component = node._component
        if component is None or component.merged_into is not None:
            component = root_of(node)
        if component.deferred is not self:
            if component.deferred is not None:
                settle(component)
            component.deferred = self
        self.values = values
        self.open = True
        self.written = None

    def status(self, node: Node) -> str:
        """``"own"`` when this write is the deferred write of ``node``'s graph, ``"busy"``
        when another write or an optimiser step of the graph is pending, else ``"settled"``."""
        component = node._component
        if component is None or component.merged_into is not None:
            component = root_of(node)
        if component.deferred is self:
            return "own"
        return "busy" if component.deferred is not None or component.pending else "settled"

    def resume(self, target: Node, plan: Plan) -> bool:
        """True when this write is still the deferred write of ``target``'s graph, nothing
        else is pending and ``target``'s gradient plan is still ``plan`` (no ``trainable``
        flag changed): the open step is ended, as bringing the graph up to date would end it,
        and the values here are the current ones. False (nothing done) otherwise."""
        component = target._component
        if component is None or component.merged_into is not None:
            component = root_of(target)
        if component.deferred is not self or component.pending:
            return False
        cached = target._plan
        if cached is None or cached[1] is not plan or cached[0] != component.flags:
            return False
        if self.open:
            self.open = False
            flush = component.flush
            if (
                flush is not None
                and flush[1] is self.sources
                and flush[0] == component.structure
                and not component.computed
                and not component.stamped
            ):
                component.point = new_version()  # end_step's shortcut: nothing cached, no gradient taken
            else:
                end_step(component, self.sources)
        return True

    def carry_out(self, component: Component) -> None:
        """Write the values into the Variables (called by ``settle``, which detached this
        write from ``component`` first); an open step marks them pending."""
        count = len(self._order)
        values = self.values
        values = values[:count].tolist() if values.__class__ is _ndarray else list(values[:count])
        variables = [ref() for ref in self._order]
        if None in variables:  # some Variables are gone: write the live ones
            live = [(v, x) for v, x in zip(variables, values) if v is not None]
            _drain(map(_write_value, [v for v, _ in live], [x for _, x in live]))
        else:
            _drain(map(_write_value, variables, values))
        if self.open:
            component.pending.update(self._refs)
            self.open = False
        self.written = values
        self.values = None


class LeafValues:
    """The current values of a program's leaves (``count`` parameters first, then the
    other leaves) between calls, as a sequence of floats (per-sample calls) and/or the
    float64 array :attr:`array` (batches), whichever was asked for last.

    After :meth:`adopt` (a step) the parameters' new values live only here, left on the
    graph as a :class:`DeferredWrite`. While it is pending, :meth:`resume` says the values
    here are current and nothing is read; once anything carried it out, :meth:`read` takes
    the values from the Variables again, checking them with ``check`` only when something
    other than this program changed them."""

    def __init__(self, leaves: Sequence[Variable], count: int, check: Callable[[list[Any]], None]) -> None:
        self.count = count
        self._check = check
        self._leaves = VariableBlock(leaves)
        self._parameters = VariableBlock(leaves[:count])
        self._deferred = DeferredWrite(leaves[:count])
        self._known: list[Any] = []  # the values last read from (or written to) the Variables
        #: The current values as a sequence of floats, or None when only :attr:`array` is current.
        self.floats: Any = None
        self._array_ok = False
        #: The leaves' values as one float64 array (the same object for the program's life).
        self.array = np.empty(len(leaves))
        #: ``resume(target, plan)``: True when this program's own write is still pending on
        #: ``target``'s graph (and the plan unchanged): its step is ended and the values here
        #: are current (:meth:`DeferredWrite.resume`).
        self.resume = self._deferred.resume

    def _take_written(self) -> None:
        """The deferred write was carried out: the Variables then held these values."""
        deferred = self._deferred
        written = deferred.written
        if written is not None:
            deferred.written = None
            if len(self._known) == len(self._leaves.variables):
                self._known = [*written, *self._known[self.count :]]

    def read(self) -> None:
        """Take the values from the Variables (``check`` sees them when they changed)."""
        self._take_written()
        current = self._leaves.read()
        if current != self._known:
            self._check(current)
            self._known = self.floats = current
            self._array_ok = False

    def as_list(self) -> Any:
        """The current values as a sequence of floats."""
        values = self.floats
        if values is None:
            values = self.floats = self.array.tolist()
        return values

    def as_array(self) -> np.ndarray:
        """The current values as :attr:`array`."""
        if not self._array_ok:
            self.array[:] = self.floats
            self._array_ok = True
        return self.array

    def adopt(self, target: Node, new: Any, finite: bool = False) -> None:
        """Make ``new`` (the parameters' new values first: floats or an array) the current
        values, checked finite (``ValueError`` naming the parameter, nothing changed; not an
        array known to be, ``finite``), and leave them on ``target``'s graph as a deferred
        write: one optimiser step."""
        old = self.floats
        if old is not None and new.__class__ is not _ndarray:
            total = sum(new)
            if total - total != 0.0:  # NaN or inf somewhere (or a finite overflow)
                check_finite(self._parameters.variables, new)
            if len(new) != len(old):
                new = [*new[: self.count], *old[self.count :]]
            self.floats = new
            self._array_ok = False
        else:
            new = new[: self.count]
            if not finite:
                check_finite(self._parameters.variables, new)
            self.as_array()[: self.count] = new
            self.floats, new = None, self.array
        deferred = self._deferred
        component = target._component
        if component is not None and component.deferred is deferred and component.merged_into is None:
            deferred.values = new  # already this graph's open or ended write: open it again
            deferred.open = True
        else:
            deferred.defer(target, new)

    def assign(self, target: Node, values: Any) -> None:
        """Write the parameters' ``values`` as one optimiser step: deferred when the values
        here are current without reading anything, else into the Variables at once."""
        status = self._deferred.status(target)
        if status == "settled":
            self._take_written()
            current = bool(self._known) and self._leaves.read() == self._known
        else:
            current = status == "own"
        if current:
            self.adopt(target, np.array(values, dtype=np.float64))
        else:
            self._parameters.write(values.tolist() if values.__class__ is _ndarray else list(values))
            self._known = []  # read everything again next time
