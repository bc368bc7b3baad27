"""Property: any JSON body POSTed to /translate gets a 202 or a 4xx problem, nothing else."""

from __future__ import annotations

from typing import Any

from _strategies import json_values
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

FIELDS = ["source_language", "target_language", "metadata", "metadata.video_url"]


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body (extra metadata included), often with one field broken or gone."""
    source, target = draw(
        st.lists(
            st.sampled_from(["en", "es", "pt-BR", "zh-Hant-TW", "de-CH-1901"]),
            min_size=2,
            max_size=2,
            unique=True,
        )
    )
    extra = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3))
    body: dict[str, Any] = {
        "source_language": source,
        "target_language": target,
        "metadata": {**extra, "video_url": "https://example.com/v.mp4"},
    }
    broken = draw(st.none() | st.sampled_from(FIELDS))
    if broken is not None:
        outer, _, inner = broken.partition(".")
        place = body["metadata"] if inner else body
        key = inner or outer
        if draw(st.booleans()):
            del place[key]
        else:
            place[key] = draw(json_values)
    return body


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=json_values | near_valid())
async def test_translate_any_json_is_202_or_4xx_problem(client, data) -> None:
    """One server for every example: a 202 adds exactly that job, a 4xx adds none."""
    async with client.get("/jobs", params={"limit": "1"}) as response:
        newest = (await response.json())["jobs"]
    async with client.post("/translate", json=data) as response:
        event(f"status {response.status}")
        if response.status == 202:
            job_id = (await response.json())["job_id"]
            assert await client.job_ids(limit="1") == [job_id]
            return
        body = await client.problem(response, response.status)
        assert 400 <= response.status < 500, body
    async with client.get("/jobs", params={"limit": "1"}) as response:
        assert [j["job_id"] for j in (await response.json())["jobs"]] == [
            j["job_id"] for j in newest
        ]
