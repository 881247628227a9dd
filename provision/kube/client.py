"""The one way this project talks to a Kubernetes API server (besides kubectl
for kustomize and the diagnostics collectors).

Plain JSON in and out, the shape `kubectl get -o json` shows. Paths come from
the server's own discovery (one request per group-version, cached), never from
a hand-written plural table. A missing object is `None` from `get` and
`NotFound` from everything that needs it; every other refusal is `ApiError`
with the status and the server's message.

`where` is a Target (its kubeconfig) or a kubeconfig path: the local control
plane's bootstrap talks to its API server before any Target exists.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from .. import errors
from ..config import Target
from ..constants import FIELD_MANAGER
from .objects import key as ref  # Kind/namespace/name of an object, for messages

__all__ = ["api", "core", "coordination", "apps", "ApiException", "ApiError", "NotFound", "get", "list_objects",
           "apply", "create", "replace", "delete", "watch", "request", "resource", "ref"]

_lock = threading.Lock()
_clients: dict[tuple[str, str, int], k8s.ApiClient] = {}
_resources: dict[tuple[int, str], dict[str, tuple[str, bool]]] = {}
POOL = 32   # connections kept per API client (the library's default is 5 per CPU)


class ApiError(errors.ProvisionError):
    """The API server refused a request; carries its HTTP status and message."""

    def __init__(self, method: str, path: str, status: int, message: str):
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status
        self.server_message = message


class NotFound(ApiError):
    """The object (or its kind) does not exist."""


def _kubeconfig(where) -> str:
    if isinstance(where, (str, Path)):
        return str(where)
    return where.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def api(where: Target | str | Path, impersonate: str | None = None) -> k8s.ApiClient:
    """An API client for the target's kubeconfig, cached; optionally acting as another user."""
    path = _kubeconfig(where)
    try:  # a control plane restarted in the same directory writes a new kubeconfig: a new client
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = 0
    key = (path, impersonate or "", stamp)
    with _lock:
        c = _clients.get(key)
        if c is None:
            cfg = type.__call__(k8s.Configuration)   # a fresh one, not the process-wide default
            cfg.connection_pool_maxsize = POOL      # the deploy's reads and applies run several at once
            c = k8s_config.new_client_from_config(config_file=path, client_configuration=cfg)
            if impersonate:
                # no Impersonate-Group: for a service account user the API server adds its groups itself
                c.set_default_header("Impersonate-User", impersonate)
            _clients[key] = c
        return c


def core(where, impersonate: str | None = None) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api(where, impersonate))


def coordination(where) -> k8s.CoordinationV1Api:
    return k8s.CoordinationV1Api(api(where))


def apps(where) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api(where))


def _message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def request(where, method: str, path: str, body=None, query: list | None = None, content_type: str | None = None,
            impersonate: str | None = None, timeout: float | None = None):
    """One request; the decoded JSON answer. NotFound for 404, ApiError for any other refusal."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        resp = api(where, impersonate).call_api(
            path, method, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"],
            _preload_content=False, _return_http_data_only=True, _request_timeout=timeout)
    except ApiException as exc:
        cls = NotFound if exc.status == 404 else ApiError
        raise cls(method, path, exc.status, _message(exc)) from None
    data = resp.data
    return json.loads(data) if data else {}


def _base(api_version: str) -> str:
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def resource(where, api_version: str, kind: str) -> tuple[str, bool]:
    """(plural, namespaced) of a kind, from the server's discovery of its group-version."""
    c = api(where)
    key = (id(c), api_version)
    table = _resources.get(key)
    if table is None:
        found = request(where, "GET", _base(api_version))
        table = {r["kind"]: (r["name"], r["namespaced"]) for r in found.get("resources", []) if "/" not in r["name"]}
        _resources[key] = table
    if kind not in table:
        raise NotFound("GET", _base(api_version), 404, f"the server has no kind {kind} in {api_version}")
    return table[kind]


def _path(where, api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural, namespaced = resource(where, api_version, kind)
    ns = f"/namespaces/{namespace}" if namespaced and namespace else ""
    return f"{_base(api_version)}{ns}/{plural}" + (f"/{name}" if name else "")


def get(where, api_version: str, kind: str, name: str, namespace: str | None = None,
        impersonate: str | None = None) -> dict | None:
    """The object, or None when it does not exist."""
    try:
        return request(where, "GET", _path(where, api_version, kind, namespace, name), impersonate=impersonate)
    except NotFound:
        return None


def list_objects(where, api_version: str, kind: str, namespace: str | None = None,
                 label_selector: str | None = None) -> list[dict]:
    """Every object of a kind (in a namespace, or cluster-wide when namespace is None)."""
    query = [("labelSelector", label_selector)] if label_selector else []
    return request(where, "GET", _path(where, api_version, kind, namespace), query=query).get("items", [])


def apply(where, obj: dict, dry_run: bool = False, field_manager: str = FIELD_MANAGER, force: bool = True) -> dict:
    """Server-side apply of one object (kubectl apply --server-side without a fork)."""
    md = obj["metadata"]
    query = [("fieldManager", field_manager)] + ([("force", "true")] if force else []) + (
        [("dryRun", "All")] if dry_run else [])
    path = _path(where, obj["apiVersion"], obj["kind"], md.get("namespace"), md["name"])
    return request(where, "PATCH", path, body=obj, query=query, content_type="application/apply-patch+yaml")


def create(where, obj: dict, exist_ok: bool = False) -> dict | None:
    """Create an object; with exist_ok an existing one is left as it is (None is returned)."""
    md = obj["metadata"]
    try:
        return request(where, "POST", _path(where, obj["apiVersion"], obj["kind"], md.get("namespace")), body=obj)
    except ApiError as exc:
        if exist_ok and exc.status == 409:
            return None
        raise


def replace(where, obj: dict) -> dict:
    """PUT the whole object. With metadata.resourceVersion set this is a compare-and-swap:
    ApiError 409 when another writer came first."""
    md = obj["metadata"]
    return request(where, "PUT", _path(where, obj["apiVersion"], obj["kind"], md.get("namespace"), md["name"]),
                   body=obj)


def delete(where, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    """Delete an object; False when it was not there."""
    try:
        request(where, "DELETE", _path(where, api_version, kind, namespace, name))
        return True
    except NotFound:
        return False


def watch(where, api_version: str, kind: str, namespace: str | None = None, resource_version: str | None = None,
          timeout: float = 30.0, label_selector: str | None = None) -> Iterator[tuple[str, dict]]:
    """(type, object) events of a kind until the server ends the watch after `timeout` seconds."""
    query = [("watch", "true"), ("timeoutSeconds", str(int(timeout)))]
    if resource_version:
        query.append(("resourceVersion", resource_version))
    if label_selector:
        query.append(("labelSelector", label_selector))
    path = _path(where, api_version, kind, namespace)
    try:
        resp = api(where).call_api(path, "GET", query_params=query, header_params={"Accept": "application/json"},
                                   auth_settings=["BearerToken"], _preload_content=False,
                                   _return_http_data_only=True, _request_timeout=timeout + 5)
    except ApiException as exc:
        cls = NotFound if exc.status == 404 else ApiError
        raise cls("GET", path, exc.status, _message(exc)) from None
    try:
        buf = b""
        for chunk in resp.stream(4096):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    ev = json.loads(line)
                    yield ev["type"], ev["object"]
    finally:
        resp.release_conn()
