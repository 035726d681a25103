"""FIFO slots for asyncio: handler slots, connection pools and write servers, served in arrival order."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Slots:
    """``count`` slots; :meth:`acquire` waits first come, first served."""

    def __init__(self, count: int):
        self.free = count
        self.waiting: deque[asyncio.Future] = deque()

    async def acquire(self) -> None:
        if self.free and not self.waiting:
            self.free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # it was handed a slot just as it was cancelled
            raise

    def release(self) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1


class Pool(Generic[T]):
    """Items (connections) handed out first come, first served."""

    def __init__(self, items: list[T]):
        self.items = list(items)
        self.slots = Slots(len(items))

    async def get(self) -> T:
        await self.slots.acquire()
        return self.items.pop()

    def put(self, item: T) -> None:
        self.items.append(item)
        self.slots.release()
