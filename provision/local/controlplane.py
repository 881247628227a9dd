"""The local Kubernetes control plane of the offline target.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as
plain processes (built by provision.local.build; nothing is downloaded), with
every flag spelled out below. Pods and nodes are simulated by the kwok
controller: two Nodes shaped like the EKS managed node group (t3.medium, one
per availability zone), and pod lifecycle stages with an image-tag convention
for faults (docs/local-control-plane.md):

  tag starting with "badbad"  -> Running, never Ready
  tag starting with "deadde"  -> CrashLoopBackOff, restartCount grows
  anything else               -> Running and Ready

The PKI (CA, serving and client certificates, service-account key) and the
secrets EncryptionConfiguration are generated at each start under
<state_dir>/controlplane/, files with keys 0600.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os
import shutil
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .. import config, errors
from ..findings import failed, passed, wait_until
from . import build, procs

NAME = "controlplane"
PROCESSES = ("etcd", "apiserver", "controller-manager", "scheduler", "kwok")
ETCD_PREFIX = "/registry"
SERVICE_CIDR = "10.100.0.0/16"      # EKS's default service range for 10.x VPCs
POD_CIDR = "10.0.128.0/17"          # kwok hands pod IPs out of this
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
ENCRYPTION_PROVIDER = "secretbox"
KWOK_MANAGED = ("kwok.x-k8s.io/node", "fake")
READY_TIMEOUT = 60.0
# t3.medium: 2 vCPU, 4 GiB; allocatable as EKS's AL2023 AMI reports it.
NODE_ALLOCATABLE = {"cpu": "1930m", "memory": "3388360Ki", "pods": "17", "ephemeral-storage": "18242267924"}
NODE_CAPACITY = {"cpu": "2", "memory": "3943368Ki", "pods": "17", "ephemeral-storage": "20959212Ki"}

# The tag prefixes of the fault convention (also used by kwok_stages()).
NEVER_READY_TAG = "badbad"
CRASHLOOP_TAG = "deadde"

TAG_RE = "{prefix}[^:/@]*$"


def _dir(state_dir: Path) -> Path:
    return Path(state_dir) / NAME


# ---------------------------------------------------------------- nodes

def node_specs(env: str = "dev") -> list[dict]:
    """The Nodes of the environment's managed node group, one subnet per AZ."""
    e = config.environment(env)
    zones = config.settings()["aws"]["availability_zones"]
    out = []
    for i in range(int(e["node_desired"])):
        ip = f"10.0.{i + 1}.10"
        out.append({"name": f"ip-{ip.replace('.', '-')}.ec2.internal", "ip": ip, "zone": zones[i % len(zones)],
                    "instance_type": e["node_instance_type"], "nodegroup": e["node_group"]})
    return out


def node_manifest(spec: dict) -> dict:
    region = config.settings()["aws"]["region"]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": spec["name"],
            "annotations": {KWOK_MANAGED[0]: KWOK_MANAGED[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": spec["name"],
                "node.kubernetes.io/instance-type": spec["instance_type"],
                "topology.kubernetes.io/region": region,
                "topology.kubernetes.io/zone": spec["zone"],
                "eks.amazonaws.com/nodegroup": spec["nodegroup"],
                "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "type": "kwok",
            },
        },
        "spec": {"providerID": f"aws:///{spec['zone']}/i-0{hashlib.sha256(spec['name'].encode()).hexdigest()[:16]}"},
        "status": {
            "allocatable": dict(NODE_ALLOCATABLE), "capacity": dict(NODE_CAPACITY),
            "addresses": [{"type": "InternalIP", "address": spec["ip"]},
                          {"type": "Hostname", "address": spec["name"]},
                          {"type": "InternalDNS", "address": spec["name"]}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                         "osImage": "Amazon Linux 2023 (kwok)",
                         "kubeletVersion": f"v{config.versions()['kubernetes']}"},
        },
    }


# ---------------------------------------------------------------- kwok stages

def _faulty_query(prefixes: tuple[str, ...]) -> str:
    alt = "|".join(prefixes)
    return f'[.spec.containers[].image | test(":({alt})[^:/@]*$")] | any'


_POD_STATUS_COMMON = """
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      hostIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      podIPs:
      {{ range . }}
      - ip: {{ . | Quote }}
      {{ end }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Running
"""

