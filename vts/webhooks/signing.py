"""Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
under the secret's decoded bytes (standardwebhooks.com)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence

from vts.webhooks.model import SECRET_PREFIX


def secret_bytes(secret: str) -> bytes:
    """The key of a `whsec_...` secret: its base64 part, decoded."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature."""
    signed = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    digest = hmac.digest(secret_bytes(secret), signed, "sha256")
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """`webhook-signature`: one signature per valid secret, space-separated."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets)


def headers(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one attempt: the spec's three, and the JSON content type."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, message_id, timestamp, body),
    }
