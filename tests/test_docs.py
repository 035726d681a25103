"""The documentation site builds without a warning, and its reference is generated from the code.

``mkdocs build --strict`` fails on any warning: a broken link or anchor, a
page missing from the navigation, a file a snippet names that does not exist.
The built reference must hold every scenario key of the schema, every option
of every command and every metric's definition, because the hook that fills
those pages calls the code (``docs/_hooks/generated.py``); an unknown
placeholder fails the build. The code blocks of the pages are run by
``tests/test_readme.py``.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cqrs_sim.analysis.definitions import METRICS
from cqrs_sim.config.reference import markdown_table

from .conftest import ROOT

HOOK = ROOT / "docs" / "_hooks" / "generated.py"
FIGURE_SCRIPT = ROOT / "docs" / "figures" / "pipelines.py"
FIGURE = ROOT / "docs" / "images" / "pipelines.png"


def _hook():
    spec = importlib.util.spec_from_file_location("docs_generated_hook", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a temporary directory."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its future, not a build warning
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                           "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-5000:]}"
    assert not re.search(r"^WARNING\b", log, re.M), log
    return out


def _page(site: Path, name: str) -> str:
    return html.unescape((site / name / "index.html").read_text(encoding="utf-8"))


def test_site_builds_strictly_with_every_page(site):
    """Every Markdown page became an HTML page (strict mode already refused omitted or broken ones)."""
    pages = sorted(p.relative_to(ROOT / "docs").with_suffix("") for p in (ROOT / "docs").rglob("*.md"))
    assert len(pages) >= 20
    for page in pages:
        built = site / ("index.html" if page.name == "index" else page / "index.html")
        assert built.is_file(), page


def test_scenario_reference_lists_every_key_of_the_schema(site):
    keys = re.findall(r"^\| `([^`]+)` \|", markdown_table(), re.M)
    assert len(keys) > 100 and "workload.reads.rate.diurnal.mean" in keys
    page = _page(site, "reference/scenario")
    missing = [key for key in keys if f"<code>{key}</code>" not in page]
    assert not missing, missing


def test_command_reference_lists_every_option_of_every_command(site):
    """Each command of the application has a section, with each of its options and arguments."""
    import typer.main

    from cqrs_sim.cli import app

    root = typer.main.get_command(app)
    page = _page(site, "reference/commands")
    for name, command in root.commands.items():
        assert f'id="cqrs-sim-{name}"' in page, name
        section = page[page.index(f'id="cqrs-sim-{name}"'):]
        following = re.search(r'id="cqrs-sim-(?!' + re.escape(name) + r'")', section[1:])
        section = section[:following.start() + 1] if following else section
        for parameter in command.params:
            names = [o for o in parameter.opts if o.startswith("-")] or [parameter.metavar or parameter.name.upper()]
            for option in names:
                if option != "--help":
                    assert option in section, f"cqrs-sim {name}: {option} is not in its section"


def test_metric_reference_defines_every_metric(site):
    page = _page(site, "reference/metrics")
    for name, metric in METRICS.items():
        assert f"<code>{name}</code>" in page, name
        assert metric.text() in page, f"{name}: its definition is not on the page"


def test_tutorial_shows_the_quick_start_output_from_readme(site):
    """The tutorial includes README's quick-start output by reference, so there is one copy of it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    output = re.search(r"\[start:quickstart-output\] -->\n```text\n(.*?)```", readme, re.S).group(1)
    verdict = next(line for line in output.splitlines() if line.startswith("Verdict:"))
    assert verdict in _page(site, "tutorial")


def test_an_unknown_placeholder_fails():
    hook = _hook()
    assert "| `duration` |" in hook.fill("<!-- generated: scenario-keys -->")
    with pytest.raises(hook.UnknownPlaceholder, match="no-such-part"):
        hook.fill("text\n<!-- generated: no-such-part -->\n")


def test_the_pages_hold_their_generated_parts_as_the_code_makes_them():
    """Read as plain files, the reference pages show their tables too: each page's copy of its generated parts is
    what the code makes now (else: python docs/_hooks/generated.py)."""
    hook = _hook()
    for page in hook.PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        assert "<!-- end of generated:" in text, f"{page}: the generated part is missing"
        assert hook.fill(text, page) == text, f"{page} is out of date: run python docs/_hooks/generated.py"


def test_the_committed_figure_is_what_its_script_draws(tmp_path):
    """docs/images/pipelines.png is redrawn by docs/figures/pipelines.py after any change to the drawing."""
    import matplotlib.image

    drawn = tmp_path / "pipelines.png"
    proc = subprocess.run([sys.executable, str(FIGURE_SCRIPT), str(drawn)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    committed, fresh = matplotlib.image.imread(FIGURE), matplotlib.image.imread(drawn)
    assert committed.shape == fresh.shape, "the figure's size changed: run python docs/figures/pipelines.py"
    assert float(np.abs(committed - fresh).mean()) < 0.01, "the figure changed: run python docs/figures/pipelines.py"
