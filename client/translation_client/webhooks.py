"""Verifying vts webhooks (Standard Webhooks) in a receiver: `verify(body, headers,
secret)` returns the payload, or raises WebhookVerificationError.

    payload = webhooks.verify(request_body, request_headers, "whsec_...")
    # then drop it if payload["data"]["version"] is older than one already seen
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from translation_client._errors import (
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "verify",
]

DEFAULT_TOLERANCE = 300.0
"""Seconds a `webhook-timestamp` may be from now, as the Standard Webhooks libraries
allow: a captured message cannot be replayed later."""
_PREFIX = "whsec_"


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Any:
    """The JSON payload of a delivery, once its signature and timestamp check out.

    `body` must be the raw request body, byte for byte; `headers` the request's
    (any case); `secret` the endpoint's `whsec_...` secret, or several (say, both
    around a rotation). Raises WebhookSignatureError when the headers are missing
    or no signature matches, WebhookTimestampError when the timestamp is more than
    `tolerance` seconds from `now` (default: the clock).
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (message_id and stamp and signatures):
        raise WebhookSignatureError(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookSignatureError(f"webhook-timestamp {stamp[:20]!r} is not a number")
    timestamp = int(stamp)
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > tolerance:
        direction = "old" if skew > 0 else "new"
        raise WebhookTimestampError(
            f"webhook-timestamp is {abs(skew):.0f}s too {direction} "
            f"(tolerance {tolerance:g}s)",
            timestamp,
        )
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, raw)
    secrets = [secret] if isinstance(secret, str) else list(secret)
    expected = [hmac.new(_key(s), signed, hashlib.sha256).digest() for s in secrets]
    for candidate in signatures.split(" "):
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise WebhookVerificationError("the body is not JSON") from exc
    raise WebhookSignatureError("no signature matches the secret")


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not whsec_ followed by base64") from None
