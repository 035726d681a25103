"""Presentation: what people read, drawn from results handed in.

Holds the plain-text tables of the command line, the HTML report page, and
the plots (also reachable as ``cqrs_sim.present.plots``). Nothing here reads or
writes a result directory (that is :mod:`cqrs_sim.io`) or runs a simulation.

May import: analysis, model, workload, config, core.
"""
