"""Schemathesis drives every REST operation from the OpenAPI document at a real server.

It generates valid and invalid requests from the schema and checks each answer: no
5xx, only documented status codes, content types and headers, bodies that fit their
schemas, schema-violating input rejected, schema-valid input accepted.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from _support import instant_settings
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from vts.api.connections import VtsRunner
from vts.api.openapi import build_spec
from vts.app import create_app
from vts.config import Settings

# Schemathesis's own strategies draw from `random`; that is its business, not a failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)

# WebSocket routes answer 101 and switch protocols, which an HTTP fuzzer cannot
# follow; test_ws*.py and test_openapi_answers.py drive them with real clients.
# Invalid input must be refused with a 4xx: schemathesis's usual ones, and 431, the
# documented answer to a request line over 8190 bytes (far too many `job_id`s).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428"]
CHECKS = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [*REFUSALS, "429", "431", "5xx"]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(build_spec(), config=CHECKS).exclude(
    path_regex="^/ws/"
)

# Rules the schema cannot state, so valid-looking input is rightly refused (422):
# source and target must differ; a cursor must be one the server issued; a webhook
# URL's host must be public.
_RULES_BEYOND_THE_SCHEMA = {
    ("POST", "/translate"),
    ("GET", "/jobs"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{webhook_id}/deliveries"),
}
# The servers under test require keys; schemathesis sends this admin key, and checks
# that every protected operation refuses a missing or made-up one (ignored_auth).
ADMIN_KEY = "fuzz-admin-" + "k" * 32


@schema.auth()
class _AdminKey:
    """Schemathesis's way to send a key: it knows it is auth, so it can leave it
    out or spoil it on purpose (ignored_auth), and never counts it as input."""

    def get(self, case: Any, context: Any) -> str:
        return ADMIN_KEY

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


class AppThread:
    """vts apps served from one background thread's event loop on loopback ports
    (schemathesis calls the API synchronously, so it cannot share the test's loop),
    each through VtsRunner as `vts serve` runs it: its guarded protocol answers the
    requests aiohttp cannot parse (say, a request line over 8190 bytes)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def start(self, settings: Settings, *, workers: bool = True) -> web.AppRunner:
        async def start() -> web.AppRunner:
            runner = VtsRunner(create_app(settings, workers=workers))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            return runner

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    @staticmethod
    def url(runner: web.AppRunner) -> str:
        (site,) = runner.sites
        return site.name

    def stop(self, runner: web.AppRunner) -> None:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def apps() -> Iterator[AppThread]:
    apps = AppThread()
    try:
        yield apps
    finally:
        apps.close()


@pytest.fixture(scope="module")
def base_url(
    apps: AppThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """vts on the default backends; half of its jobs fail, so the dead-letter routes
    have something to show."""
    db = Path(tmp_path_factory.mktemp("fuzz")) / "vts.db"
    runner = apps.start(
        instant_settings(
            db,
            sim_error_rate=0.5,
            sim_seed=7,
            max_attempts=1,
            auth="keys",
            admin_key=ADMIN_KEY,
        )
    )
    try:
        yield AppThread.url(runner)
    finally:
        apps.stop(runner)


@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_answer_fits_the_openapi_document(case: Any, base_url: str) -> None:
    case.call_and_validate(
        base_url=base_url,
        excluded_checks=_excluded_checks(case),
        timeout=_timeout(case),
    )


# The event stream never ends: schemathesis reads it for this long (or 20 events)
# and judges what came, instead of its 10 s default for every example.
STREAM_SECONDS = 0.2


def _timeout(case: Any) -> float:
    return STREAM_SECONDS if case.operation.path == "/events" else 10.0


def _excluded_checks(case: Any) -> list[Any]:
    operation = (case.operation.method.upper(), case.operation.path)
    return [positive_data_acceptance] if operation in _RULES_BEYOND_THE_SCHEMA else []


class _Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences that follow the document's links: submit, read, cancel, replay.

    Each sequence gets a new server with no workers: Hypothesis replays a sequence
    to shrink it and needs the same answers, so nothing may change on its own.
    """

    apps: AppThread
    databases: Path

    def setup(self) -> None:
        db = self.databases / f"{uuid.uuid4().hex}.db"
        settings = instant_settings(db, auth="keys", admin_key=ADMIN_KEY)
        self.runner = self.apps.start(settings, workers=False)

    def teardown(self) -> None:
        self.apps.stop(self.runner)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"base_url": AppThread.url(self.runner), "timeout": _timeout(case)}

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


def test_linked_calls_keep_every_answer_documented(
    apps: AppThread, tmp_path: Path
) -> None:
    _Workflow.apps = apps
    _Workflow.databases = tmp_path
    _Workflow.run(
        settings=settings(
            max_examples=60,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
