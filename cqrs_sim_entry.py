"""The ``cqrs-sim`` console script: SIGINT and SIGTERM are handled from its first instant.

Importing cqrs_sim takes seconds (pandas, SciPy, Matplotlib). A signal in that
window must end the command like one at any later moment: exit status 130
(SIGINT) or 143 (SIGTERM), one line, no traceback. Nothing has started yet,
so there is nothing to clean up and the process exits at once. This module
lives outside the package because importing anything inside it first runs
the package's heavy ``__init__``; it imports only the standard library until
the handlers are in place. ``cqrs_sim.cli.main`` then installs the handlers
that clean up.
"""

import os
import signal
import sys


def _exit_while_starting(signum: int, _frame) -> None:
    os.write(2, f"interrupted ({signal.Signals(signum).name}) while starting: nothing was done\n".encode())
    os._exit(128 + signum)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_while_starting)
    from cqrs_sim.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
