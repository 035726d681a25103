"""``python -m cqrs_sim`` runs the command line (``cqrs-sim``, which also handles signals while importing)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
