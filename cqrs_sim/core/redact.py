"""Passwords kept out of everything the tool shows or saves: one rule for command lines, DSNs and any text.

A PostgreSQL password reaches the tool three ways: in a URL
(``postgresql://user:PASSWORD@host/db``, or ``?password=PASSWORD``), as a
keyword (``password=PASSWORD``, quoted or not), or in the ``PGPASSWORD``
environment variable. :func:`redact` replaces the first two by ``***``
wherever they appear in a text, and every password the process knows of
(``PGPASSWORD``, the ones on its command line, and those registered with
:func:`remember`, such as the embedded server's) wherever it appears
literally (one shorter than ``SHORTEST`` characters excepted). Every place
that writes the command line, a DSN, an error message or a traceback goes
through it, and so, when the command knows of a password, do its stdout and
stderr (:func:`guard_standard_streams`). Standard library only: the CLI
imports it at start.
"""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import unquote

MASK = "***"
ENVIRONMENT = "PGPASSWORD"  #: libpq's password variable
SHORTEST = 4  #: characters; a shorter known password is not replaced literally (it would garble ordinary text)

#: scheme://user:PASSWORD@ — the password runs to the last "@" of the word (libpq stops at the first, but a
#: password with a raw "@" in it is still a password)
_URL = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:)(?P<secret>\S*)(?=@)")
#: password=VALUE (and sslpassword=, PGPASSWORD=): a quoted value (to its closing quote, or the end when the
#: quote is never closed) or a run of non-blank characters
_KEYWORD = re.compile(r"(?P<head>\b[A-Za-z_]*password\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)

_remembered: set[str] = set()


def remember(password: str) -> None:
    """Treat ``password`` as a secret from now on (every later :func:`redact` in this process hides it)."""
    if password:
        _remembered.add(password)


def passwords_in(text: str) -> set[str]:
    """The passwords written in ``text`` (URL and keyword forms), as written and percent-decoded."""
    found = set()
    for pattern in (_URL, _KEYWORD):
        for match in pattern.finditer(text):
            secret = match.group("secret")
            if secret.startswith("'"):
                secret = secret[1:-1] if len(secret) > 1 and secret.endswith("'") else secret[1:]
                secret = re.sub(r"\\(.)", r"\1", secret)  # libpq's escapes inside quotes: \' and \\
            found |= {secret, unquote(secret)}
    return {s for s in found if s}


def known_passwords() -> set[str]:
    """Every password this process knows of: $PGPASSWORD, those on its command line, and those remembered."""
    known = set(_remembered)
    if os.environ.get(ENVIRONMENT):
        known.add(os.environ[ENVIRONMENT])
    for arg in sys.argv[1:]:
        known |= passwords_in(arg)
    return known


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***``."""
    text = _URL.sub(lambda m: m.group("head") + MASK, text)
    text = _KEYWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in sorted(known_passwords(), key=len, reverse=True):
        if len(secret) >= SHORTEST:
            text = text.replace(secret, MASK)
    return text


def command_line(argv: list[str] | None = None) -> str:
    """The command line (``sys.argv`` by default) as it may be shown or saved: arguments joined by spaces, redacted."""
    return redact(" ".join(sys.argv if argv is None else argv))


class RedactedStream:
    """A text stream (stdout, stderr) whose every write goes through :func:`redact`; the rest is the stream's."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def guard_standard_streams() -> None:
    """Send stdout and stderr through :func:`redact` when this process knows of a password (else leave them)."""
    if known_passwords():
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, RedactedStream):
                setattr(sys, name, RedactedStream(stream))
