"""Routing: picking one of several servers (a handler, a replica) for each request.

One module for every router: the load balancer in front of the handlers,
and the handlers in front of a replica pool. A policy is built once per
run over its candidates and returns a ``pick()`` that takes no argument and
returns a server index. Candidates are either a fixed set (``count``
servers, all always there) or ``pool``: the live, sorted list of replicas in
the pool, which the policy reads at every pick, so a replica out of the pool
is never picked.

Random choices come from numbers drawn ``BLOCK`` at a time from the
policy's own stream, so the per-pick cost is a list lookup. Over a fixed
set, random draws server indices; over a live pool it draws fractions of
the pool's size at the time of the pick. Round robin over a live pool
skips the servers out of it; over a fixed set it need not look.

``pick(read)`` gets the read being routed; only ``sticky`` looks at it (its
client). Sticky routing is rendezvous (highest random weight) hashing: each
client ranks every server by a hash of (client, server) and goes to the
first one in its ranking that is in the pool, so a client stays on one
server while that server is in the pool, and when it leaves, only its
clients move (each to its own next choice).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Literal, Optional

import numpy as np

from .read import CLIENT
from ..core.hashing import splitmix64 as _mix

Pick = Callable[[list], int]
#: least_outstanding ties: the next search starts past the server just picked (``past_pick``), or one
#: position after where this search started (``rotate``); both spread idle-time picks over the servers
Ties = Literal["past_pick", "rotate"]

BLOCK = 1 << 16


def router(policy: str, count: int, outstanding: list[int], rng: Callable[[str], np.random.Generator], *,
           pool: Optional[list[int]] = None, version: Optional[list[int]] = None, ties: Ties = "past_pick") -> Pick:
    """The ``pick()`` of ``policy`` over ``count`` servers (or the live ``pool`` of them).

    ``outstanding[s]``: requests routed to server s and not finished (kept by the caller). ``rng(kind)``
    returns the policy's random stream (``kind`` is ``random`` or ``two``). ``version[s]``: the data
    version server s holds (``prefer_fresh`` only, which needs a pool).
    """
    servers = pool if pool is not None else list(range(count))
    if policy == "round_robin":
        return round_robin(count) if pool is None else round_robin_in_pool(pool, count)
    if policy == "random":
        return random_choice(count, rng("random")) if pool is None else random_in_pool(pool, rng("random"))
    if policy == "power_of_two":
        return power_of_two(outstanding, rng("two"), servers)
    if policy == "least_outstanding":
        return least_outstanding(outstanding, servers, ties)
    if policy == "prefer_fresh":
        assert pool is not None and version is not None, "prefer_fresh routes over a replica pool"
        return prefer_fresh(outstanding, pool, version)
    if policy == "sticky":
        return sticky(count) if pool is None else sticky_in_pool(pool, count)
    raise ValueError(f"unknown routing policy {policy!r}")


def round_robin(count: int) -> Pick:
    """Servers 0, 1, …, count − 1, 0, 1, … in turn."""
    state = [0]  #: the next server

    def pick(_read: Optional[list] = None) -> int:
        s = state[0]
        state[0] = s + 1 if s + 1 < count else 0
        return s

    return pick


def round_robin_in_pool(pool: list[int], count: int) -> Pick:
    """As :func:`round_robin`, skipping servers not in the live sorted ``pool``: the first one in the pool at
    or after the next in turn (wrapping)."""
    state = [0]  #: the server after the last one picked

    def pick(_read: Optional[list] = None) -> int:
        k = bisect_left(pool, state[0])
        s = pool[k] if k < len(pool) else pool[0]
        state[0] = s + 1 if s + 1 < count else 0
        return s

    return pick


def random_choice(count: int, rng: np.random.Generator) -> Pick:
    """Uniform over a fixed set of ``count`` servers."""
    state: list = [[], 0]

    def pick(_read: Optional[list] = None) -> int:
        table, k = state
        if k == len(table):
            table = state[0] = rng.integers(0, count, BLOCK).tolist()
            k = 0
        state[1] = k + 1
        return table[k]

    return pick


def random_in_pool(pool: list[int], rng: np.random.Generator) -> Pick:
    """Uniform over the servers in the live ``pool``."""
    state: list = [[], 0]

    def pick(_read: Optional[list] = None) -> int:
        table, k = state
        if k == len(table):
            table = state[0] = rng.random(BLOCK).tolist()
            k = 0
        state[1] = k + 1
        return pool[int(table[k] * len(pool))]

    return pick


def least_outstanding(outstanding: list[int], servers: list[int], ties: Ties = "past_pick") -> Pick:
    """Fewest requests outstanding; among equals the first found from a rotating start (see ``Ties``)."""
    state = [0]  #: where the next search starts: a position in ``servers``

    def pick(_read: Optional[list] = None) -> int:
        size = len(servers)
        start = state[0] % size
        best = start
        best_load = outstanding[servers[start]]
        if best_load:
            k = start
            for _step in range(size - 1):
                k = k + 1 if k + 1 < size else 0
                load = outstanding[servers[k]]
                if load < best_load:
                    best, best_load = k, load
                    if not load:
                        break
        state[0] = (best if past_pick else start) + 1
        return servers[best]

    past_pick = ties == "past_pick"
    return pick


def power_of_two(outstanding: list[int], rng: np.random.Generator, servers: list[int]) -> Pick:
    """Two distinct servers of ``servers`` at random; the one with fewer requests outstanding (the first on a tie)."""
    state: list = [[], 0]

    def pick(_read: Optional[list] = None) -> int:
        size = len(servers)
        if size == 1:
            return servers[0]
        table, k = state
        if k + 2 > len(table):
            table = state[0] = rng.random(BLOCK).tolist()
            k = 0
        state[1] = k + 2
        i = int(table[k] * size)
        j = int(table[k + 1] * (size - 1))
        if j >= i:
            j += 1  # a second, different server
        a, b = servers[i], servers[j]
        return a if outstanding[a] <= outstanding[b] else b

    return pick


def prefer_fresh(outstanding: list[int], pool: list[int], version: list[int]) -> Pick:
    """Only the pool's replicas holding its newest version; among them the fewest outstanding, the search
    starting at position (picks so far) mod (fresh replicas)."""
    turn = [0]

    def pick(_read: Optional[list] = None) -> int:
        newest = max(version[r] for r in pool)
        fresh = [r for r in pool if version[r] == newest]
        start = turn[0] % len(fresh)
        turn[0] += 1
        best = fresh[start]
        for step in range(1, len(fresh)):
            r = fresh[(start + step) % len(fresh)]
            if outstanding[r] < outstanding[best]:
                best = r
        return best

    return pick



def rendezvous_order(client: int, count: int) -> list[int]:
    """Servers 0..count − 1 in client ``client``'s order of preference: by descending hash of (client, server)."""
    with np.errstate(over="ignore"):
        base = np.uint64(client) * np.uint64(0x9E3779B97F4A7C15)
    weights = _mix(base ^ _mix(np.arange(1, count + 1, dtype=np.uint64)))
    return np.argsort(~weights, kind="stable").tolist()  # ~w ascending: w descending, exactly in integers


def sticky(count: int) -> Pick:
    """Each client always to its first choice of a fixed set of ``count`` servers."""
    first: dict[int, int] = {}

    def pick(read: list) -> int:
        c = read[CLIENT]
        s = first.get(c)
        if s is None:
            s = first[c] = rendezvous_order(c, count)[0]
        return s

    return pick


def sticky_in_pool(pool: list[int], count: int) -> Pick:
    """Each client to the first server in its order of preference that is in the live ``pool``."""
    orders: dict[int, list[int]] = {}

    def pick(read: list) -> int:
        c = read[CLIENT]
        order = orders.get(c)
        if order is None:
            order = orders[c] = rendezvous_order(c, count)
        for s in order:
            if s in pool:
                return s
        raise LookupError("sticky routing over an empty pool")  # the pool holds reads while it is empty

    return pick
