"""What a finished attempt records: the processor's result, or its error."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from vts.domain import JobError
from vts.errors import PermanentError, ProcessingError
from vts.metrics import Metrics

log = logging.getLogger(__name__)


def error_of(job_id: str, exc: Exception, metrics: Metrics) -> JobError:
    """What a failed attempt records: the processor's own error, or a crash."""
    if isinstance(exc, ProcessingError):
        error = JobError(exc.code, exc.message, not isinstance(exc, PermanentError))
    else:
        log.exception("processor crashed on job %s", job_id, exc_info=exc)
        error = JobError("processor-crashed", f"{type(exc).__name__}: {exc}", True)
    metrics.job_attempts_failed.labels(str(error.retryable)).inc()
    return error


def json_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """The processor's result, if JSON can carry it to the store and to watchers."""
    if not isinstance(result, Mapping):
        raise PermanentError(
            f"the processor returned {type(result).__name__}, not a mapping",
            code="invalid-result",
        )
    try:
        orjson.dumps(result)
    except TypeError as exc:
        raise PermanentError(
            f"the processor returned a result that is not JSON: {exc}",
            code="invalid-result",
        ) from None
    return dict(result)
