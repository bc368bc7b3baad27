"""The vts error tree; plugins raise from it, the API maps it to problem+json.

VtsError
├── ConfigError
│   ├── InvalidSettingError
│   ├── UnknownPluginError
│   ├── PluginError
│   └── MissingDependencyError
├── ValidationError
├── UnsupportedMediaTypeError
├── AuthenticationError
├── PermissionDeniedError
├── JobNotFoundError
├── KeyNotFoundError
├── WebhookNotFoundError
│   └── DeliveryNotFoundError
├── TooManyRequestsError
│   ├── QuotaExceededError
│   └── RateLimitedError
├── ConflictError
│   ├── InvalidTransitionError
│   └── IdempotencyKeyReusedError
├── VersionConflictError
├── UnavailableError
│   ├── StoreUnavailableError
│   │   └── StoreNotWritableError
│   └── BrokerUnavailableError
└── ProcessingError
    ├── TransientError
    └── PermanentError
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class VtsError(Exception):
    """Something went wrong in vts."""

    code = "vts-error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(VtsError):
    """The configuration is not usable."""

    code = "config-error"


class InvalidSettingError(ConfigError):
    """A setting has a value vts does not accept."""

    code = "invalid-setting"

    def __init__(self, variable: str, value: object, accepted: str) -> None:
        self.variable = variable
        self.value = value
        self.accepted = accepted
        super().__init__(f"{variable}={value!r} is not valid: expected {accepted}")


class UnknownPluginError(ConfigError):
    """No installed plugin has that name."""

    code = "unknown-plugin"

    def __init__(self, group: str, name: str, installed: Sequence[str]) -> None:
        self.group = group
        self.name = name
        listed = ", ".join(sorted(installed)) or "none"
        super().__init__(
            f"no {group} plugin named {name!r} (installed: {listed}); "
            "reinstall the package after adding a plugin"
        )


class PluginError(ConfigError):
    """A plugin loaded but did not produce a usable object."""

    code = "plugin-error"


class MissingDependencyError(ConfigError):
    """A backend needs a package that is not installed."""

    code = "missing-dependency"

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'vts[{extra}]'"
        )


class ValidationError(VtsError):
    """The request is not valid."""

    code = "validation-error"

    def __init__(
        self, message: str | None = None, errors: Mapping[str, str] | None = None
    ) -> None:
        self.errors = dict(errors or {})
        if message is None and self.errors:
            message = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(message)


class UnsupportedMediaTypeError(VtsError):
    """The request body is not in a media type this endpoint accepts."""

    code = "unsupported-media-type"

    def __init__(self, message: str, accepted: str) -> None:
        self.accepted = accepted
        super().__init__(message)


class AuthenticationError(VtsError):
    """The request carries no valid API key."""

    code = "unauthorized"

    def __init__(self, message: str, reason: str) -> None:
        self.reason = reason
        """missing, invalid, expired or revoked (the metric's label)."""
        super().__init__(message)


class PermissionDeniedError(VtsError):
    """The API key does not allow this operation."""

    code = "forbidden"

    def __init__(self, message: str, scope: str) -> None:
        self.scope = scope
        super().__init__(message)


class TooManyRequestsError(VtsError):
    """The tenant is over one of its limits; retry later."""

    code = "too-many-requests"

    def __init__(
        self,
        message: str,
        *,
        policy: str,
        quota: int,
        remaining: int,
        retry_after: int,
        window: int | None = None,
    ) -> None:
        self.policy = policy
        """The limit's name in the RateLimit-Policy and RateLimit headers."""
        self.quota = quota
        self.remaining = remaining
        self.retry_after = retry_after
        """Seconds after which a retry may succeed (Retry-After)."""
        self.window = window
        super().__init__(message)


class QuotaExceededError(TooManyRequestsError):
    """The tenant has as many active jobs as its quota allows."""

    code = "quota-exceeded"


class RateLimitedError(TooManyRequestsError):
    """The tenant sends requests faster than its rate limit."""

    code = "rate-limited"


class JobNotFoundError(VtsError):
    """No job has that id."""

    code = "job-not-found"

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id}")


class KeyNotFoundError(VtsError):
    """No API key has that id."""

    code = "key-not-found"

    def __init__(self, key_id: str | None) -> None:
        """`key_id` None: what was asked for is not a key id, and may be a whole key
        (its secret too), so the message does not repeat it."""
        self.key_id = key_id
        if key_id is None:
            super().__init__(
                "no API key has that id: an id is the 12 hex digits after vts_"
            )
        else:
            super().__init__(f"no API key with id {key_id}")


class WebhookNotFoundError(VtsError):
    """No webhook endpoint of the caller's tenant has that id."""

    code = "webhook-not-found"


class DeliveryNotFoundError(WebhookNotFoundError):
    """The webhook endpoint has no delivery with that id."""

    code = "delivery-not-found"


class ConflictError(VtsError):
    """The request conflicts with the job's current state."""

    code = "conflict"


class InvalidTransitionError(ConflictError):
    """The job's state does not allow that change."""

    code = "invalid-transition"


class IdempotencyKeyReusedError(ConflictError):
    """The Idempotency-Key was already used with a different request body."""

    code = "idempotency-key-reused"


class VersionConflictError(VtsError):
    """The job changed since it was read (compare-and-set failed)."""

    code = "version-conflict"


class UnavailableError(VtsError):
    """A backend is unreachable."""

    code = "unavailable"


class StoreUnavailableError(UnavailableError):
    """The job store is unreachable."""

    code = "store-unavailable"


class StoreNotWritableError(StoreUnavailableError):
    """The job store cannot write (its disk is full, or it is read-only)."""

    code = "store-not-writable"


class BrokerUnavailableError(UnavailableError):
    """The broker (cache, dead-letter queue, pub/sub) is unreachable."""

    code = "broker-unavailable"


class ProcessingError(VtsError):
    """A processor could not finish a job."""

    code = "processing-error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class TransientError(ProcessingError):
    """A processor failed in a way that a later attempt may not."""

    code = "transient-error"


class PermanentError(ProcessingError):
    """A processor failed in a way that no retry will fix."""

    code = "permanent-error"
