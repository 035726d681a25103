"""Passwords never shown or saved: the redaction rule, and the crash file and its line that go through it."""

from __future__ import annotations

import sys
import tempfile

import pytest
import typer

from cqrs_sim.cli import common as cli
from cqrs_sim.core.redact import command_line, passwords_in, redact

SECRET = "Hunter2-x9Qz"


@pytest.mark.parametrize("text", [
    f"postgresql://u:{SECRET}@host/db",
    f"postgres://u:{SECRET}@h1,h2:5433/db?sslmode=require",
    f"--dsn=postgresql://:{SECRET}@/db?host=/tmp/x",
    f"postgresql://u@host/db?sslmode=require&password={SECRET}",
    f"host=h user=u password={SECRET} dbname=d",
    f"host=h password = {SECRET}",
    f"host=h PASSWORD='{SECRET} with spaces' user=u",
    f"host=h password='{SECRET} never closed",
    f"host=h sslpassword={SECRET}",
    f"PGPASSWORD={SECRET} cqrs-sim testbed s.yaml",
    f'invalid percent-encoded token: "postgresql://u:{SECRET}%zz@host/db"',
])
def test_every_written_form_of_a_password_is_hidden(text, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cqrs-sim"])
    monkeypatch.delenv("PGPASSWORD", raising=False)
    hidden = redact(text)
    assert SECRET not in hidden and "***" in hidden, hidden


def test_what_is_no_password_is_kept(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cqrs-sim"])
    monkeypatch.delenv("PGPASSWORD", raising=False)
    for text in ("postgresql://u@host:5432/db", "host=/tmp/x user=u dbname=d", "password authentication failed for "
                 "user \"u\"", "cqrs-sim run s.yaml --set cqrs.replicas.count=4"):
        assert redact(text) == text


def test_a_known_password_is_hidden_wherever_it_appears(monkeypatch):
    """$PGPASSWORD's value and the command line's passwords (as written and percent-decoded) are hidden in any text."""
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    monkeypatch.setattr(sys, "argv", ["cqrs-sim", "testbed", "s.yaml", "--dsn", "postgresql://u:a%40b%2Fc9@h/db"])
    assert passwords_in("postgresql://u:a%40b%2Fc9@h/db") == {"a%40b%2Fc9", "a@b/c9"}
    text = redact("server said from-the-environment; host a@b/c9 and a%40b%2Fc9 unknown")
    assert text == "server said ***; host *** and *** unknown"
    assert command_line() == "cqrs-sim testbed s.yaml --dsn postgresql://u:***@h/db"


@pytest.mark.parametrize("step", ["_guarded", "_reported"])
def test_a_crash_file_and_its_message_hide_the_password(step, tmp_path, monkeypatch, capsys):
    """A bug whose message holds the DSN: the one line and the crash file (which records the command) hide it."""
    dsn = f"postgresql://u:{SECRET}@h/db"
    monkeypatch.setattr(sys, "argv", ["cqrs-sim", "testbed", "s.yaml", "--dsn", dsn])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def body() -> None:
        raise RuntimeError(f"could not use {dsn} (password={SECRET})")

    if step == "_guarded":
        with pytest.raises(typer.Exit):
            cli._guarded(body)
    else:
        assert cli._reported(body, tmp_path / "out")
    stderr = capsys.readouterr().err
    crashes = list(tmp_path.glob("cqrs-sim-crash-*"))
    assert len(crashes) == 1 and str(crashes[0]) in stderr
    saved = crashes[0].read_text()
    assert "RuntimeError: could not use postgresql://u:***@h/db (password=***" in saved  # a value runs to a blank
    assert "command: cqrs-sim testbed s.yaml --dsn postgresql://u:***@h/db" in saved
    assert SECRET not in saved and SECRET not in stderr, (saved, stderr)
