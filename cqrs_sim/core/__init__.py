"""Core: the small building blocks every layer shares.

Holds the named errors users meet, safe display of user text, confidence
intervals read as numbers, time bins, streaming histograms and password
redaction.

May import: nothing else of ours (the standard library, numpy).
"""
