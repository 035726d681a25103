"""CPU sharing benchmark: where the model's "connections serve in parallel" stops holding for real queries.

The model gives CRUD ``crud.connections`` servers that serve in parallel,
each at the query time's rate. With ``testbed.work: queries`` a read's
service is the server's own CPU, and this machine has ``os.cpu_count()``
cores (2 here), shared with the client and with whatever else runs: more
connections than cores share the CPU, and the model's assumption stops
holding. This measures by how much.

For each ``crud.connections`` c in 1, 2, 4, 8 and each offered load
(λ·S₀, in cores' worth of server work, from the service time S₀ measured
once at the start, or given by ``--s0`` so that sessions on a machine
whose load differs offer the same rates: 0.2, 0.7 and 1.4 by default; a load the model itself
calls unstable, λ·S₀ ≥ c, is skipped) it plays a keyed read-only workload
of real queries (``cqrs-sim testbed``'s run, Poisson arrivals) and prints
the measured mean read latency beside three predictions from the service
time S measured right before that run by ``--calibrate`` (100 reads one at
a time: its mean and squared coefficient of variation; measured anew for
each run because other work on a shared machine changes it):

* ``M/M/c``: S + Erlang C's mean wait;
* ``M/G/c``: S + the Allen–Cunneen wait with the measured scv (exact for c = 1);
* ``sim``: the simulator at the same λ and c, its query time a gamma of that mean and scv.

Beside them: λ·S₀, the cores' worth of server work offered (the model
needs λ·S < c; the machine, λ·S < its cores less what else runs), S, and
the client's own CPU (this process's CPU seconds per second of the run: the
load generator takes a core's share too).

A ratio measured / prediction near 1 says the model holds; far above 1
says the cores, not the connections, are the servers. The machine's load
average is printed before and after each run: on a shared machine other
work takes cores too.

Run by hand: ``python benchmarks/cpu_sharing.py`` (needs the testbed
extra; about 4 minutes at ``--duration 8``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cqrs_sim
from cqrs_sim.analysis.queueing import ggc_wait, mmc_wait
from cqrs_sim.config.resolved import resolved_dict
from cqrs_sim.config.scenario import Scenario
from cqrs_sim.testbed import run_testbed
from cqrs_sim.testbed.calibrate import calibrate


def scenario(connections: int, rate: float, duration: float, items: int, keys: int) -> Scenario:
    return Scenario.model_validate({
        "name": "cpu_sharing", "duration": duration, "seed": 5, "replications": 1, "architectures": ["crud"],
        "record": "full",
        "workload": {"reads": {"rate": rate, "query_time": {"dist": "exponential", "mean": 0.002}},
                     "keys": {"count": keys, "popularity": "uniform"}},
        "handlers": {"count": 1, "concurrency": 512},
        "crud": {"connections": connections, "locking": "mvcc"},
        "testbed": {"work": "queries", "items_per_key": items},
    }, context={"base": "."})


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of real time per run")
    parser.add_argument("--items", type=int, default=None, help="testbed.items_per_key (default: the schema's)")
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--s0", type=float, default=None,
                        help="S0 in seconds, to offer the same rates in every session (default: measured)")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--loads", type=float, nargs="+", default=[0.2, 0.7, 1.4],
                        help="offered load λ·S0, in cores' worth of server work")
    args = parser.parse_args(argv)
    items = args.items or Scenario.model_fields["testbed"].default.items_per_key

    print(f"cores {os.cpu_count()}; load average {_load()}; items_per_key {items}, keys {args.keys}")
    if args.s0 is None:
        s0, _ = service(items, args.keys)
        print(f"S0 (calibration, 100 reads one at a time): mean {s0 * 1e3:.3f} ms; load average {_load()}")
    else:
        s0 = args.s0
    print(f"{'c':>2} {'lam*S0':>6} {'rate/s':>7} {'S':>7} {'client':>6} {'measured':>9} {'M/M/c':>8} "
          f"{'M/G/c':>8} {'sim':>8} {'meas/MGc':>8} {'meas/sim':>8}  load before -> after")
    for c in args.connections:
        for offered in args.loads:
            if offered >= c:
                continue
            rate = offered / s0
            s, scv = service(items, args.keys)
            before = _load()
            cpu, wall = time.process_time(), time.perf_counter()
            measured = run_testbed(scenario(c, rate, args.duration, items, args.keys))
            client = (time.process_time() - cpu) / (time.perf_counter() - wall)
            after = _load()
            got = float(measured.summary().set_index("metric")["mean"]["read_latency_mean"])
            mmc = s + mmc_wait(rate, s, c)
            mgc = s + ggc_wait(rate, s, c, 1.0, scv)
            predicted = simulated(c, rate, s, scv, max(args.duration, 20.0), items, args.keys)
            print(f"{c:>2} {offered:>6.1f} {rate:>7.0f} {s * 1e3:>5.2f}ms {client:>6.2f} {got * 1e3:>7.2f}ms "
                  f"{mmc * 1e3:>6.2f}ms {mgc * 1e3:>6.2f}ms {predicted * 1e3:>6.2f}ms {got / mgc:>8.2f} "
                  f"{got / predicted:>8.2f}  {before} -> {after}", flush=True)


def service(items: int, keys: int) -> tuple[float, float]:
    """Mean and squared coefficient of variation of a read's service time, measured one at a time (``--calibrate``)."""
    read = next(p for p in calibrate(scenario(1, 1.0, 1.0, items, keys)).parts if p.name == "read")
    return float(read.values.mean()), float(read.values.var() / read.values.mean() ** 2)


def simulated(connections: int, rate: float, mean: float, scv: float, duration: float, items: int,
              keys: int) -> float:
    """The simulator's mean read latency for ``connections`` servers at ``rate``, service gamma(mean, scv)."""
    data = resolved_dict(scenario(connections, rate, duration, items, keys))
    data["crud"]["query_time"] = {"dist": "gamma", "mean": mean, "cv": scv ** 0.5}
    data["replications"] = 3
    results = cqrs_sim.simulate(Scenario.model_validate(data, context={"base": "."}), jobs=1)
    return float(results.summary().set_index("metric")["mean"]["read_latency_mean"])

if __name__ == "__main__":
    main(sys.argv[1:])
