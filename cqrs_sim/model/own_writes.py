"""Read-your-writes routing: a client's reads soon after its own write go to the primary.

What frameworks ship for a primary with streaming replicas (Rails'
automatic role switching reads from the primary for 2 s after a write):
for ``crud.read_your_writes_window`` seconds after a client's write
commits, that client's reads (its read-backs too) go to the primary, which
holds every commit, instead of a replica that may lag. The decision is
taken when the read reaches the database tier (after the handler), from the
client's newest commit so far.

Why it works, and what it costs. A replica applies commit k at commit_k +
lag_k (and in commit order), so a read sent t after its client's write sees
it if t ≥ the replica's lag. With a window w ≥ the lag's maximum, every read
a client sends within w of its write goes to the primary and every later
one finds the write applied: no read-your-writes violation is left. The
primary's extra load is the share of reads inside a window: with writes at
rate μ from K clients chosen uniformly (so each client writes at μ/K, a
Poisson process) and reads arriving independently of writes, a read falls
within w of its client's last write with probability 1 − exp(−μ·w / K).

Off (the default), nothing here runs: the read path is the replica pool's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .read import CLIENT

if TYPE_CHECKING:
    from .crud_replicas import CrudReplicatedModel


class OwnWrites:
    """Routes each read to the primary within ``window`` after its client's newest commit, else to the replicas."""

    def __init__(self, model: "CrudReplicatedModel", window: float, primary: Callable[[list], None],
                 replicas: Callable[[list], None]):
        self.env = model.env
        self.window = window
        self.primary = primary
        self.replicas = replicas
        self.last_commit: dict[int, float] = {}  #: client -> when its newest write committed
        self.to_primary = 0  #: reads (read-backs included) sent to the primary

    def committed(self, client: int) -> None:
        self.last_commit[client] = self.env.now

    def query(self, read: list) -> None:
        if self.env.now - self.last_commit.get(read[CLIENT], -math.inf) < self.window:
            self.to_primary += 1
            self.primary(read)
        else:
            self.replicas(read)
