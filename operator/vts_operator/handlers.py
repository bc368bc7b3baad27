"""kopf handlers for TranslationJob: submit to vts, mirror the job, cancel on delete.

Run with `kopf run -m vts_operator.handlers --all-namespaces` (or `-n NAMESPACE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import kopf
from translation_client import (
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TranslationClient,
    TranslationClientError,
    ValidationError,
)

from vts_operator import events, mapping
from vts_operator.kube import StatusApi
from vts_operator.mapping import GROUP, PLURAL, VERSION
from vts_operator.runtime import MEMO_KEY, Runtime, runtime_of
from vts_operator.settings import ConfigError, OperatorConfig, configure
from vts_operator.status import StatusWriter

CANCEL_RETRIES = 5
"""Attempts to cancel a deleted resource's job before releasing it anyway."""

log = logging.getLogger("vts_operator")


@kopf.on.startup()
async def start(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """Read VTS_URL & co, tune kopf, open the one vts client of this process.

    The client reads the operator's API key from VTS_API_KEY (an admin key: it
    creates jobs in every namespace's tenant and follows them all).
    """
    try:
        config = OperatorConfig.from_env(os.environ)
        client = TranslationClient(
            config.vts_url, retry_delay=config.client_retry_delay
        )
    except (ConfigError, ValueError) as exc:
        raise kopf.PermanentError(str(exc)) from None
    try:
        kube = await StatusApi.connect()
    except Exception as exc:
        await client.close()
        raise kopf.PermanentError(f"no Kubernetes credentials: {exc}") from None
    configure(settings, config.namespaces)
    memo[MEMO_KEY] = Runtime(client, config, kube)
    keyed = "with" if os.environ.get("VTS_API_KEY", "").strip() else "without"
    logger.info(f"TranslationJobs run on vts at {config.vts_url}, {keyed} an API key")


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Close the vts client (its WebSocket and HTTP connections) and the API's."""
    runtime = memo.pop(MEMO_KEY, None)
    if isinstance(runtime, Runtime):
        await runtime.client.close()
        await runtime.kube.close()


@kopf.on.probe(id="following")
def following(memo: kopf.Memo, **_: Any) -> int:
    """`kopf run --liveness`: the endpoint answers while the operator's event loop
    runs; this adds how many TranslationJobs it follows. A vts outage never fails it:
    restarting the operator would not bring vts back."""
    runtime = memo.get(MEMO_KEY)
    return len(runtime.following) if isinstance(runtime, Runtime) else 0


def _not_final(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") not in mapping.TERMINAL_PHASES


@kopf.daemon(
    GROUP, VERSION, PLURAL, id="follow", when=_not_final, cancellation_timeout=5.0
)
async def follow(
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    uid: str,
    retry: int,
    memo: kopf.Memo,
    logger: kopf.Logger,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    """Submit the job unless status.jobId names it, then mirror it until it is final.

    The resource's uid is the Idempotency-Key: a retry, or a restarted operator that
    never saw its own status patch, gets the same vts job back, never a second one.
    The job is created in the tenant of the resource's namespace (VTS-Tenant).
    """
    runtime = runtime_of(memo)
    writer = StatusWriter(
        api=runtime.kube,
        body=body,
        logger=logger,
        interval=runtime.config.status_interval,
    )
    key = f"{body.metadata.namespace}/{body.metadata.name}"
    runtime.following.add(key)
    try:
        work = _mirror(runtime, writer, spec, status, uid, retry)
        await _unless_stopped(stopped, work)
    finally:
        runtime.following.discard(key)


async def _mirror(
    runtime: Runtime,
    writer: StatusWriter,
    spec: kopf.Spec,
    status: kopf.Status,
    uid: str,
    retry: int,
) -> None:
    async with _retry_when_unavailable(runtime, writer, retry):
        job_id = status.get("jobId")
        if not job_id:
            namespace = writer.body.metadata.namespace
            job_id = await _submit(runtime, spec, uid, namespace, writer)
        try:
            async with contextlib.aclosing(runtime.client.watch(job_id)) as jobs:
                async for job in jobs:
                    await writer.job(job)
        except NotFoundError as exc:
            await writer.lost(job_id, exc.detail or exc.title)
            raise kopf.PermanentError(f"vts job {job_id} no longer exists") from exc


async def _unless_stopped(
    stopped: kopf.DaemonStopped, work: Coroutine[Any, Any, None]
) -> None:
    """Run `work` until it ends or kopf stops the daemon (resource deleted, operator
    exiting): then cancel it and return, a clean exit rather than a cancellation."""
    working = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        working.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await working  # its result or error, if it ended by itself


async def _submit(
    runtime: Runtime,
    spec: kopf.Spec,
    uid: str,
    namespace: str | None,
    writer: StatusWriter,
) -> str:
    try:
        request = mapping.translation_request(spec)
        tenant = runtime.config.tenant_of(namespace)
        created = await runtime.client.start_translation(
            **request, idempotency_key=uid, tenant=tenant
        )
    except mapping.SpecError as exc:
        await _reject(writer, str(exc), exc)
    except APIError as exc:
        if _not_retryable(exc):
            await _reject(writer, exc.detail or exc.title, exc)
        raise
    await writer.job(created)
    return created["job_id"]


async def _reject(writer: StatusWriter, detail: str, exc: Exception) -> None:
    await writer.rejected(detail)
    raise kopf.PermanentError(f"vts rejected the spec: {detail}") from exc


@kopf.on.delete(GROUP, VERSION, PLURAL, id="cancel", retries=CANCEL_RETRIES)
async def cancel(
    body: kopf.Body,
    status: kopf.Status,
    name: str,
    namespace: str | None,
    retry: int,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Cancel the job of a deleted resource if it still runs; then let it go.

    While vts is unreachable this is retried with doubling delays, CANCEL_RETRIES
    times in all; then the resource is released with a CancelAbandoned warning, so
    a deletion never hangs on a vts that is gone for good.
    """
    runtime = runtime_of(memo)
    job_id = status.get("jobId")
    if not job_id or status.get("phase") in mapping.TERMINAL_PHASES:
        return
    try:
        await runtime.client.cancel(job_id)
    except (ConflictError, NotFoundError):
        return  # already final, or gone: nothing left to stop
    except TranslationClientError as exc:
        if retry + 1 >= CANCEL_RETRIES or _not_retryable(exc):
            event = events.cancel_abandoned_event(job_id, str(exc))
            kopf.event(
                body, type=event.type, reason=event.reason, message=event.message
            )
            # Not on kopf's object logger: that would post the warning a second time.
            log.warning("%s/%s: %s", namespace, name, event.message)
            return
        delay = _retry_after(exc) or events.cancel_backoff(
            retry, runtime.config.retry_delay
        )
        raise kopf.TemporaryError(
            f"cannot cancel vts job {job_id}: {exc}", delay=delay
        ) from exc
    logger.info(f"cancelled vts job {job_id}")


@contextlib.asynccontextmanager
async def _retry_when_unavailable(
    runtime: Runtime, writer: StatusWriter, retry: int
) -> AsyncIterator[None]:
    """vts unreachable, 5xx, 429 (after the client's own retries): show it in the
    Ready condition and have kopf retry after Retry-After, else after a delay that
    doubles with each retry (`retry`, 0 first) from the retry delay up to the
    maximum, with jitter, so a long outage is not met with a steady hammering.

    The operator's key refused (401) or lacking the scope (403): Ready=False,
    Unauthorized, retried slowly (VTS_OPERATOR_AUTH_RETRY_DELAY): not the spec's
    fault, so never Failed, and fixed only by a new key or a finished rollout.
    """
    try:
        yield
    except (AuthenticationError, PermissionDeniedError) as exc:
        delay = runtime.config.auth_retry_delay
        await writer.unauthorized(str(exc), delay)
        raise kopf.TemporaryError(
            f"vts refused the API key: {exc}", delay=delay
        ) from exc
    except TranslationClientError as exc:
        if isinstance(exc, APIError) and _not_retryable(exc):
            raise
        await writer.unavailable(str(exc))
        delay = _retry_after(exc) or events.unavailable_backoff(
            retry,
            runtime.config.retry_delay,
            runtime.config.retry_max_delay,
            random.random(),
        )
        raise kopf.TemporaryError(f"vts unavailable: {exc}", delay=delay) from exc


def _not_retryable(exc: TranslationClientError) -> bool:
    """A 4xx that no retry can fix: the request itself is wrong (for POST /translate:
    vts rejects the spec). A refused key is the operator's problem, not the
    request's: a new key or a finished rollout fixes it."""
    if isinstance(exc, ValidationError):
        return True
    if isinstance(
        exc,
        RateLimitedError
        | NotFoundError
        | ConflictError
        | AuthenticationError
        | PermissionDeniedError,
    ):
        return False
    return isinstance(exc, APIError) and 400 <= exc.status < 500 and exc.status != 408


def _retry_after(exc: TranslationClientError) -> float | None:
    """The server's Retry-After, if the client passes it on (`retry_after`)."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value > 0 else None
