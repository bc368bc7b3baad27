"""The client's text/event-stream parser: whatever the line endings and however the
bytes are cut, it returns the events the server wrote."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from translation_client._sse import ServerSentEvent, SseParser

# Field values: no line breaks (they end a line), any other text, non-ASCII too.
VALUE = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
    max_size=20,
)
NAME = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1)
ENDING = st.sampled_from(["\n", "\r", "\r\n"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent], str]:
    """A stream with random comments, retry fields, ids and line endings; the
    events it must parse to, and the last id."""
    lines: list[str] = []
    events: list[ServerSentEvent] = []
    last_id = ""
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            lines.append(":" + draw(VALUE))
        if draw(st.booleans()):
            lines.append(f"retry: {draw(st.integers(0, 10_000))}")
        kind = draw(st.one_of(st.none(), NAME))
        if kind is not None:
            lines.append(f"event: {kind}")
        new_id = draw(st.one_of(st.none(), VALUE.filter(lambda v: "\0" not in v)))
        if new_id is not None:
            lines.append(f"id: {new_id}")
            last_id = new_id
        data = draw(st.lists(VALUE, max_size=3))
        # "data:x" and "data: x" are the same field; one space is dropped.
        lines.extend(
            f"data:{d}"
            if not d.startswith(" ") and draw(st.booleans())
            else f"data: {d}"
            for d in data
        )
        lines.append("")
        if data:
            events.append(ServerSentEvent(kind or "message", "\n".join(data), last_id))
    text, previous = "", ""
    for line in lines:
        ending = draw(ENDING)
        if previous == "\r" and not line and ending == "\n":
            ending = "\r\n"  # CR then LF is one CRLF, not two line ends
        text += line + ending
        previous = ending
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode(), events, last_id


@given(streams(), st.lists(st.integers(1, 7), max_size=40))
def test_sse_parser_returns_the_events_however_the_bytes_are_cut(
    stream: tuple[bytes, list[ServerSentEvent], str], cuts: list[int]
) -> None:
    raw, expected, last_id = stream
    parser = SseParser()
    events: list[ServerSentEvent] = []
    at = 0
    for size in cuts:
        events += parser.feed(raw[at : at + size])
        at += size
    events += parser.feed(raw[at:])
    assert events == expected
    if expected or raw.strip():
        assert parser.last_id == last_id


def test_sse_parser_keeps_an_unfinished_event_and_reads_retry() -> None:
    parser = SseParser()
    assert parser.feed(b"retry: 2500\nretry: x\nid: 7\ndata: a\ndata:  b\n") == []
    assert parser.retry == 2500
    assert parser.feed(b"\n") == [ServerSentEvent("message", "a\n b", "7")]
    assert parser.feed(b"id: 8\n\n: only a comment\n\n") == []
    assert parser.last_id == "8"  # an event without data still moves the id
    assert parser.feed(b"id: a\0b\ndata\n\n") == [ServerSentEvent("message", "", "8")]
    assert parser.feed("data: é".encode()[:-1]) == []
    assert parser.feed("data: é".encode()[-1:] + b"\r\n\r\n") == [
        ServerSentEvent("message", "é", "8")
    ]
