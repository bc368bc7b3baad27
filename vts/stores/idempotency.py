"""Idempotency-Keys as the stores keep them, for jobs and webhook endpoints alike:
scoped to a tenant, beside the fingerprint of the body that first used them."""

from __future__ import annotations

from vts.errors import IdempotencyKeyReusedError
from vts.idempotency import IdempotencyClaim


def scoped_key(tenant: str, key: str) -> str:
    """The stored Idempotency-Key: scoped to its tenant (names have no colon)."""
    return f"{tenant}:{key}"


def reuse_error(
    claim: IdempotencyClaim, stored_fingerprint: str
) -> IdempotencyKeyReusedError | None:
    """None when `claim` repeats the request that stored its key (a replay: answer
    with what that request made); otherwise the error to answer with."""
    if claim.fingerprint == stored_fingerprint:
        return None
    return IdempotencyKeyReusedError(
        "this Idempotency-Key was already used with a different request body"
    )
