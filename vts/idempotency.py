"""An Idempotency-Key as a request makes it: the key and its body's fingerprint."""

from __future__ import annotations

import attrs


@attrs.frozen
class IdempotencyClaim:
    """An Idempotency-Key and the fingerprint of the request body that used it (a
    job's or a webhook endpoint's)."""

    key: str
    fingerprint: str
