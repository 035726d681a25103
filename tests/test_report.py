"""report.html: self-contained, with the table, every plot and a verdict written from the numbers."""

from __future__ import annotations

import re

import pandas as pd
from typer.testing import CliRunner

from cqrs_sim import plots
from cqrs_sim.cli import app
from cqrs_sim.verdict import verdict

from .conftest import SCENARIOS


def test_run_report_is_self_contained(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "netflix.yaml"), "-o", str(out), "--replications", "2", "-j", "1", "--report",
            "--set", "duration=4m", "--set", "warmup=20s", "--set", "workload.writes.interval=90s",
            "--set", "workload.writes.apply_time=30s"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "<h2>Verdict</h2>" in page and "netflix-catalog" in page
    assert page.count("src='data:image/png;base64,") == len(plots.PLOTS)
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from the network
    assert "read_latency_p999" in page and "visibility_t99" in page
    assert "P99 read latency: cqrs is better" in page  # 30 s uploads block CRUD reads; CQRS reads never wait
    assert "Stale-read fraction: crud is better" in page
    assert "cqrs is better" in result.stdout  # the verdict is printed too


def test_report_command_on_saved_results(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(SCENARIOS / "mmc.yaml"), "-o", str(out), "--no-plots", "--set", "duration=30s", "--set", "warmup=5s"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    page = (out / "report.html").read_text()
    # mmc: CRUD mvcc and CQRS with one replica are the same queue on the same numbers
    assert "Median read latency: the same in both" in page
    missing = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not a result directory" in missing.stderr


def _frames(crud, cqrs, low, high, metric="read_latency_p99"):
    summary = pd.DataFrame([{"architecture": "crud", "metric": metric, "mean": crud},
                            {"architecture": "cqrs", "metric": metric, "mean": cqrs}])
    diff = pd.DataFrame([{"metric": metric, "mean": cqrs - crud, "ci_low": low, "ci_high": high, "n": 3}])
    return summary, diff


def test_verdict_rules():
    (_, winner, text), = verdict(*_frames(2.0, 0.02, -3.0, -1.0))
    assert winner == "cqrs" and "100× lower" in text
    (_, winner, text), = verdict(*_frames(0.02, 0.021, -0.001, 0.003))
    assert winner == "none" and "no clear difference" in text
    (_, winner, text), = verdict(*_frames(100.0, 100.2, 0.1, 0.3))
    assert winner == "none" and "practically the same" in text
    (_, winner, _), = verdict(*_frames(0.0, 0.05, 0.03, 0.07, metric="stale_read_fraction"))
    assert winner == "crud"
    (_, winner, text), = verdict(*_frames(0.02, 0.02, 0.0, 0.0))
    assert winner == "none" and "the same in both" in text
    (_, winner, text), = verdict(*_frames(1.0, 0.5, None, None))
    assert winner == "unknown" and "no verdict" in text
