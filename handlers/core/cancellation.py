"""Cancellation that is never lost: stopping a helper task, and noticing a cancellation dropped on the way.

A shutdown cancels the work in flight (a change being written, say) and counts on it to stop
there. Two things can make a cancellation vanish, and the work then carries on as if nothing
had been asked:

- awaiting a helper task one has just cancelled with its CancelledError suppressed: a
  cancellation of the awaiting task that arrives meanwhile is handed to the helper, comes back
  as the helper's CancelledError, and is suppressed with it. ``stop`` waits without that.
- Python 3.11's ``asyncio.wait_for``, with which redis-py sends every command of a client that has
  a socket timeout, returns normally when the cancellation arrives just as the send completes
  (fixed in Python 3.12). The task still counts the request (``Task.cancelling()``), so
  ``cancel_requests`` taken before and ``stop_if_cancelled`` checked after tell.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_requests", "stop", "stop_if_cancelled"]


async def stop(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended; its own error, if it failed, is raised. A
    cancellation of the caller meanwhile is raised, not absorbed."""
    task.cancel()
    await asyncio.wait({task})  # raises the caller's own cancellation; never the task's
    if not task.cancelled():
        task.result()


def cancel_requests() -> int:
    """How many cancellations of the current task are pending (asked for and not yet handled by
    an ``asyncio.timeout`` that asked for one itself)."""
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def stop_if_cancelled(before: int) -> None:
    """Raise CancelledError if the current task was cancelled since ``cancel_requests()`` was
    ``before`` and that cancellation was lost on the way, instead of going on."""
    if cancel_requests() > before:
        raise asyncio.CancelledError
