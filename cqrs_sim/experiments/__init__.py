"""Experiments: running scenarios, one or many.

Holds ``simulate`` (every replication and architecture on common random
numbers), the executors (a process pool or a Dask cluster), sweeps, the
capacity search, the optimizer, designs side by side, fitting distributions
to measurements, comparing two results, the built-in validation and the
run-time estimate.

May import: io, present, analysis, model, workload, config, core (the testbed, above, imports it).
"""
