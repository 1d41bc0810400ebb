"""transport.body: bodies built once for both paths, and bounded decompression of what comes back."""

from __future__ import annotations

import email.parser
import gzip
import zlib

import pytest

from airflow_provider_sigmamind.transport import BodyTooLarge, TransportFailure
from airflow_provider_sigmamind.transport.body import BoundedBody, json_body, multipart_body

PAYLOAD = b'{"campaignId": "camp_A", "campaignStatus": "live"}' * 50


def read(encoded: bytes, encoding: str | None, *, limit: int = 10_000, chunk: int = 7) -> bytes:
    body = BoundedBody(200, encoding, limit)
    for start in range(0, len(encoded), chunk):
        body.feed(encoded[start : start + chunk])
    return body.finish()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        (" GZIP ", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
    ],
)
def test_bodies_are_decoded_whatever_the_chunking(encoding, encode):
    assert read(encode(PAYLOAD), encoding) == PAYLOAD
    assert read(encode(PAYLOAD), encoding, chunk=1) == PAYLOAD


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_the_limit_holds_raw_and_inflated(encoding):
    encoded = gzip.compress(PAYLOAD) if encoding else PAYLOAD
    assert read(encoded, encoding, limit=len(PAYLOAD)) == PAYLOAD
    with pytest.raises(BodyTooLarge) as excinfo:
        read(encoded, encoding, limit=len(PAYLOAD) - 1)
    assert excinfo.value.status == 200


@pytest.mark.parametrize(
    ("declared", "refused"),
    [("10001", True), (" 10001 ", True), ("10000", False), ("x", False), ("", False), ("²", False), ("١٢٣٤٥٦", False)],
)
def test_a_body_declared_larger_than_the_limit_is_refused_before_any_is_read(declared, refused):
    if refused:
        with pytest.raises(BodyTooLarge):
            BoundedBody(503, None, 10_000, declared=declared)
    else:  # within the limit, or unreadable: the bytes that come are counted instead
        body = BoundedBody(200, None, 10_000, declared=declared)
        body.feed(b"{}")
        assert body.finish() == b"{}"


def test_a_bomb_is_refused_after_the_limit_not_inflated_whole():
    bomb = gzip.compress(bytes(50 * 1024 * 1024))
    body = BoundedBody(200, "gzip", 1024)
    with pytest.raises(BodyTooLarge):
        body.feed(bomb)  # one small chunk that would inflate to 50 MiB
    assert body._size <= 1025  # never more than one byte past the limit was inflated


@pytest.mark.parametrize(
    ("encoded", "encoding", "match"),
    [
        (b"not gzip at all", "gzip", "corrupt"),
        (gzip.compress(PAYLOAD)[:-20], "gzip", "ended before its end"),
        (b"x", "br", "encoded as 'br'"),
    ],
)
def test_bad_encodings_are_transport_failures(encoded, encoding, match):
    with pytest.raises(TransportFailure, match=match):
        read(encoded, encoding)


def test_json_body_is_compact_and_strict():
    assert json_body({"a": [1, "é"]}) == (b'{"a":[1,"\\u00e9"]}', "application/json")
    with pytest.raises(ValueError, match="Out of range float"):
        json_body({"a": float("nan")})


def test_multipart_body_parses_back_to_its_fields_and_file():
    body, content_type = multipart_body(
        {"campaignName": 'Q4 "quoted" ü', "agentId": "agent_1"},
        {"file": ("contacts.csv", b"Phone Number\r\n+14155552671\r\n", "text/csv")},
    )
    message = email.parser.BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = {part.get_param("name", header="content-disposition"): part for part in message.get_payload()}
    assert set(parts) == {"campaignName", "agentId", "file"}
    assert parts["campaignName"].get_payload(decode=True).decode() == 'Q4 "quoted" ü'
    assert parts["file"].get_filename() == "contacts.csv"
    assert parts["file"].get_content_type() == "text/csv"
    assert parts["file"].get_payload(decode=True) == b"Phone Number\r\n+14155552671\r\n"
