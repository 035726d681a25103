"""What both architectures share: arrivals, the load balancer, handlers, the write stream, recording.

A read is a small list (its fields at the positions named in
:mod:`.read`) that travels through SimPy timeout callbacks and FIFO
slot pools: ``_read_arrive`` (pick a handler, wait for one of its slots) →
``_handler_start`` (spend handler_time) → the back end's ``_query`` → … →
the back end calls ``_read_done`` at the query's end, which frees the
handler slot and hands the read to the recorder. Only reads in flight are
in memory. Writes arrive through ``_write_arrive`` and the back end's
``_write``. Subclasses provide ``_query`` (a replica pool's ``query``
where reads go to replicas) and ``_write``, and the parts of the record
that ``record()`` returns (:mod:`.recording`).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
import simpy

from ..config.distributions import couple
from ..config.scenario import Scenario, query_time_of
from ..workload.streams import stream
from ..workload.draws import ReadSource, WriteWorkload
from ..workload.keys import KeyIndex
from .read import (ARRIVAL, ATTEMPT, CLIENT, FINISH, HANDLER, HANDLER_TIME, ID, KEY, NAN, QUERY_TIME, READ_BACK, SEEN,
                   START, TIMED_OUT, WAITED, WIDTH, new_read)
from .recorder import CHUNK, ReadRecorder
from .recording import Recording
from .retry import Backoff, RetryBudget
from .routing import router
from .slots import Slots

_FLUSH_AT = CHUNK * WIDTH

#: called with the fraction of the arrival period simulated so far
Progress = Callable[[float], None]


class Frontend(Recording):
    """The load balancer, the handlers and the request records of one run."""

    architecture = ""

    def __init__(self, env: simpy.Environment, scenario: Scenario, reads: ReadSource, writes: WriteWorkload,
                 replication: int):
        self.env = env
        self.scenario = scenario
        self.replication = replication
        self._blocks = iter(reads)
        self._arrival: list[float] = []
        self._handler_time: list[float] = []
        self._query_time: list[float] = []
        self._key: list[int] = []
        self._client: list[int] = []
        self._k = 0  #: position in the current block
        self._next_id = 0  #: id of the next read to arrive
        self.reads_in_flight = 0
        self.max_in_system = scenario.limits.max_in_system
        self.stopped_at: float | None = None  #: set when the run is stopped as a runaway
        self.fault_instances: dict = {}  #: instances that fail, by name (:mod:`.scheduled`)
        self.outage_log: list = []  #: (instance, cause, down, up) per outage, in order of repair

        handlers = scenario.handlers
        self.handler_slots = [Slots(handlers.concurrency) for _ in range(handlers.count)]
        self.handler_outstanding = [0] * handlers.count
        self._pick_handler = router(scenario.load_balancer, handlers.count, self.handler_outstanding, self._streams("lb"))

        self.n_writes = len(writes)
        self.write_arrival: list[float] = writes.arrival.tolist()
        self.apply_time: list[float] = writes.apply_time.tolist()
        self.write_start: list[float] = [NAN] * self.n_writes
        self.write_commit: list[float] = [NAN] * self.n_writes
        self.write_version: list[int] = [0] * self.n_writes
        self.write_keys: np.ndarray = writes.keys  #: per write, the keys it writes
        self.write_client: list[int] = writes.client.tolist()  #: per write, the writer's client
        self.version_write: list[int] = [-1]  #: by version, the write that made it (version 0: the initial data)
        #: commit_time[k] is when version k committed (version 0 is the initial data)
        self.commit_time: list[float] = [0.0]
        self.commits = 0
        self._next_write = 0

        read_back = scenario.workload.writes.read_back if scenario.workload.writes is not None else None
        self.read_back = read_back
        #: read-backs done: (write version, arrival, start, finish, version seen)
        self.read_backs: list[tuple[int, float, float, float, int]] = []
        if read_back is not None:
            self._rb_rng = stream(scenario.seed, replication, "write.read_back")
            self._rb_times = stream(scenario.seed, replication, "write.read_back.times")
            self._rb_coupling = stream(scenario.seed, replication, "write.read_back.coupling")
        reads_settings = scenario.workload.reads
        self.timeout = reads_settings.timeout
        self.retries = reads_settings.retries
        self.backoff = Backoff(reads_settings.retry_backoff, None if reads_settings.retry_jitter == "none" else
                               stream(scenario.seed, replication, f"{self.architecture}.reads.retry_jitter"))
        budget = reads_settings.retry_budget
        self.retry_budget = None if budget is None else RetryBudget(budget.ratio, budget.burst)
        self.clients: dict[int, list] = {}  #: reads whose client still waits: id -> [first arrival, attempt]
        self.timeout_times: list[float] = []  #: per attempt given up on: its read's first arrival
        self.retry_times: list[float] = []  #: per retry sent: its read's first arrival
        workload = scenario.workload
        self.recorder = ReadRecorder(
            scenario.record, self.commit_time, warmup=scenario.warmup, duration=scenario.duration,
            bin_width=scenario.bin_width, sample_size=scenario.record_sample, seed=scenario.seed,
            replication=replication, key_index=self.key_index if workload.keys is not None else None,
            clients=workload.reads.clients)
        self._flat = self.recorder.flat
        self._cache_callbacks("_read_arrive", "_handler_start", "_handler_end", "_query", "_read_done", "_client_gives_up")

    def _cache_callbacks(self, *names: str) -> None:
        """Keep bound methods used per read in the instance, so each use does not build a new one."""
        for name in names:
            setattr(self, name, getattr(self, name))

    def key_index(self) -> KeyIndex:
        """Which committed versions wrote which keys, as of now."""
        return KeyIndex(self.write_keys, self.write_version, self.commits)

    def _streams(self, purpose: str) -> Callable[[str], np.random.Generator]:
        """A router's random streams: ``{architecture}.{purpose}.{kind}`` of this replication."""
        return lambda kind: stream(self.scenario.seed, self.replication, f"{self.architecture}.{purpose}.{kind}")

    # --- starting -------------------------------------------------------------
    def start_arrivals(self, progress: Optional[Progress] = None) -> None:
        env = self.env
        if self._next_block():
            env.timeout(self._arrival[0]).callbacks.append(self._read_arrive)
        if self.n_writes:
            env.timeout(self.write_arrival[0]).callbacks.append(self._write_arrive)
        if progress is not None:
            env.process(self._ticker(progress))

    def _next_block(self) -> bool:
        for arrival, handler_time, query_time, key, client in self._blocks:
            self._arrival, self._handler_time, self._query_time = arrival, handler_time, query_time
            self._key, self._client = key, client
            self._k = 0
            return True
        return False

    def _ticker(self, progress: Progress):
        step = self.scenario.duration / 50
        for k in range(1, 51):
            yield self.env.timeout(step)
            progress(k / 50)

    # --- reads ----------------------------------------------------------------
    def _read_arrive(self, _event: simpy.Event) -> None:
        k = self._k
        i = self._next_id
        read = new_read(i, self._arrival[k], self._handler_time[k], self._query_time[k], self._key[k], self._client[k])
        h = self._pick_handler(read)
        read[HANDLER] = h
        self.handler_outstanding[h] += 1
        in_flight = self.reads_in_flight = self.reads_in_flight + 1
        if in_flight > self.max_in_system:
            self.stopped_at = self.env.now
            raise simpy.core.StopSimulation(None)  # ends env.run(): a runaway, not worth simulating further
        self._next_id = i + 1
        if self.timeout is not None:
            self.clients[i] = [read[ARRIVAL], 1]  # the client's first arrival, attempt number
            self.env.timeout(self.timeout, read).callbacks.append(self._client_gives_up)
        slots = self.handler_slots[h]
        if slots.free:  # Slots.acquire, inlined: this runs for every read
            slots.free -= 1
            self._handler_start(read)
        else:
            slots.waiting.append((self._handler_start, read))
        k += 1
        if k < len(self._arrival):
            self._k = k
        elif not self._next_block():
            return
        env = self.env
        delay = self._arrival[self._k] - env.now
        env.timeout(delay if delay > 0 else 0.0).callbacks.append(self._read_arrive)

    def _handler_start(self, read: list) -> None:
        t = read[HANDLER_TIME]
        if t > 0:
            self.env.timeout(t, read).callbacks.append(self._handler_end)
        else:
            self._query(read)

    def _handler_end(self, event: simpy.Event) -> None:
        self._query(event.value)

    def _read_done(self, read: list) -> None:
        read[FINISH] = self.env.now
        h = read[HANDLER]
        self.handler_outstanding[h] -= 1
        self.reads_in_flight -= 1
        if not read[READ_BACK]:
            if self.timeout is None or self._client_accepts(read):
                flat = self._flat
                flat += read
                if len(flat) >= _FLUSH_AT:
                    self.recorder.flush()
        else:  # a writer reading its own write back
            self.read_backs.append((read[READ_BACK], read[ARRIVAL], read[START], read[FINISH], read[SEEN]))
        slots = self.handler_slots[h]
        if slots.waiting:  # Slots.release, inlined
            fn, arg = slots.waiting.popleft()
            fn(arg)
        else:
            slots.free += 1

    # --- clients that time out and retry ----------------------------------------
    def _client_accepts(self, read: list) -> bool:
        """An attempt finished: the client takes it unless it had already given up on it."""
        i = read[ID]
        client = self.clients.get(i)
        if client is None or read[ATTEMPT] != client[1]:
            return False  # an abandoned attempt: the server finished it for nobody
        del self.clients[i]
        read[ARRIVAL] = client[0]  # recorded as the client's read, from its first arrival
        return True

    def _client_gives_up(self, event: simpy.Event) -> None:
        attempt = event.value
        i = attempt[ID]
        client = self.clients.get(i)
        if client is None or attempt[ATTEMPT] != client[1] or not math.isnan(attempt[FINISH]):
            return  # the read is done, or this is an older attempt, or it finished in time
        self.timeout_times.append(client[0])
        self._retry_or_fail(attempt, client)

    def _retry_or_fail(self, attempt: list, client: list) -> None:
        """The client's current attempt is lost (timed out, or its server failed): retry if it may, else fail."""
        i = attempt[ID]
        if client[1] <= self.retries and (self.retry_budget is None or self.retry_budget.allow(self._next_id)):
            delay = self.backoff.delay(client[1])
            client[1] += 1
            self.retry_times.append(client[0])
            retry = new_read(i, NAN, attempt[HANDLER_TIME], attempt[QUERY_TIME], attempt[KEY], attempt[CLIENT],
                             attempt=client[1])
            retry[WAITED] = attempt[WAITED]  # the read waited for an empty pool if any attempt did
            if delay > 0:
                self.env.timeout(delay, retry).callbacks.append(lambda e: self._send_retry(e.value))
            else:
                self._send_retry(retry)
            return
        del self.clients[i]
        # the client's last attempt is lost: the read failed, now; its latency is the time it waited
        failed = attempt.copy()
        failed[ARRIVAL], failed[FINISH], failed[TIMED_OUT] = client[0], self.env.now, 1
        flat = self._flat
        flat += failed
        if len(flat) >= _FLUSH_AT:
            self.recorder.flush()

    def _read_failed(self, read: list) -> None:
        """The instance running ``read``'s query failed: the attempt ends now, in error. The handler is free;
        the client retries (``retries`` allowing) or the read failed."""
        now = self.env.now
        read[FINISH] = now  # the attempt is over: its timeout, if any, finds it finished
        h = read[HANDLER]
        self.handler_outstanding[h] -= 1
        self.reads_in_flight -= 1
        self.handler_slots[h].release()
        if read[READ_BACK]:
            return  # the writer's read-back is lost: it is not counted in read_your_writes_violations
        if self.timeout is None:  # no retries either: the read failed
            read[TIMED_OUT] = 1
            flat = self._flat
            flat += read
            if len(flat) >= _FLUSH_AT:
                self.recorder.flush()
            return
        client = self.clients.get(read[ID])
        if client is None or read[ATTEMPT] != client[1]:
            return  # the client had already given up on this attempt
        self._retry_or_fail(read, client)

    def _send_retry(self, retry: list) -> None:
        retry[ARRIVAL] = self.env.now
        h = self._pick_handler(retry)
        retry[HANDLER] = h
        self.handler_outstanding[h] += 1
        self.reads_in_flight += 1
        self.env.timeout(self.timeout, retry).callbacks.append(self._client_gives_up)
        self.handler_slots[h].acquire(self._handler_start, retry)

    def _read_back(self, event: simpy.Event) -> None:
        """The writer of version ``event.value`` reads it back, through the same path as any read: as the
        writer's client (so sticky routing takes it where that client's reads go), reading the write's first key."""
        version = event.value
        reads = self.scenario.workload.reads
        handler_time = float(reads.handler_time.sample(self._rb_times, 1)[0])
        drawn = reads.query_time.sample(self._rb_times, 1)
        own = query_time_of(self.scenario, self.architecture)
        if own != reads.query_time:  # this design's own query time, at the same quantile (see workload)
            drawn = couple(drawn, reads.query_time, own, self._rb_coupling)
        query_time = float(drawn[0])
        j = self.version_write[version]
        read = new_read(-1, self.env.now, handler_time, query_time, int(self.write_keys[j, 0]), self.write_client[j],
                        read_back=version)
        h = self._pick_handler(read)
        read[HANDLER] = h
        self.handler_outstanding[h] += 1
        self.reads_in_flight += 1
        self.handler_slots[h].acquire(self._handler_start, read)

    def _query(self, read: list) -> None:
        raise NotImplementedError

    # --- writes ---------------------------------------------------------------
    def _write_arrive(self, _event: simpy.Event) -> None:
        j = self._next_write
        self._write(j)
        j += 1
        if j < self.n_writes:
            self._next_write = j
            delay = self.write_arrival[j] - self.env.now
            self.env.timeout(delay if delay > 0 else 0.0).callbacks.append(self._write_arrive)

    def _write(self, j: int) -> None:
        raise NotImplementedError

    def _commit(self, j: int) -> int:
        """Record write ``j``'s commit now; returns the version it made."""
        self.commits += 1
        self.commit_time.append(self.env.now)
        self.write_commit[j] = self.env.now
        self.write_version[j] = self.commits
        self.version_write.append(j)
        if self.read_back is not None and self._rb_rng.random() < self.read_back.probability:
            self.env.timeout(self.read_back.after, self.commits).callbacks.append(self._read_back)
        return self.commits