# Faulty pods: per container, "deadde" crash-loops, "badbad" runs unready,
# others run ready; the pod is never Ready. `$bump` is 1 on each re-entry.
_FAULTY_TEMPLATE = """
      {{ $now := Now }}
      {{ $root := . }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      {{ $restarts := 0 }}
      {{ with $root.status.containerStatuses }}{{ if lt $index (len .) }}{{ $restarts = (index . $index).restartCount }}{{ end }}{{ end }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
      {{ if regexMatch ":CRASH[^:/@]*$" $item.image }}
        ready: false
        started: false
        restartCount: {{ add1 (or $restarts 0) }}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
        state:
          waiting:
            reason: CrashLoopBackOff
            message: "back-off restarting failed container {{ $item.name }} (kwok stage: image tag starts with CRASH)"
      {{ else }}
        ready: {{ if regexMatch ":NEVER[^:/@]*$" $item.image }}false{{ else }}true{{ end }}
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ or $root.status.startTime $now | Quote }}
      {{ end }}
      {{ end }}
      startTime: {{ or .status.startTime $now | Quote }}
""" + _POD_STATUS_COMMON

_READY_TEMPLATE = """
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: PodScheduled
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      startTime: {{ $now | Quote }}
""" + _POD_STATUS_COMMON


def _stage(name: str, kind: str, exprs: list[dict], nxt: dict, delay_ms: int | None = None,
           jitter_ms: int | None = None, immediate: bool = False) -> dict:
    if "statusTemplate" in nxt:  # the templates are YAML: column 0 matters
        nxt = {**nxt, "statusTemplate": textwrap.dedent(nxt["statusTemplate"]).strip() + "\n"}
    spec: dict = {"resourceRef": {"apiGroup": "v1", "kind": kind},
                  "selector": {"matchExpressions": exprs}, "next": nxt}
    if delay_ms is not None:
        spec["delay"] = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": jitter_ms or delay_ms}
    if immediate:
        spec["immediateNextStage"] = True
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def _node_status_template(with_allocatable: bool) -> str:
    # kwok's own node-initialize/heartbeat templates, keeping the allocatable
    # and capacity the Node was created with.
    t = """
      {{ $now := Now }}
      {{ $lastTransitionTime := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $lastTransitionTime | Quote }}
        message: {{ .message | Quote }}
        reason: {{ .reason | Quote }}
        status: {{ .status | Quote }}
        type: {{ .type | Quote }}
      {{ end }}
"""
    if with_allocatable:
        t += """
      allocatable:
      {{ YAML .status.allocatable 1 }}
      capacity:
      {{ YAML .status.capacity 1 }}
      phase: Running
"""
    return t


def kwok_stages() -> list[dict]:
    """Every stage kwok runs (giving any stage drops kwok's defaults, so node
    and pod lifecycle are all here)."""
    alive = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
    pending = {"key": ".status.phase", "operator": "In", "values": ["Pending"]}
    running = {"key": ".status.phase", "operator": "In", "values": ["Running"]}
    not_ready = {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status',
                 "operator": "NotIn", "values": ["True"]}
    faulty = _faulty_query((NEVER_READY_TAG, CRASHLOOP_TAG))
    crash = _faulty_query((CRASHLOOP_TAG,))
    faulty_tpl = _FAULTY_TEMPLATE.replace("CRASH", CRASHLOOP_TAG).replace("NEVER", NEVER_READY_TAG)
    # re-entry: the same container statuses, no new pod IP (one per family)
    restart_tpl = faulty_tpl.replace(_POD_STATUS_COMMON, "")
    return [
        _stage("node-initialize", "Node", [
            {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "NotIn", "values": ["True"]},
        ], {"statusTemplate": _node_status_template(True)}),
        _stage("node-heartbeat-with-lease", "Node", [
            {"key": ".status.phase", "operator": "In", "values": ["Running"]},
            {"key": '.status.conditions.[] | select( .type == "Ready" ) | .status', "operator": "In", "values": ["True"]},
        ], {"statusTemplate": _node_status_template(False)}, delay_ms=600000, jitter_ms=610000, immediate=True),
        _stage("pod-ready", "Pod", [alive, pending, not_ready,
                                    {"key": faulty, "operator": "NotIn", "values": ["true"]}],
               {"statusTemplate": _READY_TEMPLATE}),
        # a faulty image tag: the pod starts but never becomes Ready
        _stage("pod-faulty-start", "Pod", [alive, pending,
                                           {"key": faulty, "operator": "In", "values": ["true"]}],
               {"statusTemplate": faulty_tpl}),
        # "deadde": the container keeps crashing, like a kubelet's restarts
        _stage("pod-crashloop", "Pod", [alive, running,
                                        {"key": crash, "operator": "In", "values": ["true"]}],
               {"statusTemplate": restart_tpl}, delay_ms=3000, jitter_ms=4000),
        _stage("pod-complete", "Pod", [alive, running,
                                       {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]}],
               {"statusTemplate": """
      {{ $now := Now }}
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
"""}),
        _stage("pod-delete", "Pod", [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}], {"delete": True}),
    ]


