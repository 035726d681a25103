"""The ``cqrs-sim`` command: a thin front over load_scenario, simulate and Results.save.

One module per command (:mod:`.run`, :mod:`.check`, :mod:`.plot` with
``report``, :mod:`.sweep`, :mod:`.capacity`, :mod:`.optimize`,
:mod:`.testbed`, :mod:`.compare`, :mod:`.validate`, :mod:`.schema`,
:mod:`.fit`); what they share is :mod:`.common`, the progress display
:mod:`.progress`, the signal handling :mod:`.signals`, the entry :mod:`.main`.

Exit codes: 0 done; 2 bad input (one ``error: FILE:LINE:COL: path: message``
line per problem on stderr); 1 a bug (one line, the traceback saved to a file);
130 / 143 stopped by SIGINT / SIGTERM (see :func:`.main.main`).

Importing it stays fast (no pandas, SciPy, SimPy or matplotlib): each command
imports what it runs when it runs. May import every layer.
"""

from .common import app

# importing each command's module registers it on `app`: in this order, the order `--help` lists them
from . import run, check, plot, sweep, capacity, optimize, testbed, compare, validate, schema, fit  # isort: skip
from .main import main

#: the command modules, in `--help` order
COMMANDS = (run, check, plot, sweep, capacity, optimize, testbed, compare, validate, schema, fit)

__all__ = ["COMMANDS", "app", "main"]
