"""User-given text is shown safely: control characters never reach a terminal, a plot or the report raw, and no
CSV the tool writes holds a cell a spreadsheet would execute.

The hostile name and description hold a clear-screen (ESC [2J), a window-title change (ESC ]0;...BEL) and a
C1 control (CSI, U+009B). Output captured by the test runner is not a terminal, so rich adds no escape codes of
its own: any ESC, BEL or C1 character in it came from user text.
"""

from __future__ import annotations

import csv
import json
import re
import textwrap

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import cqrs_sim
from cqrs_sim.cli import app
from cqrs_sim.cli import progress as progress_display
from cqrs_sim.cli import run as run_command
from cqrs_sim.core.safetext import neutral_cell, plot_text, printable, read_csv, restored_cell, rich_text, write_csv

runner = CliRunner()

HOSTILE = "\x1b[2J\x1b]0;TITLE\x07"
#: ESC, BEL, C1 (CSI and ST), DEL, and the bidi override: none may appear raw
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")

SCENARIO = """\
    name: {name}
    description: {description}
    duration: 4s
    warmup: 1s
    seed: 3
    replications: 2
    workload:
      reads: {{rate: 60/s, query_time: {{dist: exponential, mean: 4ms}}}}
      writes: {{interval: 2s, apply_time: 50ms}}
    handlers: {{count: 1, concurrency: 100}}
    crud: {{connections: 4}}
    cost: {{instance_hour: 0.5}}
    cqrs:
      replicas: {{count: 1, connections: 2}}
    """


