"""`python -m vts_operator [kopf run options]`: the same as `kopf run -m vts_operator.handlers`."""

from __future__ import annotations

import sys

from kopf.cli import main as kopf_main


def main() -> None:
    """Entry point of `vts-operator`, e.g. `vts-operator --all-namespaces`."""
    kopf_main(["run", "-m", "vts_operator.handlers", *sys.argv[1:]])


if __name__ == "__main__":
    main()
