"""The Kubernetes Python client for the target, for the many small reads and
compare-and-swap writes (Lease, history) where a kubectl process per call
would dominate the time."""
from __future__ import annotations

import os
import threading

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from ..config import Target

_lock = threading.Lock()
_clients: dict[str, k8s.ApiClient] = {}

__all__ = ["api", "core", "coordination", "apps", "ApiException"]


def api(target: Target) -> k8s.ApiClient:
    path = target.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    with _lock:
        c = _clients.get(path)
        if c is None:
            c = _clients[path] = k8s_config.new_client_from_config(config_file=path)
        return c


def core(target: Target) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api(target))


def coordination(target: Target) -> k8s.CoordinationV1Api:
    return k8s.CoordinationV1Api(api(target))


def apps(target: Target) -> k8s.AppsV1Api:
    return k8s.AppsV1Api(api(target))


def get_json(api_client: k8s.ApiClient, path: str, query: list | None = None) -> dict:
    """GET a raw API path and return plain JSON (the shape kubectl -o json shows)."""
    import json

    resp = api_client.call_api(path, "GET", query_params=query or [], header_params={"Accept": "application/json"},
                               auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
    return json.loads(resp.data)
