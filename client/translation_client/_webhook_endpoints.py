"""`client.webhooks`: a tenant's webhook endpoints and their deliveries."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import quote

from translation_client._http import Http


class WebhookEndpoints:
    """The /webhooks API. Raises the client's APIError subclasses: ValidationError
    (bad url or events), NotFoundError (unknown, or another tenant's, endpoint)."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        url: str,
        events: Sequence[str] = ("*",),
        description: str = "",
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Add an endpoint; the answer holds its `secret`, shown only in this answer.

        Always sends an `Idempotency-Key` (a new uuid4 unless given), so a retried
        request never creates a second endpoint: a retry whose first answer was
        lost gets that endpoint, secret included. IdempotencyKeyReusedError if the
        key was sent before with another body (keys are scoped per tenant).
        """
        body = {"url": url, "events": list(events), "description": description}
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        data, _ = await self._http.request(
            "POST", "/webhooks", body=body, headers=headers
        )
        return cast(dict[str, Any], data)

    async def list(self) -> list[dict[str, Any]]:
        data, _ = await self._http.request("GET", "/webhooks")
        return cast(list[dict[str, Any]], data["webhooks"])

    async def get(self, endpoint_id: str) -> dict[str, Any]:
        data, _ = await self._http.request("GET", _path(endpoint_id))
        return cast(dict[str, Any], data)

    async def delete(self, endpoint_id: str) -> None:
        await self._http.request("DELETE", _path(endpoint_id))

    async def rotate_secret(self, endpoint_id: str) -> dict[str, Any]:
        """A new secret; the old one keeps signing for 24 hours."""
        path = _path(endpoint_id) + "/rotate-secret"
        data, _ = await self._http.request("POST", path)
        return cast(dict[str, Any], data)

    async def deliveries(
        self, endpoint_id: str, status: str | None = None, limit: int = 100
    ) -> builtins.list[dict[str, Any]]:
        """Up to `limit` deliveries, newest first, of one status if given."""
        found: builtins.list[dict[str, Any]] = []
        params = {"limit": str(min(limit, 100))}
        if status is not None:
            params["status"] = status
        while len(found) < limit:
            path = _path(endpoint_id) + "/deliveries"
            data, _ = await self._http.request("GET", path, params=params)
            found.extend(data["deliveries"])
            if data["next_cursor"] is None:
                break
            params["cursor"] = data["next_cursor"]
        return found[:limit]

    async def retry(self, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
        """Send a delivery again now (and enable its endpoint again)."""
        path = f"{_path(endpoint_id)}/deliveries/{quote(delivery_id, safe='')}/retry"
        data, _ = await self._http.request("POST", path)
        return cast(dict[str, Any], data)


def _path(endpoint_id: str) -> str:
    return "/webhooks/" + quote(endpoint_id, safe="")
