"""RedisBroker: the Broker port on redis.asyncio (redis, rediss, unix, fakeredis)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from vts.config import Settings
from vts.errors import BrokerUnavailableError, MissingDependencyError

log = logging.getLogger(__name__)

KEY_PREFIX: Final = "vts:"
CACHE_KEY: Final = KEY_PREFIX + "job:{}"
"""A cached job on Redis: a hash (v = version, s = snapshot) that expires after
CACHE_TTL seconds (misses are read from the store)."""
CACHE_TTL: Final = 3600
# A hash per job: v = version, s = snapshot. Written only over an older version.
_CACHE_SET_NEWER: Final = """
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[2 * i])
  local current = tonumber(redis.call('HGET', key, 'v') or '0')
  if version > current then
    redis.call('HSET', key, 'v', ARGV[2 * i], 's', ARGV[2 * i + 1])
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return 0
"""
DLQ_INDEX_KEY: Final = KEY_PREFIX + "dlq"
"""Sorted set: job id scored by failed_at (seconds since the epoch)."""
DLQ_ENTRIES_KEY: Final = KEY_PREFIX + "dlq:entries"
"""Hash: job id -> dead-letter entry bytes."""
EVENTS_CHANNEL: Final = KEY_PREFIX + "events"

FAKE_SCHEME: Final = "fakeredis"
SCHEMES: Final = frozenset({"redis", "rediss", "unix", FAKE_SCHEME})


@contextmanager
def _unavailable(doing: str) -> Iterator[None]:
    """Re-raise every driver or socket failure as BrokerUnavailableError."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise BrokerUnavailableError(f"redis broker: {doing} failed: {exc}") from exc


