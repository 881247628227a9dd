"""The rehearsal's fidelity faults: each strict part of the rehearsal shown able to turn it red.

Each fault is seeded by the operator into a COPY of the nightly job's rights (a role, an access entry,
a Cloudflare token of its own, a scratch namespace), never into the verify role, its access entry or the
verify token that the run judges. The check that depends on the part then runs with the copy, exactly
as the nightly job runs it; the operator removes what it made; the process acts as the nightly job
again. Each run is one call (`run`), so the clean-up happens whatever the check did.

The faults and what each turns red: docs/rehearsal.md "Fidelity faults".
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.exceptions
import requests

from harness import oidc_runs, oracles, rehearsal
from harness.faults import dns as dns_faults
from provision import errors
from provision.aws import clients, live_checks, sts
from provision.config import Environment, Target, settings
from provision.dns import probes, sync
from provision.dns.cloudflare import Cloudflare
from provision.findings import Finding, combine, failed, passed, unverifiable
from provision.kube import access_entries, client, render
from provision.local import iam_authenticator, lb_controller
from provision.local.aws_gate_server import _document as policy_document

CAPABILITY = "fidelity_faults"    # target.cannot key: offline has no strict parts; live is never broken
NO_OPERATOR = "needs the rehearsal's operator (the enforcement point's operator key, the strict control plane)"
KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "KUBECONFIG", "CLOUDFLARE_API_TOKEN")
PROBED_ACTION = "kms:GetKeyRotationStatus"          # what the KMS rotation probe calls (live_checks.kms_rotation)
PROBED_SCOPE = "Zone Settings Read"                 # what probes.check_cloudflare_settings needs
OTHER_NAMESPACE = "kube-public"                     # the narrow entry's scope: not the app's namespace
LB_WAIT = 30.0                                      # seconds for the controller to reconcile the control objects
TYPO = "-typo"


@dataclass
class Outcome:
    """What one seeded fault showed: the check's Finding, what it must name, the clean-up's Finding."""

    finding: Finding
    naming: tuple[str, ...]
    cleanup: Finding = field(default_factory=lambda: passed("clean-up", "nothing made", "nothing made"))


def unavailable(target: Target) -> str | None:
    """Why this target cannot run the fidelity faults (None when it can): its capability, then the operator."""
    why = target.cannot.get(CAPABILITY)
    if why:
        return why
    if not (target.local.get("aws_gate") or {}).get("operator") or not (
            target.local.get("controlplane") or {}).get("strict"):
        return NO_OPERATOR
    return None


# ---------------------------------------------------------------- identities


def _become(identity: rehearsal.Identity) -> None:
    for k in KEYS:   # nothing of the previous identity stays behind (become sets only what it is given)
        os.environ.pop(k, None)
    rehearsal.become(identity)


@contextmanager
def acting_as(identity: rehearsal.Identity):
    """Act as `identity`, then as the identity the process had (the nightly job's)."""
    saved = rehearsal.Identity("saved", {k: v for k in KEYS if (v := os.environ.get(k))})
    _become(identity)
    try:
        yield
    finally:
        _become(saved)


def admin(target: Target) -> str:
    return target.local["controlplane"]["kubeconfig"]


def operator(target: Target) -> rehearsal.Identity:
    """The person before the first deploy: the operator key and cluster-admin."""
    return rehearsal.operator(target.with_(kubeconfig=admin(target)))


def _verify_role(target: Target) -> str:
    return sts.role_arn(target, Environment.named("dev"), "VerifyRole").rsplit("/", 1)[-1]


def without_action(doc: dict, action: str) -> dict:
    """The policy document with `action` taken from every Allow statement (pure); BadInput when none has it."""
    out, found = [], False
    for st in doc.get("Statement") or []:
        acts = st.get("Action")
        acts = [acts] if isinstance(acts, str) else list(acts or [])
        kept = [a for a in acts if a.lower() != action.lower()]
        found |= len(kept) != len(acts)
        if kept or not acts:
            out.append({**st, "Action": kept} if acts else st)
    if not found:
        raise errors.BadInput(f"no statement of the policy allows {action}: nothing to take away")
    return {**doc, "Statement": out}


def copy_role(target: Target, tag: str, without: str | None = None) -> str:
    """As the operator: a role with the verify role's trust and policies (minus `without`); its ARN."""
    iam = clients.client(target, "iam")
    src = _verify_role(target)
    role = iam.get_role(RoleName=src)["Role"]
    name = f"ctl-fault-{tag}-{uuid.uuid4().hex[:6]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy_document(
        role["AssumeRolePolicyDocument"])), MaxSessionDuration=role.get("MaxSessionDuration", 3600),
        Description=f"rehearsal fidelity fault: a copy of {src}")["Role"]["Arn"]
    for pname in iam.list_role_policies(RoleName=src)["PolicyNames"]:
        doc = policy_document(iam.get_role_policy(RoleName=src, PolicyName=pname)["PolicyDocument"])
        iam.put_role_policy(RoleName=name, PolicyName=pname,
                            PolicyDocument=json.dumps(without_action(doc, without) if without else doc))
    return arn