# ---------------------------------------------------------------- PKI

def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool = False,
          server: bool = False, client: bool = False, sans=()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30 if not ca else 365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    # key identifiers: strict verifiers (OpenSSL 3, Python's X509_STRICT) require them
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []) + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    return x509.Name(attrs)


# who -> (CN, O): the identities the components authenticate as
CLIENTS = {
    "admin": ("kubernetes-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok-controller", None),
}


def make_pki(pki: Path) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("cloudtolocalllm-local-ca")
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    (pki / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / "ca.key", _pem_key(ca_key))
    service_ip = next(ipaddress.ip_network(SERVICE_CIDR).hosts())
    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                      "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(service_ip)]
    k = _key()
    c = _cert(_name("kube-apiserver"), k, ca_name, ca_key, server=True, sans=sans)
    (pki / "apiserver.crt").write_bytes(c.public_bytes(serialization.Encoding.PEM))
    _write_private(pki / "apiserver.key", _pem_key(k))
    for who, (cn, org) in CLIENTS.items():
        k = _key()
        c = _cert(_name(cn, org), k, ca_name, ca_key, client=True)
        (pki / f"{who}.crt").write_bytes(c.public_bytes(serialization.Encoding.PEM))
        _write_private(pki / f"{who}.key", _pem_key(k))
    sa = _key()
    _write_private(pki / "sa.key", _pem_key(sa))
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))


def write_kubeconfig(path: Path, server: str, pki: Path, who: str) -> None:
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "offline",
        "clusters": [{"name": "offline", "cluster": {"server": server, "certificate-authority-data": b64(pki / "ca.crt")}}],
        "users": [{"name": who, "user": {"client-certificate-data": b64(pki / f"{who}.crt"),
                                         "client-key-data": b64(pki / f"{who}.key")}}],
        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": who, "namespace": "default"}}],
    }
    _write_private(path, yaml.safe_dump(doc).encode())


def write_encryption_config(path: Path) -> None:
    """Secrets encrypted with a key generated now; identity last, to read old values."""
    key = base64.b64encode(os.urandom(32)).decode()
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [{"resources": ["secrets"],
                          "providers": [{ENCRYPTION_PROVIDER: {"keys": [{"name": "key1", "secret": key}]}},
                                        {"identity": {}}]}]}
    _write_private(path, yaml.safe_dump(doc).encode())


# ---------------------------------------------------------------- start / stop

