"""Picking one of several servers: the load balancer's and the handlers' routing policies.

Random choices come from numbers drawn up front (one per request) so the
per-request cost is a list lookup, not a generator call.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def round_robin(n: int) -> Callable[[int], int]:
    state = [0]

    def pick(_: int) -> int:
        k = state[0]
        state[0] = k + 1 if k + 1 < n else 0
        return k

    return pick


def random_choice(n: int, rng: np.random.Generator, block: int = 1 << 16) -> Callable[[int], int]:
    """Uniform picks, drawn ``block`` at a time from the given stream."""
    state: list = [[], 0]

    def pick(_: int) -> int:
        table, k = state
        if k == len(table):
            table = state[0] = rng.integers(0, n, block).tolist()
            k = 0
        state[1] = k + 1
        return table[k]

    return pick


def least_outstanding(outstanding: list[int]) -> Callable[[int], int]:
    """Fewest requests queued or in service; ties go round-robin so idle servers share work."""
    n = len(outstanding)
    state = [0]

    def pick(_: int) -> int:
        start = state[0]
        best = start
        best_load = outstanding[start]
        if best_load:
            k = start + 1
            for _step in range(n - 1):
                if k == n:
                    k = 0
                load = outstanding[k]
                if load < best_load:
                    best, best_load = k, load
                    if not load:
                        break
                k += 1
        state[0] = best + 1 if best + 1 < n else 0
        return best

    return pick


def power_of_two(outstanding: list[int], rng: np.random.Generator, candidates: list[int] | None = None,
                 block: int = 1 << 16) -> Callable[[int], int]:
    """Two distinct servers at random; the one with fewer requests outstanding (the first on a tie).

    ``candidates`` is a live list of the servers to choose from (the replicas in the pool); default: all.
    """
    servers = candidates if candidates is not None else list(range(len(outstanding)))
    state: list = [[], 0]

    def pick(_: int) -> int:
        size = len(servers)
        if size == 1:
            return servers[0]
        table, k = state
        if k + 2 > len(table):
            table = state[0] = rng.random(block).tolist()
            k = 0
        state[1] = k + 2
        i = int(table[k] * size)
        j = int(table[k + 1] * (size - 1))
        if j >= i:
            j += 1  # a second, different server
        a, b = servers[i], servers[j]
        return a if outstanding[a] <= outstanding[b] else b

    return pick
