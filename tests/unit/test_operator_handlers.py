"""Handler decisions called directly: which vts answers reject a spec for good."""

from __future__ import annotations

import pytest
from translation_client import (
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
    ValidationError,
)
from vts_operator.handlers import _not_retryable


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (ValidationError(422, "Unprocessable", "bad target"), True),
        (APIError(418, "Teapot", "no"), True),
        # The operator's key, not the spec: a new key or a finished rollout fixes it.
        (AuthenticationError(401, "Unauthorized", "invalid API key"), False),
        (PermissionDeniedError(403, "Forbidden", "needs admin"), False),
        (RateLimitedError(429, "Too Many Requests", "slow down"), False),
        (NotFoundError(404, "Not Found", "gone"), False),
        (ConflictError(409, "Conflict", "final"), False),
        (ServiceUnavailableError(503, "Unavailable", "down"), False),
    ],
)
def test_operator_only_a_request_no_retry_can_fix_is_permanent(
    error: APIError, permanent: bool
) -> None:
    assert _not_retryable(error) is permanent
