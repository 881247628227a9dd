"""NetworkPolicy semantics as pure functions: who may connect to whom.

A connection src -> dst:port/protocol is allowed when the egress side of src
and the ingress side of dst both allow it (networking.k8s.io/v1 semantics):
a pod selected by no policy of a direction is open in that direction; a pod
selected by some policy is open only to what one of their rules allows.
Endpoints outside the cluster (an IP) have no policies.

Modelled simplification: ipBlock peers match only IP endpoints, never pods
(the spec leaves pod IPs in ipBlocks implementation-defined; our ipBlocks
exclude the private ranges pods live in).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .. import findings
from ..findings import Finding, failed, passed
from .objects import containers, pod_labels, selector_matches, workloads


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels + named ports) or an external IP."""

    name: str
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    namespace_labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[str, int, str], ...] = ()   # (name, containerPort, protocol)
    ip: str | None = None

    @property
    def is_pod(self) -> bool:
        return self.ip is None

    def label_dict(self) -> dict:
        return dict(self.labels)


def pod(name: str, namespace: str, labels: dict, ports=(), namespace_labels: dict | None = None) -> Endpoint:
    ns_labels = {"kubernetes.io/metadata.name": namespace, **(namespace_labels or {})}
    return Endpoint(name, namespace, tuple(sorted(labels.items())), tuple(sorted(ns_labels.items())), tuple(ports))


def external(name: str, ip: str) -> Endpoint:
    return Endpoint(name, ip=ip)


def policy_types(policy: dict) -> list[str]:
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return list(spec["policyTypes"])
    return ["Ingress"] + (["Egress"] if "egress" in spec else [])


def selects(policy: dict, ep: Endpoint) -> bool:
    """The policy applies to this pod (podSelector {} selects every pod of its namespace)."""
    return (ep.is_pod and policy["metadata"].get("namespace") == ep.namespace
            and selector_matches((policy.get("spec") or {}).get("podSelector") or {}, ep.label_dict()))


def peer_matches(peer: dict, policy_ns: str, ep: Endpoint) -> bool:
    if "ipBlock" in peer:
        if ep.is_pod:
            return False
        ip = ipaddress.ip_address(ep.ip)
        block = peer["ipBlock"]
        return (ip in ipaddress.ip_network(block["cidr"], strict=False)
                and not any(ip in ipaddress.ip_network(x, strict=False) for x in block.get("except") or []))
    if not ep.is_pod:
        return False
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and ep.namespace != policy_ns:
        return False   # a bare podSelector means the policy's own namespace
    if ns_sel is not None and not selector_matches(ns_sel, dict(ep.namespace_labels)):
        return False
    return pod_sel is None or selector_matches(pod_sel, ep.label_dict())


