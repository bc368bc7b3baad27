"""vts variants and run plans: A/B of several vts sources in one invocation."""

# `--vts-src LABEL=PATH` (repeatable) names a source snapshot of vts, made with
#   mkdir /tmp/ab-a && git archive <rev> vts | tar -x -C /tmp/ab-a
#   git rev-parse --short <rev> > /tmp/ab-a/COMMIT
# Each variant's server gets PATH first on PYTHONPATH (and as its working directory),
# so `python -m vts` runs that code; every other process is unchanged. The variants
# run one after the other within each repeat (A, B, A, B ...), beside the trivial app
# and the peers of that same repeat, and the rows name them `vts:LABEL`. Without the
# option there is one variant, `vts`, from BENCH_VTS_SRC or this work tree.

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from _harness import VTS_SRC
from _report import revision


@dataclass(frozen=True)
class Variant:
    """One vts source directory (it holds the `vts` package) and its label."""

    label: str  # "" for the single default variant
    src: Path

    @property
    def name(self) -> str:
        """The target as every row shows it."""
        return f"vts:{self.label}" if self.label else "vts"

    def describe(self) -> str:
        if not self.label:
            return revision(os.environ.get("BENCH_VTS_SRC"))
        return f"{self.name} = {revision(str(self.src))}"


@dataclass(frozen=True)
class Target:
    """One measured system of a run: the trivial app, a vts variant (with or
    without API keys) or a peer (arq, SAQ)."""

    name: str
    kind: str  # "trivial", "vts" or "peer"
    variant: Variant | None = None
    keys: bool = False


def add_vts_src_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vts-src",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        type=_variant,
        help="a vts source snapshot to measure (repeatable: A/B in one invocation); "
        "PATH holds vts/ (git archive REV vts | tar -x -C PATH) and a COMMIT file",
    )


def _variant(text: str) -> Variant:
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    if not label.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise argparse.ArgumentTypeError(f"label {label!r}: letters, digits, -_.")
    src = Path(path).expanduser().resolve()
    if not (src / "vts" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(
            f"{src} holds no vts package: git archive REV vts | tar -x -C {src}"
        )
    return Variant(label, src)


def variants(args: argparse.Namespace) -> list[Variant]:
    """The vts variants to measure, in the order they run within a repeat."""
    chosen: list[Variant] = args.vts_src
    if not chosen:
        return [Variant("", VTS_SRC)]
    labels = [v.label for v in chosen]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"--vts-src labels must differ: {', '.join(labels)}")
    return chosen


def describe(chosen: Sequence[Variant]) -> str:
    """The code measured, for the header."""
    return "; ".join(v.describe() for v in chosen)


def plan(
    run: int,
    chosen: Sequence[Variant],
    *,
    auth: bool = False,
    peers: Sequence[str] = (),
) -> list[Target]:
    """One repeat's systems, in order: the trivial app right before vts (both see
    the same background load), each vts variant, then the peers. With `auth`, each
    variant also runs with VTS_AUTH=keys, the two swapping places every other run
    (A B, B A) so neither is always the one that runs later."""
    targets = [Target("trivial", "trivial")]
    for variant in chosen:
        plain = Target(variant.name, "vts", variant)
        if auth:
            keyed = Target(f"{variant.name}+keys", "vts", variant, keys=True)
            targets += [plain, keyed] if run % 2 else [keyed, plain]
        else:
            targets.append(plain)
    targets += [Target(name, "peer") for name in peers]
    return targets
