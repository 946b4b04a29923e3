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
from collections.abc import Callable, Iterable
from typing import Any

SCHEDULER_QUERY_SECONDS = 10.0  # the longest a check of the scheduler's task states may take
LOST_STATES = (None, "forgotten")  # a task in such a state on the scheduler will never finish


class DaskPool:
    """Submits functions to a ``dask.distributed.Client`` and hands back
    ``concurrent.futures`` futures, like ``Client.get_executor(pure=False)``, plus
    :meth:`lost`. ``owned``: the sweep opened the client, and :meth:`shutdown` closes it."""

    def __init__(self, client: Any, owned: bool = False) -> None:
        self.client, self.owned = client, owned
        self._tasks: dict[concurrent.futures.Future, Any] = {}  # wrapper -> its Dask future, until settled
        self._suspects: set[concurrent.futures.Future] = set()  # looked lost at the last check

    def slots(self) -> int:
        """How many runs the cluster runs at once (its worker threads, at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, function: Callable[..., Any], *args: Any) -> concurrent.futures.Future:
        """Run ``function(*args)`` as a new task (a fresh key every call)."""
        task = self.client.submit(function, *args, pure=False)
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._tasks[future] = task
        future.add_done_callback(self._settled)
        self.client.loop.add_callback(_deliver, task, future)
        return future

    def _settled(self, future: concurrent.futures.Future) -> None:
        task = self._tasks.pop(future, None)
        if task is not None and future.cancelled() and task.status != "cancelled":
            task.cancel()  # cancelled by the sweep (on its way out, or as lost): the cluster drops it too

    def lost(self, futures: Iterable[concurrent.futures.Future]) -> list[concurrent.futures.Future]:
        """The futures among ``futures`` whose task will never finish: cancelled on the
        client's side, or in no state the scheduler knows (``client.restart()`` cleared it,
        or the scheduler forgot it), at this check and at the one before. Twice, because a
        task just submitted may not have reached the scheduler yet, and a cancellation is
        normally passed on at once. A future that turns out lost is not settled here: the
        sweep cancels it (which also cancels its task) and sends its runs again."""
        waiting = {future: self._tasks.get(future) for future in futures if not future.done()}
        tasks = {future: task for future, task in waiting.items() if task is not None}
        states = self._scheduler_states([task.key for task in tasks.values()])
        suspects = {
            future
            for future, task in tasks.items()
            if task.status == "cancelled" or (states is not None and states.get(task.key, None) in LOST_STATES)
        }
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
