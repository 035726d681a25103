"""Shared helpers: build scenarios from YAML text in a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import settings

import cqrs_sim

#: no wall-clock deadline for property tests: the suite has no timed unit tests, and on a loaded machine a
#: 200 ms deadline fails examples that write files or load a scenario
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def scenario_from(tmp_path):
    """scenario_from(yaml_text, name="s", **overrides) -> validated Scenario."""

    def make(text: str, name: str = "s", overrides: dict | None = None):
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return cqrs_sim.load_scenario(path, overrides)

    return make


@pytest.fixture
def write_yaml(tmp_path):
    """write_yaml(text, name) -> path of a scenario file with that text."""

    def make(text: str, name: str = "s") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


#: tests that mostly wait (a real database in real time, pip installing into a fresh venv): started first, so the
#: workers beside them run the CPU-bound tests meanwhile instead of queueing behind them at the end
WAITING_FIRST = ("tests/test_testbed_prediction.py::test_measured_parts_predict", "tests/test_readme.py::test_install_blocks",
                 "tests/test_readme.py::test_document_blocks_run[docs/howto/testbed.md]")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.startswith(WAITING_FIRST))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report shows no password: pytest's long tracebacks print each frame's arguments, and a
    testbed frame may hold a DSN with the embedded server's password (a random one per run, still a password)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.longrepr is not None:
        from cqrs_sim.core.redact import redact

        text = str(report.longrepr)
        clean = redact(text)
        if clean != text:
            report.longrepr = clean
