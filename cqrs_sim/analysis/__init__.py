"""Analysis: from a run's record to numbers, and from numbers to a verdict.

Holds the queueing formulas (which import nothing of ours) and the offered
loads, the tables of a result, the summary metrics and their definitions,
the visibility curve, the service-level objectives and the verdict.

May import: model, workload, config, core.
"""
