"""Input and output of results: the output directory, written safely, and read back.

Holds :class:`~cqrs_sim.io.results.Results` and its saving and loading, atomic
writes and what may be replaced, what a result directory holds, the file
hashes that tie output to its input, what the plots and the report read from
a result directory, and ``report.html`` written into it.

May import: present, analysis, model, workload, config, core.
"""
