"""The local Kubernetes control plane of the offline target: its processes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as
plain processes (built by provision.local.build; nothing is downloaded), with
every flag spelled out below. Pods and nodes are simulated by the kwok
controller: Nodes shaped like the EKS managed node group (kwok_nodes) and
pod lifecycle stages with an image-tag convention for faults (kwok_stages,
docs/local-control-plane.md).

The PKI (pki) and the kubeconfigs and secrets EncryptionConfiguration
(kubeconfig) are generated at each start under <state_dir>/controlplane/,
files with keys 0600. The bootstrap objects (kwok's RBAC, the Nodes) are
created as the admin through provision.kube.client.
"""
from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import urllib3
import yaml

from .. import errors
from ..config import Environment
from ..findings import failed, passed, wait_until
from ..kube import client
from . import build, controlplane_strict, procs
from .controller_rbac import controller_rbac
from .kubeconfig import ENCRYPTION_PROVIDER, write_encryption_config, write_kubeconfig
from .kwok_nodes import KWOK_MANAGED, node_manifest, node_specs
from .kwok_stages import kwok_stages
from .pki import CLIENTS, make_pki

NAME = "controlplane"
PROCESSES = ("etcd", "apiserver", "controller-manager", "scheduler", "kwok")
ETCD_PREFIX = "/registry"
SERVICE_CIDR = "10.100.0.0/16"      # EKS's default service range for 10.x VPCs
POD_CIDR = "10.0.128.0/17"          # kwok hands pod IPs out of this
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
READY_TIMEOUT = 60.0


def _dir(state_dir: Path) -> Path:
    return Path(state_dir) / NAME


# ---------------------------------------------------------------- start / stop

def _argv(d: Path, ports: dict, encrypt: bool, strict_flags: list[str] = ()) -> dict[str, list[str]]:
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
    apiserver += list(strict_flags)   # rehearsal mode only (controlplane_strict)
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


def _kwok_rbac() -> list[dict]:
    # The rules of kwok's own kustomize/rbac/role.yaml (core resources only).
    rbac = "rbac.authorization.k8s.io"
    role = {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": "kwok-controller"},
            "rules": [{"apiGroups": [""], "resources": ["events"],
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
                      {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["nodes/status", "pods/status"], "verbs": ["patch", "update"]},
                      {"apiGroups": [""], "resources": ["pods"],
                       "verbs": ["delete", "get", "list", "patch", "update", "watch"]},
                      {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                       "verbs": ["create", "get", "list", "patch", "update", "watch"]}]}
    binding = {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "kwok-controller"},
               "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "kwok-controller"},
               "subjects": [{"apiGroup": rbac, "kind": "User", "name": CLIENTS["kwok"][0]}]}
    return [role, binding]


def _readyz(kubeconfig: Path):
    """GET /readyz as the admin: its answer is text ("ok"), not an object, so not client.request."""
    subject = "kube-apiserver /readyz"
    try:
        client.api(kubeconfig).call_api("/readyz", "GET", auth_settings=["BearerToken"], _preload_content=False,
                                        _return_http_data_only=True, _request_timeout=5)
    except client.ApiException as exc:
        return failed(subject, "200", f"{exc.status}", evidence=str(exc.body or "").splitlines()[-5:])
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return failed(subject, "200", type(exc).__name__)
    return passed(subject)


def _node_ready(kubeconfig: Path, name: str) -> bool:
    try:
        node = client.get(kubeconfig, "v1", "Node", name) or {}
    except client.ApiError:
        return False
    conds = {c["type"]: c["status"] for c in (node.get("status", {}).get("conditions") or [])}
    return conds.get("Ready") == "True"


def _namespace(kubeconfig: Path, name: str):
    try:
        found = client.get(kubeconfig, "v1", "Namespace", name) is not None
    except client.ApiError as exc:
        return failed(f"namespace {name}", "present", f"HTTP {exc.status}")
    return passed(f"namespace {name}") if found else failed(f"namespace {name}", "present", "absent")


def _default_service_account(kubeconfig: Path) -> bool:
    try:
        return client.get(kubeconfig, "v1", "ServiceAccount", "default", "default") is not None
    except client.ApiError:
        return False


def _check_procs(d: Path, state_dir: Path) -> None:
    for p in PROCESSES:
        pidfile = Path(state_dir) / f"{NAME}-{p}.pid"
        if pidfile.exists() and not procs.alive(int(pidfile.read_text())):
            log = Path(state_dir) / f"{NAME}-{p}.log"
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            raise errors.TargetUnavailable(f"control plane: {p} exited during start (log: {log})", evidence=tail)


def start(state_dir: Path, progress=print, encrypt: bool = True, env: str = "dev",
          provider: str = ENCRYPTION_PROVIDER, keys: list[tuple[str, bytes]] | None = None,
          apiserver_only: bool = False, strict: bool | None = None) -> dict:
    """Start etcd, kube-apiserver, controller-manager, scheduler and kwok with the
    Nodes of environment `env`'s node group; returns what target.local["controlplane"] holds.

    Secrets at rest: `provider` (secretbox, aescbc, aesgcm; identity stores plaintext) with `keys`
    ((name, key bytes), the first one writes; default one generated key), unless `encrypt` is False
    (no EncryptionConfiguration at all). `apiserver_only`: etcd and kube-apiserver alone (no
    controllers, no kwok, no Nodes), for checks of what the API server stores.
    `strict` (default: the stack's mode is rehearsal): IAM token webhook, access-entry RBAC and an
    audit log (provision.local.controlplane_strict); off, the flags are the offline ones."""
    state_dir = Path(state_dir)
    if strict is None:
        from .stack import mode_of
        strict = mode_of(state_dir) == "rehearsal"
    stop(state_dir)  # leftovers of a crashed run would hold the etcd data dir
    d = _dir(state_dir)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    os.chmod(d, 0o700)
    try:
        return _start(state_dir, d, progress, encrypt, Environment.named(env), provider, keys, apiserver_only,
                      strict)
    except BaseException:
        stop(state_dir)
        raise


