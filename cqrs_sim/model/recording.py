"""The record of a run: what a model leaves behind after ``env.run()``, and the parts each architecture provides.

:class:`Recording` is the part of :class:`~.frontend.Frontend` that turns a
finished run into its :class:`~.record.RunRecord`: the reads the recorder
kept, the writes, the swaps, read-backs, timeouts, retries, outages. The
architectures override the parts they have (a replica pool's swaps, the
instances a rollout builds, the times the pool was empty).
"""

from __future__ import annotations

import numpy as np

from .record import RunRecord


class Recording:
    """What a finished run leaves behind (mixed into :class:`~.frontend.Frontend`, whose state it reads)."""

    def record(self) -> RunRecord:
        """What the run leaves behind; call once, after ``env.run()``. The one way results leave a model."""
        first, every = self.visibility()
        aggregates = self.recorder.aggregates()
        return RunRecord(
            architecture=self.architecture,
            replication=self.replication,
            reads=self.recorder.columns(),
            aggregates=aggregates,
            reads_recorded=self._next_id,
            writes=self.write_columns(),
            commit_time=np.asarray(self.commit_time, dtype=float),
            first_visible=first,
            all_visible=every,
            swaps=self.swap_columns(),
            capacity=self.capacity,
            write_weight=self.busy_weight_of_writes(),
            replica_count=self.replica_count,
            end_time=float(self.env.now),
            stopped_at=self.stopped_at,
            instances=self.instances,
            read_backs=self.read_back_columns(),
            timeout_times=np.asarray(self.timeout_times, dtype=float),
            retry_times=np.asarray(self.retry_times, dtype=float),
            extra_instances=self.extra_instance_columns(),
            write_keys=self.write_keys if self.scenario.workload.keys is not None else None,
            empty_pool=self.empty_pool_columns(),
            outages=self.outage_log,
            write_client=(np.asarray(self.write_client, dtype=np.int64)
                          if self.scenario.workload.reads.clients is not None else None),
        )

    # What each architecture provides for its record:
    def visibility(self) -> tuple[np.ndarray, np.ndarray]:
        """first_visible and all_visible by version (index 0: the initial data)."""
        raise NotImplementedError

    @property
    def capacity(self) -> int:
        """Connections that serve reads: the database's, or the replica pool's."""
        raise NotImplementedError

    def busy_weight_of_writes(self) -> float:
        """Connections of that capacity a write occupies while it applies (for db_utilization)."""
        raise NotImplementedError

    @property
    def replica_count(self) -> int:
        """Servers reads go to: the replicas, or 1 (a single database)."""
        return 1

    @property
    def instances(self) -> int:
        """Database instances always running."""
        return 1

    def swap_columns(self) -> dict[str, np.ndarray]:
        """replica, out, back, version of each replica swap (none unless rollouts swap replicas)."""
        empty_f = np.empty(0, dtype=float)
        return {"replica": np.empty(0, dtype=np.int32), "out": empty_f, "back": empty_f,
                "version": np.empty(0, dtype=np.int64)}

    def extra_instance_columns(self) -> dict[str, np.ndarray]:
        """start, end of database instances built beside the running ones (none unless rollouts build them)."""
        return {}

    def empty_pool_columns(self) -> dict[str, np.ndarray]:
        """start, end of each time reads had no server to go to (none unless servers leave)."""
        return {}

    def read_back_columns(self) -> dict[str, np.ndarray]:
        rows = self.read_backs
        return {
            "version": np.asarray([r[0] for r in rows], dtype=np.int64),
            "arrival": np.asarray([r[1] for r in rows], dtype=float),
            "start": np.asarray([r[2] for r in rows], dtype=float),
            "finish": np.asarray([r[3] for r in rows], dtype=float),
            "version_seen": np.asarray([r[4] for r in rows], dtype=np.int64),
        }

    def write_columns(self) -> dict[str, np.ndarray]:
        return {
            "arrival": np.asarray(self.write_arrival, dtype=float),
            "start": np.asarray(self.write_start, dtype=float),
            "commit": np.asarray(self.write_commit, dtype=float),
            "version": np.asarray(self.write_version, dtype=np.int64),
        }