def delete_role(target: Target, arn: str) -> str:
    iam = clients.client(target, "iam")
    name = arn.rsplit("/", 1)[-1]
    for pname in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=pname)
    iam.delete_role(RoleName=name)
    return f"role {name} deleted"


def copy_identity(target: Target, role_arn: str, kubeconfig: str = "", cf_token: str = "") -> rehearsal.Identity:
    """The nightly job's identity with the copy's role (the same OIDC exchange, the same job's claims)."""
    token = oidc_runs.job_token(oidc_runs.issuer(target), rehearsal.VERIFY_WORKFLOW, rehearsal.VERIFY_JOB)
    creds = sts.exchange(target, role_arn, token)
    return rehearsal.Identity(f"copy {role_arn.rsplit('/', 1)[-1]}", {
        "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": str(creds.secret_access_key),
        "AWS_SESSION_TOKEN": str(creds.session_token), "KUBECONFIG": kubeconfig, "CLOUDFLARE_API_TOKEN": cf_token})


def eks_kubeconfig_copy(target: Target, tmp: Path) -> str:
    """The EKS-shaped kubeconfig in a file of its own (the API client caches per file: a new token)."""
    dst = Path(tmp) / f"eks-{uuid.uuid4().hex[:6]}.kubeconfig"
    shutil.copy(target.local["controlplane"]["eks_kubeconfig"], dst)
    return str(dst)


def _authenticator_dir(target: Target) -> Path:
    return Path(target.local["iam_authenticator"]["webhook_config"]).parent.parent


def register_entry(target: Target, role_arn: str, scope: dict) -> access_entries.AccessEntry:
    """As the operator: CreateAccessEntry + AssociateAccessPolicy (the verify entry's policy, `scope`), and
    the RBAC objects EKS's authorizer would hold for it."""
    verify = next(e for e in access_entries.for_environment("dev")
                  if access_entries.canonical_arn(e.principal_arn).endswith(f"/{_verify_role(target)}"))
    policy = verify.policies[0].policy
    lid = f"Fault{uuid.uuid4().hex[:6]}"
    entry = iam_authenticator.register_entry(_authenticator_dir(target), lid, {
        "PrincipalArn": role_arn, "Type": "STANDARD", "AccessPolicies": [
            {"PolicyArn": f"arn:aws:eks::aws:cluster-access-policy/{policy}", "AccessScope": scope}]})
    for obj in access_entries.rbac_objects([entry]):
        client.apply(admin(target), obj)
    return entry


def remove_entry(target: Target, entry: access_entries.AccessEntry) -> str:
    for obj in access_entries.rbac_objects([entry]):
        if obj["kind"] != "ClusterRole":   # the policy's ClusterRole is shared with the template's entries
            client.delete(admin(target), obj["apiVersion"], obj["kind"], obj["metadata"]["name"],
                          obj["metadata"].get("namespace"))
    iam_authenticator.remove_entry(_authenticator_dir(target), entry.logical_id)
    return f"access entry {entry.logical_id} and its bindings deleted"


