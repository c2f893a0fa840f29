"""Blob stores: content-addressed by SHA-256 in a folder, in memory, or in an S3-compatible bucket."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from regio.config import Settings
from regio.core.blobs import (
    EMPTY_SHA256,
    BlobNotFound,
    BlobStoreError,
    LocalBlobStore,
    MemoryBlobStore,
    S3BlobStore,
    blob_store_for,
    sigv4_headers,
)


async def test_the_local_store_keeps_each_content_once_under_its_hash(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    key = await store.put(b"hello")
    assert key == hashlib.sha256(b"hello").hexdigest()
    assert await store.put(b"hello") == key
    assert await store.get(key) == b"hello"
    assert await store.exists(key)
    files = await asyncio.to_thread(lambda: [p for p in tmp_path.rglob("*") if p.is_file()])
    assert [p.name for p in files] == [key]  # no temporary file left behind
    with pytest.raises(BlobNotFound):
        await store.get("0" * 64)
    with pytest.raises(BlobNotFound):
        await store.get("../../etc/passwd")


async def test_the_memory_store_behaves_like_the_others() -> None:
    store = MemoryBlobStore()
    key = await store.put(b"x")
    assert await store.get(key) == b"x" and await store.exists(key)
    with pytest.raises(BlobNotFound):
        await store.get("f" * 64)


def test_signature_v4_matches_the_published_aws_example() -> None:
    # The GET Object example of the AWS S3 "Signature Version 4" documentation.
    headers = sigv4_headers(
        method="GET",
        url="https://examplebucket.s3.amazonaws.com/test.txt",
        headers={"Range": "bytes=0-9"},
        payload_sha256=EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        now=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


async def test_the_s3_store_puts_and_gets_signed_requests_by_path() -> None:
    bucket: dict[str, bytes] = {}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AK/")
        key = request.url.path.rsplit("/", 1)[-1]
        if request.method == "PUT":
            assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.content).hexdigest()
            bucket[key] = request.content
            return httpx.Response(200)
        if key not in bucket:
            return httpx.Response(404)
        return httpx.Response(200, content=b"" if request.method == "HEAD" else bucket[key])

    store = S3BlobStore(
        endpoint="http://s3.local:9000",
        bucket="regio",
        access_key="AK",
        secret_key="SK",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    key = await store.put(b"%PDF-1.4 report")
    assert seen[0].url.path == f"/regio/{key}"
    assert await store.get(key) == b"%PDF-1.4 report"
    assert await store.exists(key) and not await store.exists("a" * 64)
    with pytest.raises(BlobNotFound):
        await store.get("a" * 64)
    bucket[key] = b"tampered"
    with pytest.raises(BlobStoreError):
        await store.get(key)  # the content must match its key
    await store.aclose()


def test_settings_choose_the_store(tmp_path: Path) -> None:
    local = blob_store_for(Settings(environment="test", blob_dir=str(tmp_path)))
    assert isinstance(local, LocalBlobStore)
    remote = blob_store_for(Settings(environment="test", s3_endpoint="http://s3.local", s3_bucket="b"))
    assert isinstance(remote, S3BlobStore)
