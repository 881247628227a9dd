"""The kwok stages of the offline cluster: node and pod lifecycle, and the image-tag faults.

The status templates are data files in provision/local/kwok/ (kwok's Go
templates producing YAML). A tag starting with NEVER_READY_TAG runs but is
never Ready; one starting with CRASHLOOP_TAG crash-loops with growing
restarts; any other image runs and is Ready.
"""
from __future__ import annotations

from pathlib import Path

from ..constants import CRASHLOOP_TAG, NEVER_READY_TAG

TEMPLATES = Path(__file__).resolve().parent / "kwok"


def template(name: str) -> str:
    """A status template with the fault tags filled in."""
    text = (TEMPLATES / f"{name}.tmpl").read_text()
    return text.replace("CRASHLOOP_TAG", CRASHLOOP_TAG).replace("NEVER_READY_TAG", NEVER_READY_TAG)


def _faulty_query(prefixes: tuple[str, ...]) -> str:
    alt = "|".join(prefixes)
    return f'[.spec.containers[].image | test(":({alt})[^:/@]*$")] | any'


def _stage(name: str, kind: str, exprs: list[dict], nxt: dict, delay_ms: int | None = None,
           jitter_ms: int | None = None, immediate: bool = False) -> dict:
    if "statusTemplate" in nxt:  # the templates are YAML: no blank edges, one final newline
        nxt = {**nxt, "statusTemplate": nxt["statusTemplate"].strip() + "\n"}
    spec: dict = {"resourceRef": {"apiGroup": "v1", "kind": kind},
                  "selector": {"matchExpressions": exprs}, "next": nxt}
    if delay_ms is not None:
        spec["delay"] = {"durationMilliseconds": delay_ms, "jitterDurationMilliseconds": jitter_ms or delay_ms}
    if immediate:
        spec["immediateNextStage"] = True
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}


def kwok_stages() -> list[dict]:
    """Every stage kwok runs (giving any stage drops kwok's defaults, so node
    and pod lifecycle are all here)."""
    alive = {"key": ".metadata.deletionTimestamp", "operator": "DoesNotExist"}
    pending = {"key": ".status.phase", "operator": "In", "values": ["Pending"]}
    running = {"key": ".status.phase", "operator": "In", "values": ["Running"]}
    ready = '.status.conditions.[] | select( .type == "Ready" ) | .status'
    not_ready = {"key": ready, "operator": "NotIn", "values": ["True"]}
    faulty = _faulty_query((NEVER_READY_TAG, CRASHLOOP_TAG))
    crash = _faulty_query((CRASHLOOP_TAG,))
    pod_common = template("pod-status-common")
    # kwok's own node-initialize/heartbeat templates, keeping the allocatable
    # and capacity the Node was created with.
    node_conditions = template("node-conditions")
    return [
        _stage("node-initialize", "Node", [not_ready],
               {"statusTemplate": node_conditions + "\n" + template("node-allocatable")}),
        _stage("node-heartbeat-with-lease", "Node", [
            running, {"key": ready, "operator": "In", "values": ["True"]},
        ], {"statusTemplate": node_conditions}, delay_ms=600000, jitter_ms=610000, immediate=True),
        _stage("pod-ready", "Pod", [alive, pending, not_ready,
                                    {"key": faulty, "operator": "NotIn", "values": ["true"]}],
               {"statusTemplate": template("pod-ready") + "\n" + pod_common}),
        # a faulty image tag: the pod starts but never becomes Ready
        _stage("pod-faulty-start", "Pod", [alive, pending,
                                           {"key": faulty, "operator": "In", "values": ["true"]}],
               {"statusTemplate": template("pod-faulty") + "\n" + pod_common}),
        # CRASHLOOP_TAG: the container keeps crashing, like a kubelet's restarts (every 1-1.5 s: the pod
        # is CrashLoopBackOff from its start, so the health gate needs no restart to judge it; only the
        # growing count is waited for); on re-entry the same container statuses and no new pod IP (one per family)
        _stage("pod-crashloop", "Pod", [alive, running,
                                        {"key": crash, "operator": "In", "values": ["true"]}],
               {"statusTemplate": template("pod-faulty")}, delay_ms=1000, jitter_ms=1500),
        _stage("pod-complete", "Pod", [alive, running,
                                       {"key": ".metadata.ownerReferences.[].kind", "operator": "In",
                                        "values": ["Job"]}],
               {"statusTemplate": template("pod-complete")}),
        _stage("pod-delete", "Pod", [{"key": ".metadata.deletionTimestamp", "operator": "Exists"}], {"delete": True}),
    ]
