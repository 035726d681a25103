"""SIGINT or SIGTERM during `cqrs-sim run` stops it within about a second and leaves nothing half-written.

Each case starts a real process on a scenario that takes tens of seconds,
waits until it is simulating, signals it, and checks the exit code, the
message, the time to stop, and that neither the output directory nor a
staging directory exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, SCENARIOS


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_signal_stops_run_cleanly(tmp_path, signum, code, jobs):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cqrs_sim", "run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "-j", jobs,
           "--set", "duration=3h"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    time.sleep(5)  # imports, workers, well into the simulation
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    stopped_after = time.monotonic() - sent
    assert proc.returncode == code, stderr
    assert stopped_after < 2.5, f"took {stopped_after:.1f}s to stop"
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no staging directory either


def test_interrupted_sweep_keeps_finished_points_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "cqrs_sim", "sweep", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "-j", "2", "--no-plots",
           "--vary", "cqrs.replicas.count=2,3,4,5,6,7,8,9,10,11,12,13", "--set", "duration=8m", "--set", "replications=1",
           "--set", "warmup=30s"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    points = out / "points"
    deadline = time.monotonic() + 120
    while not (points.exists() and len([p for p in points.iterdir() if not p.name.startswith(".")]) >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - sent < 2.5, stderr
    kept = sorted(p.name for p in points.iterdir())
    assert len(kept) >= 2 and not [name for name in kept if name.startswith(".")]  # whole points only
    for name in kept:
        assert (points / name / "summary.csv").exists()
    resumed = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(kept)} already done" in resumed.stdout
