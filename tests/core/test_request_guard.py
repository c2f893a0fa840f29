"""A NUL character is refused at the door (422 invalid_characters) on every route, before any handler."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Form, Request, UploadFile
from sqlalchemy import func, select
from starlette.responses import JSONResponse, Response

from regio.core.access import Role
from regio.core.audit import AuditEntry
from regio.core.db import Database
from regio.core.guards import RefuseNulCharacters, form_has_nul, json_has_nul, target_nul
from regio.core.identity import service
from regio.core.identity.models import LoginThrottle
from tests.factories import TEST_PASSWORD, csrf_from_html, make_user, token_headers

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def no_failure_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FAILURE_PAUSE_BASE_SECONDS", 0.0)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_characters"
    assert "NUL" in error["message_en"] and "空字符" in error["message_zh"]


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_nul_in_the_username_of_a_token_request_is_refused_and_nothing_is_written(db, client):
    response = await client.post("/api/auth/token", json={"username": "wang\x00", "password": "x" * 10})
    assert_refused(response)
    assert response.json()["error"]["details"] == {"where": "body"}
    assert await count(db, AuditEntry) == 0
    assert await count(db, LoginThrottle) == 0


async def test_a_json_escaped_nul_deep_inside_a_body_is_refused_too(client):
    body = '{"username": "wang", "password": "pass\\u0000word", "x": {"\\u0000": 1}}'
    response = await client.post(
        "/api/auth/token", content=body.encode(), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert_refused(response)


async def test_the_literal_text_backslash_u0000_is_not_a_nul_and_reaches_the_handler(client):
    # An escaped backslash followed by u0000 is six ordinary characters.
    body = json.dumps({"username": "\\u0000", "password": "x" * 10})
    response = await client.post(
        "/api/auth/token", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


async def test_a_nul_in_the_sign_in_form_is_refused_with_a_page_that_says_why(db, client):
    await make_user(db, username="formuser")
    csrf = csrf_from_html((await client.get("/login", headers=HTML)).text)
    response = await client.post(
        "/login",
        data={"username": "formuser\x00", "password": TEST_PASSWORD, "csrf_token": csrf},
        headers=HTML,
    )
    assert response.status_code == 422
    assert "invalid_characters" in response.text and "空字符" in response.text
    assert service.SESSION_COOKIE not in client.cookies


@pytest.mark.parametrize(
    "url",
    [
        "/portal?q=%00",
        "/portal?city=3301%0000",
        "/api/care/hospitals?q=%00",
        "/api/care/hospitals?q=abc%00def",
        "/api/care/hospitals/1%00",
        "/api/audit/entries?object_id=%00",
        "/api/audit/entries?actor_username=x%00",
    ],
)
async def test_a_nul_in_the_path_or_query_is_refused_on_every_route(db, settings, client, url: str):
    # Signed in as a reader of everything, so the request would reach the database if let through.
    reader = await make_user(db, roles=[Role.regulator])
    response = await client.get(url, headers=token_headers(settings, reader))
    assert_refused(response)
    assert response.headers["X-Request-ID"]


async def test_a_nul_in_a_page_query_gets_an_html_page_not_json(client):
    response = await client.get("/portal?q=%00", headers=HTML)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "invalid_characters" in response.text


async def test_the_refusal_speaks_english_when_asked(client):
    response = await client.get("/api/care/hospitals?q=%00", headers={"Accept-Language": "en"})
    assert response.json()["error"]["message"].startswith("The request contains a NUL")


async def test_a_normal_json_post_still_reads_its_body_after_the_guard(db, client):
    await make_user(db, username="reader1")
    response = await client.post("/api/auth/token", json={"username": "reader1", "password": TEST_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


async def test_a_normal_form_post_still_reads_its_body_after_the_guard(db, client):
    await make_user(db, username="reader2")
    csrf = csrf_from_html((await client.get("/login", headers=HTML)).text)
    response = await client.post(
        "/login",
        data={"username": "reader2", "password": TEST_PASSWORD, "csrf_token": csrf, "next": "/account"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


async def test_an_urlencoded_percent_00_in_a_form_is_refused(client):
    response = await client.post(
        "/login",
        content=b"username=a%00b&password=xxxxxxxx",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_refused(response)


# --- the middleware on its own, on a small app with an upload route ---------------------------


def guarded_app() -> FastAPI:
    app = FastAPI()

    async def refuse(request: Request, where: str) -> Response:
        return JSONResponse({"refused": where}, status_code=422)

    app.add_middleware(RefuseNulCharacters, refuse=refuse)

    @app.post("/upload")
    async def upload(note: str = Form(), file: UploadFile | None = None) -> dict[str, object]:
        content = await file.read() if file else b""
        return {"note": note, "size": len(content), "nuls": content.count(b"\x00")}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        return {"body": (await request.body()).decode()}

    return app


@pytest.fixture
async def small() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=guarded_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_an_uploaded_file_may_hold_nul_bytes_and_arrives_whole(small: httpx.AsyncClient):
    # Larger than the in-memory spool, so the replay from disk is exercised too.
    blob = (b"\x00\x01binary\xff" * 250_000)[:2_500_000]
    response = await small.post(
        "/upload", data={"note": "化验单"}, files={"file": ("report.pdf", blob, "application/pdf")}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"note": "化验单", "size": len(blob), "nuls": blob.count(b"\x00")}


async def test_a_nul_in_a_multipart_text_field_is_refused(small: httpx.AsyncClient):
    response = await small.post(
        "/upload", data={"note": "a\x00b"}, files={"file": ("r.txt", b"ok", "text/plain")}
    )
    assert response.status_code == 422
    assert response.json() == {"refused": "body"}


async def test_a_nul_in_an_uploaded_file_name_is_refused(small: httpx.AsyncClient):
    # Written by hand: httpx itself would percent-encode the NUL in a file name.
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"n\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="r\x00.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"ok\r\n"
        b"--b0undary--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    response = await small.post("/upload", content=body, headers=headers)
    assert response.status_code == 422
    clean = await small.post("/upload", content=body.replace(b"\x00", b"_"), headers=headers)
    assert clean.status_code == 200
    assert clean.json() == {"note": "n", "size": 2, "nuls": 0}


async def test_a_body_of_another_type_is_handed_on_untouched(small: httpx.AsyncClient):
    response = await small.post("/echo", content=b"plain text", headers={"Content-Type": "text/plain"})
    assert response.json() == {"body": "plain text"}


async def test_a_json_body_sent_in_many_chunks_is_reassembled_for_the_handler(small: httpx.AsyncClient):
    async def chunks():
        for piece in (b'{"a": ', b'"', b"x" * 70_000, b'"}'):
            yield piece

    response = await small.post("/echo", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert json.loads(response.json()["body"]) == {"a": "x" * 70_000}


def test_the_checks_find_every_spelling_of_nul_and_nothing_else() -> None:
    assert json_has_nul(b'{"a": "\\u0000"}') and json_has_nul(b'{"a": "\\\\\\u0000"}')
    assert json_has_nul(b'{"a": "\x00"}')
    assert not json_has_nul(b'{"a": "\\\\u0000"}')
    assert not json_has_nul(b'{"a": "\\u0001"}')
    assert form_has_nul(b"a=%00") and form_has_nul(b"a%00=1") and form_has_nul(b"a=\x00")
    assert not form_has_nul(b"a=%2500&b=+")
    assert target_nul({"path": "/x\x00", "query_string": b""}) == "path"
    assert target_nul({"path": "/x", "raw_path": b"/x%00", "query_string": b""}) == "path"
    assert target_nul({"path": "/x", "query_string": b"q=%00"}) == "query"
    assert target_nul({"path": "/x", "query_string": b"q=%2500"}) is None
