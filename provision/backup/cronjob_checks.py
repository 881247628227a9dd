"""Static checks of the backup CronJob in the rendered manifests (manifests/base/postgres-backup.yaml).

kustomize cannot template settings.yaml into a manifest, so the schedule, the database, the ServiceAccount
and the bucket, prefix and key alias (as backup.yaml makes them for the environment) are written in the
manifests and checked equal here. The NetworkPolicy's AWS ranges are kube/aws_ranges.py's check; this
module also renders that policy from the vendored ranges (`python -m provision.backup.cronjob_checks netpol`).
"""
from __future__ import annotations

import sys

import yaml

from .. import config, findings
from ..config import Environment
from ..findings import Finding, failed, passed
from ..kube import aws_ranges, irsa
from ..kube.objects import containers, pod_spec

CONFIGMAP = "postgres-backup"  # the CronJob's bucket, prefix, key alias and region (envFrom)
POSTGRES_PORT = 5432


def expected_config(env: Environment) -> dict[str, str]:
    """What the upload step must be told, as backup.yaml makes it for `env` (bucket name, key alias)."""
    from . import bucket_checks

    r = bucket_checks.rendered(env)
    bucket = r.value(r.t["Resources"][bucket_checks.BUCKET]["Properties"]["BucketName"])
    alias = next(r.value(a["Properties"]["AliasName"]) for a in r.resources("AWS::KMS::Alias").values())
    s = config.settings()
    return {"BACKUP_BUCKET": bucket, "BACKUP_PREFIX": f"{s['backup']['prefix']}/{env.name}/",
            "BACKUP_KEY_ALIAS": alias, "AWS_REGION": s["aws"]["region"]}


def _named(objects: list[dict], kind: str, name: str) -> dict | None:
    return next((o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name), None)