def _argv(d: Path, ports: dict, encrypt: bool) -> dict[str, list[str]]:
    pki = d / "pki"
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    apiserver = [
        str(build.binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}", f"--etcd-prefix={ETCD_PREFIX}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={ports['apiserver']}",
        # loopback cannot be a Service endpoint; nothing here routes to it anyway
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        "--authorization-mode=Node,RBAC",
        # PodSecurity is in the default plugin set; NodeRestriction as on EKS
        "--enable-admission-plugins=NodeRestriction",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true", "--profiling=false", "--anonymous-auth=false",
        "--event-ttl=1h0m0s",
    ]
    if encrypt:
        apiserver.append(f"--encryption-provider-config={d / 'encryption.yaml'}")
    return {
        "etcd": [
            str(build.binary("etcd")), "--name=node0", f"--data-dir={d / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{ports['etcd_peer']}",
            f"--initial-cluster=node0=http://127.0.0.1:{ports['etcd_peer']}",
            "--listen-metrics-urls=", "--log-level=warn", "--auto-compaction-retention=1",
            "--quota-backend-bytes=2147483648",
            # a throwaway store on a shared 2-core box: no fsync per write
            "--unsafe-no-fsync=true",
        ],
        "apiserver": apiserver,
        "controller-manager": [
            str(build.binary("kube-controller-manager")),
            f"--kubeconfig={d / 'controller-manager.kubeconfig'}",
            "--use-service-account-credentials=true", "--leader-elect=false", "--secure-port=0",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--kube-api-qps=100", "--kube-api-burst=200",
        ],
        "scheduler": [
            str(build.binary("kube-scheduler")),
            f"--kubeconfig={d / 'scheduler.kubeconfig'}", "--leader-elect=false", "--secure-port=0",
            "--kube-api-qps=100", "--kube-api-burst=200",
        ],
        "kwok": [
            str(build.binary("kwok")),
            f"--kubeconfig={d / 'kwok.kubeconfig'}", f"--config={d / 'kwok.yaml'}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_MANAGED[0]}={KWOK_MANAGED[1]}",
            f"--cidr={POD_CIDR}", "--node-lease-duration-seconds=40",
        ],
    }


class _Api:
    """Just enough of the API for bootstrapping, as the admin user."""

    def __init__(self, server: str, pki: Path):
        self.server = server
        self.s = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would override our CA; proxies never apply to loopback
        self.s.trust_env = False
        self.s.cert = (str(pki / "admin.crt"), str(pki / "admin.key"))
        self.s.verify = str(pki / "ca.crt")

    def get(self, path: str) -> requests.Response:
        return self.s.get(self.server + path, timeout=5)

    def create(self, path: str, obj: dict) -> None:
        r = self.s.post(self.server + path, json=obj, timeout=10)
        if r.status_code not in (200, 201, 409):
            raise errors.ProvisionError(f"control plane bootstrap: POST {path} returned {r.status_code}",
                                        evidence=(r.text[:500],))


def _kwok_rbac() -> list[tuple[str, dict]]:
    # The rules of kwok's own kustomize/rbac/role.yaml (core resources only).
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kwok-controller"},
            "rules": [{"apiGroups": [""], "resources": ["events"], "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
                      {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["nodes/status", "pods/status"], "verbs": ["patch", "update"]},
                      {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "get", "list", "patch", "update", "watch"]},
                      {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "list", "patch", "update", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "kwok-controller"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kwok-controller"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": CLIENTS["kwok"][0]}]}
    base = "/apis/rbac.authorization.k8s.io/v1"
    return [(f"{base}/clusterroles", role), (f"{base}/clusterrolebindings", binding)]


def _check_procs(d: Path, state_dir: Path) -> None:
    for p in PROCESSES:
        pidfile = Path(state_dir) / f"{NAME}-{p}.pid"
        if pidfile.exists() and not procs.alive(int(pidfile.read_text())):
            log = Path(state_dir) / f"{NAME}-{p}.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            raise errors.TargetUnavailable(f"control plane: {p} exited during start (log: {log})", evidence=tail)


def start(state_dir: Path, progress=print, encrypt: bool = True, env: str = "dev") -> dict:
    state_dir = Path(state_dir)
    stop(state_dir)  # leftovers of a crashed run would hold the etcd data dir
    d = _dir(state_dir)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    os.chmod(d, 0o700)
    try:
        return _start(state_dir, d, progress, encrypt, env)
    except BaseException:
        stop(state_dir)
        raise