def _standin(target: Target) -> str:
    return target.cloudflare_api.removesuffix("/client/v4") + "/__standin/tokens"


def copy_token(target: Target, permissions: list[str], tag: str) -> tuple[str, str]:
    """A narrower copy of the verify token (the stand-in's token copies); (name, secret)."""
    parent = target.local["edge"]["cloudflare_tokens"]["verify"]
    name = f"{tag}-{uuid.uuid4().hex[:6]}"
    r = requests.post(_standin(target), json={"name": name, "permissions": permissions}, timeout=10,
                      headers={"Authorization": f"Bearer {parent}"})
    r.raise_for_status()
    return name, r.json()["result"]["value"]


def revoke_token(target: Target, name: str) -> str:
    parent = target.local["edge"]["cloudflare_tokens"]["verify"]
    requests.delete(f"{_standin(target)}/{name}", headers={"Authorization": f"Bearer {parent}"},
                    timeout=10).raise_for_status()
    return f"Cloudflare token {name} revoked"


def probe(subject: str, expected: str, fn) -> Finding:
    """The check, as the nightly job runs it: a refusal it raises (Forbidden, a Cloudflare error) is red."""
    try:
        return fn()
    except errors.ProvisionError as exc:
        return failed(subject, expected, f"refused: {str(exc).splitlines()[0][:300]}",
                      [f"FAIL {str(exc).splitlines()[0][:300]}"])


def _cleanup(undo: list) -> Finding:
    """Run the undo steps (newest first) as the operator; each failure is named."""
    done, bad = [], []
    for fn in reversed(undo):
        try:
            done.append(fn())
        except Exception as exc:  # noqa: BLE001 - every step is tried; each failure is reported
            bad.append(f"FAIL {type(exc).__name__}: {str(exc)[:200]}")
    subject, want = "the operator removed what it made", "every seeded copy deleted"
    return failed(subject, want, f"{len(bad)} left", [*bad, *done]) if bad else passed(
        subject, want, f"{len(done)} removed", done)


# ---------------------------------------------------------------- the faults


def _aws_permission(target, undo, tmp) -> Outcome:
    with acting_as(operator(target)):
        arn = copy_role(target, "kms", without=PROBED_ACTION)
        undo.append(lambda: delete_role(target, arn))
    with acting_as(copy_identity(target, arn)):
        f = live_checks.kms_rotation(target, Environment.named("dev"))
    return Outcome(f, ("AccessDenied", PROBED_ACTION))


def _access_entry(target, undo, tmp) -> Outcome:
    with acting_as(operator(target)):
        arn = copy_role(target, "entry")
        undo.append(lambda: delete_role(target, arn))
        entry = register_entry(target, arn, {"Type": "namespace", "Namespaces": [OTHER_NAMESPACE]})
        undo.append(lambda: remove_entry(target, entry))
    kube = eks_kubeconfig_copy(target, tmp)
    narrow = target.with_(kubeconfig=kube)
    with acting_as(copy_identity(target, arn, kubeconfig=kube)):
        # control: the copy authenticates and reads its own scope, so a refusal below is the scope's
        control = probe(f"the copy reads {OTHER_NAMESPACE} (its scope)", "allowed", lambda: passed(
            f"the copy reads {OTHER_NAMESPACE} (its scope)", "allowed",
            f"{len(client.list_objects(narrow, 'v1', 'ConfigMap', OTHER_NAMESPACE))} ConfigMaps"))
        f = probe(f"app in {target.namespace} as the API reports it", "readable",
                  lambda: oracles.health(narrow, target.namespace))
    if not control.ok:
        return Outcome(unverifiable(f.subject, "the copy authenticates", control.actual, control.evidence), ())
    return Outcome(combine(f.subject, [control, f]), ("forbidden", "deployments"))


def _cloudflare_scope(target, undo, tmp) -> Outcome:
    perms = dns_faults.tokens_without(PROBED_SCOPE, job="verify")["verify"]
    name, secret = copy_token(target, perms, "verify-without-zone-settings-read")
    undo.append(lambda: revoke_token(target, name))
    f = probe("Cloudflare SSL mode and Always Use HTTPS", "readable with the job's token",
              lambda: probes.check_cloudflare_settings(target.with_(cloudflare_token=secret)))
    return Outcome(f, ("Authentication error",))


