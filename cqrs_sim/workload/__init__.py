"""Workload: what arrives, drawn from named random streams.

Holds the named random streams, the workload's draws (arrivals, service
times, writes), the keys each read and write touches, and the session
guarantees a read is counted against.

May import: config, core.
"""
