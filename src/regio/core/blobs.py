"""Content-addressed blob storage: a local folder, memory (tests), or an S3-compatible store.

A blob's key is the SHA-256 of its bytes, so storing the same file twice stores it once, and a
key read back is proof of the content. The S3 store speaks plain HTTP with AWS Signature V4
(the signing steps follow the AWS "Signature Version 4 signing process" documentation).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx

from regio.config import Settings

_KEY = re.compile(r"^[0-9a-f]{64}$")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class BlobNotFound(Exception):
    """No blob under this key."""


class BlobStoreError(Exception):
    """The store could not be reached or refused the operation."""


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise BlobNotFound(key)
    return key


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Stores the bytes (once, whatever the number of calls) and returns their SHA-256 key."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes stored under key; raises BlobNotFound."""
        ...

    async def exists(self, key: str) -> bool: ...


class MemoryBlobStore:
    """For tests and throwaway runs: a dict."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        key = blob_key(data)
        self.blobs.setdefault(key, bytes(data))
        return key

    async def get(self, key: str) -> bytes:
        try:
            return self.blobs[_checked(key)]
        except KeyError as exc:
            raise BlobNotFound(key) from exc

    async def exists(self, key: str) -> bool:
        return key in self.blobs


class LocalBlobStore:
    """A folder: root/ab/cd/abcd…; written to a temporary name first, so a reader never sees half a file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key[2:4] / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def put(self, data: bytes) -> str:
        key = blob_key(data)
        await asyncio.to_thread(self._write, key, data)
        return key

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    async def exists(self, key: str) -> bool:
        try:
            return self._path(key).exists()
        except BlobNotFound:
            return False


# ---- AWS Signature Version 4 ---------------------------------------------------------------------


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sigv4_headers(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str = "s3",
    now: datetime | None = None,
) -> dict[str, str]:
    """The request's headers plus x-amz-date, x-amz-content-sha256 and Authorization (SigV4)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    parts = urlsplit(url)
    host = parts.netloc
    all_headers = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    all_headers.setdefault("host", host)
    all_headers["x-amz-date"] = amz_date
    all_headers["x-amz-content-sha256"] = payload_sha256
    signed = sorted(all_headers)
    canonical_headers = "".join(f"{name}:{all_headers[name]}\n" for name in signed)
    signed_headers = ";".join(signed)
    path = quote(parts.path or "/", safe="/-_.~")
    query_pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, _, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    canonical_query = "&".join(f"{k}={v}" for k, v in query_pairs)
    canonical_request = "\n".join(
        [method.upper(), path, canonical_query, canonical_headers, signed_headers, payload_sha256]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    result = {k: v for k, v in all_headers.items() if k != "host"}
    result["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return result


class S3BlobStore:
    """An S3-compatible bucket (AWS, MinIO, Ceph RGW …), path-style URLs: endpoint/bucket/key."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self._client = client or httpx.AsyncClient(timeout=30.0, follow_redirects=False)

    def _url(self, key: str) -> str:
        return f"{self.endpoint}/{self.bucket}/{_checked(key)}"

    def _signed(self, method: str, url: str, payload_sha256: str, extra: Mapping[str, str]) -> dict[str, str]:
        return sigv4_headers(
            method=method,
            url=url,
            headers=extra,
            payload_sha256=payload_sha256,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
        )

    async def put(self, data: bytes) -> str:
        key = blob_key(data)
        url = self._url(key)
        headers = self._signed("PUT", url, key, {"content-type": "application/octet-stream"})
        try:
            response = await self._client.put(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise BlobStoreError(str(exc)) from exc
        if response.status_code // 100 != 2:
            raise BlobStoreError(f"PUT {response.status_code}")
        return key

    async def get(self, key: str) -> bytes:
        url = self._url(key)
        try:
            response = await self._client.get(url, headers=self._signed("GET", url, EMPTY_SHA256, {}))
        except httpx.HTTPError as exc:
            raise BlobStoreError(str(exc)) from exc
        if response.status_code == 404:
            raise BlobNotFound(key)
        if response.status_code // 100 != 2:
            raise BlobStoreError(f"GET {response.status_code}")
        if blob_key(response.content) != key:
            raise BlobStoreError("content does not match its key")
        return response.content

    async def exists(self, key: str) -> bool:
        url = self._url(key)
        try:
            response = await self._client.head(url, headers=self._signed("HEAD", url, EMPTY_SHA256, {}))
        except httpx.HTTPError as exc:
            raise BlobStoreError(str(exc)) from exc
        return response.status_code // 100 == 2

    async def aclose(self) -> None:
        await self._client.aclose()


def blob_store_for(settings: Settings) -> LocalBlobStore | S3BlobStore:
    """The S3 store when an endpoint is configured, else the local folder."""
    if settings.s3_endpoint:
        return S3BlobStore(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
        )
    return LocalBlobStore(settings.blob_dir)
