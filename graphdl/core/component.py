"""The state one connected graph shares: pending optimiser updates, structure and flag
versions, the current point. Kept per graph (never module-level), so two graphs, in two
threads or not, never touch each other's state.

The functions here work on the private fields of nodes (they are part of the core).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

#: Fresh version numbers (``next`` on an itertools.count is atomic in CPython).
_versions = itertools.count(1)
new_version = _versions.__next__


class Component:
    """The state shared by the nodes of one connected graph.

    * ``pending``: weak references to the Variables changed by ``update``/``assign``
      since the graph was last brought up to date (a dict used as an ordered set);
    * ``structure``: changes whenever a node joins (cached descendant lists depend on it);
    * ``flags``: changes whenever a ``trainable`` flag changes (gradient plans depend on it);
    * ``flush``: the last list of nodes made stale by the pending updates, reused while
      the same Variables are updated step after step (in any order: a compiled step and a
      loop of ``p.update`` mark them in different orders);
    * ``point``: changes whenever a value in the graph changes (``set_value``, ``clear``,
      the end of a step). A gradient whose target no longer exists (``a.exp().backward()``)
      stays valid while it does not change;
    * ``members``: weak references to every node of the graph (for ``clear()``), kept
      while the structure does not change;
    * ``computed``: whether a value was cached in the graph since the last end of a
      step; ``stamped``: weak references to the targets that tagged gradients since then.
      When no value was cached and the same Variables are updated again, nothing
      downstream can be stale but those targets' gradients, so ending the next step
      bumps their stamps and walks nothing (a compiled training loop caches no value);
    * ``deferred``: a write not carried out yet (``None`` when there is none): new values of
      some Variables that live only in a compiled program's parameter array after its step.
      Everything that reads or writes a Variable's value, or ends or starts a point, first
      carries it out (:func:`settle`): it writes the values into the Variables and, when the
      step is still open, marks them pending, exactly as the step would have done itself. So
      a step costs nothing per parameter and ``Variable.value`` still reads the current value.

    Components merge (union-find) when an operator joins two graphs. A component holds
    no strong reference to a node.
    """

    __slots__ = (
        "merged_into",
        "pending",
        "structure",
        "flags",
        "flush",
        "size",
        "point",
        "members",
        "computed",
        "stamped",
        "deferred",
    )

    def __init__(self) -> None:
        self.merged_into: Component | None = None
        self.pending: dict[weakref.ref[Any], None] = {}
        self.structure = new_version()
        self.flags = self.structure
        self.point = self.structure
        self.flush: tuple[int, frozenset, list[weakref.ref[Any]], set[weakref.ref[Any]]] | None = None
        self.size = 1
        self.members: tuple[int, list[weakref.ref[Any]]] | None = None
        self.computed = True
        self.stamped: dict[weakref.ref[Any], None] = {}
        self.deferred: Any = None


def root_of(node: Any) -> Component:
    """The component of ``node``'s graph (a Variable that no operator uses yet gets one)."""
    component = node._component
    if component is None:
        component = node._component = Component()
        return component
    if component.merged_into is None:
        return component
    root = component
    while root.merged_into is not None:
        root = root.merged_into
    while component.merged_into is not None and component.merged_into is not root:
        component.merged_into, component = root, component.merged_into
    node._component = root
    return root


def join(parents: Sequence[Any]) -> Component:
    """The component of a new operator on ``parents``: theirs, merged into one (the
    larger absorbs the smaller); Variables no operator used before simply join it."""
    main: Component | None = None
    loose = False
    for parent in parents:
        component = parent._component
        if component is None:
            loose = True
            continue
        if component.merged_into is not None:
            component = root_of(parent)
        if main is None:
            main = component
        elif component is not main:
            if component.deferred is not None:
                settle(component)
            if main.deferred is not None:
                settle(main)
            if component.size > main.size:
                main, component = component, main
            component.merged_into = main
            main.size += component.size
            if component.pending:
                main.pending.update(component.pending)
                component.pending = {}
            main.flags = main.point = new_version()
            main.computed = True
    if main is None:
        main = Component()
    if loose:
        for parent in parents:
            if parent._component is None:
                parent._component = main
                main.size += 1
    main.size += 1
    main.structure = new_version()
    return main


