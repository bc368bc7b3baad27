"""How a setting is declared, once: its variable, default, description and accepted
values; and the converter holding every Settings, however built, to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from vts.config_values import parse_bool, parse_float, parse_int, parse_lower
from vts.errors import InvalidSettingError

T = TypeVar("T")


@attrs.frozen
class Spec:
    """One setting, as `vts serve --help`, the README and the chart describe it.

    `default` is written as the variable would be (`"24h"`, `"1-5"`; None: unset),
    so the documented default is the one in force. `shown` replaces a value in
    reprs and error lines (URLs with passwords); a `secret` is never shown at all.
    """

    env: str
    default: str | None
    help: str
    accepted: str
    parse: Callable[[object], Any]
    check: Callable[[Any], bool] | None = None
    shown: Callable[[object], str] | None = None
    secret: bool = False

    @property
    def sensitive(self) -> bool:
        """Whether a value may carry a credential (a Secret in the chart, no option)."""
        return self.secret or self.shown is not None

    def display(self, raw: object) -> object:
        if self.secret:
            return "<hidden>"  # a bad secret is still a secret
        return raw if self.shown is None else self.shown(raw)

    def convert(self, raw: object) -> Any:
        """The typed value of `raw`; InvalidSettingError naming the variable and what
        it accepts unless the value parses and passes the check."""
        try:
            value = self.parse(raw)
            accepted = self.check is None or self.check(value)
        except (ValueError, TypeError, OverflowError):
            accepted = False
        if not accepted:
            raise InvalidSettingError(self.env, self.display(raw), self.accepted)
        return value


def setting(
    env: str,
    default: str | None,
    help: str,
    accepted: str,
    parse: Callable[[object], Any],
    check: Callable[[Any], bool] | None = None,
    *,
    shown: Callable[[object], str] | None = None,
) -> Any:
    """An attrs field converted and checked on every construction."""
    spec = Spec(env, default, help, accepted, parse, check, shown)
    return attrs.field(
        default=default,
        converter=spec.convert,
        repr=(lambda value: repr(shown(value))) if shown else True,
        metadata={"spec": spec},
    )


def secret(env: str, help: str, min_length: int, parse: Callable[[object], Any]) -> Any:
    """An optional secret: no option (argv is visible), kept out of the repr."""
    spec = Spec(
        env,
        None,
        help,
        f"a secret of at least {min_length} characters",
        parse,
        lambda v: v is None or len(v) >= min_length,
        secret=True,
    )
    return attrs.field(
        default=None, converter=spec.convert, repr=False, metadata={"spec": spec}
    )


def specs(cls: type) -> dict[str, Spec]:
    """Field name -> Spec, in declaration order (fields without one are not settings)."""
    return {
        f.name: f.metadata["spec"] for f in attrs.fields(cls) if "spec" in f.metadata
    }


def build(
    cls: type[T], env: Mapping[str, str], overrides: Mapping[str, object] | None = None
) -> T:
    """An instance of the settings class `cls` from the environment, with explicit
    options (by field name) taking precedence; each field's converter checks it.

    Raises InvalidSettingError naming the first bad variable and what it accepts.
    """
    values: dict[str, Any] = {}  # raw text or typed values: converters take both
    for name, spec in specs(cls).items():
        raw = (overrides or {}).get(name)
        if raw is None:
            raw = env.get(spec.env)
        if raw is not None:
            values[name] = raw
    return cls(**values)


def option_of(name: str, spec: Spec) -> str | None:
    """The `vts serve` option for a setting (None for secrets)."""
    return None if spec.secret else "--" + name.replace("_", "-")


def option_help(spec: Spec) -> str:
    """`vts serve --help`'s line: the description, the variable and its default."""
    default = "" if spec.default is None else f", {spec.default}"
    return f"{spec.help} [{spec.env}{default}]"


def integer(env: str, default: str, help: str, low: int, high: int) -> Any:
    """An integer setting in [low, high]."""
    return setting(
        env,
        default,
        help,
        f"an integer {low}-{high}",
        parse_int,
        lambda v: low <= v <= high,
    )


def number(
    env: str, default: str, help: str, low: float, high: float, unit: str = ""
) -> Any:
    """A number setting in [low, high] (`unit`: what it counts, e.g. seconds)."""
    return setting(
        env,
        default,
        help,
        f"a number{unit and ' of ' + unit} from {_plain(low)} to {_plain(high)}",
        parse_float,
        lambda v: low <= v <= high,
    )


def _plain(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)


def choice(
    env: str,
    default: str,
    help: str,
    options: tuple[str, ...],
    parse: Callable[[object], Any] = parse_lower,
) -> Any:
    """One word of `options`, any case."""
    return setting(
        env, default, help, "one of " + ", ".join(options), parse, options.__contains__
    )


def flag(env: str, default: str, help: str) -> Any:
    """A boolean setting."""
    return setting(
        env, default, help, "true or false (also 1/0, yes/no, on/off)", parse_bool
    )
