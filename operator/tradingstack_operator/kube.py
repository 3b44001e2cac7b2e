"""A thin Kubernetes client for the children: server-side apply, list by label, delete.

Built on the official client's ApiClient for authentication (in-cluster token or
kubeconfig) and raw REST paths from :mod:`.resources`, so one code path serves
every child kind, including CRD kinds (ServiceMonitor, PrometheusRule).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes.client import ApiClient

from .resources import CHILD_RESOURCES, FIELD_MANAGER, Resource, resource_of
from .spec import API_VERSION, KIND, PLURAL

STACKS = Resource(API_VERSION, KIND, PLURAL)

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Children:
    """A stack's children as listed, and the child kinds the server does not serve."""

    items: list[Manifest]
    unserved: tuple[Resource, ...] = ()


#: Seconds for one request: a hung API server must not hang a handler forever.
REQUEST_TIMEOUT = 30


class ApiError(Exception):
    """A non-2xx answer: status code and the server's message."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        try:
            message = json.loads(body).get("message", body)
        except (ValueError, AttributeError):
            message = body
        super().__init__(f"{method} {path}: {status} {message}"[:2000])
        self.status = status

    @property
    def retryable(self) -> bool:
        """Conflicts, throttling and server errors pass; a 4xx about our request does not."""
        return self.status in (409, 429) or self.status >= 500


class Kube:
    def __init__(self, api: ApiClient, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self._api = api
        self._timeout = timeout

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        missing_ok: bool = True,
    ) -> Manifest | None:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        _, url, headers, body, _ = self._api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"],
        )  # fmt: skip
        response = self._api.call_api(method, url, header_params=headers, body=body,
                                      _request_timeout=self._timeout)  # fmt: skip
        data = response.read() or b""
        if response.status == 404 and missing_ok and method in ("GET", "DELETE"):
            return None
        if not 200 <= response.status < 300:
            raise ApiError(response.status, method, path, data.decode(errors="replace"))
        parsed: Manifest | None = json.loads(data) if data else None
        return parsed

    def get(self, resource: Resource, namespace: str, name: str) -> Manifest | None:
        return self._request("GET", resource.path(namespace, name))

    def list(self, resource: Resource, namespace: str | None) -> list[Manifest]:
        """Every object of one kind (in one namespace), with its apiVersion and kind."""
        answer = self._request("GET", resource.path(namespace)) or {}
        return [
            {"apiVersion": resource.api_version, "kind": resource.kind} | item
            for item in answer.get("items") or []
        ]

    def served(self, resources: Iterable[Resource]) -> set[Resource]:
        """The kinds of ``resources`` the server serves now, from its discovery documents
        (readable by every authenticated user)."""
        wanted = list(resources)
        found: set[Resource] = set()
        for api_version in sorted({r.api_version for r in wanted}):
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            answer = self._request("GET", path) or {}  # 404: a group not installed
            names = {item.get("name") for item in answer.get("resources") or []}
            found |= {r for r in wanted if r.api_version == api_version and r.plural in names}
        return found

    def list_children(
        self, namespace: str, selector: str, resources: Iterable[Resource] = CHILD_RESOURCES
    ) -> Children:
        """Every child kind (of ``resources``), listed by label; items carry their
        apiVersion and kind.

        A kind whose collection answers 404 is not served (its CRD, e.g. the
        prometheus-operator's, is not installed): it is reported, not an error.
        """
        found: list[Manifest] = []
        unserved: list[Resource] = []
        for resource in resources:
            try:
                answer = self._request(
                    "GET", resource.path(namespace), query=[("labelSelector", selector)],
                    missing_ok=False,
                )  # fmt: skip
            except ApiError as err:
                if err.status != 404:
                    raise
                unserved.append(resource)
                continue
            for item in (answer or {}).get("items") or []:
                found.append({"apiVersion": resource.api_version, "kind": resource.kind} | item)
        return Children(found, tuple(unserved))

    def apply(self, manifest: Manifest) -> Manifest | None:
        """Server-side apply as our field manager, taking over fields we render."""
        resource = resource_of(manifest)
        meta = manifest["metadata"]
        return self._request(
            "PATCH",
            resource.path(meta.get("namespace"), meta["name"]),
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def create(self, manifest: Manifest) -> Manifest | None:
        resource = resource_of(manifest)
        return self._request("POST", resource.path(manifest["metadata"].get("namespace")),
                             body=manifest)  # fmt: skip

    def patch_status(self, namespace: str, name: str, patch: Manifest) -> Manifest | None:
        """Merge-patch the TradingStack's status subresource."""
        path = STACKS.path(namespace, name) + "/status"
        return self._request("PATCH", path, body=patch, content_type="application/merge-patch+json")

    def delete(self, manifest: Manifest) -> None:
        resource = resource_of(manifest)
        meta = manifest["metadata"]
        self._request(
            "DELETE",
            resource.path(meta.get("namespace"), meta["name"]),
            body={"propagationPolicy": "Background"},
        )
