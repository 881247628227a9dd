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

from .. import errors
from ..config import Target
from ..constants import FIELD_MANAGER, MANAGED_BY_LABEL
from . import client
from .rollout import parse_time

LEASE_NAME = "deploy-lock"
DEFAULT_LEASE_SECONDS = 60
LOCK_HELD = ("deploy lock {namespace}/{name} is held by {holder} (renewed {age:.0f}s ago, lease {lease}s); "
             "not waiting (--no-wait)")
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


def micro_time(t: datetime) -> str:
    """A Lease's MicroTime (RFC 3339 with microseconds, UTC)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _spec(lease: dict | None) -> dict:
    return (lease or {}).get("spec") or {}


def state(lease: dict | None, now: datetime | None = None) -> tuple[str, str, float]:
    """(free|held|expired, holder, seconds since renewal) of a Lease (pure)."""
    now = now or _now()
    spec = _spec(lease)
    if not spec.get("holderIdentity"):
        return "free", "", 0.0
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime")) or now
    age = (now - renewed).total_seconds()
    if age > (spec.get("leaseDurationSeconds") or DEFAULT_LEASE_SECONDS):
        return "expired", spec["holderIdentity"], age
    return "held", spec["holderIdentity"], age


def lease_object(namespace: str, name: str, holder: str, lease_seconds: int, when: datetime, transitions: int,
                 resource_version: str | None = None) -> dict:
    md = {"name": name, "namespace": namespace, "labels": {MANAGED_BY_LABEL: FIELD_MANAGER}}
    if resource_version:
        md["resourceVersion"] = resource_version   # compare-and-swap
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": md,
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": lease_seconds, "acquireTime": micro_time(when),
                     "renewTime": micro_time(when), "leaseTransitions": transitions}}


class Lock:
    def __init__(self, target: Target, namespace: str, holder: str, lease_seconds: int = DEFAULT_LEASE_SECONDS,
                 name: str = LEASE_NAME):
        self.target, self.namespace, self.holder = target, namespace, holder
        self.lease_seconds, self.name = lease_seconds, name
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.acquired_at: float | None = None   # time.time() when held
        self.took_over: str = ""               # holder of the expired lease we took over
        self.waited = False                    # whether acquire had to wait (someone else held it)

    def _read(self) -> dict | None:
        return client.get(self.target, "coordination.k8s.io/v1", "Lease", self.name, self.namespace)

    def _body(self, lease: dict | None, transitions: int) -> dict:
        return lease_object(self.namespace, self.name, self.holder, self.lease_seconds, _now(), transitions,
                            lease["metadata"]["resourceVersion"] if lease else None)

    def try_acquire(self) -> tuple[bool, str, float]:
        """One compare-and-swap attempt: (got it, current holder, its age)."""
        lease = self._read()
        st, holder, age = state(lease)
        if st == "held" and holder != self.holder:
            return False, holder, age
        transitions = ((_spec(lease).get("leaseTransitions") or 0) + (holder != self.holder)) if lease else 0
        try:
            if lease is None:
                client.create(self.target, self._body(None, 0))
            else:
                client.replace(self.target, self._body(lease, transitions))
        except client.ApiError as exc:
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
            self.waited = True
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
        if _spec(lease).get("holderIdentity") != self.holder:
            self.lost.set()
            return False
        lease["spec"]["renewTime"] = micro_time(_now())
        try:
            client.replace(self.target, lease)
        except client.ApiError as exc:
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
            if _spec(lease).get("holderIdentity") != self.holder:
                return
            lease["spec"]["holderIdentity"] = None
            lease["spec"]["renewTime"] = micro_time(_now())
            try:
                client.replace(self.target, lease)
                return
            except client.ApiError as exc:
                if exc.status != 409:
                    raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def holder_of(target: Target, namespace: str, name: str = LEASE_NAME) -> tuple[str, str, float]:
    """(state, holder, age) of the lock, read-only."""
    return state(client.get(target, "coordination.k8s.io/v1", "Lease", name, namespace))


def seed(target: Target, namespace: str, holder: str, lease_seconds: int, renewed_ago: float = 0.0,
         name: str = LEASE_NAME) -> None:
    """Write a Lease as if `holder` held it (tests: a live holder, or a crashed one with renewed_ago > lease)."""
    body = lease_object(namespace, name, holder, lease_seconds, _now() - timedelta(seconds=renewed_ago), 0)
    body["metadata"].pop("labels")   # as another deployer wrote it, not ours
    if client.create(target, body, exist_ok=True) is None:
        cur = client.get(target, "coordination.k8s.io/v1", "Lease", name, namespace)
        body["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        client.replace(target, body)
