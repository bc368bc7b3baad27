"""Python client of the vts video translation job service."""

from __future__ import annotations

from translation_client._client import TranslationClient
from translation_client._errors import (
    APIError,
    ConflictError,
    IdempotencyKeyReusedError,
    JobCancelledError,
    JobError,
    JobFailedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TranslationClientError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
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

__version__ = "0.1.0"

__all__ = [
    "FINAL_STATUSES",
    "APIError",
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
    "__version__",
]
