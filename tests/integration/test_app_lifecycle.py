"""Start-up that fails part way: what opened is closed, what never opened is not."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from _support import instant_settings
from aiohttp.test_utils import TestServer

from vts.app import create_app
from vts.domain import Job
from vts.errors import StoreUnavailableError
from vts.keys import store_key
from vts.ports import Reporter


class BrokenProcessor:
    """A processor plugin whose start fails (say, a model that will not load)."""

    def __init__(self) -> None:
        self.closed = False

    async def open(self) -> None:
        raise RuntimeError("the model will not load")

    async def close(self) -> None:
        self.closed = True

    async def run(self, job: Job, report: Reporter) -> Mapping[str, Any]:
        raise AssertionError("never started")


async def test_a_processor_that_fails_to_open_is_not_closed_and_the_store_is(
    tmp_path: Path,
) -> None:
    processor = BrokenProcessor()
    app = create_app(instant_settings(tmp_path / "vts.db"), processor=processor)
    server = TestServer(app, host="127.0.0.1")
    with pytest.raises(RuntimeError, match="will not load"):
        await server.start_server()
    await server.close()
    assert not processor.closed
    with pytest.raises(StoreUnavailableError, match="not open"):
        await app[store_key].ping()