def _env(c: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env") or []}


def problems(objects: list[dict], env: Environment) -> list[str]:
    """Pure on the objects (and the settings): what differs from the settings and the design."""
    b, s = config.settings()["backup"], config.settings()
    cj = _named(objects, "CronJob", b["cronjob"])
    if cj is None:
        return [f"no CronJob {b['cronjob']} in the {env.name} manifests"]
    spec, pod = cj.get("spec") or {}, pod_spec(cj) or {}
    out = []
    if spec.get("schedule") != b["schedule"]:
        out.append(f"schedule {spec.get('schedule')!r} is not settings backup.schedule {b['schedule']!r}")
    if spec.get("concurrencyPolicy") != "Forbid":
        out.append(f"concurrencyPolicy {spec.get('concurrencyPolicy')!r}, not Forbid (two dumps could overlap)")
    for k in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if not isinstance(spec.get(k), int) or not 0 < spec[k] <= 10:
            out.append(f"{k} {spec.get(k)!r}: expected 1..10 (the default keeps failed Jobs' pods around)")
    sa = pod.get("serviceAccountName")
    if sa != b["service_account"]:
        out.append(f"runs as ServiceAccount {sa!r}, not settings backup.service_account {b['service_account']!r}")
    account = _named(objects, "ServiceAccount", b["service_account"])
    arn = ((account or {}).get("metadata", {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn")
    if arn != irsa.irsa_role_arn(env.name, b["service_account"]):
        out.append(f"ServiceAccount {b['service_account']} names role {arn!r}, not "
                   f"{irsa.irsa_role_arn(env.name, b['service_account'])!r} (backup.yaml BackupJobRole)")
    if pod.get("automountServiceAccountToken") is not False:
        out.append("the pod mounts an API token (automountServiceAccountToken is not false); IRSA needs none")
    dbs = {str(_env(c).get("PGDATABASE")) for c in containers(cj) if "PGDATABASE" in _env(c)}
    if dbs != {b["database"]}:
        out.append(f"dumps database {sorted(dbs) or 'none'}, not settings backup.database {b['database']!r}")
    hosts = {str(_env(c).get("PGHOST")) for c in containers(cj) if "PGHOST" in _env(c)}
    services = s["kubernetes"]["services"]
    if not hosts or not hosts <= set(services):
        out.append(f"PGHOST {sorted(hosts) or 'unset'} is not a Service of the settings {services}")
    cm = _named(objects, "ConfigMap", CONFIGMAP)
    data = (cm or {}).get("data") or {}
    for k, v in expected_config(env).items():
        if data.get(k) != v:
            out.append(f"ConfigMap {CONFIGMAP} {k}={data.get(k)!r}, expected {v!r} (backup.yaml for {env.name})")
    scratch = {v["name"] for v in pod.get("volumes") or [] if "emptyDir" in v}
    for c in containers(cj):
        if not any(m["name"] in scratch for m in c.get("volumeMounts") or []):
            out.append(f"container {c['name']} has no emptyDir to write the dump to (the root is read-only)")
    return out


@findings.graded("static")
def check_cronjob(objects: list[dict], env: Environment) -> Finding:
    """The backup CronJob runs on the settings' schedule, as its own ServiceAccount (IRSA, no API token), one
    at a time, dumping the settings' database into an emptyDir and uploading to the environment's bucket."""
    b = config.settings()["backup"]
    subject = f"the {env.name} backup CronJob {b['cronjob']} is as settings.yaml and backup.yaml say"
    expected = f"schedule {b['schedule']}, ServiceAccount {b['service_account']}, database {b['database']}"
    bad = problems(objects, env)
    if bad:
        return failed(subject, expected, f"{len(bad)} problems", tuple(f"FAIL {p}" for p in bad))
    return passed(subject, expected, expected, (f"bucket config {expected_config(env)}",))


@findings.graded("static")
def check_egress(objects: list[dict]) -> Finding:
    """The backup pod's NetworkPolicy reaches AWS only by the region's published ranges, on 443."""
    return aws_ranges.check_egress_ranges(objects, config.settings()["backup"]["cronjob"],
                                          config.settings()["aws"]["region"])


# Addresses the model probes from the backup pod: S3 and STS of the region (inside the published ranges), and
# an address of no AWS range (TEST-NET-3) and the instance metadata service, which it must not reach.
S3_ADDRESS = "52.217.4.10"      # 52.216.0.0/15: ip-ranges.json service S3, us-east-1
STS_ADDRESS = "209.54.177.20"   # 209.54.176.0/21: service AMAZON, us-east-1 (where sts.us-east-1 answers)
ELSEWHERE = "203.0.113.10"
METADATA = "169.254.169.254"


@findings.graded("model")
def check_reachability(objects: list[dict]) -> Finding:
    """What the NetworkPolicies let the backup pod reach, by the harness's model: postgres on its port, S3 and
    STS of the region on 443; not the API or web pods, not S3 on 80, not an address outside AWS's ranges, not
    the instance metadata, and nothing may connect to it."""
    from ..kube import netpol

    name = config.settings()["backup"]["cronjob"]
    eps = {e.name: e for e in netpol.workload_endpoints(objects)}
    pols = netpol.policies_of(objects)
    subject = f"the NetworkPolicies let {name} reach postgres, S3 and STS, and nothing else (model)"
    if name not in eps:
        return failed(subject, "the backup pod", "no such workload", (f"FAIL no workload {name}",),
                      gaps=(netpol.NOT_ENFORCED,))
    me, pg = eps[name], config.settings()["kubernetes"]["statefulsets"][0]
    probes = {f"{name} -> {pg}:{POSTGRES_PORT}": (me, eps.get(pg), POSTGRES_PORT, True),
              f"{name} -> S3 {S3_ADDRESS}:443": (me, netpol.external("s3", S3_ADDRESS), 443, True),
              f"{name} -> STS {STS_ADDRESS}:443": (me, netpol.external("sts", STS_ADDRESS), 443, True),
              f"{name} -> S3 {S3_ADDRESS}:80": (me, netpol.external("s3", S3_ADDRESS), 80, False),
              f"{name} -> the internet {ELSEWHERE}:443": (me, netpol.external("internet", ELSEWHERE), 443, False),
              f"{name} -> instance metadata {METADATA}:80": (me, netpol.external("imds", METADATA), 80, False)}
    for other in sorted(set(eps) - {name, pg}):
        for _, port, _proto in eps[other].ports or (("", 8080, "TCP"),):
            probes[f"{name} -> {other}:{port}"] = (me, eps[other], port, False)
        probes[f"{other} -> {name}:8080"] = (eps[other], me, 8080, False)
    bad, seen = [], []
    for what, (src, dst, port, want) in probes.items():
        got = dst is not None and netpol.allowed(pols, src, dst, port)
        line = f"{what}: {'allowed' if got else 'denied'}"
        (seen if got == want else bad).append(line if got == want else f"{line}, expected "
                                               f"{'allowed' if want else 'denied'}")
    expected = "postgres, S3 and STS allowed; pods, other addresses and ports denied"
    if bad:
        return failed(subject, expected, f"{len(bad)} paths differ", tuple(f"FAIL {b}" for b in bad) + tuple(seen),
                      gaps=(netpol.NOT_ENFORCED,))
    return passed(subject, expected, f"all {len(probes)} probes as designed", tuple(seen), gaps=(netpol.NOT_ENFORCED,))


def egress_policy(region: str | None = None) -> dict:
    """The backup pod's NetworkPolicy: postgres on its port, the region's AWS ranges on 443; DNS comes from
    allow-dns-egress; no ingress at all."""
    s = config.settings()
    name = s["backup"]["cronjob"]
    region = region or s["aws"]["region"]
    pg = s["kubernetes"]["statefulsets"][0]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "policyTypes": ["Ingress", "Egress"],
                     "egress": [
                         {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": pg}}}],
                          "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]},
                         {"to": [{"ipBlock": {"cidr": c}} for c in aws_ranges.region_cidrs(region)],
                          "ports": [{"protocol": "TCP", "port": aws_ranges.HTTPS}]}]}}


HEADER = """\
# The backup pod's NetworkPolicy (postgres-backup.yaml): postgres on 5432, DNS (allow-dns-egress), and HTTPS
# to AWS's published ranges of the region for S3 and STS (a NetworkPolicy cannot name a service): the region's
# AMAZON prefixes of ip-ranges.json (STS has no service of its own there), collapsed, as vendored in
# provision/kube/data/aws-ip-ranges-<region>.json with their source and date. No ingress.
# Generated, and checked equal to that file (provision/kube/aws_ranges.check_egress_ranges):
#   python -m provision.backup.cronjob_checks netpol > manifests/base/postgres-backup-networkpolicy.yaml
"""


def main(argv: list[str]) -> int:
    if argv[1:] != ["netpol"]:
        print("usage: python -m provision.backup.cronjob_checks netpol", file=sys.stderr)
        return 2
    sys.stdout.write(HEADER + yaml.safe_dump(egress_policy(), sort_keys=False, default_flow_style=None, width=120))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