def _start(state_dir: Path, d: Path, progress, encrypt: bool, env: str) -> dict:
    t0 = time.monotonic()
    pki = d / "pki"
    make_pki(pki)
    if encrypt:
        write_encryption_config(d / "encryption.yaml")
    ports = {k: procs.free_port() for k in ("etcd", "etcd_peer", "apiserver")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    for who in CLIENTS:
        write_kubeconfig(d / f"{who}.kubeconfig", server, pki, who)
    (d / "kwok.yaml").write_text(yaml.safe_dump_all(kwok_stages(), sort_keys=False))
    argv = _argv(d, ports, encrypt)
    kwok_home = d / "kwok-home"   # keeps a user's ~/.kwok/kwok.yaml out of it
    kwok_home.mkdir()

    progress(f"control plane: starting etcd on 127.0.0.1:{ports['etcd']}")
    pid = procs.spawn(f"{NAME}-etcd", argv["etcd"], state_dir)
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"

    def etcd_healthy():
        _check_procs(d, state_dir)
        try:
            ok = requests.get(f"{etcd_url}/health", timeout=1).json().get("health") == "true"
        except (requests.RequestException, ValueError) as exc:
            return failed("etcd /health", "true", type(exc).__name__)
        return passed("etcd /health") if ok else failed("etcd /health", "true", "false")

    wait_until("etcd healthy", etcd_healthy, READY_TIMEOUT, interval=0.1)

    progress(f"control plane: starting kube-apiserver on {server} (encryption at rest {'on' if encrypt else 'OFF'})")
    procs.spawn(f"{NAME}-apiserver", argv["apiserver"], state_dir)
    api = _Api(server, pki)

    def readyz():
        _check_procs(d, state_dir)
        try:
            r = api.get("/readyz")
        except requests.RequestException as exc:
            return failed("kube-apiserver /readyz", "200", type(exc).__name__)
        return passed("kube-apiserver /readyz") if r.status_code == 200 else failed(
            "kube-apiserver /readyz", "200", f"{r.status_code}", evidence=r.text.splitlines()[-5:])

    wait_until("kube-apiserver /readyz", readyz, READY_TIMEOUT, interval=0.2, progress=None)
    progress(f"control plane: kube-apiserver ready after {time.monotonic() - t0:.1f}s; "
             "starting controller-manager, scheduler, kwok")
    for path, obj in _kwok_rbac():
        api.create(path, obj)
    nodes = node_specs(env)
    for spec in nodes:
        api.create("/api/v1/nodes", node_manifest(spec))
    procs.spawn(f"{NAME}-controller-manager", argv["controller-manager"], state_dir)
    procs.spawn(f"{NAME}-scheduler", argv["scheduler"], state_dir)
    procs.spawn(f"{NAME}-kwok", argv["kwok"], state_dir, env={"HOME": str(kwok_home)})

    names = [n["name"] for n in nodes]

    def cluster_ready():
        _check_procs(d, state_dir)
        missing = []
        for n in names:
            r = api.get(f"/api/v1/nodes/{n}")
            conds = {c["type"]: c["status"] for c in (r.json().get("status", {}).get("conditions") or [])} if r.ok else {}
            if conds.get("Ready") != "True":
                missing.append(f"node {n} Ready")
        if api.get("/api/v1/namespaces/default/serviceaccounts/default").status_code != 200:
            missing.append("ServiceAccount default/default")
        return failed("control plane ready", "nodes Ready and default ServiceAccount", ", ".join(missing)) if missing \
            else passed("control plane ready")

    wait_until("nodes Ready and the default ServiceAccount", cluster_ready, READY_TIMEOUT, interval=0.2)
    progress(f"control plane: ready in {time.monotonic() - t0:.1f}s ({len(names)} kwok nodes)")
    return {
        "kubeconfig": str(d / "admin.kubeconfig"),
        "server": server,
        "etcd_endpoint": etcd_url,
        "etcd_prefix": ETCD_PREFIX,
        "nodes": names,
        "encryption_provider": ENCRYPTION_PROVIDER if encrypt else None,
        "kubernetes_ca": str(pki / "ca.crt"),
    }


def stop(state_dir: Path) -> None:
    """Stop every process of the component, kwok first and etcd last."""
    state_dir = Path(state_dir)
    for p in reversed(PROCESSES):
        procs.stop(f"{NAME}-{p}", state_dir)
    # anything else named controlplane*.pid (the stack counts those as ours)
    for pidfile in state_dir.glob(f"{NAME}*.pid"):
        procs.stop(pidfile.name[:-4], state_dir)


@contextmanager
def temporary(state_dir: Path, encrypt: bool = True, progress=lambda m: None):
    """A short-lived second control plane (seeded faults), stopped on exit."""
    try:
        yield start(Path(state_dir), progress, encrypt=encrypt)
    finally:
        stop(Path(state_dir))
