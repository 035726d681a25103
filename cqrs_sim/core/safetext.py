"""User-given text made safe to show and to open: one rule for terminals, plots and HTML, one for CSV cells.

Scenario names and descriptions, paths, SLO texts, key names and values come
from the user and are shown back. :func:`printable` escapes every character
that a terminal (or a log viewer) would act on instead of showing: C0 controls
(ESC, BEL, newline, ...), DEL, C1 controls, the bidirectional overrides that
reorder a line, the line and paragraph separators, and lone surrogates (which
cannot be written as UTF-8). An escape sequence such as ``ESC [2J`` is thereby
shown as the text ``\\x1b[2J``; printable Unicode (accents, CJK, emoji) is
kept. :func:`rich_text`, :func:`plot_text` and :func:`html_text` add the
escaping each medium needs on top (rich markup, matplotlib's ``$`` math, HTML).

A CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is run as a formula by spreadsheets; :func:`write_csv` writes such a
text cell with a leading ``'`` (numbers, negative ones included, stay numbers)
and :func:`read_csv` takes the ``'`` off again, so our own files read back as
they were.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: characters never shown raw: C0, DEL, C1, bidi marks/embeddings/overrides/isolates, line/paragraph separators,
#: surrogates
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escaped(match: re.Match) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any, keep_newlines: bool = False) -> str:
    """``text`` (any value, as ``str``) with every control character escaped: ``"a\\x1b[2Jb"`` shows as ``a\\x1b[2Jb``.

    ``keep_newlines`` keeps ``\\n`` as a line break (for a block of several lines, such as YAML).
    """
    text = str(text)
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escaped, line) for line in text.split("\n"))
    return _UNSAFE.sub(_escaped, text)


def rich_text(text: Any) -> str:
    """``text`` for a rich string that is read as markup (table titles, cells, coloured lines): escaped, and its
    square brackets shown as brackets, never taken as styles."""
    from rich.markup import escape

    return escape(printable(text))


def plot_text(text: Any) -> str:
    """``text`` for a matplotlib title, label or legend: escaped, and ``$`` shown as a dollar sign, never as math."""
    return printable(text).replace("$", r"\$")


def html_text(text: Any, keep_newlines: bool = False) -> str:
    """``text`` for an HTML page: escaped, then HTML-escaped (quotes included)."""
    import html

    return html.escape(printable(text, keep_newlines))


#: a text cell a spreadsheet would execute: one of = + - @ TAB CR first, after any quotes already there
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
#: a cell :func:`neutral_cell` prefixed
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def _is_number(text: str) -> bool:
    if text != text.strip():
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutral_cell(value: Any) -> Any:
    """A CSV cell as written: a text cell a spreadsheet would run as a formula gets a leading ``'``; a text that
    is a number (``-5``, ``+1e3``) and every non-text value are left as they are."""
    if isinstance(value, str) and _FORMULA.match(value) and not _is_number(value):
        return "'" + value
    return value


def restored_cell(value: Any) -> Any:
    """A CSV cell as read back: the ``'`` :func:`neutral_cell` added is taken off (and nothing else)."""
    if isinstance(value, str) and _NEUTRALISED.match(value):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list:
    import pandas as pd

    return [name for name in frame.columns
            if frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name])
            or isinstance(frame[name].dtype, pd.CategoricalDtype)]


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and column name as :func:`neutral_cell` writes it."""
    out = frame.copy()
    for name in _text_columns(frame):
        out[name] = frame[name].astype(object).map(neutral_cell)
    out.columns = [neutral_cell(str(name)) for name in frame.columns]
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV (no index) with every cell a spreadsheet would execute neutralised."""
    neutralised(frame).to_csv(path, index=False)


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV that :func:`write_csv` wrote, as it was before writing."""
    import pandas as pd

    frame = pd.read_csv(path)
    frame.columns = [restored_cell(str(name)) for name in frame.columns]
    for name in _text_columns(frame):
        frame[name] = frame[name].map(restored_cell)
    return frame


__all__ = ["html_text", "neutral_cell", "neutralised", "plot_text", "printable", "read_csv", "restored_cell",
           "rich_text", "write_csv"]