def settle(component: Component) -> None:
    """Carry out the deferred write of ``component`` (see ``Component.deferred``)."""
    write = component.deferred
    component.deferred = None
    write.carry_out(component)


def settle_graph(node: Any) -> None:
    """Carry out the deferred write of ``node``'s graph, if there is one."""
    component = node._component
    if component is None:
        return
    if component.merged_into is not None:
        component = root_of(node)
    if component.deferred is not None:
        settle(component)


def end_step(component: Component, sources: frozenset | None = None) -> None:
    """Bring the graph up to date after optimiser updates: drop every value computed
    from an updated Variable and bump the stamps, so gradients of the old point go stale.
    Each node downstream is visited once; the work list is reused while the same
    Variables are updated step after step. ``sources``: the updated Variables' references
    when a deferred step (nothing pending) ends, instead of the pending ones."""
    if sources is None:
        sources = frozenset(component.pending)
        component.pending = {}
    component.point = new_version()
    cached = component.flush
    stamped = component.stamped
    if stamped:
        component.stamped = {}
    if cached is not None and cached[0] == component.structure and (cached[1] is sources or cached[1] == sources):
        if cached[1] is not sources:  # the same set: keep this object, so the next comparison is by identity
            component.flush = cached = (cached[0], sources, cached[2], cached[3])
        if not component.computed:  # the last flush cleared every value; none cached since
            if not stamped:
                return
            reached = cached[3]
            for ref in stamped:
                if ref in reached:  # a target downstream of an updated Variable (or one of them)
                    node = ref()
                    if node is not None:
                        node._stamp += 1
            return
        refs = cached[2]
    else:
        refs = downstream_refs([variable for ref in sources if (variable := ref()) is not None])
        component.flush = (component.structure, sources, refs, {*refs, *sources})
    for ref in sources:
        variable = ref()
        if variable is not None:
            variable._stamp += 1
    for ref in refs:
        node = ref()
        if node is not None:
            node._value = None
            node._stamp += 1
    component.computed = False


def mark_computed(node: Any) -> None:
    """A value was just cached in ``node``'s graph (see ``Component.computed``)."""
    component = node._component
    if component is None or component.merged_into is not None:
        component = root_of(node)
    component.computed = True


def bring_up_to_date(node: Any) -> None:
    """End a pending optimiser step of ``node``'s graph (if any)."""
    component = node._component
    if component is None or component.merged_into is not None:
        component = root_of(node)
    if component.deferred is not None:
        settle(component)
    if component.pending:
        end_step(component)


def new_point(node: Any) -> None:
    """Values of ``node``'s graph are about to change: end a pending step, new point."""
    component = node._component
    if component is None or component.merged_into is not None:
        component = root_of(node)
    if component.deferred is not None:
        settle(component)
    if component.pending:
        end_step(component)
    component.point = new_version()


def downstream_refs(sources: Iterable[Any]) -> list[weakref.ref[Any]]:
    """Weak references to every live node downstream of ``sources`` (each once, the
    sources excluded). Drops the references of dead children on the way."""
    seen = set(sources)
    stack = list(seen)
    refs: list[weakref.ref[Any]] = []
    while stack:
        node = stack.pop()
        children = node._children
        alive = 0
        for ref in children:
            child = ref()
            if child is None:
                continue
            alive += 1
            if child not in seen:
                seen.add(child)
                refs.append(ref)
                stack.append(child)
        if alive != len(children):
            node._children = [ref for ref in children if ref() is not None]
    return refs


def members(node: Any) -> list[weakref.ref[Any]]:
    """Weak references to every live node connected to ``node`` (its whole graph: up
    through parents, down through children), cached on the component per structure."""
    component = root_of(node)
    cached = component.members
    if cached is not None and cached[0] == component.structure:
        return cached[1]
    seen = {node}
    stack = [node]
    refs = []
    while stack:
        current = stack.pop()
        refs.append(current._ref)
        for parent in current.parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
        for ref in current._children:
            child = ref()
            if child is not None and child not in seen:
                seen.add(child)
                stack.append(child)
    component.members = (component.structure, refs)
    return refs
