"""Log lines: request-derived text escaped, one record per line, tracebacks indented."""

from __future__ import annotations

import logging

import pytest

from gateway.logsafe import OneLineFormatter, escape, escape_quoted


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("/2.0/files/inbox/x.txt", "/2.0/files/inbox/x.txt"),
        ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),  # printable non-ASCII kept
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("x\x1b[31m", "x\\x1b[31m"),
        ("\x7f\x85\x9b", "\\x7f\\x85\\x9b"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("a\u2028b\u00a0c", "a\\u2028b\\xa0c"),
        ("\U000e0001", "\\U000e0001"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_escape_quoted_escapes_quote_and_backslash() -> None:
    assert escape_quoted('a" 500 0 id=x\\') == 'a\\" 500 0 id=x\\\\'
    assert escape_quoted("plain/path") == "plain/path"


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\r\n2026-01-01 00:00:00,000 INFO forged: line")
        except RuntimeError as e:
            exc_info = (type(e), e, e.__traceback__)
    return logging.LogRecord("gateway.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_formatter_one_record_one_line_start() -> None:
    fmt = OneLineFormatter("%(levelname)s %(name)s: %(message)s")
    text = fmt.format(_record("path %s", "/x\r\nINFO gateway.access: forged\x1b[0m", exc=True))
    lines = text.split("\n")
    assert lines[0].startswith("ERROR gateway.test: path /x\\x0d")
    assert all(line.startswith("  ") for line in lines[1:]), lines
    assert "\x1b" not in text and "\r" not in text
    assert any("Traceback" in line for line in lines[1:])
