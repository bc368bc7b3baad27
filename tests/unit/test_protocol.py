"""GuardedRequestHandler.handle_error: an unparseable request's answer and log line."""

from __future__ import annotations

import logging
import types
from unittest import mock

import pytest
from aiohttp.http_exceptions import InvalidHeader
from aiohttp.test_utils import make_mocked_request

from vts.api.protocol import GuardedRequestHandler
from vts.metrics import Metrics


def test_an_invalid_header_is_not_quoted_in_the_answer_or_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aiohttp's pure-Python parser quotes the whole header line in InvalidHeader.
    secret = "vts_" + "k" * 40
    handler = GuardedRequestHandler.__new__(GuardedRequestHandler)
    handler._vts_server = types.SimpleNamespace(metrics=Metrics())  # type: ignore[assignment]
    request = make_mocked_request("GET", "/", writer=mock.Mock(output_size=0))
    caplog.set_level(logging.DEBUG, logger="vts.api.protocol")
    exc = InvalidHeader(f"Authorization: Bearer {secret}\x01".encode())
    response = handler.handle_error(
        request, 400, exc, exc.message
    )  # as aiohttp calls it
    assert response.status == 400
    body = response.body
    assert isinstance(body, bytes)
    assert b"/problems/bad-request" in body
    assert secret.encode() not in body
    assert caplog.records
    assert all(secret not in r.getMessage() for r in caplog.records)
