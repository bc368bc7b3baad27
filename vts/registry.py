"""Plugin lookup: entry-point groups vts.stores, vts.brokers, vts.processors."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import attrs

from vts.config import Settings
from vts.errors import ConfigError, PluginError, UnknownPluginError
from vts.ports import Broker, JobStore, Processor

STORES: Final = "vts.stores"
BROKERS: Final = "vts.brokers"
PROCESSORS: Final = "vts.processors"

Factory = Callable[[str, Settings], object]

# URL schemes that are served by a plugin of another name.
SCHEME_ALIASES: Final = {
    "postgres": "postgresql",
    "postgresql+asyncpg": "postgresql",
    "rediss": "redis",
    "fakeredis": "redis",
    "unix": "redis",
}

_PROTOCOLS: Final[dict[str, type]] = {
    STORES: JobStore,
    BROKERS: Broker,
    PROCESSORS: Processor,
}
_discovered: dict[str, dict[str, EntryPoint]] = {}
_registered: dict[str, dict[str, Factory]] = {group: {} for group in _PROTOCOLS}

T = TypeVar("T")


def _installed(group: str) -> dict[str, EntryPoint]:
    if group not in _discovered:
        _discovered[group] = {ep.name: ep for ep in entry_points(group=group)}
    return _discovered[group]


def names(group: str) -> list[str]:
    """Every plugin name available in `group`, installed or registered."""
    return sorted({*_installed(group), *_registered[group]})


def register(group: str, name: str, factory: Factory) -> None:
    """Add a plugin without packaging it (tests, embedding applications)."""
    _registered[group][name] = factory


def reset() -> None:
    """Forget registered plugins and re-read entry points on next use."""
    _discovered.clear()
    for plugins in _registered.values():
        plugins.clear()


def scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    return SCHEME_ALIASES.get(scheme, scheme)


def _factory(group: str, name: str) -> Factory:
    if name in _registered[group]:
        return _registered[group][name]
    installed = _installed(group)
    if name not in installed:
        raise UnknownPluginError(group, name, names(group))
    try:
        loaded: Any = installed[name].load()
    except Exception as exc:
        raise PluginError(f"{group} plugin {name!r} failed to load: {exc!r}") from exc
    if not callable(loaded):
        raise PluginError(f"{group} entry point {name!r} is not callable")
    return loaded  # type: ignore[no-any-return]


def settings_class(group: str, name: str) -> type | None:
    """The attrs class of settings plugin `name` declares (`reads_settings` on its
    factory), or None. UnknownPluginError or PluginError as when creating it."""
    declared = getattr(_factory(group, name), "settings_class", None)
    if declared is not None and not (
        isinstance(declared, type) and attrs.has(declared)
    ):
        raise PluginError(
            f"{group} plugin {name!r} declares settings that are not an attrs class: "
            f"{declared!r}"
        )
    return declared


def _build(group: str, name: str, target: str, settings: Settings) -> Any:
    factory = _factory(group, name)
    try:
        obj = factory(target, settings)
    except ConfigError:
        raise
    except Exception as exc:
        raise PluginError(
            f"{group} plugin {name!r} could not be created: {exc!r}"
        ) from exc
    protocol = _PROTOCOLS[group]
    if not isinstance(obj, protocol):
        raise PluginError(
            f"{group} entry point {name!r} returned {type(obj).__name__}, "
            f"which does not implement {protocol.__name__}"
        )
    return obj


def create_store(settings: Settings) -> JobStore:
    url = settings.database_url
    store: JobStore = _build(STORES, scheme_of(url), url, settings)
    return store


def create_broker(settings: Settings) -> Broker:
    url = settings.redis_url
    broker: Broker = _build(BROKERS, scheme_of(url), url, settings)
    return broker


def create_processor(settings: Settings) -> Processor:
    processor: Processor = _build(
        PROCESSORS, settings.processor, settings.processor, settings
    )
    return processor
