"""Speed benchmark: cost per request against a textbook SimPy M/M/4 in the same process.

(a) textbook SimPy: one process per customer, ``simpy.Resource``, M/M/4 at
    ρ = 0.9, 200,000 customers, waits recorded in a list;
(b) ``cqrs_sim.simulate`` on benchmarks/speed_cqrs.yaml, cqrs only, full recording,
    summary computed; (c) the same scenario as crud.
Prints seconds per request and the ratios b/a and c/a (target: b/a <= 0.6).
With ``--sessions`` (b) and (c) also run with 10,000 Zipf-popular keys, one key per write and 1,000 clients
(target: b/a < 0.75). With ``--shop`` (b) also runs as the online-shop catalogue reads it: 50,000 Zipf-popular
keys, 20,000 clients, one key per write and half the writers reading their write back a second later; it prints
the cost per read against plain (b) (target: within 1.5x). With ``--profile`` it prints where plain (b)'s time
goes (cProfile, the top entries by own time). Run by hand:
``python benchmarks/speed.py [--repeat N] [--sessions] [--shop] [--profile]``; machine noise is ±10-25%, so compare
ratios from one run.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import simpy

import cqrs_sim

HERE = Path(__file__).resolve().parent


def textbook_mmc(customers: int = 200_000, servers: int = 4, rho: float = 0.9, seed: int = 1) -> float:
    """Seconds of wall time for a process-per-customer SimPy M/M/c."""
    rng = random.Random(seed)
    mean_service = 1.0
    rate = rho * servers / mean_service
    env = simpy.Environment()
    resource = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer(env):
        arrived = env.now
        with resource.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(1 / mean_service))

    def source(env):
        for _ in range(customers):
            yield env.timeout(rng.expovariate(rate))
            env.process(customer(env))

    began = time.perf_counter()
    env.process(source(env))
    env.run()
    elapsed = time.perf_counter() - began
    assert len(waits) == customers
    return elapsed


SESSIONS = {"workload.keys": {"count": 10_000, "popularity": {"zipf": 1.0}}, "workload.reads.clients": 1_000}
SHOP = {"workload.keys": {"count": 50_000, "popularity": {"zipf": 1.0}}, "workload.reads.clients": 20_000,
        "workload.writes.keys": {"count": 1, "choose": "popularity"},
        "workload.writes.read_back": {"probability": 0.5, "after": 1.0}}


def simulated(architecture: str, record: str = "full", sessions: bool = False, shop: bool = False) -> tuple[float, int]:
    overrides = {"architectures": [architecture], **(SESSIONS if sessions else {}), **(SHOP if shop else {})}
    if "record" in cqrs_sim.Scenario.model_fields:
        overrides["record"] = record
    scenario = cqrs_sim.load_scenario(HERE / "speed_cqrs.yaml", overrides)
    began = time.perf_counter()
    results = cqrs_sim.simulate(scenario)
    results.summary()
    elapsed = time.perf_counter() - began
    reads = int(results.summary().set_index("metric")["mean"]["reads_completed"])
    return elapsed, reads


def warm_up() -> None:
    """One tiny run of each architecture first: the library imports pandas, SciPy and the model on first use,
    and that one-off cost (about a second) is not a per-read cost."""
    scenario = cqrs_sim.load_scenario(HERE / "speed_cqrs.yaml", {"duration": 1.0, "warmup": 0.0})
    cqrs_sim.simulate(scenario).summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--sessions", action="store_true", help="also run with keys and clients on")
    parser.add_argument("--shop", action="store_true", help="also run (b) with 50,000 keys, 20,000 clients, read-backs")
    parser.add_argument("--profile", action="store_true", help="profile plain (b): the top entries by own time")
    args = parser.parse_args()
    warm_up()
    if args.profile:
        profile()
    for _ in range(args.repeat):
        a = textbook_mmc() / 200_000
        b_time, b_reads = simulated("cqrs")
        c_time, c_reads = simulated("crud")
        b, c = b_time / b_reads, c_time / c_reads
        print(f"(a) textbook SimPy M/M/4:   {a * 1e6:7.2f} us/customer")
        print(f"(b) cqrs_sim cqrs ({b_reads:,} reads): {b * 1e6:7.2f} us/read   b/a = {b / a:.2f}  (target <= 0.6)")
        print(f"(c) cqrs_sim crud ({c_reads:,} reads): {c * 1e6:7.2f} us/read   c/a = {c / a:.2f}")
        if args.sessions:
            d_time, d_reads = simulated("cqrs", sessions=True)
            e_time, e_reads = simulated("crud", sessions=True)
            d, e = d_time / d_reads, e_time / e_reads
            print(f"(b') (b) with keys + clients: {d * 1e6:7.2f} us/read   b'/a = {d / a:.2f}  (target < 0.75)")
            print(f"(c') (c) with keys + clients: {e * 1e6:7.2f} us/read   c'/a = {e / a:.2f}")
        if args.shop:
            f_time, f_reads = simulated("cqrs", shop=True)
            f = f_time / f_reads
            print(f"(b'') (b) as the shop reads it (50,000 keys, 20,000 clients, read-backs): {f * 1e6:7.2f} us/read   "
                  f"b''/b = {f / b:.2f}  (target <= 1.5)")


def profile(top: int = 15) -> None:
    """Where plain (b)'s time goes: cProfile of one run, the entries with the most own time."""
    import cProfile
    import pstats

    scenario = cqrs_sim.load_scenario(HERE / "speed_cqrs.yaml", {"architectures": ["cqrs"], "record": "full"})
    profiler = cProfile.Profile()
    profiler.enable()
    cqrs_sim.simulate(scenario).summary()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    main()
