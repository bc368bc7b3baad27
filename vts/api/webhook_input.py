"""Webhook requests checked, and endpoints and deliveries as the API shows them."""

from __future__ import annotations

from typing import Any

from vts.api.urls import host_problem
from vts.api.validation import http_url_problem
from vts.codec import format_time
from vts.errors import ValidationError
from vts.webhooks.model import Delivery, DeliveryStatus, Endpoint, check_events

MAX_DESCRIPTION = 500
FIELDS = ("description", "events", "url")


def check_endpoint_request(
    body: dict[str, Any], allow_private: bool
) -> tuple[str, tuple[str, ...], str]:
    """(url, events, description) of a POST /webhooks body; ValidationError naming
    every bad field."""
    problems = {
        f: f"unknown field; accepted: {', '.join(FIELDS)}"
        for f in sorted(set(body) - set(FIELDS))
    }
    url = body.get("url")
    problem = _url_problem(url, allow_private)
    if problem is not None:
        problems["url"] = problem
    events: tuple[str, ...] = ()
    if "events" not in body:
        problems["events"] = 'required: ["*"] or a list of event types'
    else:
        try:
            events = check_events(body["events"])
        except ValueError as exc:
            problems["events"] = str(exc)
    description = body.get("description", "")
    if (
        not isinstance(description, str)
        or len(description) > MAX_DESCRIPTION
        or "\x00" in description
    ):
        problems["description"] = (
            f"must be a string of at most {MAX_DESCRIPTION} characters, without NUL"
        )
    if problems:
        raise ValidationError(errors=problems)
    assert isinstance(url, str)
    return url, events, description


def _url_problem(url: object, allow_private: bool) -> str | None:
    problem = http_url_problem(url, allow_private=True)
    if problem is not None or allow_private:
        return problem
    assert isinstance(url, str)
    if not url.lower().startswith("https://"):
        return "must be an https URL (set VTS_WEBHOOK_ALLOW_PRIVATE=true for http)"
    problem = host_problem(url)
    if problem is None:
        return None
    return problem.replace("VTS_ALLOW_PRIVATE_URLS", "VTS_WEBHOOK_ALLOW_PRIVATE")


def parse_delivery_status(raw: str | None) -> DeliveryStatus | None:
    if raw is None:
        return None
    try:
        return DeliveryStatus(raw)
    except ValueError:
        accepted = ", ".join(s.value for s in DeliveryStatus)
        raise ValidationError(errors={"status": f"must be one of {accepted}"}) from None


def endpoint_to_public(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as GET shows it: never its secrets."""
    return {
        "id": endpoint.id,
        "tenant": endpoint.tenant,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "created_at": format_time(endpoint.created_at),
        "disabled_at": format_time(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": format_time(endpoint.failing_since),
    }


def created_to_public(endpoint: Endpoint) -> dict[str, Any]:
    """The 201 of POST /webhooks: the one answer that shows the secret."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "created_at": format_time(endpoint.created_at),
        "secret": endpoint.secret,
    }


def delivery_to_public(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "type": delivery.type,
        "job_id": delivery.job_id,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": format_time(delivery.next_attempt_at),
        "response_status": delivery.last_status,
        "response_body": delivery.last_response,
        "error": delivery.last_error,
        "created_at": format_time(delivery.created_at),
        "updated_at": format_time(delivery.updated_at),
    }
