"""The operator's configuration from the environment and its kopf settings."""

from __future__ import annotations

import logging

import kopf
import pytest
from vts_operator.__main__ import kopf_args
from vts_operator.settings import FINALIZER, ConfigError, OperatorConfig, configure


def test_config_defaults() -> None:
    config = OperatorConfig.from_env({})
    assert config == OperatorConfig("http://localhost:8000", 10.0, 1.0)
    assert config.client_retry_delay == 1.0


def test_config_reads_every_variable() -> None:
    config = OperatorConfig.from_env(
        {
            "VTS_URL": " https://vts.example:8443/ ",
            "VTS_OPERATOR_RETRY_DELAY": "0.25",
            "VTS_OPERATOR_STATUS_INTERVAL": "0",
            "VTS_OPERATOR_RETRY_MAX_DELAY": "30",
            "VTS_OPERATOR_NAMESPACES": " team-a, team-b ,,team-a",
        }
    )
    assert config == OperatorConfig(
        "https://vts.example:8443",
        0.25,
        0.0,
        retry_max_delay=30.0,
        namespaces=("team-a", "team-b"),
    )
    assert config.client_retry_delay == 0.25


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VTS_URL", "localhost:8000", "VTS_URL: 'localhost:8000' is not an http"),
        ("VTS_URL", "http://", "VTS_URL: 'http://' is not an http"),
        ("VTS_OPERATOR_RETRY_DELAY", "0", "not a number > 0"),
        ("VTS_OPERATOR_RETRY_DELAY", "soon", "'soon' is not a number > 0"),
        ("VTS_OPERATOR_STATUS_INTERVAL", "-1", "'-1' is not a number >= 0"),
        ("VTS_OPERATOR_STATUS_INTERVAL", "inf", "'inf' is not a number >= 0"),
        ("VTS_OPERATOR_STATUS_INTERVAL", "nan", "'nan' is not a number >= 0"),
        ("VTS_OPERATOR_RETRY_MAX_DELAY", "0", "not a number > 0"),
        ("VTS_OPERATOR_NAMESPACES", "team-a,Team_B", "'Team_B' is not a namespace"),
        ("VTS_OPERATOR_NAMESPACES", "x" * 64, "is not a namespace name"),
    ],
)
def test_config_names_the_bad_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        OperatorConfig.from_env({name: value})
    assert str(caught.value).startswith(f"{name}: ")
    assert message in str(caught.value)


def test_configure_keeps_kopf_state_in_vts_annotations() -> None:
    settings = kopf.OperatorSettings()
    configure(settings)
    assert settings.persistence.finalizer == FINALIZER == "vts.dev/operator"
    progress = settings.persistence.progress_storage
    diffbase = settings.persistence.diffbase_storage
    assert isinstance(progress, kopf.AnnotationsProgressStorage)
    assert isinstance(diffbase, kopf.AnnotationsDiffBaseStorage)
    assert (progress.prefix, diffbase.prefix) == ("vts.dev", "vts.dev")
    assert settings.posting.level == logging.WARNING
    assert settings.posting.enabled  # the operator's own Events still go out
    assert settings.peering.standalone
    assert settings.watching.server_timeout == 600
    assert not settings.scanning.disabled  # cluster-wide: kopf may scan CRDs


def test_configure_for_named_namespaces_turns_kopfs_cluster_scanning_off() -> None:
    """A Role grants no cluster-wide reads of namespaces or CRDs."""
    settings = kopf.OperatorSettings()
    configure(settings, ("team-a",))
    assert settings.scanning.disabled


@pytest.mark.parametrize(
    ("argv", "environ", "scope"),
    [
        ([], {}, ["--all-namespaces"]),
        ([], {"VTS_OPERATOR_NAMESPACES": "a,b"}, ["--namespace=a", "--namespace=b"]),
        (["-n", "c"], {"VTS_OPERATOR_NAMESPACES": "a"}, ["-n", "c"]),
        (["--all-namespaces"], {"VTS_OPERATOR_NAMESPACES": "a"}, ["--all-namespaces"]),
        (["--namespace=c"], {}, ["--namespace=c"]),
    ],
)
def test_vts_operator_watches_the_configured_namespaces_unless_told_otherwise(
    argv: list[str], environ: dict[str, str], scope: list[str]
) -> None:
    args = kopf_args(["--standalone", *argv], environ)
    assert args[:4] == ["run", "-m", "vts_operator.handlers", "--standalone"]
    assert args[4:] == scope
