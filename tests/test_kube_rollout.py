"""Pure rollout predicates on saved JSON: healthy, still progressing, clearly failed."""
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provision.kube import deploy, rollout

pytestmark = [pytest.mark.offline, pytest.mark.unit]
DATA = Path(__file__).parent / "data" / "kube"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def load(name):
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("name, ok", [
    ("deployment_complete", True), ("deployment_unobserved", False),
    ("deployment_old_pods", False), ("deployment_deadline", False)])
def test_is_rollout_complete(name, ok):
    assert rollout.is_rollout_complete(load(name)).ok is ok


def test_deadline_exceeded():
    assert rollout.deadline_exceeded(load("deployment_deadline"))
    assert not rollout.deadline_exceeded(load("deployment_old_pods"))


@pytest.mark.parametrize("name, seconds, expected", [
    ("pod_ready", 999, None),
    ("pod_crashloop", 0, "CrashLoopBackOff"),
    ("pod_restarting", 0, "CrashLoopBackOff"),
    ("pod_unschedulable", 0, None),            # inside the grace: maybe the autoscaler adds a node
    ("pod_unschedulable", 10, "Insufficient cpu"),
    ("pod_not_ready", 5, None),                # inside the readiness grace
    ("pod_not_ready", 10, "not Ready"),
])
def test_pod_problems(name, seconds, expected):
    got = rollout.pod_problems(load(name), T0 + timedelta(seconds=seconds), grace=10)
    if expected is None:
        assert got == []
    else:
        assert len(got) == 1 and expected in got[0], got


def test_terminating_pods_are_ignored():
    pod = load("pod_crashloop")
    pod["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    assert rollout.pod_problems(pod, T0, grace=0) == []


def test_evaluate_healthy_ignores_terminating_old_pod():
    v = rollout.evaluate(load("snapshot_healthy"), ["web-app"], ["postgres"], ["web-service", "postgres-service"],
                         T0, grace=30)
    assert v.state == "healthy", v.summary()
    assert v.ready == {"deployment/web-app": (1, 1), "statefulset/postgres": (1, 1)}


def test_evaluate_progressing_then_failed_after_grace():
    snap = load("snapshot_progressing")
    args = (["web-app"], ["postgres"], ["web-service", "postgres-service"])
    assert rollout.evaluate(snap, *args, T0 + timedelta(seconds=60), grace=30).state == "progressing"
    v = rollout.evaluate(snap, *args, T0 + timedelta(seconds=100), grace=30)
    assert v.state == "failed" and "not Ready" in v.problems[0]


@pytest.mark.parametrize("fault", ["no_endpoints", "missing_service_slice", "missing_workload", "sts_revision"])
def test_evaluate_seeded_faults_are_not_healthy(fault):
    snap = load("snapshot_healthy")
    deps, stss, svcs = ["web-app"], ["postgres"], ["web-service", "postgres-service"]
    if fault == "no_endpoints":
        snap["endpointslices"][0]["endpoints"][0]["conditions"]["ready"] = False
    elif fault == "missing_service_slice":
        svcs = [*svcs, "api-service"]
    elif fault == "missing_workload":
        deps = [*deps, "api-backend"]
    else:
        snap["statefulsets"][0]["status"]["updateRevision"] = "r2"
    assert rollout.evaluate(snap, deps, stss, svcs, T0, grace=30).state != "healthy"


@pytest.mark.parametrize("selector, owned", [
    (None, False), ({}, False), ({"matchLabels": {}}, False), ({"matchLabels": {"app": "web"}}, True),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}, True)])
def test_a_workload_without_a_real_selector_owns_no_pod(selector, owned):
    """Unlike a LabelSelector in general ({} matches all), an empty workload selector owns nothing."""
    assert rollout.owns(selector, {"app": "web"}) is owned


def _failure_snapshot(kind, replicas, age):
    """A hand-built snapshot of one Deployment whose new pod fails in `kind`'s way."""
    dep = {"metadata": {"name": "web-app", "generation": 2}, "spec": {"replicas": replicas,
           "selector": {"matchLabels": {"app": "web"}}},
           "status": {"observedGeneration": 2, "replicas": replicas + 1, "updatedReplicas": 1,
                      "readyReplicas": replicas, "availableReplicas": replicas, "conditions": []}}
    pod = {"metadata": {"name": "web-new", "labels": {"app": "web"}, "creationTimestamp": "2030-01-01T00:00:00Z"},
           "status": {"phase": "Running", "startTime": "2030-01-01T00:00:00Z", "conditions": [
               {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
               "containerStatuses": [{"name": "web", "ready": False, "restartCount": 0, "state": {"running": {}}}]}}
    cs = pod["status"]["containerStatuses"][0]
    if kind == "crashloop":
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    elif kind == "restarts":
        cs["restartCount"] = 3 + age
    elif kind == "too-big":
        pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                         "reason": "Unschedulable", "lastTransitionTime": "2030-01-01T00:00:00Z",
                         "message": "0/2 nodes are available: 2 Insufficient cpu."}]}
    elif kind == "deadline":
        dep["status"]["conditions"] = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    return {"deployments": [dep], "pods": [pod], "statefulsets": [], "endpointslices": []}


FAILURE_REASONS = {"never-ready": "not Ready", "crashloop": "CrashLoopBackOff", "too-big": "Insufficient",
                   "restarts": "CrashLoopBackOff", "deadline": "ProgressDeadlineExceeded"}


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(sorted(FAILURE_REASONS)), replicas=st.integers(1, 5), age=st.integers(0, 600),
       grace=st.integers(1, 300), prev=st.one_of(st.none(), st.text("0123456789abcdef", min_size=40, max_size=40)))
def test_verdict_and_decision_on_generated_failure_snapshots(kind, replicas, age, grace, prev):
    """The pure parts of P5 (moved from the P5 scenario, which now runs real failed deploys): the gate's
    verdict on hand-built failure snapshots never says healthy, says failed once the cause is clear, and
    the decision then rolls back exactly when there is a previous good version and rollback is on."""
    v = rollout.evaluate(_failure_snapshot(kind, replicas, age), ["web-app"], [], [], T0 + timedelta(seconds=age),
                         grace)
    assert v.state != "healthy"  # never a success (P4)
    clear = kind in ("crashloop", "restarts", "deadline") or age >= grace
    assert (v.state == "failed") == clear, (kind, v.state, v.problems)
    if clear:
        assert any(FAILURE_REASONS[kind] in p for p in v.problems), v.problems
        assert deploy.decide(v.state, prev, True) == ("rollback" if prev else "fail")
        assert deploy.decide(v.state, prev, False) == "fail"
