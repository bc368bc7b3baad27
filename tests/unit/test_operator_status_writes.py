"""The operator's status writes through kubernetes_asyncio against kmock's API
emulator, and the growing, jittered retry delay while vts is unreachable."""

from __future__ import annotations

import logging
from typing import Any

import kopf
import pytest
from kubernetes_asyncio import client
from translation_client import TranslationClient, TransportError
from vts_operator.handlers import _retry_when_unavailable
from vts_operator.kube import StatusApi
from vts_operator.runtime import Runtime
from vts_operator.settings import OperatorConfig
from vts_operator.status import StatusWriter

RES = "vts.dev/v1alpha1/translationjobs"
NS = "ns1"
URL = f"/apis/vts.dev/v1alpha1/namespaces/{NS}/translationjobs"
CLOSE = {"Connection": "close"}


async def _resource(kmock: Any, name: str) -> kopf.Body:
    kmock.resources[RES] = kmock.ResourceInfo(
        kind="TranslationJob",
        singular="translationjob",
        namespaced=True,
        subresources={"status"},
        verbs={"list", "watch", "get", "patch", "create", "delete"},
    )
    meta = {"name": name, "namespace": NS, "generation": 4, "resourceVersion": "1"}
    raw = {"apiVersion": "vts.dev/v1alpha1", "kind": "TranslationJob", "metadata": meta}
    async with kmock.post(URL, json={**raw, "spec": {}}, headers=CLOSE) as response:
        assert response.status == 200, await response.text()
    return kopf.Body(raw)


def _api(kmock: Any) -> StatusApi:
    configuration = client.Configuration(host=str(kmock.url).rstrip("/"))
    return StatusApi(client.ApiClient(configuration))


async def test_status_writes_merge_into_the_status_subresource(kmock: Any) -> None:
    body = await _resource(kmock, "job1")
    api = _api(kmock)
    try:
        assert await api.patch_status(NS, "job1", {"phase": "Pending", "jobId": "j"})
        assert await api.patch_status(
            NS, "job1", {"phase": "Processing", "jobId": None}
        )
        assert not await api.patch_status(NS, "missing", {"phase": "Pending"})
    finally:
        await api.close()
    assert body.metadata.name == "job1"
    status = kmock.objects[RES, NS, "job1"].last.raw["status"]
    assert status == {"phase": "Processing"}  # merged; None removed the field
    patches = [r for r in kmock if r.method == "PATCH"]
    assert {r.subresource for r in patches} == {"status"}
    assert {r.headers["Content-Type"] for r in patches} == {
        "application/merge-patch+json"
    }


async def test_retries_while_vts_is_unreachable_back_off_growing_with_jitter(
    kmock: Any,
) -> None:
    body = await _resource(kmock, "job2")
    api = _api(kmock)
    vts = TranslationClient("http://127.0.0.1:9")
    config = OperatorConfig(retry_delay=1.0, retry_max_delay=8.0)
    runtime = Runtime(vts, config, api)
    writer = StatusWriter(
        api=api, body=body, logger=logging.getLogger("test"), interval=1.0
    )
    delays = []
    try:
        for retry in range(6):
            with pytest.raises(kopf.TemporaryError) as caught:
                async with _retry_when_unavailable(runtime, writer, retry):
                    raise TransportError("connection refused")
            delays.append(caught.value.delay)
    finally:
        await vts.close()
        await api.close()
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(c / 2 < d <= c for d, c in zip(delays, ceilings, strict=True)), delays
    assert delays[3] > delays[0] * 2  # it grows, whatever the jitter drew
    (ready,) = kmock.objects[RES, NS, "job2"].last.raw["status"]["conditions"]
    assert (ready["reason"], ready["observedGeneration"]) == ("VtsUnavailable", 4)
