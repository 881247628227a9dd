"""IRSA: the IAM role each ServiceAccount of the manifests names (R8.4).
provision/cloudformation/irsa.yaml names the roles <cluster_name>-<workload>."""
from __future__ import annotations

from .. import config, findings
from ..findings import Finding, failed, passed


def irsa_role_arn(env: str, service_account: str, settings: dict | None = None) -> str:
    """The IRSA role a ServiceAccount must name: provision/cloudformation/irsa.yaml
    names roles <cluster_name>-<workload>."""
    s = settings or config.settings()
    cluster = s["environments"][env]["cluster_name"]
    return f"arn:aws:iam::{s['aws']['account_id']}:role/{cluster}-{service_account}"


@findings.graded("static")
def check_irsa_annotations(objects: list[dict], env: str, settings: dict | None = None) -> Finding:
    """Every ServiceAccount that names an IAM role names its own role of this env's cluster (R8.4)."""
    bad, seen = [], []
    for obj in objects:
        if obj.get("kind") != "ServiceAccount":
            continue
        arn = (obj.get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if arn is None:
            continue
        want = irsa_role_arn(env, obj["metadata"]["name"], settings)
        seen.append(obj["metadata"]["name"])
        if arn != want:
            bad.append(f"ServiceAccount {obj['metadata']['name']}: role-arn {arn}, expected {want}")
    subject = f"IRSA role annotations of the {env} manifests"
    if not seen:
        return failed(subject, "at least one ServiceAccount with an IRSA role", "none")
    if bad:
        return failed(subject, "each ServiceAccount names <cluster>-<workload>", f"{len(bad)} mismatched", bad)
    return passed(subject, "each ServiceAccount names <cluster>-<workload>", ", ".join(seen))
