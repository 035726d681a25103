"""Start-up benchmark: what importing the command costs, against the interpreter's own start.

For each target, ``python -X importtime -c "import TARGET"`` runs in a fresh
process and the cumulative import time of the target's top-level imports is
read from its report; the same command measures ``python -c pass`` (the
interpreter starting, with site) by wall clock. Targets: ``cqrs_sim.cli``
(what ``cqrs-sim --help`` and ``schema`` load) and the modules ``check``
needs (loader, analytic, report). Also the wall time of the three commands
themselves, started as ``python -m cqrs_sim``, by wall clock and by CPU time
(user + system, which a machine busy with other work inflates far less than
the wall clock). Each number is the best of ``--repeat`` runs, since a loaded
machine only ever adds time.
Run by hand: ``python benchmarks/import_time.py [--repeat N]`` (target: under 0.5 s of import time).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "cqrs_sim.cli": "import cqrs_sim.cli",
    "check's modules": "import cqrs_sim.config.loader, cqrs_sim.analysis.analytic, cqrs_sim.present.report",
}
COMMANDS = {
    "cqrs-sim --help": ["--help"],
    "cqrs-sim schema": ["schema"],
    "cqrs-sim check scenarios/netflix.yaml": ["check", str(ROOT / "scenarios" / "netflix.yaml")],
}
HEAVY = ("pandas", "scipy", "matplotlib", "simpy", "pyarrow")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    start, cpu = time.perf_counter(), _cpu_of_children()
    subprocess.run(argv, check=True, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu_of_children() - cpu


def _best(argv: list[str], repeat: int) -> tuple[float, float]:
    runs = [_run(argv) for _ in range(repeat)]
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def import_seconds(code: str) -> tuple[float, list[str]]:
    """Cumulative seconds of the top-level imports ``code`` makes (after start-up), and the heavy packages among all."""
    report = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True, env=_env(),
                            capture_output=True, text=True).stderr.splitlines()
    lines = [line.split("|") for line in report if line.startswith("import time:") and "self [us]" not in line]
    names = [parts[2].rstrip() for parts in lines]
    last_site = max(i for i, name in enumerate(names) if name.strip() == "site")
    total = sum(int(parts[1]) for parts, name in zip(lines[last_site + 1:], names[last_site + 1:])
                if not name.startswith("  "))  # top level: its cumulative time includes everything below it
    heavy = sorted({name.strip().split(".")[0] for name in names} & set(HEAVY))
    return total / 1e6, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best is reported")
    args = parser.parse_args()

    startup, startup_cpu = _best([sys.executable, "-c", "pass"], args.repeat)
    print(f"python -c pass (interpreter start-up): {startup:.3f} s wall, {startup_cpu:.3f} s CPU")
    for label, code in TARGETS.items():
        runs = [import_seconds(code) for _ in range(args.repeat)]
        best = min(seconds for seconds, _ in runs)
        cpu = _best([sys.executable, "-c", code], args.repeat)[1] - startup_cpu
        heavy = ", ".join(runs[0][1]) or "none"
        print(f"import {label}: {best:.3f} s (-X importtime) = {best / startup:.1f} x start-up; "
              f"{cpu:.3f} s CPU beyond start-up; heavy packages loaded: {heavy}")
    for label, argv in COMMANDS.items():
        wall, cpu = _best([sys.executable, "-m", "cqrs_sim", *argv], args.repeat)
        print(f"{label}: {wall:.3f} s wall = {wall / startup:.1f} x start-up; {cpu:.3f} s CPU = {cpu / startup_cpu:.1f} x start-up")


if __name__ == "__main__":
    main()
