"""A FIFO pool of identical slots (connections, handler threads, write servers)."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable


class Slots:
    """A counting semaphore that calls back instead of yielding events.

    ``acquire(fn, arg)`` calls ``fn(arg)`` at once when a slot is free, or
    when one is released, in first-come first-served order. This is the
    behaviour of ``simpy.Resource`` without an event object per request.
    """

    __slots__ = ("free", "waiting")

    def __init__(self, capacity: int):
        self.free = capacity
        self.waiting: deque[tuple[Callable[[Any], None], Any]] = deque()

    def acquire(self, fn: Callable[[Any], None], arg: Any) -> None:
        if self.free:
            self.free -= 1
            fn(arg)
        else:
            self.waiting.append((fn, arg))

    def release(self) -> None:
        if self.waiting:
            fn, arg = self.waiting.popleft()
            fn(arg)
        else:
            self.free += 1

    @property
    def queued(self) -> int:
        return len(self.waiting)
