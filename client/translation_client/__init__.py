"""Python client of the vts video translation job service."""

from __future__ import annotations

import logging

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
from translation_client._events import JobEvent, StreamEvent, StreamReset
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
    "JobEvent",
    "JobFailedError",
    "JobStatus",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "ServiceUnavailableError",
    "Stage",
    "StreamEvent",
    "StreamReset",
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

# A library logs, the application decides where to: without a handler of the
# application's, the client's warnings do not reach stderr through logging's
# last resort.
logging.getLogger("translation_client").addHandler(logging.NullHandler())