def _verification_write(target, undo, tmp) -> Outcome:
    """A copy of all three of the nightly job's identities tries one write each; `judge_writes`, the rule
    of the read-only proof, judges that copy on the same three logs."""
    with acting_as(operator(target)):
        arn = copy_role(target, "writes")
        undo.append(lambda: delete_role(target, arn))
        entry = register_entry(target, arn, {"Type": "cluster"})
        undo.append(lambda: remove_entry(target, entry))
    s = settings()
    name, secret = copy_token(target, s["dns"]["cloudflare_tokens"]["verify"], "verify-copy-writes")
    undo.append(lambda: revoke_token(target, name))
    kube = eks_kubeconfig_copy(target, tmp)
    tried = []
    with acting_as(copy_identity(target, arn, kubeconfig=kube, cf_token=secret)):
        tried.append(_attempt("AWS logs:CreateLogGroup", lambda: boto3.client(
            "logs", endpoint_url=target.aws_endpoint_url, region_name=target.region).create_log_group(
            logGroupName=f"/ctl-fault/{uuid.uuid4().hex[:6]}")))
        tried.append(_attempt("cluster: create ConfigMap", lambda: client.create(target.with_(kubeconfig=kube), {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ctl-fault-write",
                                                                  "namespace": target.namespace}})))
        cf = Cloudflare.of(target.with_(cloudflare_token=secret))
        tried.append(_attempt("Cloudflare: PATCH always_use_https", lambda: cf.set_setting(
            target.cloudflare_zone, "always_use_https", s["dns"]["cloudflare"]["always_use_https"])))
    f = rehearsal.writes_by(target, arn.rsplit("/", 1)[-1], name)
    return Outcome(Finding(f.ok, f"{f.subject} (judged for the copy {arn.rsplit('/', 1)[-1]})", f.expected,
                           f.actual, (*f.evidence, *tried), grade=f.grade),
                   ("AWS: logs:CreateLogGroup", "cluster: create", "Cloudflare: PATCH"))


def _attempt(what: str, fn) -> str:
    try:
        fn()
        return f"tried {what}: it went through"
    except (errors.ProvisionError, botocore.exceptions.ClientError) as exc:
        return f"tried {what}: refused ({str(exc).splitlines()[0][:120]})"


def _typo(obj: dict, ns: str, name: str) -> dict:
    """A Service/Ingress as shipped, in namespace `ns`, whose load-balancer switch carries a typo."""
    out = json.loads(json.dumps({**obj, "metadata": {**obj["metadata"], "name": name, "namespace": ns}}))
    spec, ann = out.setdefault("spec", {}), out["metadata"].setdefault("annotations", {})
    if spec.get("loadBalancerClass"):
        spec["loadBalancerClass"] += TYPO
    elif lb_controller.LB_TYPE in ann:
        ann[lb_controller.LB_TYPE[:-1]] = ann.pop(lb_controller.LB_TYPE)   # ...-load-balancer-typ
    elif lb_controller.INGRESS_CLASS_ANNOTATION in ann:
        ann[lb_controller.INGRESS_CLASS_ANNOTATION] = ann[lb_controller.INGRESS_CLASS_ANNOTATION].upper()
    return out


def _scratch(obj: dict, ns: str, name: str) -> dict:
    """The object as shipped, moved to `ns` as `name`: no labels (ingress-nginx finds its Service by them),
    no selector (no endpoints)."""
    spec = {k: v for k, v in (obj.get("spec") or {}).items() if k not in ("selector", "clusterIP", "clusterIPs")}
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "spec": spec, "metadata": {
        "name": name, "namespace": ns, "annotations": dict(obj["metadata"].get("annotations") or {})}}


def _alb_ingress(ns: str, name: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {
        "name": name, "namespace": ns, "annotations": {
            lb_controller.INGRESS_CLASS_ANNOTATION: lb_controller.ALB_CLASS_ANNOTATION_VALUE}},
        "spec": {"rules": [{"host": "ctl-fault.invalid", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "control", "port": {"number": 80}}}}]}}]}}


