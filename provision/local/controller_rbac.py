"""The Kubernetes rights of the local stand-ins for cluster add-ons and of the edge.

Each identity (a client certificate of provision.local.pki CLIENTS) is bound to a
ClusterRole holding what its real counterpart's own RBAC grants for the part it
plays, and nothing more:

- lb-controller: the AWS Load Balancer Controller's rules for Services, Ingresses
  and IngressClasses (its Helm chart's ClusterRole, status subresources included);
  it also reads EndpointSlices, as ingress-nginx does to publish its Service's
  address on the Ingresses it serves (lb_controller.publish_ingress_nginx);
- storage-controller: the CSI external-provisioner's rules (its deploy/kubernetes/rbac.yaml);
- edge: read-only, what ingress-nginx reads to route (Ingresses, IngressClasses,
  Services, EndpointSlices) and the TLS secrets it presents.

Created as the admin at control plane start, next to kwok's (controlplane.py).
"""
from __future__ import annotations

from pathlib import Path

from .pki import CLIENTS

RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]


def _rule(group: str, resources: list[str], verbs: list[str]) -> dict:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs}


RULES = {
    "lb-controller": [
        _rule("", ["services"], READ + ["patch", "update"]),
        _rule("", ["services/status"], ["patch", "update"]),
        _rule("", ["pods"], READ),   # as its ClusterRole; the stand-in reads whether the real controller runs
        _rule("networking.k8s.io", ["ingresses"], READ + ["patch", "update"]),
        _rule("networking.k8s.io", ["ingresses/status"], ["patch", "update"]),
        _rule("networking.k8s.io", ["ingressclasses"], READ),
        _rule("discovery.k8s.io", ["endpointslices"], READ),
        _rule("", ["events"], ["create", "patch"]),
    ],
    "storage-controller": [
        _rule("", ["persistentvolumes"], READ + ["create", "delete"]),
        _rule("", ["persistentvolumeclaims"], READ + ["update"]),
        _rule("storage.k8s.io", ["storageclasses", "csinodes"], READ),
        _rule("", ["nodes"], READ),
        _rule("", ["events"], ["list", "watch", "create", "update", "patch"]),
    ],
    "edge": [
        _rule("networking.k8s.io", ["ingresses", "ingressclasses"], READ),
        _rule("", ["services"], READ),
        _rule("discovery.k8s.io", ["endpointslices"], READ),
        _rule("", ["secrets"], READ),   # the Ingresses' TLS secrets (ingress-nginx's ClusterRole lists Secrets)
    ],
}


def role_name(who: str) -> str:
    return f"local-{who}"


def controller_rbac() -> list[dict]:
    """A ClusterRole and its binding to the identity's user, for each identity in RULES."""
    out = []
    for who, rules in RULES.items():
        name = role_name(who)
        out.append({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
        out.append({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
                    "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
                    "subjects": [{"apiGroup": RBAC, "kind": "User", "name": CLIENTS[who][0]}]})
    return out


def kubeconfig_of(controlplane_info: dict, who: str) -> str:
    """The kubeconfig of identity `who`, written next to the admin's by the control plane."""
    return str(Path(controlplane_info["kubeconfig"]).with_name(f"{who}.kubeconfig"))
