"""translation_client.webhooks.verify against messages signed by the
`standardwebhooks` package: it accepts theirs and refuses anything altered."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook
from translation_client import (
    TranslationClientError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
    webhooks,
)

NOW = 1_800_000_000
BODY = (
    '{"type":"job.completed","timestamp":"2027-01-15T08:00:00.000Z",'
    '"data":{"version":9}}'
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def signed(secret: str, at: int = NOW, body: str = BODY) -> dict[str, str]:
    """The headers the standardwebhooks package makes for `body`."""
    when = datetime.fromtimestamp(at, UTC)
    return {
        "Webhook-Id": "msg_0123456789abcdef01234567",
        "Webhook-Timestamp": str(at),
        "Webhook-Signature": Webhook(secret).sign(
            "msg_0123456789abcdef01234567", when, body
        ),
    }


def test_a_message_signed_by_the_library_verifies() -> None:
    secret = new_secret()
    payload = webhooks.verify(BODY.encode(), signed(secret), secret, now=NOW)
    assert payload["data"]["version"] == 9
    assert webhooks.verify(BODY, signed(secret), [new_secret(), secret], now=NOW)


def test_one_matching_signature_among_several_is_enough() -> None:
    old, new = new_secret(), new_secret()
    headers = signed(new)
    headers["Webhook-Signature"] = (
        f"v2,abc v1,!!notbase64 {signed(old)['Webhook-Signature']} "
        f"{headers['Webhook-Signature']}"
    )
    assert webhooks.verify(BODY, headers, new, now=NOW)
    assert webhooks.verify(BODY, headers, old, now=NOW)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda h, b: (h, b + " "),
        lambda h, b: ({**h, "Webhook-Id": "msg_other"}, b),
        lambda h, b: ({**h, "Webhook-Timestamp": str(NOW + 1)}, b),
        lambda h, b: ({**h, "Webhook-Signature": "v1,AAAA"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "Webhook-Id"}, b),
        lambda h, b: ({**h, "Webhook-Timestamp": "soon"}, b),
    ],
)
def test_anything_altered_is_refused(spoil: object) -> None:
    secret = new_secret()
    headers, body = spoil(signed(secret), BODY)  # type: ignore[operator]
    with pytest.raises(WebhookSignatureError):
        webhooks.verify(body, headers, secret, now=NOW)


def test_another_secret_is_refused() -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        webhooks.verify(BODY, signed(new_secret()), new_secret(), now=NOW)
    assert isinstance(caught.value, WebhookVerificationError)
    assert isinstance(caught.value, TranslationClientError)


@pytest.mark.parametrize("offset", [-301, 301, 10_000])
def test_a_timestamp_outside_the_tolerance_is_refused(offset: int) -> None:
    secret = new_secret()
    at = NOW - offset
    with pytest.raises(WebhookTimestampError) as caught:
        webhooks.verify(BODY, signed(secret, at), secret, now=NOW)
    assert caught.value.timestamp == at
    assert webhooks.verify(BODY, signed(secret, at), secret, now=NOW, tolerance=1e5)


def test_the_clock_is_the_default_now() -> None:
    secret = new_secret()
    recent = int(datetime.now(UTC).timestamp())
    assert webhooks.verify(BODY, signed(secret, recent), secret)
    with pytest.raises(WebhookTimestampError):
        webhooks.verify(BODY, signed(secret, NOW - 10**6), secret)