def _start(state_dir: Path, d: Path, progress, encrypt: bool, env: Environment, provider: str = ENCRYPTION_PROVIDER,
           keys=None, apiserver_only: bool = False, strict: bool = False) -> dict:
    t0 = time.monotonic()
    pki = d / "pki"
    make_pki(pki, SERVICE_CIDR)
    key_name = write_encryption_config(d / "encryption.yaml", provider, keys) if encrypt else None
    ports = {k: procs.free_port() for k in ("etcd", "etcd_peer", "apiserver")}
    server = f"https://127.0.0.1:{ports['apiserver']}"
    for who in CLIENTS:
        write_kubeconfig(d / f"{who}.kubeconfig", server, pki, who)
    (d / "kwok.yaml").write_text(yaml.safe_dump_all(kwok_stages(), sort_keys=False))
    argv = _argv(d, ports, encrypt, controlplane_strict.prepare(d, state_dir) if strict else [])
    kwok_home = d / "kwok-home"   # keeps a user's ~/.kwok/kwok.yaml out of it
    kwok_home.mkdir()

    progress(f"control plane: starting etcd on 127.0.0.1:{ports['etcd']}")
    procs.spawn(f"{NAME}-etcd", argv["etcd"], state_dir)
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"

    def etcd_healthy():
        _check_procs(d, state_dir)
        try:
            ok = requests.get(f"{etcd_url}/health", timeout=1).json().get("health") == "true"
        except (requests.RequestException, ValueError) as exc:
            return failed("etcd /health", "true", type(exc).__name__)
        return passed("etcd /health") if ok else failed("etcd /health", "true", "false")

    wait_until("etcd healthy", etcd_healthy, READY_TIMEOUT, interval=0.1)

    progress(f"control plane: starting kube-apiserver on {server} "
             f"(encryption at rest {provider if encrypt else 'OFF'})")
    procs.spawn(f"{NAME}-apiserver", argv["apiserver"], state_dir)
    admin = d / "admin.kubeconfig"

    def readyz():
        _check_procs(d, state_dir)
        return _readyz(admin)

    wait_until("kube-apiserver /readyz", readyz, READY_TIMEOUT, interval=0.2, progress=None)
    info = {
        "kubeconfig": str(admin),
        "server": server,
        "etcd_endpoint": etcd_url,
        "etcd_prefix": ETCD_PREFIX,
        "nodes": [],
        "encryption_provider": (None if provider == "identity" else provider) if encrypt else None,
        "encryption_key": key_name,
        "kubernetes_ca": str(pki / "ca.crt"),
    }
    if strict:
        info.update(controlplane_strict.bootstrap(admin, d, server, env))
    if apiserver_only:
        wait_until("namespace default", lambda: _namespace(admin, "default"), READY_TIMEOUT, interval=0.1)
        progress(f"control plane: API server alone ready in {time.monotonic() - t0:.1f}s")
        return info
    progress(f"control plane: kube-apiserver ready after {time.monotonic() - t0:.1f}s; "
             "starting controller-manager, scheduler, kwok")
    nodes = node_specs(env)
    for obj in _kwok_rbac() + controller_rbac() + [node_manifest(spec) for spec in nodes]:
        client.create(admin, obj, exist_ok=True)
    procs.spawn(f"{NAME}-controller-manager", argv["controller-manager"], state_dir)
    procs.spawn(f"{NAME}-scheduler", argv["scheduler"], state_dir)
    procs.spawn(f"{NAME}-kwok", argv["kwok"], state_dir, env={"HOME": str(kwok_home)})

    names = [n["name"] for n in nodes]

    def cluster_ready():
        _check_procs(d, state_dir)
        missing = [f"node {n} Ready" for n in names if not _node_ready(admin, n)]
        if not _default_service_account(admin):
            missing.append("ServiceAccount default/default")
        return failed("control plane ready", "nodes Ready and default ServiceAccount", ", ".join(missing)) if missing \
            else passed("control plane ready")

    wait_until("nodes Ready and the default ServiceAccount", cluster_ready, READY_TIMEOUT, interval=0.2)
    progress(f"control plane: ready in {time.monotonic() - t0:.1f}s ({len(names)} kwok nodes)")
    return {**info, "nodes": names}


def stop(state_dir: Path) -> None:
    """Stop every process of the component, kwok first and etcd last."""
    state_dir = Path(state_dir)
    for p in reversed(PROCESSES):
        procs.stop(f"{NAME}-{p}", state_dir)
    # anything else named controlplane*.pid (the stack counts those as ours)
    for pidfile in state_dir.glob(f"{NAME}*.pid"):
        procs.stop(pidfile.name[:-4], state_dir)


@contextmanager
def temporary(state_dir: Path, encrypt: bool = True, progress=lambda m: None, provider: str = ENCRYPTION_PROVIDER,
              keys: list[tuple[str, bytes]] | None = None, apiserver_only: bool = False, strict: bool = False):
    """A short-lived second control plane (seeded faults, other encryption configs), stopped on exit."""
    try:
        yield start(Path(state_dir), progress, encrypt=encrypt, provider=provider, keys=keys,
                    apiserver_only=apiserver_only, strict=strict)
    finally:
        stop(Path(state_dir))
