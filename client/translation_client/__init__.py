"""Python client of the vts video translation job service."""

from __future__ import annotations

from translation_client import webhooks
from translation_client._client import TranslationClient
from translation_client._errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    IdempotencyKeyReusedError,
    JobCancelledError,
    JobError,
    JobFailedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TranslationClientError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
)
from translation_client._models import (
    FINAL_STATUSES,
    CreatedJob,
    Job,
    JobErrorInfo,
    JobStatus,
    Stage,
)
from translation_client._sync import SyncTranslationClient
from translation_client._version import __version__

__all__ = [
    "FINAL_STATUSES",
    "APIError",
    "AuthenticationError",
    "ConflictError",
    "CreatedJob",
    "IdempotencyKeyReusedError",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobErrorInfo",
    "JobFailedError",
    "JobStatus",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "ServiceUnavailableError",
    "Stage",
    "SyncTranslationClient",
    "TranslationClient",
    "TranslationClientError",
    "TransportError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "__version__",
    "webhooks",
]
