"""A Dask client as the sweep's executor: every task's outcome reaches the sweep, and the
tasks the cluster lost are found so that the sweep can send their runs again.

Why not ``client.get_executor()``: its wrapper futures are settled by a coroutine that
raises, leaving the wrapper pending forever, when ``client.restart()`` (or any
cancellation) comes between a task finishing and its result being fetched; a sweep waiting
on that wrapper waited forever. Here every outcome (result, error, cancellation) settles the
wrapper, and :meth:`DaskPool.lost` finds the tasks that will never finish all the same: the
ones the client knows are cancelled, and the ones the scheduler no longer knows (forgotten
without the client being told).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any

SCHEDULER_QUERY_SECONDS = 10.0  # the longest a check of the scheduler's task states may take
LOST_STATES = (None, "forgotten")  # a task in such a state on the scheduler will never finish
# a task the scheduler has not known at any check yet counts as lost only this long after it was
# sent: a scheduler busy taking in many new tasks may not have reached it yet
UNSEEN_GRACE_SECONDS = 60.0


class DaskPool:
    """Submits functions to a ``dask.distributed.Client`` and hands back
    ``concurrent.futures`` futures, like ``Client.get_executor(pure=False)``, plus
    :meth:`lost`. ``owned``: the sweep opened the client, and :meth:`shutdown` closes it."""

    def __init__(self, client: Any, owned: bool = False) -> None:
        self.client, self.owned = client, owned
        self._tasks: dict[concurrent.futures.Future, Any] = {}  # wrapper -> its Dask future, until settled
        self._sent_at: dict[concurrent.futures.Future, float] = {}
        self._known: set[concurrent.futures.Future] = set()  # the scheduler knew their tasks at a check
        self._suspects: set[concurrent.futures.Future] = set()  # looked lost at the last check

    def slots(self) -> int:
        """How many runs the cluster runs at once (its worker threads, at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, function: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Run ``function(*args)`` as a new task (a fresh key every call)."""
        task = self.client.submit(function, *args, pure=False)
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._tasks[future], self._sent_at[future] = task, time.monotonic()
        future.add_done_callback(self._settled)
        self.client.loop.add_callback(_deliver, task, future)
        return future

    def _settled(self, future: concurrent.futures.Future) -> None:
        task = self._tasks.pop(future, None)
        self._sent_at.pop(future, None)
        self._known.discard(future)
        if task is not None and future.cancelled() and task.status != "cancelled":
            # cancelled by the sweep (on its way out, or as lost): the cluster drops the task too.
            # On the event loop (this may run there), whatever thread cancelled, without waiting
            self.client.loop.add_callback(_release, self.client, task)

    def lost(self, futures: Iterable[concurrent.futures.Future]) -> list[concurrent.futures.Future]:
        """The futures among ``futures`` whose task will never finish, seen so at this check
        and at the one before: cancelled on the client's side, or in no state the scheduler
        knows (``client.restart()`` cleared it, or the scheduler forgot it) although it knew
        it at an earlier check or it was sent ``UNSEEN_GRACE_SECONDS`` ago. Twice, and known
        before, because a task just sent may not have reached the scheduler yet, and a
        cancellation is normally passed on at once. A lost future is not settled here: the
        sweep cancels it (which cancels its task too) and sends its runs again."""
        tasks: dict[concurrent.futures.Future, Any] = {}
        for future in futures:
            task = self._tasks.get(future)  # None once settled (on the client's event loop)
            if task is not None and not future.done():
                tasks[future] = task
        states = self._scheduler_states([task.key for task in tasks.values()])
        now, suspects = time.monotonic(), set()
        for future, task in tasks.items():
            unknown = states is not None and states.get(task.key) in LOST_STATES
            if states is not None and not unknown:
                self._known.add(future)
            overdue = future in self._known or now - self._sent_at.get(future, now) >= UNSEEN_GRACE_SECONDS
            if task.status == "cancelled" or (unknown and overdue):
                suspects.add(future)
        lost = [future for future in tasks if future in suspects and future in self._suspects]
        self._suspects = suspects - set(lost)
        return lost

    def _scheduler_states(self, keys: list[Any]) -> dict[Any, str | None] | None:
        """``{key: the scheduler's state of that task, None when it does not know it}``; None
        when the scheduler cannot say (unreachable, busy for ``SCHEDULER_QUERY_SECONDS``)."""
        if not keys:
            return {}
        try:
            states: dict[Any, str | None] = self.client.sync(
                self.client.scheduler.get_task_status, keys=keys, callback_timeout=SCHEDULER_QUERY_SECONDS
            )
        except Exception:  # no answer this time: only the client's own view counts
            return None
        return states

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Close the client when the sweep opened it (its cluster stays up)."""
        if self.owned:
            self.client.close()


async def _deliver(task: Any, future: concurrent.futures.Future) -> None:
    """Settle ``future`` with the outcome of the Dask future ``task``, whatever it is.
    Runs on the client's event loop."""
    try:
        result = await task
    except (concurrent.futures.CancelledError, asyncio.CancelledError):  # Dask's is the first
        if future.cancel():
            future.set_running_or_notify_cancel()  # wakes concurrent.futures.wait()
        return
    except BaseException as error:  # the task's own error (a KilledWorker, a lost connection, ...)
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # the sweep cancelled it meanwhile
            future.set_exception(error)
        return
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_result(result)


async def _release(client: Any, task: Any) -> None:
    """Cancel ``task`` on the cluster; nothing to do when the client has closed meanwhile."""
    with contextlib.suppress(Exception):
        await client.cancel([task], asynchronous=True)
