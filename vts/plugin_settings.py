"""How a processor plugin declares settings of its own, and reads them.

The core `Settings` know nothing of any processor: a plugin's factory names the
attrs class of its settings, `vts serve` builds it from the plugin's variables and
options when that plugin is chosen, and `Settings.processor_settings` carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from vts.config import Settings

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


def reads_settings(settings_class: type) -> Callable[[F], F]:
    """Declare, on a processor plugin's factory, the attrs class of its own settings
    (fields made with `vts.config_fields`, variables named VTS_<PLUGIN>_*).

    `vts serve` then takes their variables and options, checks them when the plugin
    is chosen (and only then), and hands them over as `settings.processor_settings`;
    the factory reads them with `processor_settings(settings, settings_class)`.
    """

    def declare(factory: F) -> F:
        factory.settings_class = settings_class  # type: ignore[attr-defined]
        return factory

    return declare


def processor_settings(settings: Settings, settings_class: type[T]) -> T:
    """The processor's own settings: those `settings` carries, else the defaults of
    `settings_class`. TypeError when they are another plugin's."""
    own = settings.processor_settings
    if own is None:
        return settings_class()
    if not isinstance(own, settings_class):
        raise TypeError(
            f"processor_settings is a {type(own).__name__}, "
            f"not the {settings_class.__name__} this processor reads"
        )
    return own
