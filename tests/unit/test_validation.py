"""Request parsing in vts.api.validation: every bad input is a ValidationError naming the field."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict

from vts.api.urls import VIDEO_URL_PATTERN
from vts.api.validation import (
    DEFAULT_PAGE,
    MAX_METADATA_BYTES,
    idempotency_claim,
    parse_job_id,
    parse_job_request,
    parse_json_object,
    parse_limit,
    parse_status,
    query_value,
    require_json,
)
from vts.domain import JobStatus
from vts.errors import UnsupportedMediaTypeError, ValidationError

SEED_BODY: dict[str, Any] = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}


def body(**changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(SEED_BODY))
    data.update(changes)
    return data


def field_errors(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_job_request(data)
    assert caught.value.errors
    return caught.value.errors


def test_parse_job_request_accepts_seed_body() -> None:
    request = parse_job_request(parse_json_object(orjson.dumps(SEED_BODY)))
    assert request.source_language == "en"
    assert request.target_language == "es"
    assert request.metadata == {"video_url": "https://example.com/video.mp4"}


@pytest.mark.parametrize(
    "tag",
    ["pt-BR", "zh-Hant-TW", "es-419", "sr-Latn", "de-CH-1996", "EN-gb", "yue"],
)
def test_parse_job_request_accepts_bcp47_tags(tag: str) -> None:
    assert parse_job_request(body(target_language=tag)).target_language == tag


@pytest.mark.parametrize(
    "tag",
    ["english", "e", "en_US", "123", "", "en-", "-en", "en\n", "\u212aa", "en US"],
)
@pytest.mark.parametrize("field", ["source_language", "target_language"])
def test_parse_job_request_rejects_malformed_tags(field: str, tag: str) -> None:
    other = "target_language" if field == "source_language" else "source_language"
    errors = field_errors(body(**{field: tag, other: "fr"}))
    assert list(errors) == [field]
    assert "BCP 47" in errors[field]


@pytest.mark.parametrize(("source", "target"), [("en", "en"), ("pt-BR", "PT-br")])
def test_parse_job_request_rejects_same_languages(source: str, target: str) -> None:
    errors = field_errors(body(source_language=source, target_language=target))
    assert errors == {"target_language": "must differ from source_language"}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/video.mp4",
        "javascript:alert(1)",
        "example.com/x",
        "http://",
        "https://example.com/my video.mp4",
        " https://example.com/video.mp4",
        "https://example.com/video.mp4\n",
        "https://example.com/vid\x0eeo.mp4",
        "https://example.com/vidéo.mp4",
        "https://example.com/%zz.mp4",
        "https://example.com/a#b#c",
        "https://exa]mple.com/",
        "https://[not-an-ip]/",
        "https://example.com:99999/video.mp4",
        "file:///etc/passwd",
        "",
        "https://" + "a" * 2100 + ".com/",
    ],
)
def test_parse_job_request_rejects_non_http_urls(url: str) -> None:
    errors = field_errors(body(metadata={"video_url": url}))
    assert list(errors) == ["metadata.video_url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://a.b",
        "HTTPS://EXAMPLE.COM",
        "https://example.com/my%20video.mp4?t=10&lang=en#chapter/2",
        "https://media.example.com:8443/v/1.mp4?token=abc&sig=def",
        "http://[2606:4700::1111]:8080/video.mp4",
        "https://example.com/a/b/?q=x/y?z",
    ],
)
def test_parse_job_request_accepts_http_uris(url: str) -> None:
    request = parse_job_request(body(metadata={"video_url": url}))
    assert request.metadata["video_url"] == url


URI_FORMAT = jsonschema_rs.validator_for(
    {"type": "string", "format": "uri"}, validate_formats=True
)


@given(
    url=st.from_regex(VIDEO_URL_PATTERN, fullmatch=True)
    | st.text().map(lambda tail: "https://" + tail)
)
def test_every_accepted_video_url_is_a_uri_the_schema_admits(url: str) -> None:
    """What POST /translate accepts, GET /jobs returns: it must fit the document's
    `format: uri` and pattern, as any generated client validates them."""
    try:
        parse_job_request(body(metadata={"video_url": url}))
    except ValidationError:
        return
    assert URI_FORMAT.is_valid(url), url
    assert re.fullmatch(VIDEO_URL_PATTERN, url), url


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"source_language": None}, "source_language"),
        ({"target_language": 7}, "target_language"),
        ({"source_language": ["en"]}, "source_language"),
        ({"metadata": None}, "metadata"),
        ({"metadata": "https://example.com/video.mp4"}, "metadata"),
        ({"metadata": {}}, "metadata.video_url"),
        ({"metadata": {"video_url": 5}}, "metadata.video_url"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_parse_job_request_names_bad_field(changes: dict[str, Any], field: str) -> None:
    assert field in field_errors(body(**changes))


def test_parse_job_request_missing_fields_all_reported() -> None:
    errors = field_errors({})
    assert set(errors) == {"source_language", "target_language", "metadata"}


def test_parse_job_request_rejects_metadata_over_16_kib() -> None:
    filler = "x" * MAX_METADATA_BYTES
    metadata = {"video_url": "https://example.com/video.mp4", "notes": filler}
    errors = field_errors(body(metadata=metadata))
    assert list(errors) == ["metadata"]
    assert str(MAX_METADATA_BYTES) in errors["metadata"]
    # Just under the limit is fine.
    metadata["notes"] = "x" * (MAX_METADATA_BYTES - 100)
    assert parse_job_request(body(metadata=metadata)).metadata == metadata


@pytest.mark.parametrize(
    "raw",
    [b"", b"   ", b"{", b"{'a': 1}", b"\xff\xfe", b"[]", b"[1]", b'"x"', b"3", b"null"],
)
def test_parse_json_object_rejects_non_objects(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_json_object(raw)


def test_idempotency_claim_fingerprint_ignores_key_order() -> None:
    reordered = {
        "metadata": {"video_url": "https://example.com/video.mp4", "title": "t"},
        "target_language": "es",
        "source_language": "en",
    }
    original = body(
        metadata={"title": "t", "video_url": "https://example.com/video.mp4"}
    )
    first = idempotency_claim("key-1", original)
    second = idempotency_claim("key-1", reordered)
    assert first is not None and second is not None
    assert first.fingerprint == second.fingerprint
    assert first.key == "key-1"


def test_idempotency_claim_fingerprint_differs_for_other_body() -> None:
    first = idempotency_claim("key-1", body())
    second = idempotency_claim("key-1", body(target_language="fr"))
    assert first is not None and second is not None
    assert first.fingerprint != second.fingerprint


def test_idempotency_claim_without_key_is_none() -> None:
    assert idempotency_claim(None, body()) is None


@pytest.mark.parametrize(
    "key", ["", "has space", "naïve", "tab\tkey", "k\n", "k" * 256]
)
def test_idempotency_claim_rejects_bad_keys(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        idempotency_claim(key, body())
    assert list(caught.value.errors) == ["Idempotency-Key"]


def test_idempotency_claim_accepts_255_printable_characters() -> None:
    assert idempotency_claim("k" * 255, body()) is not None


@pytest.mark.parametrize(
    "raw",
    [
        "6FA459EA-EE8A-3CA4-894E-DB77E160355E",
        "6fa459eaee8a3ca4894edb77e160355e",
        "{6fa459ea-ee8a-3ca4-894e-db77e160355e}",
    ],
)
def test_parse_job_id_canonicalises_uuids(raw: str) -> None:
    assert parse_job_id(raw) == "6fa459ea-ee8a-3ca4-894e-db77e160355e"


@pytest.mark.parametrize("raw", ["", "abc", "1234", "../etc/passwd", "6fa459ea-ee8a"])
def test_parse_job_id_rejects_junk(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_job_id(raw)
    assert list(caught.value.errors) == ["job_id"]


@pytest.mark.parametrize(
    ("raw", "limit"), [(None, DEFAULT_PAGE), ("1", 1), ("100", 100)]
)
def test_parse_limit_accepts_1_to_100(raw: str | None, limit: int) -> None:
    assert parse_limit(raw) == limit


@pytest.mark.parametrize(
    "raw", ["", "0", "101", "-1", "1.5", "ten", " 5", "²", "1" * 5000]
)
def test_parse_limit_rejects_others(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_limit(raw)
    assert list(caught.value.errors) == ["limit"]


def test_parse_status_accepts_every_status_and_none() -> None:
    assert parse_status(None) is None
    for status in JobStatus:
        assert parse_status(status.value) is status


@pytest.mark.parametrize("raw", ["", "PENDING", "done", "queued"])
def test_parse_status_rejects_unknown(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_status(raw)
    assert list(caught.value.errors) == ["status"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Bodies shaped like a job request, with arbitrary values in the known fields.
request_like = st.fixed_dictionaries(
    {},
    optional={
        "source_language": json_values | st.sampled_from(["en", "pt-BR", "EN"]),
        "target_language": json_values | st.sampled_from(["es", "en", "zh-Hant"]),
        "metadata": json_values
        | st.fixed_dictionaries({"video_url": json_values | st.just("http://a.b/")}),
        "extra": json_values,
    },
)


@given(value=json_values | request_like)
def test_any_json_body_raises_only_validation_error(value: object) -> None:
    # Serialized by the standard library, as a client might (NaN, huge ints...).
    raw = json.dumps(value).encode()
    try:
        data = parse_json_object(raw)
        request = parse_job_request(data)
        idempotency_claim("key", data)
    except ValidationError as exc:
        assert exc.message
        return
    assert request.source_language.lower() != request.target_language.lower()
    assert request.metadata["video_url"].startswith(("http://", "https://"))


@given(raw=st.binary(max_size=64))
def test_any_bytes_parse_or_raise_validation_error(raw: bytes) -> None:
    try:
        assert isinstance(parse_json_object(raw), dict)
    except ValidationError:
        pass


@given(raw=st.text(max_size=40))
def test_query_parsers_raise_only_validation_error(raw: str) -> None:
    for parse in (parse_job_id, parse_limit, parse_status):
        try:
            parse(raw)
        except ValidationError:
            pass


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/json; charset=utf8; q=1",
    ],
)
def test_require_json_accepts_application_json(content_type: str) -> None:
    require_json(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",  # what curl -d sends without -H
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "application/merge-patch+json",
        "application/jsonx",
        "json",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
    ],
)
def test_require_json_refuses_other_media_types(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as caught:
        require_json(content_type)
    assert caught.value.accepted == "application/json"
    assert "application/json" in caught.value.message or "UTF-8" in caught.value.message


def test_query_value_returns_the_one_value_or_none() -> None:
    query = MultiDict([("status", "failed"), ("limit", "")])
    assert query_value(query, "status") == "failed"
    assert query_value(query, "limit") == ""
    assert query_value(query, "cursor") is None


@pytest.mark.parametrize("values", [["a", "b"], ["failed", "failed"], ["", ""]])
def test_query_value_refuses_a_repeated_parameter(values: list[str]) -> None:
    query = MultiDict([("status", v) for v in values] + [("limit", "5")])
    with pytest.raises(ValidationError) as caught:
        query_value(query, "status")
    assert list(caught.value.errors) == ["status"]
    assert f"given {len(values)} times" in caught.value.errors["status"]
