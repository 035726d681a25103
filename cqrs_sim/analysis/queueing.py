"""Queueing theory the simulator is checked against: mean waits in queue, by formula.

Erlang C (M/M/c), Pollaczek–Khinchine (M/G/1) and the Allen–Cunneen
approximation (G/G/c). Pure functions of rates and moments: this module
imports nothing of ours.
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered: float) -> float:
    """P(wait) in M/M/c with ``offered`` = λ/μ erlangs; 1 when unstable."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
        if blocking == 0.0:  # underflowed: it stays 0 for every later k
            break
    rho = offered / servers
    return blocking / (1 - rho * (1 - blocking))


def mmc_wait(rate: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C): C(c, a) / (cμ − λ); inf when unstable."""
    offered = rate * mean_service
    if offered >= servers:
        return math.inf
    return erlang_c(servers, offered) * mean_service / (servers - offered)


def mg1_wait(rate: float, mean_service: float, scv: float) -> float:
    """Mean wait in queue of M/G/1 (Pollaczek–Khinchine): ρ E[S] (1 + cs²) / (2 (1 − ρ))."""
    rho = rate * mean_service
    if rho >= 1:
        return math.inf
    return rho * mean_service * (1 + scv) / (2 * (1 - rho))


def ggc_wait(rate: float, mean_service: float, servers: int, arrival_scv: float, service_scv: float) -> float:
    """Allen–Cunneen approximation for G/G/c: Erlang C wait × (ca² + cs²) / 2 (exact for M/M/c and M/G/1)."""
    return mmc_wait(rate, mean_service, servers) * (arrival_scv + service_scv) / 2


def method(arrival_scv: float, service_scv: float, servers: int) -> str:
    """The name of the estimate ``ggc_wait`` gives for these inputs: exact formulas are named as such."""
    if arrival_scv == 1 and service_scv == 1:
        return f"Erlang C (M/M/{servers})"
    if arrival_scv == 1 and servers == 1:
        return "Pollaczek–Khinchine (M/G/1)"
    kind = ("M" if arrival_scv == 1 else "G") + "/" + ("M" if service_scv == 1 else "G") + f"/{servers}"
    return f"Allen–Cunneen approximation ({kind})"
