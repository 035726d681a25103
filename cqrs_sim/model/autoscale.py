"""The elastic read pool: an autoscaler that adds and removes replicas with the load.

:class:`MeteredPool` is a :class:`.replicas.ReplicaPool` with ``max``
preallocated replica slots, of which the scenario's count start in the
pool. It meters two integrals exactly: busy connection-seconds (every query,
on any replica, from its start to its end) and replica-seconds in the pool.
A fixed pool does neither, so its per-read cost is unchanged.

:class:`Autoscaler` is a SimPy process. Every ``interval`` it takes

    utilization = busy connection-seconds / (connections per replica × replica-seconds in the pool)

over the interval just ended, and the target-tracking rule

    desired = ceil(current × utilization / target) = ceil(mean busy connections / (connections × target)),

clamped to [min, max] (``current`` is the mean number of replicas in the
pool over the interval; the rule itself is :meth:`.scenario.Autoscale.desired`). It compares ``desired`` with the replicas it has:
members (in the pool, or out of it for a rollout swap, a failure or a lag
over ``max_lag``) plus those being provisioned. Nothing changes while utilization / target lies within
1 ± ``tolerance``. More wanted, and ``scale_out_cooldown`` passed since the
last scale-out: it provisions the difference, each new replica in the lowest
free slot, ready ``provision_time`` later. Fewer wanted, and
``scale_in_cooldown`` passed since the last scale-out or scale-in: it first
gives up replicas still being provisioned, the newest first (they serve
nothing yet: a scale-in never takes a serving replica while capacity it no
longer wants is still on its way), and removes the rest of the difference
from the replicas in the pool, highest slot first, only when utilization is
below the target (a pool running above it is never made smaller), leaving
at least one there (replicas swapped, repaired after a failure or catching
up are left alone: a failed replica is repaired as in a fixed pool and may
be removed once back). A replica given up while provisioned never joins;
its instance ran from its provisioning to then. A removed replica takes no
new reads, finishes the ones routed to it (it drains, whatever
``sync.drain`` says) and then stops. Decisions happen at interval, 2 ×
interval, … before the run's duration (a measurement falling at the duration
itself is recorded, not acted on).

A new replica joins with the version its owner gives it: in CQRS the newest
committed version when it is ready (built from the newest snapshot; during a
rollout it thus holds the version the rollout ships, or a newer one); in CRUD
with streaming replicas the version its slot has applied (it restores a base
backup and catches up on the stream while it is provisioned). It joins cold
(``cold_factor``), as a swapped replica does. With failures
(:mod:`.failures`) each instance fails on its own from the moment it joins
(not while it is provisioned) until it is removed; a removed replica, which
is always one in the pool, does not fail while it drains.

Every replica instance's lifetime (from its start, or its provisioning, to
the end of its drain) is recorded, so ``replica_seconds`` counts the
autoscaled instances; so is the pool's membership over time (``steps``), from
which availability and utilization are computed, and one row per decision.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Callable

import numpy as np
import simpy

from ..config.designs import Autoscale
from .replicas import OFF, SWAP, ReplicaPool

if TYPE_CHECKING:
    from ..config.distributions import Distribution

#: slot states
ABSENT, PROVISIONING, SERVING, DRAINING = range(4)


class MeteredPool(ReplicaPool):
    """A replica pool whose membership the autoscaler changes, metering busy connections and replicas in the pool."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        count = self.count
        self.state = [SERVING] * count + [ABSENT] * (self.size - count)
        self.provisioning = 0
        self.draining = 0
        self.busy_area = 0.0  #: Σ query ends − Σ query starts so far (the running ones end "now": see busy_seconds)
        self.busy_now = 0  #: queries running
        self._pool_area = 0.0  #: replica-seconds in the pool up to _since
        self._since = 0.0
        #: (t, in pool, members, provisioning) after each change of membership, from t = 0
        self.steps: list[tuple[float, int, int, int]] = [(0.0, count, count, 0)]
        #: [start, end] of each replica instance (end: inf while it runs); _life[r]: the row of slot r's instance
        self.lifetimes: list[list[float]] = [[0.0, math.inf] for _ in range(count)]
        self._life = list(range(count)) + [-1] * (self.size - count)

    @property
    def always_running(self) -> int:
        return 0  # every instance is in ``lifetimes``

    # --- meters ---------------------------------------------------------------
    def busy_seconds(self) -> float:
        """Connection-seconds of queries so far, on any replica."""
        return self.busy_area + self.busy_now * self.env.now

    def pool_seconds(self) -> float:
        """Replica-seconds in the pool so far."""
        return self._pool_area + len(self.pool) * (self.env.now - self._since)

    def _query_start(self, read: list) -> None:
        self.busy_area -= self.env.now
        self.busy_now += 1
        ReplicaPool._query_start(self, read)

    def _query_end(self, event: simpy.Event) -> None:
        self.busy_area += self.env.now
        self.busy_now -= 1
        ReplicaPool._query_end(self, event)

    def _abandon(self, r: int) -> list[list]:
        abandoned = len(self.running[r])  # these queries end now, for nobody (evicted, or their replica failed)
        self.busy_area += abandoned * self.env.now
        self.busy_now -= abandoned
        return ReplicaPool._abandon(self, r)

    # --- membership -----------------------------------------------------------
    def _settle(self) -> None:
        """Bring the pool's replica-seconds up to now, before its membership changes."""
        now = self.env.now
        self._pool_area += len(self.pool) * (now - self._since)
        self._since = now

    def _step(self) -> None:
        self.steps.append((self.env.now, len(self.pool), len(self.members), self.provisioning))

    def leave(self, r: int, why: int = SWAP) -> None:
        self._settle()
        ReplicaPool.leave(self, r, why)
        self._step()

    def _back(self, r: int, why: int) -> None:
        if not self.out[r] & why:
            return  # nothing changes
        self._settle()
        ReplicaPool._back(self, r, why)
        self._step()

    def join(self, r: int, version: int, why: int = SWAP) -> None:
        """A swapped replica rejoins, or a provisioned one becomes a member and joins for the first time."""
        if self.state[r] == PROVISIONING:
            self.state[r] = SERVING
            self.provisioning -= 1
            bisect.insort(self.members, r)
            why = OFF
        ReplicaPool.join(self, r, version, why)

    def instance(self, r: int) -> int:
        return self._life[r] if self.state[r] == SERVING else -1

    def provision(self) -> int:
        """Start a new replica instance in the lowest free slot; returns the slot."""
        r = self.state.index(ABSENT)
        self.state[r] = PROVISIONING
        self.provisioning += 1
        self._life[r] = len(self.lifetimes)
        self.lifetimes.append([self.env.now, math.inf])
        self._step()
        return r

    def cancel(self, r: int) -> None:
        """Give up slot ``r``'s replica while it is provisioned: it never joins, and its instance ends now."""
        self.state[r] = ABSENT
        self.provisioning -= 1
        self.lifetimes[self._life[r]][1] = self.env.now
        self._life[r] = -1
        self._step()

    def remove(self, r: int) -> None:
        """Take member ``r`` (in the pool) out for good, now: it takes no new read, and stops once drained."""
        self.members.remove(r)
        self.state[r] = DRAINING
        self.draining += 1
        self.leave(r, OFF)
        self.env.process(self._stop_when_drained(r))

    def _stop_when_drained(self, r: int):
        if self.outstanding[r]:
            yield self.drained(r)
        self.state[r] = ABSENT
        self.draining -= 1
        self.lifetimes[self._life[r]][1] = self.env.now
        self._life[r] = -1

    # --- the record -----------------------------------------------------------
    def lifetime_columns(self) -> dict[str, np.ndarray]:
        return {"start": np.asarray([life[0] for life in self.lifetimes], dtype=float),
                "end": np.asarray([life[1] for life in self.lifetimes], dtype=float)}

    def step_columns(self) -> dict[str, np.ndarray]:
        steps = self.steps
        return {"t": np.asarray([s[0] for s in steps], dtype=float),
                "in_pool": np.asarray([s[1] for s in steps], dtype=np.int32),
                "members": np.asarray([s[2] for s in steps], dtype=np.int32),
                "provisioning": np.asarray([s[3] for s in steps], dtype=np.int32)}


