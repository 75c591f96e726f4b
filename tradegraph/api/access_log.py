"""Keep secrets out of the access log.

The API takes its key only in the ``X-API-Key`` header, but a client may still put one in the
URL (``?api_key=...``). The request is refused, yet uvicorn's access log would keep the key. A
filter on the ``uvicorn.access`` logger rewrites every query parameter whose name looks like a
credential (``key``, ``token``, ``secret``, ``password``, ``auth``, ``signature``) to
``REDACTED`` before any handler sees the record.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote, quote_plus, unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "REDACTED"
_SENSITIVE = re.compile(r"key|token|secret|passw|auth|signature|session|cookie")
_QUERY = re.compile(r"\?([^\s\"#]*)")


def _sensitive(name: str) -> bool:
    return bool(_SENSITIVE.search(re.sub(r"[^a-z]", "", unquote_plus(name).lower())))


def _redact_params(query: str) -> str:
    parts = []
    for part in re.split(r"([&;])", query):
        name, eq, _value = part.partition("=")
        if not eq:  # a bare value (``?<something>``) may be a key sent without a name
            parts.append(REDACTED if part not in ("", "&", ";") else part)
        else:
            parts.append(f"{name}={REDACTED}" if _sensitive(name) else part)
    return "".join(parts)


def redact_query(text: str) -> str:
    """``text`` with the values of credential-like query parameters of every URL in it
    replaced (a query runs from ``?`` to the next space, quote or ``#``)."""
    return _QUERY.sub(lambda m: "?" + _redact_params(m.group(1)), text)


class RedactQueryFilter(logging.Filter):
    """Redacts credential-like query parameters, and the given secrets wherever they appear,
    in an access-log record."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def _clean(self, text: str) -> str:
        text = redact_query(text) if "?" in text else text
        for secret in self.secrets:
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                text = text.replace(form, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self._clean(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self._clean(record.msg)
        return True


def install(*, secrets: tuple[str, ...] = (), logger_name: str = ACCESS_LOGGER) -> None:
    """Add the filter to the access logger once (idempotent) and have it also redact
    ``secrets`` (the API key) wherever they appear in a record."""
    logger = logging.getLogger(logger_name)
    found = [f for f in logger.filters if isinstance(f, RedactQueryFilter)]
    redactor = found[0] if found else RedactQueryFilter()
    if not found:
        logger.addFilter(redactor)
    redactor.secrets.update(s for s in secrets if len(s) >= 8)
