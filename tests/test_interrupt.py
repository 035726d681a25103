"""SIGINT or SIGTERM during `cqrs-sim run` or `sweep` stops it cleanly and leaves nothing half-written.

Each case starts a real process on a scenario that takes minutes, waits until
it is simulating (the CLI touches $CQRS_SIM_READY_FILE at its first progress
report: see tests/test_processes.py, which also covers process groups,
`capacity` and leftover processes), signals it, and checks the exit code,
the message, and that neither the output directory nor a staging directory
exists. No case depends on how fast the machine is: every wait is for a file,
with a generous deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from .conftest import ROOT
from .test_processes import CODES, DEADLINE, ENTRY, NETFLIX, descendants, finish, hidden_entries, start, wait_until


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_signal_stops_run_cleanly(tmp_path, signum, jobs):
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    proc = start(ENTRY + ["run", NETFLIX, "-o", str(out), "-j", jobs, "--set", "duration=3h"], ready)
    wait_until(ready.exists, "readiness file", proc)
    watched = descendants(proc.pid)
    proc.send_signal(signum)
    _, stderr = finish(proc, watched)
    assert proc.returncode == CODES[signum], stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ready"]  # no staging directory either


def test_interrupted_sweep_keeps_finished_points_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    cmd = ENTRY + ["sweep", NETFLIX, "-o", str(out), "-j", "2", "--no-plots",
                   "--vary", "cqrs.replicas.count=2,3,4,5,6,7,8,9,10,11,12,13", "--set", "duration=8m",
                   "--set", "replications=1", "--set", "warmup=30s"]
    proc = start(cmd)
    points = out / "points"

    def two_points_done() -> bool:
        return points.exists() and len([p for p in points.iterdir() if not p.name.startswith(".")]) >= 2

    wait_until(two_points_done, "two finished points", proc)
    watched = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, stderr = finish(proc, watched)
    assert proc.returncode == 130, stderr
    kept = sorted(p.name for p in points.iterdir())
    assert len(kept) >= 2 and not hidden_entries(out)  # whole points only
    for name in kept:
        assert (points / name / "summary.csv").exists()
    resumed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE * 2)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} already done" in resumed.stdout


def test_signal_while_plotting_says_the_results_are_saved(tmp_path):
    """A signal after the data is committed (here: while plots are drawn) must not claim nothing was left.

    A real process runs `cqrs-sim run` whose plotting step sends the process
    SIGTERM and then waits for it; the data is already in place at that
    moment, so the message names the complete directory and how to draw the plots.
    """
    out = tmp_path / "out"
    script = tmp_path / "plot_interrupted.py"
    script.write_text(
        "import os, signal, sys\n"
        "import cqrs_sim.cli as cli\n"
        "import cqrs_sim.cli.run as run_command\n"
        "def interrupted(*_args, **_kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # delivered before kill() returns; its handler raises at once\n"
        "    raise AssertionError('the signal did not interrupt the plotting step')\n"
        "run_command._draw_plots = interrupted\n"
        f"sys.argv = ['cqrs-sim', 'run', {str(ROOT / 'scenarios' / 'mmc.yaml')!r}, '-o', {str(out)!r}, '-j', '1',\n"
        "            '--replications', '1', '--set', 'duration=60s']\n"
        "sys.exit(cli.main())\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 143, proc.stderr
    assert "after the results were saved" in proc.stderr and f"cqrs-sim plot {out}" in proc.stderr, proc.stderr
    assert "no partial result directory" not in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "manifest.json").is_file() and (out / "requests.parquet").is_file()