class Autoscaler:
    """The target-tracking controller of one pool (the rule is in the module docstring)."""

    def __init__(self, pool: MeteredPool, settings: Autoscale, provision_time: "Distribution", rng: np.random.Generator,
                 until: float, join: Callable[[int], None], removed: Callable[[], None] = lambda: None):
        """``join(r)`` puts provisioned replica r into the pool with the version its owner gives it;
        ``removed()`` tells the owner that members were removed (the oldest version held may have risen)."""
        self.pool = pool
        self.env = pool.env
        self.settings = settings
        self.provision_time = provision_time
        self.rng = rng
        self.until = until
        self._join = join
        self._removed = removed
        #: one row per decision: t, in pool, provisioning (both before it), utilization, desired, change
        self.decisions: list[list] = []
        self._pending: dict[int, simpy.Process] = {}  #: slot -> the process provisioning its replica, oldest first
        self.env.process(self._run())

    def _run(self):
        env, pool, s = self.env, self.pool, self.settings
        busy_before, pool_before = pool.busy_seconds(), pool.pool_seconds()
        last_out = last_change = -math.inf
        while env.now + s.interval <= self.until:
            yield env.timeout(s.interval)
            busy, in_pool_seconds = pool.busy_seconds(), pool.pool_seconds()
            busy_delta, pool_delta = busy - busy_before, in_pool_seconds - pool_before
            busy_before, pool_before = busy, in_pool_seconds
            now = env.now
            row = [now, len(pool.pool), pool.provisioning, math.nan, 0, 0]
            self.decisions.append(row)
            if pool_delta <= 0:
                continue  # no replica was in the pool: nothing measured
            utilization = busy_delta / (pool.connections * pool_delta)
            desired = s.desired(busy_delta / s.interval, pool.connections)
            row[3], row[4] = utilization, desired
            if abs(utilization / s.target_utilization - 1) <= s.tolerance or now >= self.until:
                continue  # close enough; or the arrivals have stopped: measured, not acted on
            have = len(pool.members) + pool.provisioning
            if desired > have and now - last_out >= s.scale_out_cooldown:
                add = min(desired - have, pool.size - have - pool.draining)
                for _ in range(add):
                    r = pool.provision()
                    self._pending[r] = env.process(self._provision(r))
                if add:
                    row[5] = add
                    last_out = last_change = now
            elif desired < have and now - last_change >= s.scale_in_cooldown:
                excess = have - desired
                given_up = list(self._pending)[::-1][:excess]  # the newest first: they serve nothing yet
                for r in given_up:
                    self._pending.pop(r).interrupt()
                    pool.cancel(r)
                excess -= len(given_up)
                gone = []
                if excess and utilization < s.target_utilization:  # a pool above its target never shrinks
                    gone = pool.pool[::-1][: min(excess, len(pool.pool) - 1)]  # one stays in the pool
                for r in gone:
                    pool.remove(r)
                if given_up or gone:
                    row[5] = -len(given_up) - len(gone)
                    last_change = now
                if gone:
                    self._removed()

    def _provision(self, r: int):
        try:
            yield self.env.timeout(float(self.provision_time.sample(self.rng, 1)[0]))
        except simpy.Interrupt:
            return  # given up by a scale-in (the pool has already let the slot go)
        del self._pending[r]
        self._join(r)

    def decision_columns(self) -> dict[str, np.ndarray]:
        rows = self.decisions
        return {"t": np.asarray([d[0] for d in rows], dtype=float),
                "replicas_in_pool": np.asarray([d[1] for d in rows], dtype=np.int32),
                "provisioning": np.asarray([d[2] for d in rows], dtype=np.int32),
                "utilization": np.asarray([d[3] for d in rows], dtype=float),
                "desired": np.asarray([d[4] for d in rows], dtype=np.int32),
                "change": np.asarray([d[5] for d in rows], dtype=np.int32)}
