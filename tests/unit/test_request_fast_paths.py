"""The per-request shortcuts answer exactly what the long way answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vts.api.auth import auth_off_key
from vts.api.urls import _ends_in_number, _ipv4_number
from vts.app import create_app
from vts.config import load_settings
from vts.metrics import Metrics


def _ends_in_number_the_long_way(host: str) -> bool:
    last = host.rsplit(".", 1)[-1]
    return bool(last) and (
        (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None
    )


labels = st.text(
    st.sampled_from("0123456789xXabcdefgz-٣１") | st.characters(), max_size=8
)


@given(st.lists(labels, min_size=1, max_size=4).map(".".join))
def test_ends_in_number_skips_names_only_when_no_number_can_end_them(
    host: str,
) -> None:
    assert _ends_in_number(host) == _ends_in_number_the_long_way(host)


@pytest.mark.parametrize(
    ("auth", "host", "off"),
    [
        ("auto", "127.0.0.1", True),
        ("auto", "localhost", True),
        ("auto", "0.0.0.0", False),
        ("none", "0.0.0.0", True),
        ("keys", "127.0.0.1", False),
    ],
)
def test_the_app_resolves_vts_auth_once_as_settings_do(
    tmp_path: Path, auth: str, host: str, off: bool
) -> None:
    settings = load_settings(
        {
            "VTS_AUTH": auth,
            "VTS_HOST": host,
            "VTS_ADMIN_KEY": "a" * 32,
            "VTS_DATABASE_URL": f"sqlite:///{tmp_path}/vts.db",
        }
    )
    assert (settings.auth_mode == "none") is off
    assert create_app(settings, workers=False)[auth_off_key] is off


def test_the_websocket_gauge_child_is_the_labelled_one() -> None:
    metrics = Metrics()
    metrics.websockets_open("job").inc()
    metrics.websockets_open("job").inc()
    metrics.websockets_open("jobs").inc()
    metrics.websockets_open("job").dec()
    assert metrics.websockets_open("job") is metrics.websockets_open("job")
    gauge = metrics.websocket_connections
    assert gauge.labels("job")._value.get() == 1
    assert gauge.labels("jobs")._value.get() == 1