@pytest.fixture
def hostile_file(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(textwrap.dedent(SCENARIO).format(name=json.dumps("evil" + HOSTILE + "\u202e"),
                                                     description=json.dumps("about" + HOSTILE + "\x9b31m")),
                    encoding="utf-8")
    return path


def _clean(result) -> str:
    """Both streams of a finished command, checked free of raw control characters."""
    text = result.stdout + result.stderr
    found = RAW.search(text)
    assert found is None, f"raw {found.group()!r} in: {text[max(0, found.start() - 80):found.end() + 80]!r}"
    return text


# the one function


def test_printable_escapes_every_control_and_keeps_printable_unicode():
    assert printable("a\x1b[2Jb\x07c\x9bd\x7fe") == "a\\x1b[2Jb\\x07c\\x9bd\\x7fe"
    assert printable("line\nbreak\ttab\rcr") == "line\\nbreak\\ttab\\rcr"
    assert printable("x\u202ey\u2066z\u2028") == "x\\u202ey\\u2066z\\u2028"
    assert printable("café 東京 Ω 🙂 ∞") == "café 東京 Ω 🙂 ∞"
    assert printable("a\x1bb\nc", keep_newlines=True) == "a\\x1bb\nc"
    assert printable(printable(HOSTILE)) == printable(HOSTILE)  # escaping twice changes nothing more
    assert rich_text("[bold]x[/]" + HOSTILE) == "\\[bold]x\\[/]\\x1b[2J\\x1b]0;TITLE\\x07"
    assert plot_text("cost $5 and $\\frac$") == "cost \\$5 and \\$\\frac\\$"


# every command that shows a scenario's name or description


def test_run_shows_name_and_description_escaped_in_lines_table_and_report(hostile_file, tmp_path):
    out = tmp_path / ("res" + HOSTILE)
    result = runner.invoke(app, ["run", str(hostile_file), "-o", str(out), "-j", "1", "--report"])
    assert result.exit_code == 0, result.output
    text = _clean(result)
    assert "evil\\x1b[2J\\x1b]0;TITLE\\x07" in text  # the table title and the progress lines name it, escaped
    assert "wrote " in text and "res\\x1b[2J" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert RAW.search(page) is None
    assert "about\\x1b[2J" in page and "\\x9b31m" in page


def test_run_progress_bar_on_a_terminal_is_escaped(hostile_file, tmp_path, monkeypatch):
    """On a terminal rich draws a progress bar with its own cursor codes; the name in it is still escaped."""
    terminal = Console(stderr=True, force_terminal=True, width=100)
    for module in (run_command, progress_display):  # the console run writes its progress and its status to
        monkeypatch.setattr(module, "err", terminal)
    result = runner.invoke(app, ["run", str(hostile_file), "-o", str(tmp_path / "r"), "-j", "1", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "evil\\x1b[2J" in result.stderr
    for raw in ("\x1b[2J", "\x1b]", "\x07", "\x9b", "\u202e"):
        assert raw not in result.stderr and raw not in result.stdout


def test_check_escapes_the_resolved_scenario(hostile_file):
    result = runner.invoke(app, ["check", str(hostile_file), "-j", "1"])
    assert result.exit_code == 0, result.output
    _clean(result)


def test_plots_draw_names_escaped(hostile_file):
    """Every text of every plot (titles, legends, labels) is free of control characters."""
    import matplotlib.pyplot as plt

    from cqrs_sim.plots import available

    results = cqrs_sim.simulate(cqrs_sim.load_scenario(hostile_file), jobs=1)
    for name, draw in available(results).items():
        figure = draw(results)
        texts = [t.get_text() for t in figure.findobj(lambda artist: hasattr(artist, "get_text"))]
        assert any("evil\\x1b[2J" in t for t in texts), name
        assert not any(RAW.search(t) for t in texts), (name, [t for t in texts if RAW.search(t)])
        plt.close(figure)


def test_report_compare_and_plot_of_saved_results_are_escaped(hostile_file, tmp_path):
    a, b = tmp_path / ("a" + HOSTILE), tmp_path / "b\u202e"
    for target in (a, b):
        done = runner.invoke(app, ["run", str(hostile_file), "-o", str(target), "-j", "1", "--no-plots"])
        assert done.exit_code == 0, done.output
    report = runner.invoke(app, ["report", str(a)])
    assert report.exit_code == 0, report.output
    _clean(report)
    assert RAW.search((a / "report.html").read_text(encoding="utf-8")) is None
    compared = runner.invoke(app, ["compare", str(a), str(b), "--plots", str(tmp_path / "overlays")])
    assert compared.exit_code == 0, compared.output
    assert "a\\x1b[2J" in _clean(compared)
    drawn = runner.invoke(app, ["plot", str(a)])
    assert drawn.exit_code == 0, drawn.output
    _clean(drawn)


def test_sweep_and_optimize_escape_names_and_varied_values(hostile_file, tmp_path):
    vary = ["--vary", f"description={json.dumps('one' + HOSTILE)},{json.dumps('[red]two[/]')}"]
    swept = runner.invoke(app, ["sweep", str(hostile_file), *vary, "-o", str(tmp_path / "s"), "-j", "1", "--no-plots"])
    assert swept.exit_code == 0, swept.output
    text = _clean(swept)
    assert "[red]two[/]" in text  # shown as text, not taken as a style
    best = runner.invoke(app, ["optimize", str(hostile_file), *vary, "--slo", "read_latency_p99<1s",
                               "-o", str(tmp_path / "o"), "-j", "1"])
    assert best.exit_code == 0, best.output
    assert "one\\x1b[2J" in _clean(best)


def test_error_lines_escape_what_they_echo(hostile_file, tmp_path):
    bad_key = runner.invoke(app, ["check", str(hostile_file), "--set", f"cqrs.x{HOSTILE}=1"])
    assert bad_key.exit_code == 2
    _clean(bad_key)
    bad_value = runner.invoke(app, ["check", str(hostile_file), "--set", f"duration=4{HOSTILE}"])
    assert bad_value.exit_code == 2
    _clean(bad_value)
    missing = runner.invoke(app, ["report", str(tmp_path / ("nothing" + HOSTILE))])
    assert missing.exit_code == 2
    assert "nothing\\x1b[2J" in _clean(missing)
    bad_slo = runner.invoke(app, ["optimize", str(hostile_file), "--vary", "cqrs.replicas.count=1,2",
                                  "--slo", f"read_latency_p99<{HOSTILE}"])
    assert bad_slo.exit_code == 2
    _clean(bad_slo)


# CSV cells a spreadsheet would execute


@pytest.mark.parametrize("cell, written", [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
                                           ("+cmd|calc", "'+cmd|calc"), ("-2+3", "'-2+3"), ("@SUM(1)", "'@SUM(1)"),
                                           ("\tx", "'\tx"), ("\r=1", "'\r=1"), ("'=x", "''=x"),
                                           ("-5", "-5"), ("+1e3", "+1e3"), ("plain", "plain"), ("'quoted", "'quoted")])
def test_formula_cells_get_a_quote_and_read_back_as_given(cell, written):
    assert neutral_cell(cell) == written
    assert restored_cell(written) == cell


def test_write_csv_keeps_numbers_and_round_trips(tmp_path):
    frame = pd.DataFrame({"=name": ["=1+1", "ok", "-x"], "value": [-5, 0, 2], "share": [-0.25, float("nan"), 1.5]})
    path = tmp_path / "t.csv"
    write_csv(frame, path)
    lines = path.read_text().splitlines()
    assert lines[0] == "'=name,value,share"
    assert lines[1] == "'=1+1,-5,-0.25" and lines[3] == "'-x,2,1.5"
    back = read_csv(path)
    pd.testing.assert_frame_equal(back, frame)


def test_every_csv_a_sweep_and_optimize_write_is_neutralised(hostile_file, tmp_path):
    values = ["=HYPERLINK(\"http://evil\")", "+cmd|calc", "@SUM(1)"]
    vary = ["--vary", "description=" + ",".join(json.dumps(v) for v in values)]
    result = runner.invoke(app, ["optimize", str(hostile_file), *vary, "--slo", "read_latency_p99<1s",
                                 "-o", str(tmp_path / "o"), "-j", "1", "--no-plots", "--pareto"])
    assert result.exit_code == 0, result.output
    csvs = sorted((tmp_path / "o").rglob("*.csv"))
    assert any(p.name == "designs.csv" for p in csvs) and any(p.name == "summary.csv" for p in csvs)
    for path in csvs:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not re.match(r"[=+@\t\r]", cell) and not re.match(r"-[^0-9.]", cell), (path, row)
    designs = (tmp_path / "o" / "designs.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in designs and "'+cmd|calc" in designs and "'@SUM(1)" in designs
    again = runner.invoke(app, ["optimize", str(hostile_file), *vary, "--slo", "read_latency_p99<1s",
                                "-o", str(tmp_path / "o"), "-j", "1", "--no-plots", "--pareto"])
    assert again.exit_code == 0 and "0 point(s) simulated" in again.stdout  # its own files read back


def test_a_run_result_csvs_read_back_through_load_results(hostile_file, tmp_path):
    out = tmp_path / "r"
    assert runner.invoke(app, ["run", str(hostile_file), "-o", str(out), "-j", "1", "--no-plots"]).exit_code == 0
    table = pd.read_csv(out / "replications.csv")
    loaded = cqrs_sim.load_results(out)
    assert list(loaded.per_replication.columns) == list(table.columns)
    assert (loaded.per_replication["architecture"] == table["architecture"]).all()
