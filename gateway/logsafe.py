"""Escaping request-derived text for log lines: one record is one line, whatever was sent.

A percent-decoded path, a header or a file name may hold CR/LF (forged log lines), ESC
(terminal escape sequences), DEL, C1 controls, bidi overrides or other invisible characters.
Every such character is written as a Python-style escape (``\\x1b``, ``\\u202e``); printable
text, non-ASCII included, is kept as it is. The common case, printable text, costs one C-level
``str.isprintable`` call.
"""

from __future__ import annotations

import logging


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str) -> str:
    """``text`` with every non-printable character (``str.isprintable``) escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def escape_quoted(text: str) -> str:
    """As :func:`escape`, and ``"`` and ``\\`` escaped too: for a field written between quotes."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return "".join(_escape_char(ch) if not ch.isprintable() else "\\" + ch if ch in '"\\' else ch for ch in text)


class OneLineFormatter(logging.Formatter):
    """Formats each record so that a line starting at column 0 always begins a record.

    Non-printable characters are escaped; a line break in the message (a traceback some library
    put in its message, a name someone sent) and the traceback of the record go on continuation
    lines starting with two spaces, so no text can pass for a record of its own. The access log
    escapes line breaks too (gateway.http.accesslog): one request, one line.
    """

    def format(self, record: logging.LogRecord) -> str:
        record.message = "\n  ".join(escape(part) for part in record.getMessage().split("\n"))
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        blocks = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            line += "".join("\n  " + escape(part) for part in block.split("\n"))
        return line
