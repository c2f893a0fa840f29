"""Attachments: type by content (not name or declared type), size limited, kept by SHA-256, audited."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regio.care.consultation.enums import Status
from regio.care.consultation.models import Attachment, Message
from regio.config import Settings
from regio.core.audit import AuditEntry
from regio.core.blobs import MemoryBlobStore
from regio.core.db import Database
from tests.care.booking.conftest import World
from tests.care.consultation.conftest import MakePatients, bearer, open_consultation


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"
    + b"\x00" * 64
    + b"This program cannot be run in DOS mode"
)


@pytest.fixture
async def setup(app: Any, db: Database, settings: Settings, world: World, make_patients: MakePatients) -> Any:
    app.state.blobs = MemoryBlobStore()
    [patient] = await make_patients(1)
    c = await open_consultation(db, settings, world, patient, status=Status.in_progress)
    return c, patient, app.state.blobs


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], cid: int, data: bytes, name: str, declared: str
) -> httpx.Response:
    return await client.post(
        f"/api/care/consultations/{cid}/attachments",
        content=data,
        headers={**headers, "X-File-Name": name, "Content-Type": declared},
    )


@pytest.mark.parametrize(
    ("data", "name", "declared", "expected_type"),
    [
        (tiny_png(), "%E8%88%8C%E8%8B%94.png", "image/png", "image/png"),
        (PDF, "report.pdf", "application/pdf", "application/pdf"),
        (tiny_png(), "photo.pdf", "application/pdf", "image/png"),  # the content decides, not the name
    ],
)
async def test_an_image_or_pdf_is_stored_by_hash_and_sent_as_a_chat_message(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    setup: Any,
    data: bytes,
    name: str,
    declared: str,
    expected_type: str,
) -> None:
    c, patient, blobs = setup
    answer = await upload(client, bearer(settings, patient.user), c.id, data, name, declared)
    assert answer.status_code == 201, answer.text
    message = answer.json()
    assert message["kind"] == "attachment" and message["seq"] == 2
    assert message["attachment"]["content_type"] == expected_type
    assert message["attachment"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert blobs.blobs[hashlib.sha256(data).hexdigest()] == data
    back = await client.get(message["attachment"]["url"], headers=bearer(settings, patient.user))
    assert back.status_code == 200 and back.content == data
    assert back.headers["content-type"].startswith(expected_type)
    assert back.headers["x-content-type-options"] == "nosniff"
    if name.startswith("%E8"):
        assert message["attachment"]["file_name"] == "舌苔.png"


async def test_an_exe_renamed_png_is_refused_by_its_content_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, settings: Settings, setup: Any
) -> None:
    c, patient, blobs = setup
    answer = await upload(client, bearer(settings, patient.user), c.id, EXE, "cat.png", "image/png")
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_attachment"
    assert blobs.blobs == {}
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Attachment)) == 0
        assert (
            await session.scalar(
                select(func.count()).select_from(Message).where(Message.kind == "attachment")
            )
            == 0
        )


async def test_a_file_over_the_limit_is_refused_with_413(
    app: Any, client: httpx.AsyncClient, db: Database, settings: Settings, setup: Any
) -> None:
    c, patient, blobs = setup
    app.state.settings = settings.model_copy(update={"attachment_max_bytes": 1000})
    big = tiny_png() + b"\x00" * 2000
    answer = await upload(client, bearer(settings, patient.user), c.id, big, "big.png", "image/png")
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "attachment_too_large"
    assert blobs.blobs == {}


async def test_a_stranger_cannot_read_an_attachment_and_each_read_is_audited(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    setup: Any,
    make_patients: MakePatients,
) -> None:
    c, patient, _ = setup
    [stranger] = await make_patients(1)
    sent = (
        await upload(client, bearer(settings, patient.user), c.id, PDF, "r.pdf", "application/pdf")
    ).json()
    refused = await client.get(sent["attachment"]["url"], headers=bearer(settings, stranger.user))
    assert refused.status_code == 404
    doctor_read = await client.get(sent["attachment"]["url"], headers=bearer(settings, world.doctor_user))
    assert doctor_read.status_code == 200
    async with db.session() as session:
        reads = (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action == "consultation.attachment.read")
                )
            )
            .scalars()
            .all()
        )
    assert [r.actor_user_id for r in reads] == [world.doctor_user.id]
