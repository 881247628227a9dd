"""A Job from the backup CronJob's jobTemplate, as the control plane sees it: admitted by a namespace that
enforces Pod Security `restricted` and its pod scheduled onto a node. Where the pods only pretend to run
(kwok), this is what the cluster can show of the CronJob without waiting for its schedule.

Admission is the real kube-apiserver's Pod Security admission (grade `kube`); placement the real scheduler's
on the target's nodes (grade `pods`: kwok's Nodes offline). Nothing is uploaded: the containers never run.
"""
from __future__ import annotations

import copy
import time

from .. import config
from ..findings import Finding, failed, passed, weakest
from ..kube import client
from ..kube.render import set_namespace

KINDS = ("Namespace", "ServiceAccount", "ConfigMap")


def job_of(cronjob: dict, name: str) -> dict:
    """What `kubectl create job NAME --from=cronjob/...` creates: the jobTemplate as a Job (pure)."""
    tmpl = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    md = {"name": name, "namespace": cronjob["metadata"].get("namespace"),
          "labels": {**((tmpl.get("metadata") or {}).get("labels") or {})},
          "annotations": {"cronjob.kubernetes.io/instantiate": "manual"}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": tmpl["spec"]}


def _pods(target, namespace: str, job: str) -> list[dict]:
    return [p for p in client.list_objects(target, "v1", "Pod", namespace)
            if (p["metadata"].get("labels") or {}).get("job-name") == job]


def _refusals(target, namespace: str) -> list[str]:
    return [f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}: {e.get('reason')}: "
            f"{e.get('message', '').strip()}"
            for e in client.list_objects(target, "v1", "Event", namespace) if e.get("type") == "Warning"]


def admitted_and_scheduled(target, objects: list[dict], namespace: str, timeout: float = 60) -> Finding:
    """Apply the namespace (its Pod Security labels), the CronJob's ServiceAccount and ConfigMaps and the
    CronJob into `namespace`, create a Job from its jobTemplate, and wait until its pod is bound to a node."""
    name = config.settings()["backup"]["cronjob"]
    moved = set_namespace(objects, namespace)
    cronjob = next(o for o in moved if o["kind"] == "CronJob" and o["metadata"]["name"] == name)
    ns = next(o for o in moved if o["kind"] == "Namespace")
    level = (ns["metadata"].get("labels") or {}).get("pod-security.kubernetes.io/enforce")
    for o in moved:
        if o["kind"] in KINDS:
            client.apply(target, o)
    client.apply(target, cronjob)
    job = job_of(cronjob, f"{name}-admission-{int(time.time())}")
    client.create(target, job)
    grade = weakest([target.grade("kube"), target.grade("pods")])
    subject = f"a Job from CronJob {name} is admitted (Pod Security {level}) and its pod scheduled"
    expected = f"a pod of Job {job['metadata']['name']} bound to a node in a namespace enforcing {level}"
    deadline = time.monotonic() + timeout
    while True:
        pods = _pods(target, namespace, job["metadata"]["name"])
        bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        if bound:
            p = bound[0]
            return passed(subject, expected, f"pod {p['metadata']['name']} on node {p['spec']['nodeName']}",
                          (f"namespace {namespace}: pod-security.kubernetes.io/enforce={level}",
                           f"pod {p['metadata']['name']} admitted, scheduled on {p['spec']['nodeName']}",
                           f"service account {p['spec'].get('serviceAccountName')}"), grade=grade)
        refused = _refusals(target, namespace)
        if time.monotonic() >= deadline or any("PodSecurity" in r for r in refused):
            state = f"{len(pods)} pods, none bound" if pods else "no pod was created"
            return failed(subject, expected, state, tuple(f"FAIL {r}" for r in refused) or (f"FAIL {state}",),
                          grade=grade)
        time.sleep(0.5)
