"""A guard in front of every handler: no NUL character gets into a request's text.

PostgreSQL's text types cannot hold U+0000 and refuse the whole statement, so a NUL that
reached a query (a search box, a username, an audit filter) used to end as a 500 on one
engine and a stored NUL on the other. Refusing it once, here, covers every route, present
and future: the path, the query string, and the text of JSON, urlencoded and multipart
bodies (the contents of uploaded files may be binary and are left alone). Bodies are read
ahead and handed on to the application unchanged, so handlers read them as usual.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Awaitable, Callable
from typing import IO
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A JSON string escape \u0000 preceded by an even number of backslashes (an odd number
# would make it the literal text "\u0000", which is harmless and let through).
_JSON_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Multipart bodies are spooled to disk past this size instead of held in memory.
_SPOOL_MEMORY_BYTES = 1024 * 1024
_REPLAY_CHUNK_BYTES = 64 * 1024

Refuse = Callable[[Request, str], Awaitable[Response]]


def target_nul(scope: Scope) -> str | None:
    """Where in the request line a NUL hides ("path" or "query"), raw or percent-encoded; else None."""
    path = scope.get("path", "")
    raw_path = scope.get("raw_path") or b""
    if "\x00" in path or b"\x00" in unquote_to_bytes(raw_path):
        return "path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string") or b""):
        return "query"
    return None


def _body_kind(scope: Scope) -> tuple[str, bytes] | None:
    """ "json", "form" or "multipart" (with the multipart boundary) for bodies whose text is checked."""
    content_type = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value
            break
    if not content_type:
        return None
    media_type, options = parse_options_header(content_type)
    media = media_type.decode("latin-1").lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return "json", b""
    if media == "application/x-www-form-urlencoded":
        return "form", b""
    if media == "multipart/form-data":
        boundary = options.get(b"boundary", b"")
        return ("multipart", boundary) if boundary else None
    return None


def json_has_nul(body: bytes) -> bool:
    """A raw NUL byte anywhere, or a \\u0000 escape inside a JSON string."""
    return b"\x00" in body or _JSON_NUL_ESCAPE.search(body) is not None


def form_has_nul(body: bytes) -> bool:
    """A NUL in an urlencoded form, raw or as %00, in a name or a value."""
    return b"\x00" in unquote_to_bytes(body)


class _MultipartScan:
    """Feeds a multipart body through python-multipart as it arrives and notes a NUL in any text part."""

    def __init__(self, boundary: bytes) -> None:
        self.found = False
        self.broken = False
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._is_file = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self.broken or self.found or not chunk:
            return
        try:
            self._parser.write(chunk)
        except Exception:
            # The application's own parser will refuse this body (400 malformed_body).
            self.broken = True

    def _part_begin(self) -> None:
        self._headers = {}
        self._is_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if b"\x00" in self._field or b"\x00" in self._value:
            self.found = True
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._is_file = b"filename" in options

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file and b"\x00" in data[start:end]:
            self.found = True


class RefuseNulCharacters:
    """ASGI middleware: answers `refuse(request, where)` when a request carries a NUL, before any handler."""

    def __init__(self, app: ASGIApp, *, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and target_nul(scope):
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = target_nul(scope)
        if where is not None:
            await self._answer(scope, receive, send, where)
            return
        kind = _body_kind(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        if kind[0] == "multipart":
            await self._multipart(scope, receive, send, kind[1])
            return
        body, disconnected = await _read_all(receive)
        if not disconnected and (json_has_nul(body) if kind[0] == "json" else form_has_nul(body)):
            await self._answer(scope, receive, send, "body")
            return
        await self.app(scope, _replay_bytes(body, receive, disconnected), send)

    async def _multipart(self, scope: Scope, receive: Receive, send: Send, boundary: bytes) -> None:
        scan = _MultipartScan(boundary)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES) as spool:
            disconnected = False
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    disconnected = True
                    break
                chunk = message.get("body", b"")
                spool.write(chunk)
                scan.feed(chunk)
                if not message.get("more_body", False):
                    break
            if scan.found and not disconnected:
                await self._answer(scope, receive, send, "body")
                return
            size = spool.tell()
            spool.seek(0)
            await self.app(scope, _replay_file(spool, size, receive, disconnected), send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, where: str) -> None:
        response = await self.refuse(Request(scope, receive), where)
        await response(scope, receive, send)


async def _read_all(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay_bytes(body: bytes, receive: Receive, disconnected: bool) -> Receive:
    """The body already read, as one message; then whatever the server says next (a disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if disconnected:
            return {"type": "http.disconnect"}
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _replay_file(spool: IO[bytes], size: int, receive: Receive, disconnected: bool) -> Receive:
    """A spooled body in chunks; then whatever the server says next."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if disconnected:
            return {"type": "http.disconnect"}
        if not done:
            chunk = spool.read(_REPLAY_CHUNK_BYTES)
            more = spool.tell() < size
            done = not more
            return {"type": "http.request", "body": chunk, "more_body": more}
        return await receive()

    return replay
