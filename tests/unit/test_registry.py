"""The plugin registry: built-ins via entry points, third-party discovery, clear errors."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from _support import wait_until
from aiohttp.test_utils import TestClient, TestServer

from vts import registry
from vts.app import create_app
from vts.brokers.redis import RedisBroker
from vts.config import Settings
from vts.domain import Job
from vts.errors import PluginError, UnknownPluginError
from vts.keys import processor_key
from vts.ports import Processor, Reporter
from vts.processors.simulated import SimulatedProcessor
from vts.stores.sqlite import SqliteJobStore

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SEED_BODY = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}


class DummyProcessor:
    """A processor plugin that finishes every job at once and remembers it."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job, report: Reporter) -> Mapping[str, Any]:
        self.ran.append(job.job_id)
        await report(50, "translating")
        return {"output_url": f"dummy://{job.job_id}"}


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Iterator[Path]:
    """A throwaway installed distribution `dummy_plugin` (not yet on sys.path)."""
    info = tmp_path / "dummy_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: dummy-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[vts.processors]\n"
        "dummy = dummy_plugin_mod:create\n"
        "not_callable = dummy_plugin_mod:NOT_CALLABLE\n"
        "wrong_type = dummy_plugin_mod:create_wrong\n"
    )
    (tmp_path / "dummy_plugin_mod.py").write_text(
        textwrap.dedent(
            """
            class PluginProcessor:
                async def open(self): ...
                async def close(self): ...
                async def run(self, job, report):
                    return {"output_url": "plugin://" + job.job_id}

            CREATED = []
            NOT_CALLABLE = 42

            def create(name, settings):
                CREATED.append((name, settings))
                return PluginProcessor()

            def create_wrong(name, settings):
                return "not a processor"
            """
        )
    )
    yield tmp_path
    sys.modules.pop("dummy_plugin_mod", None)


def test_builtins_discoverable_via_entry_points(tmp_path: Path) -> None:
    assert "sqlite" in registry.names(registry.STORES)
    assert "redis" in registry.names(registry.BROKERS)
    assert "simulated" in registry.names(registry.PROCESSORS)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}")
    assert isinstance(registry.create_store(settings), SqliteJobStore)
    assert isinstance(registry.create_broker(settings), RedisBroker)
    assert isinstance(registry.create_processor(settings), SimulatedProcessor)
    assert not (tmp_path / "jobs.db").exists()  # factories build, they do not open


def test_installed_entry_points_match_pyproject() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]
    for group in (registry.STORES, registry.BROKERS, registry.PROCESSORS):
        installed = {ep.name: ep.value for ep in entry_points(group=group)}
        for name, target in declared[group].items():
            assert installed.get(name) == target, (
                f"{group} entry point {name!r} is stale or missing in the installed "
                "metadata; reinstall vts (pip install -e .)"
            )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///./vts.db", "sqlite"),
        ("postgresql://vts@db/vts", "postgresql"),
        ("postgres://vts@db/vts", "postgresql"),
        ("redis://localhost:6379/0", "redis"),
        ("rediss://cache.example:6380/0", "redis"),
        ("fakeredis://", "redis"),
        ("REDIS://localhost", "redis"),
    ],
)
def test_scheme_of_maps_aliases_to_plugin_names(url: str, name: str) -> None:
    assert registry.scheme_of(url) == name


@pytest.mark.parametrize("url", ["rediss://cache.example:6380/0", "fakeredis://"])
def test_broker_aliases_build_redis_broker(url: str) -> None:
    assert isinstance(registry.create_broker(Settings(redis_url=url)), RedisBroker)


def test_register_plugs_processor_into_create_app(tmp_path: Path) -> None:
    dummy = DummyProcessor()
    seen: list[tuple[str, Settings]] = []

    def factory(name: str, settings: Settings) -> DummyProcessor:
        seen.append((name, settings))
        return dummy

    registry.register(registry.PROCESSORS, "dummy", factory)
    settings = Settings(processor="dummy", database_url=f"sqlite:///{tmp_path}/x.db")
    app = create_app(settings)
    assert app[processor_key] is dummy
    assert seen == [("dummy", settings)]
    assert "dummy" in registry.names(registry.PROCESSORS)


async def test_registered_processor_runs_jobs(tmp_path: Path) -> None:
    dummy = DummyProcessor()
    registry.register(registry.PROCESSORS, "dummy", lambda name, settings: dummy)
    settings = Settings(processor="dummy", database_url=f"sqlite:///{tmp_path}/x.db")
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.post("/translate", json=SEED_BODY)
        assert response.status == 202
        job_id = (await response.json())["job_id"]

        async def completed() -> bool:
            job = await (await client.get(f"/jobs/{job_id}")).json()
            return bool(job["status"] == "completed")

        await wait_until(completed, message="job completed by the dummy processor")
        job = await (await client.get(f"/jobs/{job_id}")).json()
    assert job["result"] == {"output_url": f"dummy://{job_id}"}
    assert dummy.ran == [job_id]


def test_third_party_plugin_discovered_from_dist_info(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "dummy" not in registry.names(registry.PROCESSORS)
    monkeypatch.syspath_prepend(str(plugin_dir))
    registry.reset()
    assert "dummy" in registry.names(registry.PROCESSORS)
    assert "simulated" in registry.names(registry.PROCESSORS)
    settings = Settings(processor="dummy")
    processor = registry.create_processor(settings)
    module = sys.modules["dummy_plugin_mod"]
    assert isinstance(processor, module.PluginProcessor)
    assert isinstance(processor, Processor)
    assert module.CREATED == [("dummy", settings)]


def test_unknown_plugin_lists_installed_and_says_reinstall() -> None:
    registry.register(registry.PROCESSORS, "extra", lambda name, s: DummyProcessor())
    with pytest.raises(UnknownPluginError) as caught:
        registry.create_processor(Settings(processor="nope"))
    message = str(caught.value)
    assert (caught.value.group, caught.value.name) == ("vts.processors", "nope")
    assert "'nope'" in message
    assert "simulated" in message and "extra" in message
    assert "reinstall" in message


def test_unknown_store_scheme_names_store_group(tmp_path: Path) -> None:
    with pytest.raises(UnknownPluginError) as caught:
        registry.create_store(Settings(database_url="mysql://db/vts"))
    assert caught.value.group == "vts.stores"
    assert "'mysql'" in str(caught.value)
    assert "sqlite" in str(caught.value)


def test_factory_returning_non_processor_raises_plugin_error() -> None:
    registry.register(registry.PROCESSORS, "broken", lambda name, s: object())
    with pytest.raises(PluginError) as caught:
        registry.create_processor(Settings(processor="broken"))
    message = str(caught.value)
    assert "vts.processors" in message
    assert "'broken'" in message
    assert "Processor" in message


def test_factory_returning_non_store_raises_plugin_error() -> None:
    registry.register(registry.STORES, "weird", lambda url, s: DummyProcessor())
    with pytest.raises(PluginError) as caught:
        registry.create_store(Settings(database_url="weird://x"))
    assert "vts.stores" in str(caught.value)
    assert "'weird'" in str(caught.value)
    assert "JobStore" in str(caught.value)


@pytest.mark.parametrize("name", ["not_callable", "wrong_type"])
def test_broken_third_party_entry_point_raises_plugin_error(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.syspath_prepend(str(plugin_dir))
    registry.reset()
    with pytest.raises(PluginError) as caught:
        registry.create_processor(Settings(processor=name))
    assert "vts.processors" in str(caught.value)
    assert repr(name) in str(caught.value)
