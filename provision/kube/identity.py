"""Which cluster is this? The guard that keeps a deploy out of the wrong environment.

Every cluster carries ConfigMap kube-public/cluster-identity with
data.cluster_name, written once by whoever creates the cluster: the
provisioner after the EKS stack is up (`provision cluster identity --env
<env>`), and the same command for the local control plane (the test session
and `provision demo` call `bootstrap` for the dev environment). On a live EKS
cluster the kubeconfig context also names the cluster (its ARN ends in
`cluster/<cluster_name>` after `aws eks update-kubeconfig`); when it does, it
must agree too. A deploy whose environment names another cluster, or a
cluster with no identity, is refused (exit 3) before anything is applied.
"""
from __future__ import annotations

from kubernetes import config as k8s_config

from .. import errors
from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client

NAME = "cluster-identity"
NAMESPACE = "kube-public"
WRONG_CLUSTER = "refusing to deploy environment {env!r} (cluster {want!r}) to cluster {got!r} ({source})"
NO_IDENTITY = ("refusing to deploy: the cluster has no identity ({namespace}/{name}); "
               "run `provision cluster identity --env <env>` once after creating it")


def read(target: Target, namespace: str = NAMESPACE) -> str | None:
    cm = client.get(target, "v1", "ConfigMap", NAME, namespace)
    return None if cm is None else (cm.get("data") or {}).get("cluster_name")


def context_cluster(target: Target) -> str | None:
    """Cluster name from an EKS kubeconfig context (arn:...:cluster/<name>), else None."""
    try:
        _, ctx = k8s_config.list_kube_config_contexts(config_file=target.kubeconfig)
    except Exception:
        return None
    cluster = (ctx or {}).get("context", {}).get("cluster", "")
    if cluster.startswith("arn:aws:eks:") and ":cluster/" in cluster:
        return cluster.rsplit("/", 1)[-1]
    return None


def verify(target: Target, env: dict, namespace: str = NAMESPACE) -> str:
    """Return the cluster name if it is the environment's, else raise Refused (read-only)."""
    want = env["cluster_name"]
    got = read(target, namespace)
    if got is None:
        raise errors.Refused(NO_IDENTITY.format(namespace=namespace, name=NAME))
    if got != want:
        raise errors.Refused(WRONG_CLUSTER.format(env=env["name"], want=want, got=got, source=f"{namespace}/{NAME}"))
    ctx = context_cluster(target)
    if ctx is not None and ctx != want:
        raise errors.Refused(WRONG_CLUSTER.format(env=env["name"], want=want, got=ctx, source="kubeconfig context"))
    return got


def bootstrap(target: Target, cluster_name: str, namespace: str = NAMESPACE) -> str:
    """Write the identity once; an existing different identity is refused, never overwritten."""
    got = read(target, namespace)
    if got == cluster_name:
        return got
    if got is not None:
        raise errors.Refused(f"cluster already identifies as {got!r}; not relabelling it {cluster_name!r}")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"cluster_name": cluster_name},
            "metadata": {"name": NAME, "namespace": namespace, "labels": {MANAGED_BY_LABEL: FIELD_MANAGER}}}
    if client.create(target, body, exist_ok=True) is None:  # someone wrote it first: judge theirs
        return bootstrap(target, cluster_name, namespace)
    return cluster_name
