"""What simulating costs on one machine class, measured: the coefficients of ``check``'s estimate (:mod:`.estimate`).

Produced by ``python benchmarks/estimate.py calibrate`` (the median of three
rounds) on a 2-core x86-64 cloud VM (AMD EPYC, Python 3.11) shared with other
work: CPU time (``time.process_time``, the least of several repeats) of
small runs that each isolate one kind of event or one feature of the read
path, a cost being the difference from the run without it divided by the
occurrences the run really had; CPU time (wait4) and peak memory (VmHWM, or
the process tree's summed resident set with workers) of the ``cqrs-sim run``
command on tiny and large scenarios. Differences below about 0.3 µs per
read are within the machine's noise (some come out as 0). Re-run it and
paste its output here when the model or the machine class changes;
``python benchmarks/estimate.py check`` compares the estimate with measured
runs.
"""

from __future__ import annotations

#: µs of CPU per occurrence; ``run``: per simulated run; ``start``, ``plots``, ``pool``: per command
MICROSECONDS: dict[str, float] = {
    "run": 6427,  # one run with no reads: building the model, its metrics and tables
    "read: database": 5.025,  # a read through crud's database
    "read: replica pool": 4.722,  # a read through cqrs's replica pool
    "read: streaming replicas": 5.151,  # a read through crud's streaming replicas
    "read: handler time": 1.48,  # more per read with handler time (mean over two designs)
    "read: keys": 0.1676,  # more per read with keys (mean over two designs)
    "read: clients": 0.4187,  # more per read with clients (mean over two designs)
    "read: timeout": 5.172,  # more per read with timeout (mean over two designs)
    "read: full recording": 0,  # more per read with full recording (mean over two designs)
    "read: diurnal rate": 0.2135,  # more per read with diurnal rate (mean over two designs)
    "read: least_outstanding balancer": 0.3442,  # more per read with least_outstanding balancer (mean over two designs)
    "read: power_of_two balancer": 0.208,  # more per read with power_of_two balancer (mean over two designs)
    "read: random balancer": 0,  # more per read with random balancer (mean over two designs)
    "read: sticky balancer": 0,  # more per read with sticky balancer (mean over two designs)
    "read: round_robin replicas": 0.2629,  # more per read with round_robin replicas (mean over two designs)
    "read: random replicas": 0.09659,  # more per read with random replicas (mean over two designs)
    "read: power_of_two replicas": 0.2969,  # more per read with power_of_two replicas (mean over two designs)
    "read: sticky replicas": 0.1677,  # more per read with sticky replicas (mean over two designs)
    "read: autoscaled pool": 1.112,  # more per read with autoscaled pool (mean over two designs)
    "read: max_lag": 0,  # more per read with max_lag (mean over two designs)
    "read: prefer_fresh replicas": 2.086,  # more per read with prefer_fresh replicas
    "writes: crud": 13.04,  # a write on CRUD's database (arrival, apply, commit, its table rows)
    "writes: cqrs": 20.47,  # a write on CQRS's write image (arrival, apply, commit, its table rows), without its rollout
    "replica applies": 2.677,  # one streaming replica applying one write
    "projection applies": 0.8204,  # one projecting replica applying one write
    "projection applies: behind": 8.542,  # one projecting replica applying one write, replicas far behind (every apply waiting as a scheduled event)
    "projection replays": 8.542,  # as a projection apply, behind
    "lag checks": 0.8204,  # as a projection apply (one scheduled timeout each)
    "rollout swaps": 19.7,  # one replica swapped in a rollout (leave, drain, replace, join, its row)
    "read-backs": 6.96,  # a writer's read-back besides its read (drawn one at a time, its row)
    "failures: crud": 11.1,  # a failure and repair of a CRUD instance
    "failures: cqrs": 14.53,  # a failure, repair and snapshot load of a CQRS replica
    "failures skipped during swaps": 7.264,  # half a CQRS failure (2 of its 4 events)
    "stalls": 8.503,  # a stall of a streaming replica (expected count)
    "autoscaler decisions": 4.226,  # one autoscaler decision and its row
    "visibility pairs": 0.01392,  # a (write, read after it) pair of the visibility curve
    "visibility writes": 6.916,  # a write in the visibility curve's loop
    "start": 1.995e+06,  # the command: imports, loading, writing a tiny result
    "plots": 1.364e+06,  # drawing the plots of a tiny result
    "kept requests": 1.568,  # a request kept in the result: tables, files
    "plotted requests": 0.6711,  # a kept request in the plots
    "results": 0,  # writing a result that is not tiny
    "pool": 1.134e+06,  # starting two worker processes (CPU of all of them)
}

#: bytes of peak memory, summed over the command's processes
BYTES: dict[str, float] = {
    "base": 2.124e+08,  # the command with a tiny result
    "plots": 4.554e+07,  # drawing the plots
    "results": 0,
    "kept request": 297.1,  # a request kept in the result
    "read in flight": 297.5,  # a read waiting in the system (the largest backlog of an overloaded run)
    "pending event": 559.3,  # an event scheduled and waiting (a projection apply far behind)
    "worker": 1.472e+08,  # a worker process holding one run
}
