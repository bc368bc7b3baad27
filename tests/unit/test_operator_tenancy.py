"""Namespaces are tenants: which tenant the operator names for each resource."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vts_operator.mapping import SpecError
from vts_operator.settings import ConfigError, OperatorConfig
from vts_operator.tenancy import is_tenant, parse_tenant_map, tenant_for

# A Kubernetes namespace name: an RFC 1123 DNS label.
NAMESPACES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)


@given(NAMESPACES)
def test_tenant_of_a_resource_is_its_namespace_and_every_namespace_is_a_tenant(
    namespace: str,
) -> None:
    assert is_tenant(namespace)
    assert tenant_for(namespace) == namespace


def test_tenant_map_wins_over_the_fixed_tenant_which_wins_over_the_namespace() -> None:
    overrides = {"team-a": "acme"}
    assert tenant_for("team-a", fixed="shared", overrides=overrides) == "acme"
    assert tenant_for("team-b", fixed="shared", overrides=overrides) == "shared"
    assert tenant_for("team-b", overrides=overrides) == "team-b"
    assert tenant_for(None) == "default"


def test_tenant_that_is_no_tenant_name_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="'Team_A' is not a valid vts tenant name"):
        tenant_for("Team_A")


def test_tenant_map_parses_pairs_and_ignores_spaces_and_empty_entries() -> None:
    text = " team-a = acme , ,team-b=globex,"
    assert parse_tenant_map(text) == {"team-a": "acme", "team-b": "globex"}
    assert parse_tenant_map("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team-a", "'team-a' is not namespace=tenant"),
        ("team-a=", "'team-a=' is not namespace=tenant"),
        ("team-a=Acme", "'team-a=Acme' is not namespace=tenant"),
        ("-a=acme", "'-a=acme' is not namespace=tenant"),
        (f"a={'x' * 64}", "is not namespace=tenant"),
        ("a=b,a=c", "namespace 'a' is mapped twice"),
    ],
)
def test_tenant_map_names_the_bad_entry(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_tenant_map(text)


def test_config_reads_the_tenant_settings() -> None:
    config = OperatorConfig.from_env(
        {
            "VTS_OPERATOR_TENANT": " shared ",
            "VTS_OPERATOR_TENANT_MAP": "team-a=acme",
            "VTS_OPERATOR_AUTH_RETRY_DELAY": "300",
        }
    )
    assert (config.tenant, config.tenant_map) == ("shared", (("team-a", "acme"),))
    assert config.auth_retry_delay == 300.0
    assert config.tenant_of("team-a") == "acme"
    assert config.tenant_of("team-b") == "shared"
    defaults = OperatorConfig.from_env({})
    assert (defaults.tenant, defaults.tenant_map) == (None, ())
    assert defaults.auth_retry_delay == 60.0
    assert defaults.tenant_of("team-b") == "team-b"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("VTS_OPERATOR_TENANT", "Shared", "'Shared' is not a tenant name"),
        ("VTS_OPERATOR_TENANT_MAP", "team-a", "'team-a' is not namespace=tenant"),
        ("VTS_OPERATOR_AUTH_RETRY_DELAY", "0", "'0' is not a number > 0"),
    ],
)
def test_config_names_the_bad_tenant_variable(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        OperatorConfig.from_env({name: value})
    assert str(caught.value).startswith(f"{name}: ") and message in str(caught.value)


def test_config_never_holds_the_api_key() -> None:
    key = "vts_k1_" + "s" * 43
    config = OperatorConfig.from_env({"VTS_API_KEY": key})
    assert key not in repr(config)
