"""Failures and repairs of database instances, and stalls of a streaming replica's apply.

Every instance that may fail runs its own renewal process (a plain SimPy
process): up for a time drawn from ``mtbf``, then down for one drawn from
``mttr``, then up again, and so on. A stalling replica alternates the same
way between applying (``every``) and frozen (``duration``). Each process
draws from a stream of its own, ``{architecture}.{role}.{index}``, so
turning one on moves no other number, and adding a replica leaves the other
replicas' failure times as they were; a replica's index is its instance's
number (:meth:`.replicas.ReplicaPool.instance`: in an elastic pool the
instances the autoscaler adds are numbered on from the replicas at the
start). No failure or stall starts at or after ``duration`` (when arrivals
stop); one under way still ends, so every request is served. In an elastic
pool an added replica's process starts when it joins (a replica being
provisioned does not fail) and ends when a failure or stall falls due after
its removal; scale-in removes only replicas in the pool, so a failed
replica is never removed: it is repaired, and may be removed later. A stall
under way when its replica is removed still ends (the slot keeps applying).

What a failure does is the model's: a replica pool's ``fail`` and
``repaired``, the CRUD primary's ``primary_fails`` and ``primary_repaired``,
a :class:`WriteServers` server's ``fail`` and ``repaired``. A CQRS replica
comes back from the newest snapshot of the write image, which it loads for
``cqrs.sync.replace_time`` after its ``mttr`` (under projections there is
no snapshot: it stops projecting when it fails and, after its ``mttr``,
starts empty and replays the log, :meth:`.projection.Projections.rebuild`);
a streaming replica comes back where it stopped and applies what it missed
at once. A replica out of
the pool for a rollout swap when its failure comes does not fail: that
instance was being replaced anyway.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import simpy

from ..config.distributions import Distribution
from ..config.designs import Failures, Stalls
from ..workload.streams import stream
from . import scheduled
from .replicas import SWAP
from .scheduled import Instance

if TYPE_CHECKING:
    from .cqrs import CqrsModel
    from .crud import CrudModel
    from .crud_replicas import CrudReplicatedModel
    from .frontend import Frontend


def _draw(dist: Distribution, rng: np.random.Generator) -> float:
    return max(float(dist.sample(rng, 1)[0]), 0.0)


def _rng(model: "Frontend", role: str, index: int) -> np.random.Generator:
    return stream(model.scenario.seed, model.replication, f"{model.architecture}.{role}.{index}")


def _cycles(model: "Frontend", up: Distribution, down: Distribution, rng: np.random.Generator,
            go_down: Callable[[], bool], come_back: Callable[[], Iterator | None],
            alive: Callable[[], bool] = lambda: True):
    """Up for a draw of ``up``, then ``go_down()`` (False: no failure this time, draw again), down for a draw
    of ``down``, then ``come_back()`` (a generator when coming back takes time); until ``duration``, or until
    the instance is no longer ``alive()`` when its next failure falls due (removed from an elastic pool)."""
    env, until = model.env, model.scenario.duration
    while True:
        t = _draw(up, rng)
        if env.now + t >= until:
            return
        yield env.timeout(t)
        if not alive():
            return
        if not go_down():
            continue
        yield env.timeout(_draw(down, rng))
        back = come_back()
        if back is not None:
            yield from back


def outage_columns(outages: list[tuple[int, float, float, int]]) -> dict[str, np.ndarray]:
    """(server, out, back, version) per failure, as the swap columns of a record."""
    return {
        "replica": np.asarray([o[0] for o in outages], dtype=np.int32),
        "out": np.asarray([o[1] for o in outages], dtype=float),
        "back": np.asarray([o[2] for o in outages], dtype=float),
        "version": np.asarray([o[3] for o in outages], dtype=np.int64),
    }


# --- CQRS -------------------------------------------------------------------------
def start_cqrs_replicas(model: "CqrsModel", failures: Failures) -> None:
    for r in model.replicas.members:
        start_cqrs_replica(model, r, failures)


def start_cqrs_replica(model: "CqrsModel", r: int, failures: Failures) -> None:
    """Member r's instance fails from now on, until it is removed; its draws come from the instance's stream."""
    number = model.replicas.instance(r)
    rng = _rng(model, "replicas.failures", number)
    target = cqrs_replica(model, r, rng)
    model.env.process(_cycles(model, failures.mtbf, failures.mttr, rng, lambda: target.down("random"), target.up,
                              _alive(model.replicas, r, number)))


def _alive(pool, r: int, instance: int) -> Callable[[], bool]:
    return lambda: pool.instance(r) == instance


def cqrs_replica(model: "CqrsModel", r: int, rng: np.random.Generator) -> Instance:
    """Member r's instance as one that fails (``rng``: its snapshot load's draws, made once per instance)."""
    pool, env = model.replicas, model.env
    projections = model.scenario.cqrs.sync.strategy == "projection"

    def go_down() -> bool:
        if pool.out[r] & SWAP:
            return False
        if projections:
            model.rollouts.fail(r)  # and its projector stops: out of the pool until a rebuild
        else:
            pool.fail(r)
        return True

    def come_back(since: float):
        if projections:  # no snapshot: the replica starts empty and replays the log
            pool.repaired(r, pool.version[r])
            yield model.rollouts.rebuild(r)
            return
        version = model.commits  # the newest snapshot of the write image
        yield env.timeout(_draw(model.scenario.cqrs.sync.replace_time, rng))
        pool.repaired(r, version)
        model.rollouts.rejoined(r, since, pool.version[r])

    return scheduled.instance(model, f"cqrs.replicas.{pool.instance(r)}", go_down, come_back)


class WriteServers:
    """CQRS write servers that fail: each applies one write at a time, FIFO; a failed server's write starts
    again, from the beginning, first in line for the next server up."""

    def __init__(self, model: "CqrsModel", count: int):
        self.model = model
        self.env = model.env
        self.up = [True] * count
        self.job: list[simpy.Event | None] = [None] * count  #: the end event of the write each server applies
        self.queue: deque[int] = deque()  #: writes waiting for a server

    def submit(self, j: int) -> None:
        for s, event in enumerate(self.job):
            if event is None and self.up[s]:
                self._start(s, j)
                return
        self.queue.append(j)

    def _start(self, s: int, j: int) -> None:
        model = self.model
        model.write_start[j] = self.env.now
        end = self.job[s] = self.env.timeout(model.apply_time[j], (s, j))
        end.callbacks.append(self._end)

    def _end(self, event: simpy.Event) -> None:
        s, j = event.value
        self.job[s] = None
        self.model._commit(j)
        if self.queue:
            self._start(s, self.queue.popleft())
        self.model.committed()

    def fail(self, s: int) -> bool:
        self.up[s] = False
        end = self.job[s]
        if end is not None:
            end.callbacks.clear()  # the aborted apply still ends at its time, for nobody
            self.job[s] = None
            self.queue.appendleft(end.value[1])
        return True

    def repaired(self, s: int) -> None:
        self.up[s] = True
        if self.queue:
            self._start(s, self.queue.popleft())

    def server(self, s: int) -> Instance:
        """Write server s as an instance that fails."""
        return scheduled.instance(self.model, f"cqrs.write_servers.{s}", lambda: self.fail(s),
                                  lambda since: self.repaired(s))

    def start_failures(self, failures: Failures) -> None:
        for s in range(len(self.up)):
            rng = _rng(self.model, "write_server_failures", s)
            target = self.server(s)
            self.model.env.process(_cycles(self.model, failures.mtbf, failures.mttr, rng,
                                           lambda target=target: target.down("random"), target.up))


# --- CRUD -------------------------------------------------------------------------
def primary(model: "CrudModel") -> Instance:
    """The CRUD primary as an instance that fails."""
    def go_down() -> bool:
        model.primary_fails()
        return True

    return scheduled.instance(model, "crud.primary", go_down, lambda since: model.primary_repaired())


def start_primary(model: "CrudModel", failures: Failures) -> None:
    rng = _rng(model, "failures.primary", 0)
    target = primary(model)
    model.env.process(_cycles(model, failures.mtbf, failures.mttr, rng, lambda: target.down("random"), target.up))


def start_crud_replicas(model: "CrudReplicatedModel", failures: Failures | None, stalls: Stalls | None) -> None:
    for r in model.replicas.members:
        start_crud_replica(model, r, failures, stalls)


def start_crud_replica(model: "CrudReplicatedModel", r: int, failures: Failures | None, stalls: Stalls | None) -> None:
    """Member r's instance fails and stalls from now on, until it is removed (one stream per instance)."""
    pool = model.replicas
    number = pool.instance(r)
    if failures is not None:
        target = crud_replica(model, r)
        model.env.process(_cycles(model, failures.mtbf, failures.mttr, _rng(model, "failures.replica", number),
                                  lambda: target.down("random"), target.up, _alive(pool, r, number)))
    if stalls is not None:
        rng = _rng(model, "replication_stalls", number)
        model.env.process(_cycles(model, stalls.every, stalls.duration, rng,
                                  lambda: model.freeze(r), lambda: model.thaw(r), _alive(pool, r, number)))


def crud_replica(model: "CrudReplicatedModel", r: int) -> Instance:
    """Member r's instance as one that fails: out of the pool, its apply frozen, until repaired."""
    pool, env = model.replicas, model.env

    def go_down() -> bool:
        pool.fail(r)
        model.freeze(r)
        return True

    def come_back(since: float) -> None:
        model.thaw(r)  # it applies what it missed, then serves again, its caches warm
        pool.repaired(r, pool.version[r], cold=False)
        model.replica_outages.append((r, since, env.now, pool.version[r]))

    return scheduled.instance(model, f"crud.replicas.{pool.instance(r)}", go_down, come_back)


# --- scheduled failures -------------------------------------------------------------
def scheduled_target(model: "Frontend", role: str, index: int) -> Instance:
    """The instance a scheduled failure of ``role`` number ``index`` takes down (the one random failures share)."""
    if role == "primary":
        return primary(model)  # type: ignore[arg-type]
    if role == "write_servers":
        servers = model.failing_servers  # type: ignore[attr-defined]
        return servers.server(index)
    if model.architecture == "cqrs":
        return cqrs_replica(model, index, _rng(model, "scheduled.replicas", index))  # type: ignore[arg-type]
    return crud_replica(model, index)  # type: ignore[arg-type]
