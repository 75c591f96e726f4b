"""Bounds on what a client may send: body size, id shape and score dates.

A request body over :data:`MAX_BODY_BYTES` is answered 413 without being read (from its
``Content-Length``, or as soon as a chunked body passes the limit), so no client can make the
server hold more than that per request. Ids follow the data contract: 1-64 characters after
NFKC normalisation, no control or format characters. Score dates stay inside the range the
graph and pandas can represent (the contract's 1970-2100).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 64
FIRST_AS_OF = dt.date(1970, 1, 1)
LAST_AS_OF = dt.date(2100, 1, 1)
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def check_id(value: str) -> str:
    """The id, NFKC-normalised, or ``ValueError`` saying what the contract allows (the value
    itself is never repeated: it may be huge or hostile)."""
    value = unicodedata.normalize("NFKC", value)
    if not 1 <= len(value) <= MAX_ID_CHARS:
        raise ValueError(f"an id has 1 to {MAX_ID_CHARS} characters; this one has {len(value)}")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValueError("an id may not contain control or format characters")
    return value


def check_as_of(value: dt.date | None) -> dt.date | None:
    """The score date if it lies in ``FIRST_AS_OF..LAST_AS_OF``, else ``ValueError``."""
    if value is not None and not FIRST_AS_OF <= value <= LAST_AS_OF:
        raise ValueError(f"as_of must be a date from {FIRST_AS_OF} to {LAST_AS_OF}")
    return value


#: A business id as the API accepts it.
BusinessId = Annotated[str, AfterValidator(check_id)]


def _safe_loc(part: Any) -> Any:
    """A location step as is when it is a position or a plain field name; anything else (a
    client's own key, possibly huge or hostile) is not repeated."""
    if isinstance(part, int) or (isinstance(part, str) and _FIELD_NAME.fullmatch(part)):
        return part
    return "(unexpected field)"


def clean_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the offending input (never echoed back) or internals:
    where (``loc``), what (``msg``) and the error ``type`` only."""
    return [
        {
            "loc": [_safe_loc(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in errors
    ]


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = (
        f'{{"detail": "Request body over {limit} bytes: send fewer ids per request."}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI middleware answering 413 to any request body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app's own answer to the aborted read is replaced by the 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _too_large(send, self.max_bytes)
