"""CPU sharing benchmark: where the model's "connections serve in parallel" stops holding for real queries.

The model gives CRUD ``crud.connections`` servers that serve in parallel,
each at the query time's rate. With ``testbed.work: queries`` a read's
service is the server's own CPU, and this machine has ``os.cpu_count()``
cores (2 here), shared with the client and with whatever else runs: more
connections than cores share the CPU, and the model's assumption stops
holding. This measures by how much.

For each ``crud.connections`` c in 1, 2, 4, 8 and each load ρ (per
connection, of the measured service time S) in a low and a high one, it
plays a keyed read-only workload of real queries (``cqrs-sim testbed``'s
run, Poisson arrivals at λ = ρ c / S) and prints the measured mean read
latency beside three predictions from S, measured once at low load by
``--calibrate`` (mean and squared coefficient of variation):

* ``M/M/c``: S + Erlang C's mean wait;
* ``M/G/c``: S + the Allen–Cunneen wait with the measured scv (exact for c = 1);
* ``sim``: the simulator run on the calibrated scenario at the same λ and c.

A ratio measured / prediction near 1 says the model holds; far above 1
says the cores, not the connections, are the servers. The machine's load
average is printed before and after each run: on a shared machine other
work takes cores too.

Run by hand: ``python benchmarks/cpu_sharing.py`` (needs the testbed
extra; about 2 minutes at ``--duration 8``).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import cqrs_sim
from cqrs_sim.analysis.queueing import ggc_wait, mmc_wait
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
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--loads", type=float, nargs="+", default=[0.2, 0.7], help="ρ per connection")
    args = parser.parse_args(argv)
    items = args.items or Scenario.model_fields["testbed"].default.items_per_key

    print(f"cores {os.cpu_count()}; load average {_load()}; items_per_key {items}, keys {args.keys}")
    cal = calibrate(scenario(1, 1.0, 1.0, items, args.keys))
    read = next(p for p in cal.parts if p.name == "read")
    s, scv = float(read.values.mean()), float(read.values.var() / read.values.mean() ** 2)
    print(f"service time S at low load (calibration, {len(read.values)} reads one at a time): mean {s * 1e3:.3f} ms, "
          f"scv {scv:.3f}, p99 {np.quantile(read.values, 0.99) * 1e3:.3f} ms; load average {_load()}")
    fitted = cal.fitted
    print(f"{'c':>2} {'rho':>4} {'rate/s':>7} {'measured':>9} {'M/M/c':>8} {'M/G/c':>8} {'sim':>8} "
          f"{'meas/MGc':>8} {'meas/sim':>8}  load before -> after")
    for c in args.connections:
        for rho in args.loads:
            rate = rho * c / s
            before = _load()
            measured = run_testbed(scenario(c, rate, args.duration, items, args.keys))
            after = _load()
            got = float(measured.summary().set_index("metric")["mean"]["read_latency_mean"])
            mmc = s + mmc_wait(rate, s, c)
            mgc = s + ggc_wait(rate, s, c, 1.0, scv)
            data = cqrs_sim.config.resolved.resolved_dict(fitted)
            data["workload"]["reads"]["rate"] = rate
            data["crud"]["connections"] = c
            data["duration"] = max(args.duration, 20.0)
            data["replications"] = 3
            sim = cqrs_sim.simulate(Scenario.model_validate(data, context={"base": "."}), jobs=1)
            predicted = float(sim.summary().set_index("metric")["mean"]["read_latency_mean"])
            print(f"{c:>2} {rho:>4.1f} {rate:>7.0f} {got * 1e3:>7.2f}ms {mmc * 1e3:>6.2f}ms {mgc * 1e3:>6.2f}ms "
                  f"{predicted * 1e3:>6.2f}ms {got / mgc:>8.2f} {got / predicted:>8.2f}  {before} -> {after}",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
