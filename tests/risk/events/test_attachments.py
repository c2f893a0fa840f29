"""Files attached to a report are kept with their checksum, served only to readers, and never too large."""

from __future__ import annotations

import hashlib

import httpx

from regio.core.access import Role
from tests.risk.events.fixtures import Headers, MakeOfficer, audit_actions, post_report

PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 1000


async def test_an_attachment_is_stored_with_its_checksum_and_read_back_as_a_download(
    client: httpx.AsyncClient, db, hz_officer: Headers, make_headers: MakeOfficer
) -> None:  # type: ignore[no-untyped-def]
    event = (await post_report(client, hz_officer))["event"]
    response = await client.post(
        f"/api/risk/events/{event['id']}/attachments",
        files={"file": ("积水照片.png", PHOTO, "image/png")},
        headers=hz_officer,
    )
    assert response.status_code == 201, response.text
    attachment = response.json()
    assert attachment["sha256"] == hashlib.sha256(PHOTO).hexdigest() and attachment["size_bytes"] == len(
        PHOTO
    )
    detail = (await client.get(f"/api/risk/events/{event['id']}", headers=hz_officer)).json()
    assert [a["filename"] for a in detail["attachments"]] == ["积水照片.png"]
    download = await client.get(
        f"/api/risk/events/{event['id']}/attachments/{attachment['id']}", headers=hz_officer
    )
    assert download.content == PHOTO
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    stranger = await make_headers(Role.city_officer, scope="440100")
    hidden = await client.get(
        f"/api/risk/events/{event['id']}/attachments/{attachment['id']}", headers=stranger
    )
    assert hidden.status_code == 403
    assert ("risk_event.attachment_added", str(event["id"])) in await audit_actions(db)


async def test_a_file_over_the_limit_is_refused(
    client: httpx.AsyncClient, settings, hz_officer: Headers
) -> None:  # type: ignore[no-untyped-def]
    event = (await post_report(client, hz_officer))["event"]
    too_big = b"x" * (settings.risk_attachment_max_bytes + 1)
    response = await client.post(
        f"/api/risk/events/{event['id']}/attachments",
        files={"file": ("big.bin", too_big)},
        headers=hz_officer,
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "attachment_too_large"
