"""``cqrs-sim validate``: the built-in validation against queueing theory."""

from __future__ import annotations


import typer

from ..config.format import format_kind
from .common import _guarded, _nothing, _say, app, err, out


@app.command()
def validate() -> None:
    """Check this install against queueing theory and hand-derived timelines (about 10 s on 2 cores)."""
    from rich.table import Table

    # imported on use, so that `import cqrs_sim.cli` (and --help, check, schema) stays fast
    from ..experiments.selfcheck import run_checks

    table = Table(title="cqrs-sim validate: simulated against theory", title_justify="left")
    for name, justify in (("case", "left"), ("quantity", "left"), ("theory", "right"), ("simulated (99% CI)", "right"),
                          ("", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def show(check) -> None:
        value = lambda x: format_kind(check.kind, x)  # noqa: E731
        sim = value(check.simulated) if check.low == check.high else \
            f"{value(check.simulated)} ({value(check.low)}–{value(check.high)})"
        table.add_row(check.case, check.quantity, value(check.theory), sim,
                      "[green]pass[/green]" if check.passed else "[red]FAIL[/red]")

    failed = []

    def body() -> None:
        with err.status("simulating the validation cases", spinner="dots") if err.is_terminal else _nothing():
            checks = run_checks(show)
        out.print(table)
        failed.extend(c for c in checks if not c.passed)
        _say(out, f"{len(checks) - len(failed)} passed, {len(failed)} failed")

    _guarded(body)
    if failed:
        raise typer.Exit(1)
