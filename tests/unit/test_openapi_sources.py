"""Each pattern and limit in the OpenAPI document is the one its validator enforces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from _openapi import SEED_BODY, SPEC, component, schema_errors
from hypothesis import given
from hypothesis import strategies as st

from vts import apikeys
from vts.api.admin import LIFETIME_PATTERN
from vts.api.events_stream import EVENT_ID_PATTERN, MAX_JOB_IDS
from vts.api.openapi_webhooks import HTTPS_URL_PATTERN
from vts.api.urls import MAX_URL_LENGTH, VIDEO_URL_PATTERN
from vts.api.validation import (
    BCP47_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_PAGE,
    idempotency_claim,
    parse_job_request,
)
from vts.api.webhook_input import MAX_DESCRIPTION
from vts.api.webhooks import ENDPOINT_ID, MESSAGE_ID
from vts.api.ws import MAX_SUBSCRIBE_IDS
from vts.errors import ValidationError

# Pattern -> the constant of the module that enforces it.
ENFORCED = {
    BCP47_PATTERN: "validation.BCP47_PATTERN",
    IDEMPOTENCY_KEY_PATTERN: "validation.IDEMPOTENCY_KEY_PATTERN",
    VIDEO_URL_PATTERN: "urls.VIDEO_URL_PATTERN",
    apikeys.TENANT_PATTERN: "apikeys.TENANT_PATTERN",
    apikeys.KEY_ID.pattern: "apikeys.KEY_ID",
    LIFETIME_PATTERN: "admin.LIFETIME_PATTERN",
    EVENT_ID_PATTERN: "events_stream.EVENT_ID_PATTERN",
    ENDPOINT_ID.pattern: "webhooks.ENDPOINT_ID",
    MESSAGE_ID.pattern: "webhooks.MESSAGE_ID",
}
# Patterns only the document states, each with the reason no vts regex enforces it.
DESCRIBED_ONLY = {
    HTTPS_URL_PATTERN,  # VIDEO_URL_PATTERN with https only; webhook_input checks
    "^[A-Za-z0-9_-]+$",  # an opaque cursor: the store decodes it
    "^whsec_[A-Za-z0-9+/=]+$",  # a secret vts generates, never reads
    "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$",  # WebSocket handshake: aiohttp's
    "[Uu][Pp][Gg][Rr][Aa][Dd][Ee]",
    "^[A-Za-z0-9+/]{21}[AQgw]==$",
    "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$",  # ws.py lowers, then compares
}
# Largest sizes and values -> the constant that enforces each.
LIMITS = {
    ("maxItems", MAX_JOB_IDS),
    ("maxItems", MAX_SUBSCRIBE_IDS),
    ("maxLength", MAX_URL_LENGTH),
    ("maxLength", MAX_DESCRIPTION),
    ("maximum", MAX_PAGE),
    ("maximum", apikeys.MAX_ACTIVE_JOBS_QUOTA),
    ("maximum", apikeys.MAX_RATE_QUOTA),
    ("maximum", 100),  # a job's progress, in per cent
    ("maximum", 599),  # a problem's HTTP status
}


def constraints(node: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """(where, keyword, value) of every pattern and upper limit in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("pattern", "maxItems", "maxLength", "maximum"):
                yield where, key, value
            yield from constraints(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from constraints(value, f"{where}/{index}")


def test_openapi_patterns_are_the_validators_own() -> None:
    patterns = {
        (where, value) for where, key, value in constraints(SPEC) if key == "pattern"
    }
    stray = sorted(
        f"{where}: {value}"
        for where, value in patterns
        if value not in ENFORCED and value not in DESCRIBED_ONLY
    )
    assert stray == [], "write the pattern once, where it is enforced, and import it"
    # Each enforced pattern is stated somewhere, so the tables above stay current.
    assert set(ENFORCED) | DESCRIBED_ONLY == {value for _, value in patterns}


def test_openapi_limits_are_the_validators_own() -> None:
    stray = sorted(
        f"{where}: {key} {value}"
        for where, key, value in constraints(SPEC)
        if key != "pattern" and (key, value) not in LIMITS
    )
    assert stray == []
    assert LIMITS == {(k, v) for _, k, v in constraints(SPEC) if k != "pattern"}


def test_openapi_language_tag_is_the_compiled_validator_pattern() -> None:
    schema = SPEC["components"]["schemas"]["LanguageTag"]
    assert schema["pattern"] is BCP47_PATTERN


def _server_takes_language(tag: str) -> bool:
    try:
        parse_job_request({**SEED_BODY, "source_language": tag})
    except ValidationError:
        return False
    return True


# Near misses: the tag alphabet plus separators the grammar refuses. No newline:
# Python's `$` (jsonschema's) matches before one, ECMA-262's does not.
near_tags = st.text(alphabet="aAzZxX09-_ .", max_size=16)


@given(tag=st.one_of(st.from_regex(BCP47_PATTERN, fullmatch=True), near_tags))
def test_openapi_language_pattern_agrees_with_the_server(tag: str) -> None:
    if tag.lower() == SEED_BODY["target_language"]:
        return  # refused for being the target, not for its form
    accepted = schema_errors(component("LanguageTag"), tag) == []
    assert accepted == _server_takes_language(tag)


@given(key=st.text(max_size=300).filter(lambda k: "\n" not in k))
def test_openapi_idempotency_key_pattern_agrees_with_the_server(key: str) -> None:
    try:
        idempotency_claim(key, {})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == bool(re.search(IDEMPOTENCY_KEY_PATTERN, key))
