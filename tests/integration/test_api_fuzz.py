"""Schemathesis drives every REST operation from the OpenAPI document at a real server.

It generates valid and invalid requests from the schema and checks each answer: no
5xx, only documented status codes, content types and headers, bodies that fit their
schemas, schema-violating input rejected, schema-valid input accepted.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from _support import instant_settings
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from vts.api.openapi import build_spec
from vts.app import create_app

# Schemathesis's own strategies draw from `random`; that is its business, not a failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)

# WebSocket routes answer 101 and switch protocols, which an HTTP fuzzer cannot
# follow; test_ws*.py and test_openapi_answers.py drive them with real clients.
schema = schemathesis.openapi.from_dict(build_spec()).exclude(path_regex="^/ws/")

# Rules the schema cannot state, so valid-looking input is rightly refused (422):
# source and target must differ; a cursor must be one the server issued.
_RULES_BEYOND_THE_SCHEMA = {("POST", "/translate"), ("GET", "/jobs")}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vts on the default backends, served from its own thread on a loopback port;
    half of its jobs fail, so the dead-letter routes have something to show."""
    db = Path(tmp_path_factory.mktemp("fuzz")) / "vts.db"
    app_settings = instant_settings(db, sim_error_rate=0.5, sim_seed=7, max_attempts=1)
    loop = asyncio.new_event_loop()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(create_app(app_settings))

    async def start() -> None:
        await runner.setup()
        await web.SockSite(runner, sock).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_answer_fits_the_openapi_document(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, excluded_checks=_excluded_checks(case))


def _excluded_checks(case: Any) -> list[Any]:
    operation = (case.operation.method.upper(), case.operation.path)
    return [positive_data_acceptance] if operation in _RULES_BEYOND_THE_SCHEMA else []


class _Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences that follow the document's links: submit, read, cancel, replay."""

    base_url = ""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"base_url": self.base_url}

    def validate_response(
        self,
        response: Any,
        case: Any,
        additional_checks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=_excluded_checks(case),
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


def test_linked_calls_keep_every_answer_documented(base_url: str) -> None:
    _Workflow.base_url = base_url
    _Workflow.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
