"""Snapshot: one job version encoded once; its routing fields travel beside the bytes."""

from __future__ import annotations

import orjson
import pytest
from _support import make_job
from hypothesis import given
from hypothesis import strategies as st

from vts.codec import job_to_public
from vts.domain import JobStatus
from vts.snapshot import Snapshot

A = "00000000-0000-4000-8000-00000000000a"
# Metadata may hold anything JSON does, tabs, newlines and lookalike fields included.
METADATA = st.dictionaries(
    st.text(max_size=8),
    st.text() | st.integers(-(2**63), 2**63 - 1) | st.none(),
    max_size=4,
)


@given(
    metadata=METADATA,
    status=st.sampled_from(JobStatus),
    version=st.integers(1, 2**40),
    tenant=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
)
def test_framed_snapshots_read_back_unchanged(
    metadata: dict[str, object], status: JobStatus, version: int, tenant: str
) -> None:
    job = make_job(A, tenant=tenant, status=status, version=version, metadata=metadata)
    snapshot = Snapshot.of(job)
    framed = snapshot.framed()
    assert b"\n" not in framed, "the relay separates snapshots by newlines"
    assert Snapshot.unframe(framed) == snapshot
    assert orjson.loads(snapshot.body) == orjson.loads(orjson.dumps(job_to_public(job)))


def test_a_snapshot_names_what_its_body_says() -> None:
    job = make_job(A, tenant="acme", metadata={"tenant": "globex", "job_id": "x"})
    snapshot = Snapshot.of(job)
    body = orjson.loads(snapshot.body)
    assert (snapshot.job_id, snapshot.tenant, snapshot.version) == (
        body["job_id"],
        body["tenant"],
        body["version"],
    )
    assert snapshot.status.value == body["status"] and not snapshot.final
    assert orjson.loads(snapshot.message) == {"type": "job", **body}


def test_a_bare_snapshot_from_an_older_replica_is_read() -> None:
    snapshot = Snapshot.of(make_job(A, tenant="acme"))
    assert Snapshot.unframe(snapshot.body) == snapshot


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage",
        b"1\tpending\tacme",
        b"x\tpending\tacme\tid\t{}",
        b"{}",
        b'{"job_id": "a", "version": null, "status": "pending"}',
    ],
)
def test_bytes_that_are_no_snapshot_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        Snapshot.unframe(raw)
