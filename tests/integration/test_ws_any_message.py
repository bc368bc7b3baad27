"""Property: whatever a client sends over /ws/jobs, it gets an answer, never a dropped
connection, and the socket still works afterwards."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import orjson
from _strategies import json_values
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

job_ids = st.lists(
    st.one_of(st.uuids().map(str), st.text(max_size=40), json_values), max_size=5
)
messages = st.one_of(
    st.text(max_size=200),  # often not JSON at all
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "unsubscribe", "ping", "pong", ""])},
        optional={"job_ids": job_ids | json_values},
    ).map(json.dumps),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(message=messages)
async def test_any_text_message_gets_an_answer_and_the_socket_lives_on(
    client: Any, message: str
) -> None:
    async with client.ws_connect("/ws/jobs") as ws:
        await ws.send_str(message)
        await ws.send_str('{"type": "ping"}')
        replies = []
        while True:
            reply = await ws.receive(timeout=10)
            assert reply.type is aiohttp.WSMsgType.TEXT, reply
            data = orjson.loads(reply.data)
            if data.get("type") == "pong":
                break
            replies.append(data)
        kinds = sorted({reply["type"] for reply in replies})
        event(f"replies: {kinds}")
        for reply in replies:
            assert reply["type"] in ("job", "error"), reply
            if reply["type"] == "error":
                assert reply["code"] and reply["detail"], reply
        # Still subscribed to nothing it did not ask for, and still serving.
        job_id = await client.submit()
        await ws.send_json({"type": "subscribe", "job_ids": [job_id]})
        snapshot = await ws.receive_json(timeout=10)
        while snapshot.get("job_id") != job_id:
            snapshot = await ws.receive_json(timeout=10)
        assert snapshot["type"] == "job"
        assert uuid.UUID(snapshot["job_id"])
