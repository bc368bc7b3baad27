"""Group commit: writes that arrive while one transaction runs share the next one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import attrs

from vts.domain import Job, JobStatus
from vts.errors import StoreNotWritableError, StoreUnavailableError
from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot
from vts.stores.idempotency import scoped_key
from vts.stores.write_health import WriteHealth


@attrs.define(eq=False)
class _Op:
    result: Any = attrs.field(default=None, init=False)
    error: BaseException | None = attrs.field(default=None, init=False)


@attrs.define(eq=False)
class CreateOp(_Op):
    job: Job
    idempotency: IdempotencyClaim | None
    snapshot: Snapshot

    @property
    def scoped_key(self) -> str | None:
        """The stored Idempotency-Key of this create, if it has one."""
        idem = self.idempotency
        return None if idem is None else scoped_key(self.job.tenant, idem.key)


@attrs.define(eq=False)
class UpdateOp(_Op):
    job: Job
    expected_version: int
    snapshot: Snapshot


@attrs.define(eq=False)
class ClaimOp(_Op):
    now: datetime
    limit: int
    apply: Callable[[Job], Job]


@attrs.define(eq=False)
class RenewOp(_Op):
    owner: str
    job_ids: Sequence[str]
    expires_at: datetime


@attrs.define(eq=False)
class PurgeOp(_Op):
    before: datetime
    limit: int


Op = CreateOp | UpdateOp | ClaimOp | RenewOp | PurgeOp
_APPLY_ORDER: dict[type[Op], int] = {
    CreateOp: 0,
    UpdateOp: 1,
    ClaimOp: 2,
    RenewOp: 2,
    PurgeOp: 3,
}


class WriteBatcher:
    """One writer task; `submit` queues an op and waits for the batch it lands in.

    `write_batch(ops)` runs them in one transaction and sets each op's `result` or
    `error`; if it raises, every op of the batch fails with that error. `health`
    learns of every batch that could not write and of every one that created a job.
    """

    def __init__(
        self,
        write_batch: Callable[[list[Op]], Awaitable[None]],
        max_batch: int,
        health: WriteHealth,
    ) -> None:
        self._write_batch = write_batch
        self._max_batch = max_batch
        self.health = health
        self._queue: asyncio.Queue[tuple[Op, asyncio.Future[Any]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="vts-group-commit")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(StoreUnavailableError("the store is closing"))

    async def submit(self, op: Op) -> Any:
        if self._task is None or self._task.done():
            raise StoreUnavailableError("the store is not open")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((op, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            ops = [op for op, _ in batch]
            try:
                blocked = self.health.blocked()
                if blocked is not None:
                    raise blocked
                await self._write_batch(ops)
            except asyncio.CancelledError:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            StoreUnavailableError("the store is closing")
                        )
                raise
            except Exception as exc:
                if isinstance(exc, StoreNotWritableError):
                    self.health.failed(exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if _created(ops):
                self.health.wrote()
            # Wake callers in the order the transaction applied their writes (creates,
            # updates, then claims), so a job's events are announced in version
            # order: a job created and claimed in one batch is announced pending first.
            for op, future in sorted(
                batch, key=lambda item: _APPLY_ORDER[type(item[0])]
            ):
                if future.done():  # the caller gave up (cancelled)
                    continue
                if op.error is not None:
                    future.set_exception(op.error)
                else:
                    future.set_result(op.result)


def _created(ops: list[Op]) -> bool:
    """Whether a committed batch created a job. Only that proves the store takes
    jobs again: a transaction that changed nothing commits even on a full disk, and
    an update may still fit in a page the database already has."""
    return any(
        isinstance(op, CreateOp) and op.result is not None and op.result[1]
        for op in ops
    )


class BatchedWrites:
    """The JobStore write methods of a store that commits them in groups: each queues
    an op on `self._batcher`, whose `write_batch` the store implements."""

    _batcher: WriteBatcher

    async def create(
        self,
        job: Job,
        idempotency: IdempotencyClaim | None,
        snapshot: Snapshot | None = None,
    ) -> tuple[Job, bool]:
        op = CreateOp(job, idempotency, snapshot or Snapshot.of(job))
        result: tuple[Job, bool] = await self._batcher.submit(op)
        return result

    async def update(
        self, job: Job, expected_version: int, snapshot: Snapshot | None = None
    ) -> None:
        op = UpdateOp(job, expected_version, snapshot or Snapshot.of(job))
        await self._batcher.submit(op)

    async def claim(
        self, now: datetime, limit: int, apply: Callable[[Job], Job]
    ) -> list[tuple[Job, Snapshot]]:
        claimed: list[tuple[Job, Snapshot]] = await self._batcher.submit(
            ClaimOp(now, limit, apply)
        )
        return claimed

    async def purge_finished(
        self, before: datetime, limit: int
    ) -> list[tuple[str, JobStatus]]:
        purged: list[tuple[str, JobStatus]] = await self._batcher.submit(
            PurgeOp(before, limit)
        )
        return purged

    async def renew_leases(
        self, owner: str, job_ids: Sequence[str], expires_at: datetime
    ) -> set[str]:
        if not job_ids:
            return set()
        held: set[str] = await self._batcher.submit(
            RenewOp(owner, tuple(job_ids), expires_at)
        )
        return held
