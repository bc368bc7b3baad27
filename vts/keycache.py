"""Who a bearer token is: key lookups cached per process, key use recorded in batches."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from vts.apikeys import (
    ADMIN,
    ApiKey,
    Principal,
    key_problem,
    secret_matches,
    split_token,
)
from vts.domain import DEFAULT_TENANT
from vts.errors import AuthenticationError, UnavailableError
from vts.metrics import Metrics
from vts.ports import KeyStore

log = logging.getLogger(__name__)

KEY_TTL_SECONDS = 2.0
"""How long a key read from the store is trusted: a revocation reaches every replica
within this (plus one store read), well inside the 5 s the contract promises."""
MAX_CACHED_KEYS = 10_000
LAST_USED_INTERVAL = 60.0
"""Seconds between the batched writes of keys' last_used_at."""
ADMIN_PRINCIPAL = Principal(DEFAULT_TENANT, frozenset({ADMIN}), "admin")
"""Whoever presents VTS_ADMIN_KEY."""


def _now() -> datetime:
    return datetime.now(UTC)


class Authenticator:
    """Turns a bearer token into a Principal, or raises AuthenticationError.

    After a key's first use a request costs a dict lookup and one SHA-256, never a
    store read; each key is read again once its entry is KEY_TTL_SECONDS old.
    """

    def __init__(
        self,
        store: KeyStore | None,
        admin_key: str | None,
        metrics: Metrics,
        *,
        ttl: float = KEY_TTL_SECONDS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._admin_key = admin_key.encode() if admin_key else None
        self._metrics = metrics
        self._ttl = ttl
        self._clock = clock
        self._keys: dict[str, tuple[float, ApiKey | None, Principal | None]] = {}
        self._loading: dict[str, asyncio.Future[ApiKey | None]] = {}
        # Tokens that passed every check: (when their key was read, principal,
        # expiry as epoch seconds). Trusted no longer than the key's entry.
        self._verified: dict[str, tuple[float, Principal, float]] = {}
        self._used: dict[str, float] = {}  # key id -> last use, epoch seconds
        self._task: asyncio.Task[None] | None = None

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise self._failure("missing", "send an API key: Authorization: Bearer")
        if self._admin_key is not None and hmac.compare_digest(
            token.encode(), self._admin_key
        ):
            return ADMIN_PRINCIPAL
        verified = self._verified.get(token)
        if verified is not None:
            # The hot path: a token that passed every check less than a TTL ago.
            checked, principal, expires = verified
            now = time.time()
            if time.monotonic() - checked < self._ttl and now < expires:
                self._used[principal.key_id] = now  # type: ignore[index]
                return principal
        return await self._check(token)

    async def _check(self, token: str) -> Principal:
        """Look the key up (cached by id for a TTL), check secret, revocation and
        expiry; remember the token as verified for the rest of the key's TTL."""
        parts = split_token(token)
        if parts is None:
            raise self._failure("invalid", "the API key is not valid")
        key_id, secret = parts
        entry = self._keys.get(key_id)
        if entry is None or time.monotonic() - entry[0] >= self._ttl:
            entry = await self._load(key_id)
        fetched, key, principal = entry
        if key is None or principal is None or not secret_matches(key, secret):
            raise self._failure("invalid", "the API key is not valid")
        now = self._clock()
        problem = key_problem(key, now)
        if problem is not None:
            raise self._failure(problem, f"the API key is {problem}")
        if len(self._verified) >= MAX_CACHED_KEYS:
            self._verified.clear()
        expires = key.expires_at.timestamp() if key.expires_at else float("inf")
        self._verified[token] = (fetched, principal, expires)
        self._used[key_id] = now.timestamp()
        return principal

    def _failure(self, reason: str, message: str) -> AuthenticationError:
        self._metrics.auth_failures.labels(reason).inc()
        return AuthenticationError(message, reason)

    async def _load(self, key_id: str) -> tuple[float, ApiKey | None, Principal | None]:
        """Read the key once however many requests wait for it."""
        loading = self._loading.get(key_id)
        if loading is None:
            loading = asyncio.ensure_future(self._read(key_id))
            self._loading[key_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key_id, None))
        key = await asyncio.shield(loading)
        principal = None if key is None else Principal(key.tenant, key.scopes, key.id)
        entry = (time.monotonic(), key, principal)
        if len(self._keys) >= MAX_CACHED_KEYS:
            # Made-up key ids must not grow the cache without bound.
            self._keys.clear()
        self._keys[key_id] = entry
        return entry

    async def _read(self, key_id: str) -> ApiKey | None:
        if self._store is None:
            return None
        return await self._store.get_key(key_id)

    async def flush_use(self) -> None:
        """Write the keys' last use since the previous flush (one write)."""
        used, self._used = self._used, {}
        if not used or self._store is None:
            return
        times = {k: datetime.fromtimestamp(at, UTC) for k, at in used.items()}
        try:
            await self._store.record_key_use(times)
        except UnavailableError as exc:
            for key_id, at in used.items():
                self._used.setdefault(key_id, at)
            log.warning("could not record API key use, will retry: %s", exc)

    async def _flush_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.flush_use()

    def start(self, interval: float = LAST_USED_INTERVAL) -> None:
        self._task = asyncio.create_task(
            self._flush_forever(interval), name="vts-key-use"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush_use()
