"""StatusApi: merge-patches a TranslationJob's status subresource through
kubernetes_asyncio, a public Kubernetes client.

kopf applies a daemon's `patch` only when the daemon returns, and a daemon that
mirrors a job for minutes has to patch as it goes; kopf has no public call for that.
kubernetes_asyncio runs on aiohttp, as kopf and the vts client do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from vts_operator.mapping import GROUP, PLURAL, VERSION

log = logging.getLogger("vts_operator")

_MERGE_PATCH = "application/merge-patch+json"


class StatusApi:
    """One API connection per operator process, for every resource's status."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._objects = client.CustomObjectsApi(api)

    @classmethod
    async def connect(cls, environ: Mapping[str, str] = os.environ) -> StatusApi:
        """Credentials as kopf finds them: the pod's ServiceAccount in a cluster,
        else $KUBECONFIG (or ~/.kube/config) and its current context."""
        configuration = client.Configuration()
        if environ.get("KUBERNETES_SERVICE_HOST") and not environ.get("KUBECONFIG"):
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        else:
            await config.load_kube_config(
                config_file=environ.get("KUBECONFIG") or None,
                client_configuration=configuration,
            )
        return cls(client.ApiClient(configuration))

    async def patch_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool:
        """Merge `status` into the resource's status (None removes a field).
        False if the resource is gone: its daemon is being stopped anyway."""
        try:
            await self._objects.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": dict(status)},
                # documented, but missing from the method's annotations; without it
                # a dict body would go out as a JSON patch
                _content_type=_MERGE_PATCH,  # type: ignore[call-arg]
            )
        except ApiException as exc:
            if exc.status == 404:
                log.info("%s/%s is gone; its status was not patched", namespace, name)
                return False
            raise
        return True

    async def close(self) -> None:
        await self._api.close()
