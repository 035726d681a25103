"""Client retries: exponential backoff with optional jitter, and a retry budget.

Backoff: the n-th retry waits ``retry_backoff × 2^(n−1)``; with
``retry_jitter: full`` it waits a uniform draw from [0, that] instead (the
"full jitter" of AWS's backoff study), drawn from a stream of its own, so
retries that failed together do not come back together.

The budget is a token bucket as gRPC's retry throttling and Finagle's
``RetryBudget`` keep one: every client read that arrives deposits ``ratio``
tokens, up to ``burst``; a retry takes one token, and without a whole token
the client does not retry (the attempt it lost is its read's failure). So
over any interval retries ≤ ratio × reads arrived + burst: the retry
amplification is at most ``ratio`` in the long run, whatever the failures.

Why it matters (the offered-load condition). A pool of c connections
serving reads of mean service S at arrival rate λ is stable when
λ·S < c. If a share of attempts is lost and retried, each read costs
1 + a attempts on average (a, the retry amplification, retries per read)
and an attempt the client gave up on still occupies its connection until
the server finishes it, so the pool sees λ·(1 + a) attempts a second and
is stable only if λ·(1 + a)·S < c. Once the pool is overloaded, queueing
makes attempts time out, which raises a, which raises the load: with
``retries`` r and every attempt timing out, a = r, and the state
λ·(1 + r)·S ≥ c sustains itself after the failure that started it is
repaired (a metastable failure). A budget caps a at ``ratio``: when
λ·(1 + ratio)·S < c the overload cannot sustain itself and the pool
drains once its capacity is back.

The deposits cost nothing per read: the bucket is brought up to date from
the count of reads arrived when a retry asks for a token.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


class RetryBudget:
    """Tokens for retries: ``ratio`` per client read arrived, at most ``burst``; a retry spends one."""

    def __init__(self, ratio: float, burst: float):
        self.ratio = ratio
        self.burst = burst
        self.tokens = burst  #: a full bucket at the start
        self.counted = 0  #: client reads whose deposit is in ``tokens``
        self.denied = 0  #: retries the budget refused

    def allow(self, arrived: int) -> bool:
        """May a client retry now, ``arrived`` client reads having arrived so far? Spends a token if so."""
        self.tokens = min(self.burst, self.tokens + self.ratio * (arrived - self.counted))
        self.counted = arrived
        if self.tokens >= 1.0 - 1e-9:  # a whole token, up to the rounding of its deposits
            self.tokens -= 1.0
            return True
        self.denied += 1
        return False


class Backoff:
    """The wait before a client's n-th retry: ``base × 2^(n−1)``, or (jitter) a uniform draw below it."""

    def __init__(self, base: float, rng: Optional[np.random.Generator]):
        self.base = base
        self.rng = rng  #: None: no jitter

    def delay(self, n: int) -> float:
        longest = self.base * 2 ** (n - 1)
        if self.rng is None or longest <= 0:
            return longest
        return float(self.rng.uniform(0.0, longest))
