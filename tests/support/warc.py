"""A minimal WARC/1.0 writer for tests: HTTP response records, each its own gzip member (as crawls ship)."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path


def response_record(url: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n\r\n" + body
    headers = (
        "WARC/1.0\r\n"
        "WARC-Type: response\r\n"
        f"WARC-Target-URI: {url}\r\n"
        "WARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return headers + http + b"\r\n\r\n"


def write_warc(path: Path, records: list[bytes]) -> None:
    with path.open("wb") as f:
        for record in records:
            f.write(gzip.compress(record, mtime=0))
