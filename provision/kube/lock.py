"""One deploy at a time per cluster: a coordination.k8s.io/v1 Lease.

Acquire is compare-and-swap on the Lease's resourceVersion: create when
absent, replace when free, expired or already ours; a 409 Conflict means
another deployer won the race, so we read again. While held, a thread renews
renewTime every lease/3 seconds; release clears holderIdentity (the Lease
stays, with leaseTransitions counting hand-overs). A holder that crashed
stops renewing, so after leaseDurationSeconds the next deployer takes over.
Expiry uses this machine's clock against renewTime written by deployers'
clocks; the default 60 s lease leaves room for ordinary skew.
"""
from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

from kubernetes import client as k8s

from .. import errors
from ..config import Target
from . import client
from .client import ApiException

LEASE_NAME = "deploy-lock"
DEFAULT_LEASE_SECONDS = 60
LOCK_HELD = "deploy lock {namespace}/{name} is held by {holder} (renewed {age:.0f}s ago, lease {lease}s); not waiting (--no-wait)"
LOCK_TIMEOUT = "deploy lock {namespace}/{name} still held by {holder} after waiting {waited:.0f}s"


class LockHeld(errors.Refused):
    """Another deployer holds the lock (exit 3)."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


def default_holder(environ=None) -> str:
    """GitHub run in CI (run id and attempt), user@host otherwise; the pid keeps two local shells apart."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID"):
        return f"github-run-{env['GITHUB_RUN_ID']}-{env.get('GITHUB_RUN_ATTEMPT', '1')}"
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}/{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def state(lease: k8s.V1Lease | None, now: datetime | None = None) -> tuple[str, str, float]:
    """(free|held|expired, holder, seconds since renewal) of a Lease (pure)."""
    now = now or _now()
    if lease is None or not lease.spec or not lease.spec.holder_identity:
        return "free", "", 0.0
    spec = lease.spec
    renewed = spec.renew_time or spec.acquire_time or now
    age = (now - renewed).total_seconds()
    if age > (spec.lease_duration_seconds or DEFAULT_LEASE_SECONDS):
        return "expired", spec.holder_identity, age
    return "held", spec.holder_identity, age


class Lock:
    def __init__(self, target: Target, namespace: str, holder: str, lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 name: str = LEASE_NAME):
        self.target, self.namespace, self.holder = target, namespace, holder
        self.lease_seconds, self.name = lease_seconds, name
        self.api = client.coordination(target)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.acquired_at: float | None = None   # time.time() when held
        self.took_over: str = ""               # holder of the expired lease we took over

    def _read(self) -> k8s.V1Lease | None:
        try:
            return self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def _body(self, lease: k8s.V1Lease | None, transitions: int) -> k8s.V1Lease:
        now = _now()
        md = k8s.V1ObjectMeta(name=self.name, namespace=self.namespace,
                              resource_version=lease.metadata.resource_version if lease else None,
                              labels={"app.kubernetes.io/managed-by": "cloudtolocalllm-provision"})
        return k8s.V1Lease(metadata=md, spec=k8s.V1LeaseSpec(
            holder_identity=self.holder, lease_duration_seconds=self.lease_seconds,
            acquire_time=now, renew_time=now, lease_transitions=transitions))

    def try_acquire(self) -> tuple[bool, str, float]:
        """One compare-and-swap attempt: (got it, current holder, its age)."""
        lease = self._read()
        st, holder, age = state(lease)
        if st == "held" and holder != self.holder:
            return False, holder, age
        transitions = ((lease.spec.lease_transitions or 0) + (holder != self.holder)) if lease else 0
        try:
            if lease is None:
                self.api.create_namespaced_lease(self.namespace, self._body(None, 0))
            else:
                self.api.replace_namespaced_lease(self.name, self.namespace, self._body(lease, transitions))
        except ApiException as exc:
            if exc.status in (409, 422):  # someone else wrote first (or created it): read again
                return False, holder or "(another deployer)", 0.0
            raise
        self.took_over = holder if st == "expired" else ""
        self.acquired_at = time.time()
        return True, self.holder, 0.0

    def acquire(self, wait: bool = True, timeout: float = 1800, interval: float = 2.0, progress=None) -> Lock:
        t0 = time.monotonic()
        said = ""
        while True:
            ok, holder, age = self.try_acquire()
            if ok:
                if self.took_over and progress:
                    progress(f"took over the deploy lock from {self.took_over} (lease expired)")
                self._start_renewing()
                return self
            if holder and not wait:
                raise LockHeld(LOCK_HELD.format(namespace=self.namespace, name=self.name, holder=holder,
                                                age=age, lease=self.lease_seconds), holder)
            waited = time.monotonic() - t0
            if waited > timeout:
                raise LockHeld(LOCK_TIMEOUT.format(namespace=self.namespace, name=self.name, holder=holder,
                                                   waited=waited), holder)
            if progress and holder != said:
                progress(f"waiting for the deploy lock held by {holder} (renewed {age:.0f}s ago)")
                said = holder
            time.sleep(interval)

    def renew(self) -> bool:
        lease = self._read()
        if lease is None or lease.spec.holder_identity != self.holder:
            self.lost.set()
            return False
        lease.spec.renew_time = _now()
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            if exc.status == 409:
                return self.renew()
            raise
        return True

    def _start_renewing(self) -> None:
        def loop():
            while not self._stop.wait(max(self.lease_seconds / 3, 0.2)):
                try:
                    if not self.renew():
                        return
                except Exception:  # a blip: the next tick retries within the lease
                    continue
        self._stop.clear()
        self._thread = threading.Thread(target=loop, name=f"lease-renew-{self.holder}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        for _ in range(5):
            lease = self._read()
            if lease is None or lease.spec.holder_identity != self.holder:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = _now()
            try:
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def holder_of(target: Target, namespace: str, name: str = LEASE_NAME) -> tuple[str, str, float]:
    """(state, holder, age) of the lock, read-only."""
    try:
        lease = client.coordination(target).read_namespaced_lease(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return "free", "", 0.0
        raise
    return state(lease)


def seed(target: Target, namespace: str, holder: str, lease_seconds: int, renewed_ago: float = 0.0,
         name: str = LEASE_NAME) -> None:
    """Write a Lease as if `holder` held it (tests: a live holder, or a crashed one with renewed_ago > lease)."""
    api = client.coordination(target)
    when = _now() - timedelta(seconds=renewed_ago)
    body = k8s.V1Lease(metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
                       spec=k8s.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=lease_seconds,
                                            acquire_time=when, renew_time=when, lease_transitions=0))
    try:
        api.create_namespaced_lease(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        cur = api.read_namespaced_lease(name, namespace)
        body.metadata.resource_version = cur.metadata.resource_version
        api.replace_namespaced_lease(name, namespace, body)