def _lb_controller(target, undo, tmp) -> Outcome:
    kube = admin(target)
    ns = f"ctl-fault-lb-{uuid.uuid4().hex[:6]}"
    shipped = next(o for o in render.render_cluster("dev")
                   if o["kind"] == "Service" and (o.get("spec") or {}).get("type") == "LoadBalancer")
    ingress_name = settings()["kubernetes"]["ingress"]
    with acting_as(operator(target)):
        client.create(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        undo.append(lambda: client.delete(kube, "v1", "Namespace", ns) and f"namespace {ns} deleted")
        for obj in (_scratch(shipped, ns, "control"), _typo(_scratch(shipped, ns, "typo"), ns, "typo"),
                    _alb_ingress(ns, "control-alb"), _typo(_alb_ingress(ns, ingress_name), ns, ingress_name)):
            client.create(kube, obj)
        deadline = time.monotonic() + LB_WAIT
        while time.monotonic() < deadline and not _controls_reconciled(kube, ns):
            time.sleep(0.5)
        if not _controls_reconciled(kube, ns):
            return Outcome(unverifiable("the load balancer controller's choice", "the control objects reconciled",
                                        f"no hostname on the control objects after {LB_WAIT:.0f}s"), ())
        host = lb_controller.service_hostname(kube, ns, "typo")
        svc = Finding(bool(host), f"load balancer of Service {ns}/typo (service_hostname)",
                      "a hostname from the AWS Load Balancer Controller", host or "none",
                      (f"ok   control {ns}/control: {lb_controller.service_hostname(kube, ns, 'control')}",
                       *(() if host else (f"FAIL Service {ns}/typo: no load balancer hostname (the controller "
                                          "ignores it: its load-balancer switch has a typo)",))),
                      grade=target.grade("kube"))
        ing = probe("the load balancer the DNS sync reads (sync.ingress_hostname)", "a hostname",
                    lambda: passed("the load balancer the DNS sync reads", "a hostname",
                                   sync.ingress_hostname(target.with_(namespace=ns, kubeconfig=kube))))
    return Outcome(combine("load balancer names of objects the controller would ignore", [svc, ing]),
                   ("no load balancer hostname",))


def _controls_reconciled(kube: str, ns: str) -> bool:
    ing = client.get(kube, "networking.k8s.io/v1", "Ingress", "control-alb", ns) or {}
    return bool(lb_controller.service_hostname(kube, ns, "control") and lb_controller._hostnames(ing))


RUNS = {"aws-permission": _aws_permission, "access-entry": _access_entry, "cloudflare-scope": _cloudflare_scope,
        "verification-write": _verification_write, "lb-controller": _lb_controller}


def run(target: Target, fault: str, tmp: Path) -> Outcome:
    """Seed `fault` into a copy as the operator, run the check with it, remove the copy; the process acts as
    the identity it had (the nightly job's) before and after."""
    if fault not in RUNS:
        raise errors.BadInput(f"unknown fidelity fault {fault!r}: expected one of {', '.join(RUNS)}")
    undo: list = []
    try:
        out = RUNS[fault](target, undo, tmp)
    finally:
        with acting_as(operator(target)):
            cleanup = _cleanup(undo)
    out.cleanup = cleanup
    return out


def nightly_again(target: Target) -> Finding:
    """The process acts as the nightly job: STS names the verify role, the kubeconfig and token are its own."""
    arn = clients.client(target, "sts").get_caller_identity()["Arn"]
    role = _verify_role(target)
    ok = f"assumed-role/{role}/" in arn and os.environ.get("CLOUDFLARE_API_TOKEN") == target.local["edge"][
        "cloudflare_tokens"]["verify"] and os.environ.get("KUBECONFIG") == target.kubeconfig
    return Finding(ok, "the process acts as the nightly job again", f"the {role} session, its kubeconfig and token",
                   arn if ok else f"FAIL acting as {arn}", grade=target.grade("aws"))
