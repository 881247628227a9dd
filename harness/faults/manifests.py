"""Seeded faults for the manifest checks: each is patched into a copy of
manifests/ (the committed files are never touched) and must turn one static
check red, naming the object it broke."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from provision import config, errors

MANIFESTS = "manifests"
UNKNOWN_FAULT = "unknown seeded fault {fault!r}: expected one of {known}"


def _patch(kind: str, name: str, ops: list[dict]) -> dict:
    return {"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(ops)}


def _faults() -> dict[str, dict]:
    """fault -> what to add to the overlay's kustomization (patches/resources)."""
    s = config.settings()
    web = s["kubernetes"]["deployments"][0]
    c0 = "/spec/template/spec/containers/0"
    allow_all = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "seeded-allow-all-ingress"},
                 "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}}
    aws_kind = {"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                "metadata": {"name": "seeded-aws-only"},
                "spec": {"serviceRef": {"name": "web-service", "port": 80}, "targetGroupARN": "arn:aws:x"}}
    return {
        "container-without-limits": {"patches": [_patch("Deployment", web, [
            {"op": "remove", "path": f"{c0}/resources/limits"}])]},
        "latest-image-tag": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": f"{c0}/image", "value": f"{s['images']['web']}:latest"}])]},
        "runs-as-root": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": "/spec/template/spec/securityContext/runAsNonRoot", "value": False},
            {"op": "replace", "path": "/spec/template/spec/securityContext/runAsUser", "value": 0},
            {"op": "remove", "path": f"{c0}/securityContext/runAsNonRoot"}])]},
        "serving-without-probe": {"patches": [_patch("Deployment", web, [
            {"op": "remove", "path": f"{c0}/readinessProbe"}])]},
        "invalid-schema": {"patches": [_patch("Deployment", web, [
            {"op": "add", "path": "/spec/replica", "value": 2}])]},
        "foreign-image": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": f"{c0}/image", "value": "ghcr.io/someone/web:1.0.0"}])]},
        "aws-only-kind": {"objects": [aws_kind]},
        "multi-replica-without-pdb": {"patches": [_patch("Deployment", web, [
            {"op": "replace", "path": "/spec/replicas", "value": 2}])]},
        "secret-value-inline": {"patches": [_patch("Deployment", web, [
            {"op": "add", "path": f"{c0}/env",
             "value": [{"name": "AUTH0_CLIENT_SECRET", "value": "seeded-inline-value"}]}])]},
        "allow-all-ingress": {"objects": [allow_all]},
    }



def _known(fault: str, faults: dict):
    if fault not in faults:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(faults)))
    return faults[fault]


def _copied_overlay(workdir: Path, overlay_rel: str) -> tuple[Path, Path, dict]:
    """A copy of manifests/ in `workdir`; the copied overlay, its kustomization file and its content."""
    workdir = Path(workdir)
    shutil.copytree(config.ROOT / MANIFESTS, workdir / MANIFESTS, dirs_exist_ok=True)
    overlay = workdir / overlay_rel
    kfile = overlay / "kustomization.yaml"
    return overlay, kfile, yaml.safe_load(kfile.read_text())


def seed_fault(fault: str, env: str, workdir: Path) -> Path:
    """Copy manifests/ into `workdir`, seed `fault` into the env overlay; return the overlay path.

    The committed files are never touched.
    """
    spec = _known(fault, _faults())
    overlay, kfile, k = _copied_overlay(workdir, config.Environment.named(env)["overlay"])
    k.setdefault("patches", []).extend(spec.get("patches", []))
    for i, obj in enumerate(spec.get("objects", [])):
        (overlay / f"seeded-{i}.yaml").write_text(yaml.safe_dump(obj))
        k.setdefault("resources", []).append(f"seeded-{i}.yaml")
    kfile.write_text(yaml.safe_dump(k, sort_keys=False))
    return overlay


# ---- the cluster overlay (manifests/cluster): faults of what installs the cluster's controllers.
CLUSTER_FAULTS = {
    # The state before issue 10: the NLB Service of ingress-nginx, and no controller behind it.
    "no-ingress-controller": [{"target": {"kind": "Deployment", "name": "ingress-nginx-controller"},
                               "patch": yaml.safe_dump({"$patch": "delete", "apiVersion": "apps/v1",
                                                        "kind": "Deployment",
                                                        "metadata": {"name": "ingress-nginx-controller",
                                                                     "namespace": "ingress-nginx"}})}],
    "no-ingress-class": [{"target": {"kind": "IngressClass", "name": "nginx"},
                          "patch": yaml.safe_dump({"$patch": "delete", "apiVersion": "networking.k8s.io/v1",
                                                   "kind": "IngressClass", "metadata": {"name": "nginx"}})}],
}


def seed_cluster_fault(fault: str, env: str, workdir: Path) -> Path:
    """Copy manifests/ into `workdir`, seed `fault` into the env's cluster overlay; return that overlay."""
    patches = _known(fault, CLUSTER_FAULTS)
    overlay, kfile, k = _copied_overlay(workdir, config.Environment.named(env)["cluster_overlay"])
    k.setdefault("patches", []).extend(patches)
    kfile.write_text(yaml.safe_dump(k, sort_keys=False))
    return overlay
