"""`python -m vts_operator [kopf run options]`: the same as `kopf run -m vts_operator.handlers`,
watching the namespaces of VTS_OPERATOR_NAMESPACES (or all) unless the options name some."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from kopf.cli import main as kopf_main

from vts_operator.settings import ConfigError, OperatorConfig

_SCOPE_OPTIONS = ("-n", "--namespace", "-A", "--all-namespaces")


def kopf_args(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The `kopf run` arguments for `vts-operator argv...`."""
    args = ["run", "-m", "vts_operator.handlers", *argv]
    if any(a.split("=")[0] in _SCOPE_OPTIONS for a in argv):
        return args
    namespaces = OperatorConfig.from_env(environ).namespaces
    if not namespaces:
        return [*args, "--all-namespaces"]
    return [*args, *(f"--namespace={name}" for name in namespaces)]


def main() -> None:
    """Entry point of `vts-operator`, e.g. `VTS_OPERATOR_NAMESPACES=team-a vts-operator`."""
    try:
        args = kopf_args(sys.argv[1:], os.environ)
    except ConfigError as exc:
        sys.exit(f"vts-operator: {exc}")
    kopf_main(args)


if __name__ == "__main__":
    main()
