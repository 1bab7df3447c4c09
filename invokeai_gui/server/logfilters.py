"""Log hygiene: the access token never reaches the log, and a malformed Engine.IO frame is one line.

Keeping the token out:

The LAN token travels as ``?token=`` on the first visit and as the ``invokeai_token`` cookie after;
Werkzeug's request lines (``--web_verbose``) and Engine.IO's verbose logging would write either into
the log. ``install_redaction(token)`` puts a filter on the handlers that write log records, which
replaces token values (by pattern, and the server's own token wherever it appears) with
``[redacted]``. The one place the token is shown on purpose is the startup line that prints the
sign-in URL, which is printed, not logged.

A client that sends bytes Engine.IO cannot decode makes its packet parser raise inside Werkzeug's
request handler, which logs the whole traceback ("Error on request: ..."). That is the client's
fault, not the server's: ``MalformedFrameFilter`` turns it into one warning line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"(?i)((?:^|[?&;\s\"'])token=)[^&\s\"';]+"),
    re.compile(r"(invokeai_token=)[^;\s\"'&]+"),
    re.compile(r"(?i)(token%3D)[^&\s\"';%]+"),
)
# Loggers that may carry a handler of their own (Engine.IO and Socket.IO add one when none exists).
_NAMED = ("werkzeug", "engineio", "engineio.server", "socketio", "socketio.server")


class TokenRedactor(logging.Filter):
    """A handler filter: the record's message (and exception text) with every token replaced."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= 8}

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 8:
            self.secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: leave it to the handler
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class MalformedFrameFilter(logging.Filter):
    """A ``werkzeug`` logger filter: "Error on request" tracebacks raised by Engine.IO's packet or
    payload decoding become one line naming the error; every other record passes unchanged."""

    _DECODERS = ("engineio/packet.py", "engineio/payload.py", "engineio\\packet.py", "engineio\\payload.py")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if not message.startswith("Error on request") or not any(d in message for d in self._DECODERS):
            return True
        last = next((line.strip() for line in reversed(message.splitlines()) if line.strip()), "")
        record.msg = "Ignored a malformed Engine.IO message from a client (%s)."
        record.args = (last[:200],)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


def install_log_filters(token: str | None = None) -> TokenRedactor:
    """Adds (once) the redacting filter to the root logger's handlers and to those of the web
    libraries' loggers (``token`` is also removed wherever it appears), and the malformed-frame
    filter to Werkzeug's logger. Call after logging is set up, and again once the token is known."""
    loggers = (logging.getLogger(), *(logging.getLogger(n) for n in _NAMED))
    handlers = [h for logger in loggers for h in logger.handlers]
    redactor = next((f for h in handlers for f in h.filters if isinstance(f, TokenRedactor)), None) or TokenRedactor()
    if token:
        redactor.add(token)
    for handler in handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, MalformedFrameFilter) for f in werkzeug.filters):
        werkzeug.addFilter(MalformedFrameFilter())
    return redactor