class RedisBroker:
    """The Broker port on one Redis server (or an in-process fakeredis server).

    Every method raises BrokerUnavailableError when the server cannot be reached or
    answers with an error; the client reconnects by itself once it is back, so the
    broker needs no re-creation. With `fakeredis://` each broker owns a private
    in-process server, so `relays_events` is False (no other process can listen)
    and the service writes nothing to it on the hot path; it still behaves as a
    Redis server does, for tests and tools that use it directly.
    """

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in SCHEMES:
            raise ValueError(f"RedisBroker does not serve {scheme}:// URLs")
        self._url = url
        self._fake = scheme == FAKE_SCHEME
        self.relays_events = not self._fake
        self._redis: aioredis.Redis | None = None

    def __repr__(self) -> str:
        # Never show the URL: it may hold a password.
        return f"<RedisBroker {urlsplit(self._url).scheme}://>"

    def _connect(self) -> aioredis.Redis:
        if self._fake:
            try:
                import fakeredis
            except ImportError as exc:  # pragma: no cover - fakeredis is a dependency
                raise MissingDependencyError("fakeredis", "fakeredis") from exc
            client: aioredis.Redis = fakeredis.FakeAsyncRedis(
                server=fakeredis.FakeServer(), decode_responses=False
            )
            return client
        return aioredis.Redis.from_url(
            self._url,
            decode_responses=False,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
            # Two quick retries (50 + 100 ms) ride over a blip; a server that stays down
            # surfaces as BrokerUnavailableError within ~0.15 s, so no write waits long.
            retry=Retry(ExponentialBackoff(cap=0.25, base=0.025), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )

    @property
    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            raise BrokerUnavailableError("redis broker is not open")
        return self._redis

    async def open(self) -> None:
        """Create the client and check that the server answers.

        Raises BrokerUnavailableError if it does not; the broker stays usable and
        recovers when the server comes back, and must be closed either way.
        """
        if self._redis is None:
            self._redis = self._connect()
        await self.ping()

    async def close(self) -> None:
        """Close the client and its connection pool; safe to call twice."""
        client, self._redis = self._redis, None
        if client is not None:
            await client.aclose()

    async def ping(self) -> None:
        """Return if the server answers; raise BrokerUnavailableError otherwise."""
        with _unavailable("PING"):
            await self._client.ping()

    async def cache_get(self, job_id: str) -> bytes | None:
        """The cached snapshot of `job_id`, or None when not cached (or expired)."""
        with _unavailable("cache read"):
            value = await self._client.hget(CACHE_KEY.format(job_id), "s")
        # decode_responses=False: the driver hands back bytes, never str.
        return cast("bytes | None", value)

    async def cache_set_many(self, snapshots: Sequence[tuple[str, int, bytes]]) -> None:
        """Write (job_id, version, snapshot) entries in one round trip; an entry only
        replaces an older version, so replicas flushing out of order never regress it."""
        if not snapshots:
            return
        keys = [CACHE_KEY.format(job_id) for job_id, _, _ in snapshots]
        args: list[bytes | int] = [CACHE_TTL]
        for _, version, snapshot in snapshots:
            args += [version, snapshot]
        with _unavailable("cache write"):
            await self._client.eval(_CACHE_SET_NEWER, len(keys), *keys, *args)

    async def cache_delete_many(self, job_ids: Sequence[str]) -> None:
        """Forget the cached snapshots of `job_ids` (unknown ids are ignored)."""
        if not job_ids:
            return
        with _unavailable("cache delete"):
            await self._client.delete(*(CACHE_KEY.format(i) for i in job_ids))

    async def dlq_add(self, job_id: str, entry: bytes, failed_at: float) -> None:
        """Dead-letter `job_id`; adding it again replaces its entry and time."""
        pipe = self._client.pipeline(transaction=True)
        pipe.zadd(DLQ_INDEX_KEY, {job_id: failed_at})
        pipe.hset(DLQ_ENTRIES_KEY, job_id, entry)
        with _unavailable("dead-letter add"):
            async with pipe:
                await pipe.execute()

    async def dlq_remove(self, job_id: str) -> None:
        """Drop `job_id` from the dead-letter queue (no error if absent)."""
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(DLQ_INDEX_KEY, job_id)
        pipe.hdel(DLQ_ENTRIES_KEY, job_id)
        with _unavailable("dead-letter remove"):
            async with pipe:
                await pipe.execute()

    async def dlq_list(self, limit: int) -> list[bytes]:
        """Up to `limit` dead-letter entries, most recent failed_at first."""
        if limit <= 0:
            return []
        with _unavailable("dead-letter list"):
            ids = await self._client.zrevrange(DLQ_INDEX_KEY, 0, limit - 1)
            if not ids:
                return []
            entries = await self._client.hmget(
                DLQ_ENTRIES_KEY, cast("list[bytes]", ids)
            )
        # An entry removed between the two reads is simply left out.
        return [cast(bytes, entry) for entry in entries if entry is not None]

    async def dlq_size(self) -> int:
        """How many jobs are dead-lettered."""
        with _unavailable("dead-letter size"):
            size: int = await self._client.zcard(DLQ_INDEX_KEY)
        return size

    async def publish(self, payload: bytes) -> None:
        """Send `payload` unchanged to every current subscriber of this broker."""
        with _unavailable("publish"):
            await self._client.publish(EVENTS_CHANNEL, payload)

    async def subscribe(self) -> AsyncIterator[bytes]:
        """Payloads published by anyone, in publish order, until cancelled.

        Uses one pub/sub connection. The first item is an empty payload, yielded
        once the server has confirmed the subscription: everything published after
        it arrives. Raises BrokerUnavailableError when the connection is lost for
        good; call subscribe() again to resume.
        """
        pubsub = self._client.pubsub()
        try:
            with _unavailable("subscribe"):
                await pubsub.subscribe(EVENTS_CHANNEL)
                # Wait for the server's confirmation: only then is the caller told.
                while await pubsub.get_message(timeout=None) is None:
                    pass
            yield b""
            while True:
                with _unavailable("receive"):
                    message: dict[str, Any] | None = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                if message is not None and message["type"] == "message":
                    yield message["data"]
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


def create_broker(url: str, settings: Settings) -> RedisBroker:
    """Entry point `vts.brokers:redis`: an unopened broker for `url` (no I/O)."""
    del settings  # nothing in Settings tunes the broker yet
    return RedisBroker(url)
