"""Parsing and validating request input; every failure is a ValidationError naming the field."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson
from multidict import MultiMapping

from vts.api.urls import (
    MAX_URL_LENGTH,
    VIDEO_URL_PATTERN,
    host_problem,
    userinfo_problem,
)
from vts.domain import JobStatus
from vts.errors import UnsupportedMediaTypeError, ValidationError
from vts.idempotency import IdempotencyClaim
from vts.service import JobRequest

JSON_MEDIA_TYPE = "application/json"
MAX_BODY_BYTES = 64 * 1024
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 32
MAX_IDEMPOTENCY_KEY = 255
MAX_PAGE = 100
DEFAULT_PAGE = 20

# BCP 47 "langtag" (RFC 5646 section 2.1), without grandfathered tags, as an
# ECMA-262 pattern: the OpenAPI document states this very string, and JSON Schema
# patterns take no flags, so both cases are spelt out.
_L, _A = "[A-Za-z]", "[A-Za-z0-9]"
BCP47_PATTERN = (
    f"^{_L}{{2,3}}(?:-{_L}{{3}}){{0,3}}"  # language (4-8 letters: none registered)
    f"(?:-{_L}{{4}})?"  # script
    f"(?:-(?:{_L}{{2}}|[0-9]{{3}}))?"  # region
    f"(?:-(?:{_A}{{5,8}}|[0-9]{_A}{{3}}))*"  # variants
    f"(?:-[0-9A-WYZa-wyz](?:-{_A}{{2,8}})+)*"  # extensions
    f"(?:-[xX](?:-{_A}{{1,8}})+)?$"  # private use
)
_BCP47 = re.compile(BCP47_PATTERN)
IDEMPOTENCY_KEY_PATTERN = f"^[!-~]{{1,{MAX_IDEMPOTENCY_KEY}}}$"
"""1-MAX_IDEMPOTENCY_KEY printable ASCII characters."""
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_VIDEO_URL = re.compile(VIDEO_URL_PATTERN)
_ALLOWED_FIELDS = frozenset({"source_language", "target_language", "metadata"})


def require_json(content_type: str | None) -> None:
    """UnsupportedMediaTypeError unless the body is declared application/json.

    Parameters are allowed, but JSON is UTF-8 (RFC 8259), so a charset must say so.
    A missing Content-Type is refused too: RFC 9110 (8.3) lets a recipient take it
    for application/octet-stream, and a body that is JSON only by chance (`curl -d`
    sends a form type) should be declared, not guessed.
    """
    media_type, *parameters = (content_type or "").split(";")
    media_type = media_type.strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        sent = f"declared as {media_type[:80]!r}" if media_type else "not declared"
        raise UnsupportedMediaTypeError(
            f"the body's media type is {sent}; send it with Content-Type: "
            f"{JSON_MEDIA_TYPE}",
            JSON_MEDIA_TYPE,
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(
                f"JSON is UTF-8 (RFC 8259), not charset {charset[:40]!r}; send "
                "charset=utf-8 or no charset",
                JSON_MEDIA_TYPE,
            )


def query_value(query: MultiMapping[str], name: str) -> str | None:
    """The query parameter `name`, None if absent; ValidationError naming it if it is
    repeated (`status=a&status=b`), rather than silently using one of the values."""
    values = query.getall(name, [])
    if len(values) > 1:
        raise ValidationError(
            errors={name: f"given {len(values)} times; give it at most once"}
        )
    return values[0] if values else None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; ValidationError if it is not JSON or not an object."""
    if not raw.strip():
        raise ValidationError("the request body is empty; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"the request body must be a JSON object, not {_json_type(data)}"
        )
    return data


def parse_job_request(
    data: dict[str, Any], *, allow_private_urls: bool = False
) -> JobRequest:
    """Check a POST /translate body; collects every field error before raising.

    `allow_private_urls` (VTS_ALLOW_PRIVATE_URLS) lets `video_url` name hosts that
    are not public (see vts.api.urls)."""
    problems: dict[str, str] = {}
    for field in sorted(set(data) - _ALLOWED_FIELDS):
        problems[field] = (
            "unknown field; accepted: metadata, source_language, target_language"
        )
    languages = {}
    for field in ("source_language", "target_language"):
        value = data.get(field)
        if value is None:
            problems[field] = "required"
        elif not isinstance(value, str):
            problems[field] = f"must be a string, not {_json_type(value)}"
        elif not _BCP47.fullmatch(value):
            problems[field] = (
                f"{value!r} is not a BCP 47 language tag such as en or pt-BR"
            )
        else:
            languages[field] = value
    if len(languages) == 2 and (
        languages["source_language"].lower() == languages["target_language"].lower()
    ):
        problems["target_language"] = "must differ from source_language"
    metadata = data.get("metadata")
    if metadata is None:
        problems["metadata"] = "required: an object with at least video_url"
    elif not isinstance(metadata, dict):
        problems["metadata"] = f"must be an object, not {_json_type(metadata)}"
    elif _nests_deeper(metadata, MAX_METADATA_DEPTH):
        # orjson serializes at most 254 levels; the stored record adds one of its own.
        problems["metadata"] = f"nests deeper than {MAX_METADATA_DEPTH} levels"
    else:
        size = len(orjson.dumps(metadata))
        if size > MAX_METADATA_BYTES:
            problems["metadata"] = (
                f"is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}"
            )
        url_problem = http_url_problem(metadata.get("video_url"), allow_private_urls)
        if url_problem:
            problems["metadata.video_url"] = url_problem
    if problems:
        raise ValidationError(errors=problems)
    return JobRequest(data["source_language"], data["target_language"], metadata)  # type: ignore[arg-type]


def _nests_deeper(value: object, limit: int) -> bool:
    """True if `value` nests objects and arrays more than `limit` levels deep."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:  # nothing nests any deeper: most bodies end here at once
            return False
    return any(isinstance(item, dict | list) for item in level)


def http_url_problem(value: object, allow_private: bool) -> str | None:
    """Why `value` is not an acceptable http(s) URL (vts.api.urls); None if it is."""
    if value is None:
        return "required"
    if not isinstance(value, str):
        return f"must be a string, not {_json_type(value)}"
    if len(value) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http or https URL with a host"
    problem = userinfo_problem(value)
    if problem:
        return problem
    if not _VIDEO_URL.fullmatch(value):
        return (
            "is not a valid URI (RFC 3986); percent-encode spaces, control"
            " characters and non-ASCII text"
        )
    return None if allow_private else host_problem(value)


def idempotency_claim(key: str | None, body: dict[str, Any]) -> IdempotencyClaim | None:
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError(
            errors={
                "Idempotency-Key": f"must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters"
            }
        )
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return IdempotencyClaim(key, hashlib.sha256(canonical).hexdigest())


def parse_job_id(raw: str) -> str:
    """A canonical job id; ValidationError if `raw` is not a UUID."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ValidationError(
            errors={"job_id": f"{raw[:64]!r} is not a UUID"}
        ) from None


def parse_status(raw: str | None) -> JobStatus | None:
    if raw is None:
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        accepted = ", ".join(s.value for s in JobStatus)
        raise ValidationError(errors={"status": f"must be one of {accepted}"}) from None


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    # isdigit() alone admits '²' and 5000-digit strings, which int() refuses.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not (
        1 <= int(raw) <= MAX_PAGE
    ):
        raise ValidationError(errors={"limit": f"must be an integer 1-{MAX_PAGE}"})
    return int(raw)


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "an object"
