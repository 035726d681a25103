"""Progress of ``run``: per-architecture labels, and plain lines with an ETA when stderr is a log."""

from __future__ import annotations

from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.experiments.simulate import finished_label, format_eta, progress_lines

from .conftest import SCENARIOS


def test_finished_label_counts_replications_per_architecture():
    tasks = [(0, "crud"), (0, "cqrs"), (1, "crud"), (1, "cqrs"), (2, "crud"), (2, "cqrs")]
    assert finished_label(tasks, [True, True, True, False, False, False], 3) == "crud 2/3, cqrs 1/3"
    assert finished_label(tasks, [False] * 6, 3) == "crud 0/3, cqrs 0/3"


def test_format_eta():
    assert [format_eta(s) for s in (0.4, 12.3, 245, 3720)] == ["0s", "12s", "4m05s", "1h02m"]


def test_lines_at_each_tenth_and_every_few_seconds():
    now = [0.0]
    lines: list[str] = []
    tick = progress_lines("demo", lines.append, every=5.0, clock=lambda: now[0])
    tick(0.0, 10, "crud 0/5, cqrs 0/5")  # nothing yet: 0% and no time passed
    assert lines == []
    now[0] = 2.0
    tick(1.0, 10, "crud 1/5, cqrs 0/5")  # 10%: a new tenth
    assert lines == ["demo: 10% (crud 1/5, cqrs 0/5), ETA 18s"]
    now[0] = 3.0
    tick(1.5, 10, "crud 1/5, cqrs 0/5")  # same tenth, 1 s later: quiet
    assert len(lines) == 1
    now[0] = 7.5
    tick(1.5, 10, "crud 1/5, cqrs 0/5")  # same tenth, but 5 s since the last line
    assert lines[-1] == "demo: 15% (crud 1/5, cqrs 0/5), ETA 42s"
    now[0] = 30.0
    tick(10, 10, "done")
    assert lines[-1] == "demo: 100%, simulated in 30s"
    tick(10, 10, "done")
    assert len(lines) == 3


def test_simulate_reports_finished_replications():
    scenario = cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml", {"duration": "5s", "warmup": "1s", "replications": 2})
    seen: list[tuple[float, str]] = []
    cqrs_sim.simulate(scenario, progress=lambda done, total, label: seen.append((done, label)))
    archs = scenario.architectures
    assert seen[0] == (0, ", ".join(f"{a} 0/2" for a in archs))
    assert seen[-1] == (len(archs) * 2, "done")
    assert any(label == ", ".join(f"{a} 1/2" for a in archs) for _, label in seen)


def test_run_writes_plain_progress_lines_to_a_log(tmp_path):
    args = ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(tmp_path / "o"), "--no-plots", "-j", "1",
            "--set", "duration=5s", "--set", "warmup=1s", "--replications", "2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    name = cqrs_sim.load_scenario(SCENARIOS / "mmc.yaml").name
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{name}: ")]
    assert len(lines) >= 2 and lines[-1].startswith(f"{name}: 100%, simulated in ")
    assert all("ETA" in line for line in lines[:-1])
