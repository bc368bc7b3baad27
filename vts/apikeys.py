"""API keys, tenants and principals: the model, the key format, hashing. Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime

import attrs

from vts.domain import DEFAULT_TENANT

SCOPES = ("jobs:read", "jobs:write", "dlq", "admin")
"""jobs:read (get, list, watch), jobs:write (create, cancel), dlq (list and replay
dead letters), admin (everything, every tenant, key and tenant management)."""
ADMIN = "admin"
TENANT_PATTERN = "^[a-z0-9][a-z0-9-]{0,62}$"
TENANT_NAME = re.compile(TENANT_PATTERN)
TENANT_RULE = f"must be a tenant name: {TENANT_PATTERN[1:-1]}"
KEY_ID = re.compile(r"^[0-9a-f]{12}$")
MAX_ACTIVE_JOBS_QUOTA = 100_000_000
"""The largest max_active_jobs a tenant may have (VTS_TENANT_MAX_ACTIVE_JOBS too)."""
MAX_RATE_QUOTA = 1_000_000
"""The largest requests_per_second (VTS_TENANT_REQUESTS_PER_SECOND too)."""
KEY_PREFIX = "vts"


@attrs.frozen
class Tenant:
    """A tenant and its quotas (requests_per_second 0: unlimited)."""

    name: str
    max_active_jobs: int
    requests_per_second: float
    created_at: datetime


@attrs.frozen
class ApiKey:
    """A stored API key: never its secret, only the secret's SHA-256."""

    id: str
    tenant: str
    scopes: frozenset[str]
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@attrs.frozen
class Principal:
    """Who a request acts as: a tenant and what it may do there."""

    tenant: str
    scopes: frozenset[str]
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes


ANONYMOUS_ADMIN = Principal(DEFAULT_TENANT, frozenset({ADMIN}))
"""Every request with VTS_AUTH=none: an admin of tenant `default`."""


def is_tenant_name(name: str) -> bool:
    return TENANT_NAME.match(name) is not None


def hash_secret(secret: str) -> str:
    """SHA-256 of the secret: it is random and long, so a fast hash is right."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(
    tenant: str,
    scopes: Iterable[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key of `tenant` and its token `vts_<id>_<secret>` (shown once)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        id=key_id,
        tenant=tenant,
        scopes=frozenset(scopes),
        secret_hash=hash_secret(secret),
        created_at=now,
        expires_at=expires_at,
    )
    return key, f"{KEY_PREFIX}_{key_id}_{secret}"


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a `vts_<id>_<secret>` token; None if it has not that form."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not KEY_ID.match(parts[1]):
        return None
    if not parts[2]:
        return None
    return parts[1], parts[2]


def secret_matches(key: ApiKey, secret: str) -> bool:
    """Constant-time comparison of the secret's hash with the stored one."""
    return hmac.compare_digest(hash_secret(secret), key.secret_hash)


def key_problem(key: ApiKey, now: datetime) -> str | None:
    """Why a key whose secret matched is not usable: `revoked`, `expired`, or None."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return None
