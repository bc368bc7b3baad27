"""The OpenAPI schemas of a job: its status, languages, metadata, the job itself,
pages and counts, and the body and answer of POST /translate."""

from __future__ import annotations

from vts.api.jobs import CREATED_MESSAGE
from vts.api.openapi_spec import EXAMPLE_ID, Schema, nullable, obj, ref
from vts.api.urls import MAX_URL_LENGTH, VIDEO_URL_PATTERN
from vts.api.validation import BCP47_PATTERN, MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from vts.domain import STAGES, JobStatus


def schemas() -> dict[str, Schema]:
    timestamp = {
        "type": "string",
        "format": "date-time",
        "examples": ["2026-01-01T12:00:00.000Z"],
    }
    return {
        "JobStatus": {
            "type": "string",
            "enum": [status.value for status in JobStatus],
            "description": "pending -> processing -> completed; a failed attempt goes back to "
            "pending while attempts are left, else to failed (dead-lettered). "
            "completed, failed and cancelled are final.",
        },
        "LanguageTag": {
            "type": "string",
            "pattern": BCP47_PATTERN,
            "description": "A BCP 47 language tag (RFC 5646), such as en or pt-BR.",
            "examples": ["en", "pt-BR", "zh-Hant-TW"],
        },
        "JobMetadata": {
            "type": "object",
            "required": ["video_url"],
            "properties": {
                "video_url": {
                    "type": "string",
                    "format": "uri",
                    "pattern": VIDEO_URL_PATTERN,
                    "maxLength": MAX_URL_LENGTH,
                    "description": "The video to translate: an http or https URL with a host, "
                    "non-ASCII characters percent-encoded (RFC 3986), without user info "
                    "(pass a token in a signed query string). Unless the server sets "
                    "VTS_ALLOW_PRIVATE_URLS, a host that is not public is a 422: an IP "
                    "literal in any spelling that is loopback, private, link-local "
                    "(169.254.169.254), shared, unspecified, multicast or reserved, and "
                    "localhost, *.localhost, *.local, *.internal, *.home.arpa or a "
                    "single-label name.",
                }
            },
            "additionalProperties": True,
            "description": "The video and any other fields the caller wants kept with the "
            f"job; at most {MAX_METADATA_BYTES} bytes as JSON, nested at most "
            f"{MAX_METADATA_DEPTH} levels.",
            "examples": [{"video_url": "https://example.com/video.mp4"}],
        },
        "JobError": obj(
            {
                "code": {
                    "type": "string",
                    "examples": ["transient-error", "lease-lost"],
                },
                "message": {"type": "string"},
                "retryable": {"type": "boolean"},
            },
            description="Why the job's last attempt failed.",
        ),
        "Job": obj(
            {
                "job_id": {"type": "string", "format": "uuid"},
                "tenant": {
                    "type": "string",
                    "description": "The tenant of the key that created it.",
                },
                "status": ref("JobStatus"),
                "source_language": ref("LanguageTag"),
                "target_language": ref("LanguageTag"),
                "metadata": ref("JobMetadata"),
                "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                "stage": {
                    "type": ["string", "null"],
                    "description": "The running attempt's pipeline stage; null before "
                    "the first progress report.",
                    "examples": list(STAGES),
                },
                "attempts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Attempts that ended in a failure or a success, "
                    "plus the running one. An attempt cut short by a lost lease or "
                    "a shutdown is not counted.",
                },
                "max_attempts": {"type": "integer", "minimum": 1},
                "lease_losses": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How many times the worker running the job was "
                    "lost (killed, crashed or stalled) and the job ran again; at "
                    "VTS_MAX_LEASE_LOSSES it fails with error code `lease-lost`.",
                },
                "error": nullable(ref("JobError")),
                "result": {
                    "type": ["object", "null"],
                    "description": "What the processor produced; set when completed.",
                    "examples": [
                        {
                            "output_url": "https://media.example/job/es.mp4",
                            "subtitles_url": "https://media.example/job/es.vtt",
                            "duration_seconds": 12.5,
                        }
                    ],
                },
                "created_at": timestamp,
                "updated_at": timestamp,
                "started_at": {**timestamp, "type": ["string", "null"]},
                "completed_at": {**timestamp, "type": ["string", "null"]},
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Grows by one with every change; a watcher ignores a "
                    "version it has already seen.",
                },
            },
            description="A translation job as clients see it. Timestamps are UTC, ISO 8601, "
            "millisecond precision.",
        ),
        "JobList": obj(
            {
                "jobs": {"type": "array", "items": ref("Job")},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            },
            closed=True,
        ),
        "JobCounts": obj(
            {
                "counts": obj(
                    {
                        status.value: {"type": "integer", "minimum": 0}
                        for status in JobStatus
                    },
                    closed=True,
                )
            },
            closed=True,
            description="How many jobs are in each status, counted at most 2 s ago.",
        ),
        "CreateJobRequest": obj(
            {
                "source_language": ref("LanguageTag"),
                "target_language": ref("LanguageTag"),
                "metadata": ref("JobMetadata"),
            },
            closed=True,
            description="target_language must differ from source_language (ignoring case).",
            examples=[
                {
                    "source_language": "en",
                    "target_language": "es",
                    "metadata": {"video_url": "https://example.com/video.mp4"},
                }
            ],
        ),
        "CreateJobResponse": obj(
            {
                "job_id": {"type": "string", "format": "uuid"},
                "status": ref("JobStatus"),
                "message": {"type": "string", "examples": [CREATED_MESSAGE]},
            },
            closed=True,
            examples=[
                {"job_id": EXAMPLE_ID, "status": "pending", "message": CREATED_MESSAGE}
            ],
        ),
    }
