"""Checks shared by the tests of vts's settings and of a plugin's own settings."""

from __future__ import annotations

from hypothesis import strategies as st

from vts.errors import InvalidSettingError

# Junk that looks like the values a variable takes, and junk that does not.
junk = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"-?[0-9.]{0,6}(-[0-9.e]{0,6})?", fullmatch=True),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "0x10", "1_0", " ", "\x00"]),
)


def assert_one_line_naming(exc: InvalidSettingError, variable: str) -> None:
    """`exc` is the one line start-up prints: the variable, then what it accepts."""
    message = str(exc)
    assert len(message.splitlines()) == 1, message
    assert exc.variable == variable
    assert message.startswith(f"{variable}=")
    assert exc.accepted and exc.accepted in message