def port_matches(rule_ports: list | None, dst: Endpoint, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        want = p.get("port")
        if want is None:
            return True
        if isinstance(want, str):   # a named port of the destination pod
            if any(n == want and cp == port and pr == protocol for n, cp, pr in dst.ports):
                return True
            continue
        if want == port or (p.get("endPort") and want <= port <= p["endPort"]):
            return True
    return False


def _side_allows(policies: list[dict], subject: Endpoint, other: Endpoint, dst: Endpoint, port: int,
                 protocol: str, direction: str) -> bool:
    mine = [p for p in policies if selects(p, subject) and direction in policy_types(p)]
    if not mine:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for p in mine:
        for rule in (p.get("spec") or {}).get(key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(x, p["metadata"].get("namespace"), other) for x in peers):
                continue
            if port_matches(rule.get("ports"), dst, port, protocol):
                return True
    return False


def allowed(policies: list[dict], src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """src may open a connection to dst:port/protocol."""
    return (_side_allows(policies, src, dst, dst, port, protocol, "Egress")
            and _side_allows(policies, dst, src, dst, port, protocol, "Ingress"))


def reachability(policies: list[dict], sources: list[Endpoint], destinations: list[Endpoint]
                 ) -> set[tuple[str, str, int]]:
    """Every (src, dst, port) allowed, probing each destination's TCP container ports."""
    out = set()
    for s in sources:
        for d in destinations:
            for _, port, proto in d.ports:
                if proto == "TCP" and allowed(policies, s, d, port, proto):
                    out.add((s.name, d.name, port))
    return out


# ------------------------------------------------------- from manifests

def policies_of(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o.get("kind") == "NetworkPolicy"]


def workload_endpoints(objects: list[dict]) -> list[Endpoint]:
    """One pod per workload of the rendered manifests, as the pod template describes it."""
    ns_labels = {o["metadata"]["name"]: (o["metadata"].get("labels") or {})
                 for o in objects if o.get("kind") == "Namespace"}
    out = []
    for w in workloads(objects):
        ns = w["metadata"].get("namespace")
        ports = tuple((p.get("name", ""), p["containerPort"], p.get("protocol", "TCP"))
                      for c in containers(w, init=False) for p in c.get("ports") or [])
        out.append(pod(w["metadata"]["name"], ns, pod_labels(w), ports, ns_labels.get(ns)))
    return out


def ingress_endpoint(cluster_objects: list[dict], name: str = "ingress") -> Endpoint:
    """The ingress controller's pod, as the LoadBalancer Service in front of it selects it."""
    lbs = [o for o in cluster_objects if o.get("kind") == "Service" and o["spec"].get("type") == "LoadBalancer"]
    if not lbs:
        raise ValueError("no LoadBalancer Service in the cluster manifests")
    svc = lbs[0]
    return pod(name, svc["metadata"]["namespace"], svc["spec"].get("selector") or {})


def stranger(namespace: str, like: Endpoint, name: str = "other-namespace") -> Endpoint:
    """A pod of another namespace wearing the same labels as `like`: must reach nothing."""
    return pod(name, namespace, like.label_dict(), like.ports)


def workload_reachability(objects: list[dict], cluster_objects: list[dict]) -> set[tuple[str, str, int]]:
    """Paths among the workloads, the ingress controller and a look-alike pod of another namespace."""
    eps = workload_endpoints(objects)
    others = [ingress_endpoint(cluster_objects)] + [stranger("elsewhere", e, f"elsewhere/{e.name}") for e in eps]
    pols = policies_of(objects)
    # into the workloads from anywhere, and out of the workloads to the look-alikes
    return reachability(pols, others + eps, eps) | reachability(pols, eps, others[1:])


# The emulator limit every reachability Finding carries (docs/architecture.md, evidence grades).
NOT_ENFORCED = ("NetworkPolicies are computed by the harness's model (provision/kube/netpol.py), not enforced: "
                "no CNI enforces them offline and no packet was sent; live, the vpc-cni network policy agent does")


@findings.graded("model")
def check_reachability(actual: set[tuple[str, str, int]], expected: set[tuple[str, str, int]],
                       subject: str = "the computed reachability between workloads is exactly the allowed set"
                       ) -> Finding:
    extra, missing = sorted(actual - expected), sorted(expected - actual)
    evidence = [f"FAIL unexpected path {s} -> {d}:{p} (allowed by the NetworkPolicies)" for s, d, p in extra]
    evidence += [f"FAIL missing path {s} -> {d}:{p} (blocked by the NetworkPolicies)" for s, d, p in missing]
    evidence += [f"path {s} -> {d}:{p}" for s, d, p in sorted(actual & expected)]
    if extra or missing:
        return failed(subject, f"{len(expected)} allowed paths", f"{len(extra)} unexpected, {len(missing)} missing",
                      evidence, gaps=(NOT_ENFORCED,))
    return passed(subject, f"{len(expected)} allowed paths", f"exactly {len(actual)} paths", evidence,
                  gaps=(NOT_ENFORCED,))


def beyond_endpoints(objects: list[dict]) -> list[tuple[Endpoint, int, str]]:
    """What lies outside the workloads: cluster DNS, the internet, the node
    network and the instance metadata service, each with the ports to probe."""
    dns = pod("dns", "kube-system", {"k8s-app": "kube-dns"}, (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")))
    internet = external("internet", "203.0.113.10")        # TEST-NET-3, a public address
    private = external("private-network", "10.0.12.34")    # nodes, other VPC hosts
    metadata = external("instance-metadata", "169.254.169.254")
    return [(dns, 53, "UDP"), (dns, 53, "TCP"), (internet, 443, "TCP"), (internet, 80, "TCP"),
            (internet, 22, "TCP"), (private, 443, "TCP"), (private, 5432, "TCP"), (metadata, 80, "TCP")]


def egress_reachability(policies: list[dict], sources: list[Endpoint],
                        probes: list[tuple[Endpoint, int, str]]) -> set[tuple[str, str, int, str]]:
    return {(s.name, d.name, port, proto) for s in sources for d, port, proto in probes
            if allowed(policies, s, d, port, proto)}


@findings.graded("model")
def check_egress(actual: set, expected: set) -> Finding:
    subject = "the computed egress beyond the workloads is exactly the allowed set"
    extra, missing = sorted(actual - expected), sorted(expected - actual)
    evidence = [f"FAIL unexpected egress {s} -> {d}:{p}/{pr}" for s, d, p, pr in extra]
    evidence += [f"FAIL missing egress {s} -> {d}:{p}/{pr}" for s, d, p, pr in missing]
    if extra or missing:
        return failed(subject, f"{len(expected)} allowed", f"{len(extra)} unexpected, {len(missing)} missing", evidence,
                      gaps=(NOT_ENFORCED,))
    return passed(subject, f"{len(expected)} allowed", f"exactly {len(actual)}",
                  [f"egress {s} -> {d}:{p}/{pr}" for s, d, p, pr in sorted(actual)], gaps=(NOT_ENFORCED,))
