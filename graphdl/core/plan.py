"""The plan of a graph: its topological order, which nodes need gradients and the steps of
the reverse sweep. The interpreter sweeps with it; the gradient graphs (``graphdl.grad``,
which the compiler lowers) use its ``reached_from`` and ``overrides_vjp``.

A plan is cached on its target and must not refer to the target itself (a node holding
itself would put every graph in a reference cycle): ``order`` and ``steps`` hold the
target's ancestors only, and ``head`` describes the target's own step.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

#: One step of the reverse sweep: the node, the ``(argument index, parent)`` pairs whose
#: gradients it contributes to, and whether its operator overrides ``vjp``.
Step = tuple[Any, tuple[tuple[int, Any], ...], bool]


def describe(node: Any) -> str:
    """``Kind 'name'``, how messages name a node."""
    return f"{node.kind} {node.name!r}"


def topological_order(outputs: Iterable[Any]) -> list[Any]:
    """Every node upstream of ``outputs`` (inclusive), parents before children.

    Iterative depth-first search in parent order, so the order is deterministic and a
    100 000-node chain needs no recursion. Raises ``ValueError`` naming a node on a
    cycle (only possible if ``parents`` were tampered with).
    """
    order: list[Any] = []
    finished: set[Any] = set()
    on_path: set[Any] = set()
    for root in outputs:
        if root in finished:
            continue
        stack = [(root, iter(root.parents))]
        on_path.add(root)
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if parent in finished:
                    continue
                if not parent.parents:  # a leaf is finished at once, without a turn on the stack
                    finished.add(parent)
                    order.append(parent)
                    continue
                if parent in on_path:
                    raise ValueError(f"the graph has a cycle through {describe(parent)}")
                on_path.add(parent)
                stack.append((parent, iter(parent.parents)))
                break
            else:
                stack.pop()
                on_path.discard(node)
                finished.add(node)
                order.append(node)
    return order


def reached_from(order: Iterable[Any], sources: Collection[Any]) -> set[Any]:
    """The nodes of ``order`` (a topological order) that are in ``sources`` or have a
    parent that is: everything a change of the sources reaches."""
    reached = set(sources)
    for node in order:
        parents = node.parents
        if parents and node not in reached and not reached.isdisjoint(parents):
            reached.add(node)
    return reached


def overrides_vjp(node: Any) -> bool:
    """Whether the node's operator defines its own vector-Jacobian product (the default
    one, ``grad * derivative``, is marked ``is_default_vjp``)."""
    vjp = getattr(type(node), "vjp", None)
    return vjp is not None and not getattr(vjp, "is_default_vjp", False)


class Plan:
    """What it takes to evaluate and differentiate ``target``.

    * ``order``: the target's ancestors (not the target), parents first;
    * ``needs``: those ancestors that receive a gradient: the sources and every node
      on a path from a source to the target;
    * ``head``: the target's own step, ``(wanted, custom_vjp)``;
    * ``steps``: one step per node of ``needs``, in reverse topological order (see
      :data:`Step`). ``head`` and ``steps`` are worked out on first use.
    """

    __slots__ = ("order", "needs", "_target_parents", "_target_custom", "_head", "_steps", "__weakref__")

    def __init__(self, target: Any, order: Sequence[Any], sources: Collection[Any]) -> None:
        self.order: tuple[Any, ...] = tuple(order)
        needs = reached_from(self.order, sources)
        needs.discard(target)
        self.needs: frozenset[Any] = frozenset(needs)
        self._target_parents: tuple[Any, ...] = target.parents
        self._target_custom = overrides_vjp(target)
        self._head: tuple[tuple[tuple[int, Any], ...], bool] | None = None
        self._steps: tuple[Step, ...] | None = None

    @property
    def head(self) -> tuple[tuple[tuple[int, Any], ...], bool]:
        """The target's own step: ``(wanted, custom_vjp)``."""
        head = self._head
        if head is None:
            head = self._head = (_wanted_of(self._target_parents, self.needs), self._target_custom)
        return head

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps of the ancestors that receive a gradient, children before parents."""
        steps = self._steps
        if steps is None:
            needs = self.needs
            steps = self._steps = tuple(
                (node, _wanted(node, needs), overrides_vjp(node)) for node in reversed(self.order) if node in needs
            )
        return steps


def _wanted_of(parents: tuple[Any, ...], needs: Collection[Any]) -> tuple[tuple[int, Any], ...]:
    return tuple([(index, parent) for index, parent in enumerate(parents) if parent in needs])


def _wanted(node: Any, needs: Collection[Any]) -> tuple[tuple[int, Any], ...]:
    return tuple([(index, parent) for index, parent in enumerate(node.parents) if parent in needs])
