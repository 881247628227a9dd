"""Checks of the backup stack (provision/cloudformation/backup.yaml): the bucket, its key and its two roles.

Static predicates on the resolved template (graded static; the roles' trust and
rights are judged by the harness's IAM evaluators: model), and the live probe
that reads the same properties back from the bucket (`bucket_as_configured`).
moto enforces no bucket policy and its CloudFormation ignores most of a
bucket's properties: there the probe is unverifiable, naming the gap.
"""
from __future__ import annotations

import json

import botocore.exceptions

from .. import config
from ..aws import iam_roles, trust_checks
from ..aws.cfn import parameters
from ..aws.cfn.resolve import Resolver
from ..aws.iam_eval import as_list, evaluate_trust
from ..aws.iam_policy import EXPLICIT_DENY, Request, decide
from ..config import Environment
from ..findings import Finding, combine, graded, unverifiable

STACK = "backup"
KEY = "BackupKey"
BUCKET = "BackupBucket"
JOB_ROLE = "BackupJobRole"
DRILL_ROLE = "DrillRole"
# Gap keys of an endpoint that ignores these (provision/local/moto_server.GAPS).
GAP_POLICY = "AWS::S3::BucketPolicy"
GAP_BUCKET = "s3-bucket-config"


def rendered(env: Environment, path=None) -> Resolver:
    """backup.yaml (or the copy at `path`) resolved for the environment; the key's ARN and the bucket's name
    stand in as CloudFormation will make them (the bucket's from its BucketName, the key's with a placeholder
    id), so policies read as ARNs."""
    from ..aws.cfn import load

    lenient = parameters.rendered(STACK, env)
    t = load.load(path) if path else lenient.t
    name = lenient.value(t["Resources"][BUCKET]["Properties"].get("BucketName", f"<{BUCKET}>"))
    acct, region = lenient.refs["AWS::AccountId"], lenient.refs["AWS::Region"]
    physical = {BUCKET: name, f"{KEY}.Arn": f"arn:aws:kms:{region}:{acct}:key/{KEY.lower()}-id"}
    return Resolver(t, {k: v for k, v in lenient.refs.items() if k in (t.get("Parameters") or {})},
                    acct, region, physical, source=str(path) if path else lenient.source)


def _verdict(subject: str, expected: str, problems: list[str], evidence: list[str], ok_text: str) -> Finding:
    return Finding(not problems, subject, expected, "; ".join(problems) or ok_text,
                   tuple(f"FAIL {p}" for p in problems) + tuple(evidence))


def _one(r: Resolver, rtype: str) -> tuple[str, dict]:
    found = r.resources(rtype)
    return next(iter(found.items()), ("", {"Properties": {}}))


def _bucket(r: Resolver) -> dict:
    return r.resources("AWS::S3::Bucket").get(BUCKET, {}).get("Properties", {})


@graded("static")
def versioning(r: Resolver) -> Finding:
    status = (_bucket(r).get("VersioningConfiguration") or {}).get("Status")
    problems = [] if status == "Enabled" else [f"bucket versioning is {status or 'not configured'}"]
    return _verdict("backup bucket keeps versions (template)", "VersioningConfiguration Enabled", problems, [],
                    "Enabled")


@graded("static")
def encryption(r: Resolver) -> Finding:
    """SSE-KMS by default with the stack's own key, which rotates."""
    rules = (_bucket(r).get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    default = (rules[0] if rules else {}).get("ServerSideEncryptionByDefault") or {}
    own = r.getatt(KEY, "Arn")
    problems = []
    if default.get("SSEAlgorithm") != "aws:kms":
        problems.append(f"default encryption {default.get('SSEAlgorithm') or 'none'}, not aws:kms")
    if default.get("KMSMasterKeyID") != own:
        got = default.get("KMSMasterKeyID") or "an AWS managed key"
        problems.append(f"encrypted with {got}, not its own key {KEY}")
    key = r.resources("AWS::KMS::Key").get(KEY, {}).get("Properties")
    if key is None:
        problems.append(f"no key {KEY} in the stack")
    elif str(key.get("EnableKeyRotation")).lower() != "true":
        problems.append(f"key {KEY} rotation is off")
    return _verdict("backup bucket encrypted with its own rotating KMS key (template)",
                    f"SSE-KMS with {KEY}, rotation on", problems, [f"default encryption: {json.dumps(default)}"],
                    f"SSE-KMS with {KEY}, rotation on")


PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def public_access_problems(block: dict) -> list[str]:
    """Pure: the flags of a public access block (template or GetPublicAccessBlock) that are not on."""
    return [f"{k} is {block.get(k, 'unset')}" for k in PUBLIC_ACCESS_FLAGS if str(block.get(k)).lower() != "true"]


@graded("static")
def public_access_blocked(r: Resolver) -> Finding:
    problems = public_access_problems(_bucket(r).get("PublicAccessBlockConfiguration") or {})
    return _verdict("backup bucket blocks all public access (template)", "all four public access flags on",
                    problems, [], "all four on")


def policy_problems(policy: dict, bucket_arn: str, key_arn: str) -> tuple[list[str], list[str]]:
    """Pure: what a bucket policy lets through that it must refuse, by IAM's evaluation of probe requests.

    Refused: any request without TLS, an upload without SSE-KMS, an upload with another key.
    Not refused: an upload over TLS with SSE-KMS and the bucket's key."""
    obj = f"{bucket_arn}/probe/object"
    tls = {"aws:SecureTransport": "true"}
    kms = {"s3:x-amz-server-side-encryption": "aws:kms"}
    must_deny = {
        "a read over plain HTTP": Request("s3:GetObject", (obj,), {"aws:SecureTransport": "false"}),
        "a listing over plain HTTP": Request("s3:ListBucket", (bucket_arn,), {"aws:SecureTransport": "false"}),
        "an upload over plain HTTP": Request("s3:PutObject", (obj,), {
            "aws:SecureTransport": "false", **kms, "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}),
        "an unencrypted upload": Request("s3:PutObject", (obj,), tls),
        "an upload with SSE-S3 (AES256)": Request("s3:PutObject", (obj,), {
            **tls, "s3:x-amz-server-side-encryption": "AES256"}),
        "an upload with another KMS key": Request("s3:PutObject", (obj,), {
            **tls, **kms, "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn + "-other"}),
    }
    docs = {"bucket policy": policy}
    problems, evidence = [], []
    for what, req in must_deny.items():
        d = decide(docs, req)
        (evidence if d.decision == EXPLICIT_DENY else problems).append(
            f"{what}: {'refused by ' + d.statement if d.decision == EXPLICIT_DENY else 'not refused'}")
    good = Request("s3:PutObject", (obj,), {**tls, **kms, "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn})
    d = decide(docs, good)
    if d.decision == EXPLICIT_DENY:
        problems.append(f"an upload over TLS with the bucket's key is refused too ({d.statement})")
    return problems, evidence


@graded("static")
def bucket_policy(r: Resolver) -> Finding:
    """The policy refuses plain HTTP, unencrypted uploads and uploads with another key (template; moto
    enforces no bucket policy, so this is what there is offline; live it is read back)."""
    pols = [p["Properties"] for p in r.resources("AWS::S3::BucketPolicy").values()
            if p["Properties"].get("Bucket") == r.ref(BUCKET)]
    subject = "backup bucket policy refuses plain HTTP and uploads without the bucket's key (template)"
    expected = "explicit Deny of non-TLS requests, of uploads without SSE-KMS and with another key"
    if not pols:
        return _verdict(subject, expected, ["no bucket policy for the backup bucket"], [], "")
    bucket_arn = f"arn:aws:s3:::{r.ref(BUCKET)}"
    problems, evidence = policy_problems(pols[0]["PolicyDocument"], bucket_arn, r.getatt(KEY, "Arn"))
    return _verdict(subject, expected, problems, evidence, "every probe refused")


def lifecycle_problems(rules: list, prefix: str, days: int) -> list[str]:
    """Pure: a lifecycle (template or GetBucketLifecycleConfiguration) expires the sets after `days`."""
    def scope(rule):
        return rule.get("Prefix", (rule.get("Filter") or {}).get("Prefix", ""))

    def expiry(rule):
        return (rule.get("ExpirationInDays") or (rule.get("Expiration") or {}).get("Days"))

    def noncurrent(rule):
        nv = rule.get("NoncurrentVersionExpiration") or {}
        return nv.get("NoncurrentDays", nv.get("NoncurrentVersionExpirationInDays"))

    live = [rl for rl in rules if rl.get("Status") == "Enabled" and prefix.startswith(scope(rl))]
    if not live:
        return [f"no enabled lifecycle rule covers {prefix}"]
    problems = []
    if not any(str(expiry(rl)) == str(days) for rl in live):
        problems.append(f"backups expire after {[expiry(rl) for rl in live]} days, not retention_days {days}")
    if not any(str(noncurrent(rl)) == str(days) for rl in live):
        problems.append(f"noncurrent versions kept {[noncurrent(rl) for rl in live]} days, not {days} "
                        "(versioning would keep every version forever)")
    return problems


def _prefix() -> str:
    return f"{config.settings()['backup']['prefix']}/"


@graded("static")
def lifecycle(r: Resolver) -> Finding:
    days = config.settings()["backup"]["retention_days"]
    rules = (_bucket(r).get("LifecycleConfiguration") or {}).get("Rules") or []
    problems = lifecycle_problems(rules, _prefix(), days)
    return _verdict("backup bucket expires sets after retention_days (template)",
                    f"expiry and noncurrent expiry after {days} days", problems, [], f"{days} days")


# -- the two roles ---------------------------------------------------------------


def _arns(r: Resolver, env: Environment) -> dict[str, str]:
    bucket = f"arn:aws:s3:::{r.ref(BUCKET)}"
    return {"bucket": bucket, "own": f"{bucket}/{_prefix()}{env.name}/2026-01-01T030000Z/dump.pgc",
            "other_env": f"{bucket}/{_prefix()}other-env/2026-01-01T030000Z/dump.pgc",
            "elsewhere": f"{bucket}/elsewhere/object", "key": r.getatt(KEY, "Arn"),
            "other_key": "arn:aws:kms:us-east-1:000000000000:key/another", "own_prefix": f"{_prefix()}{env.name}/"}


def _rights(role: str, policies: dict, allow: dict[str, Request], deny: dict[str, Request]) -> Finding:
    """Pure: the role's policies allow exactly the listed requests and refuse the others (IAM's evaluation)."""
    problems, evidence = [], []
    for what, req in allow.items():
        d = decide(policies, req)
        (evidence if d.allowed else problems).append(f"{what}: {d.decision}" if not d.allowed
                                                     else f"{what}: allowed by {d.statement}")
    for what, req in deny.items():
        d = decide(policies, req)
        (problems if d.allowed else evidence).append(f"{what}: allowed by {d.statement}" if d.allowed
                                                     else f"{what}: {d.decision}")
    return Finding(not problems, f"{role} may do only its job (least privilege)",
                   f"allows {len(allow)} requests of its job, refuses {len(deny)} others",
                   "; ".join(problems) or "exactly its job", tuple(f"FAIL {p}" for p in problems) + tuple(evidence),
                   grade="model")


def job_role_rights(r: Resolver, env: Environment) -> Finding:
    """The CronJob's role: put objects under the environment's prefix, encrypt with the backup key; no more."""
    roles = iam_roles.roles(r.t, r)
    if JOB_ROLE not in roles:
        return Finding(False, f"{JOB_ROLE} may do only its job (least privilege)", "the role", "no such role",
                       (f"FAIL no role {JOB_ROLE} in backup.yaml",), grade="static")
    a, p = _arns(r, env), roles[JOB_ROLE]["policies"]
    allow = {"put a set under its prefix": Request("s3:PutObject", (a["own"],)),
             "a data key of the backup key": Request("kms:GenerateDataKey", (a["key"],)),
             "encrypt with the backup key": Request("kms:Encrypt", (a["key"],)),
             "resolve the backup key's alias": Request("kms:DescribeKey", (a["key"],))}
    deny = {"put under another environment's prefix": Request("s3:PutObject", (a["other_env"],)),
            "put outside the prefix": Request("s3:PutObject", (a["elsewhere"],)),
            "read a set": Request("s3:GetObject", (a["own"],)),
            "delete a set": Request("s3:DeleteObject", (a["own"],)),
            "delete a version": Request("s3:DeleteObjectVersion", (a["own"],)),
            "list the bucket": Request("s3:ListBucket", (a["bucket"],)),
            "change the bucket policy": Request("s3:PutBucketPolicy", (a["bucket"],)),
            "change the lifecycle": Request("s3:PutLifecycleConfiguration", (a["bucket"],)),
            "decrypt with the backup key": Request("kms:Decrypt", (a["key"],)),
            "use another key": Request("kms:GenerateDataKey", (a["other_key"],)),
            "disable the key": Request("kms:DisableKey", (a["key"],))}
    return _rights(JOB_ROLE, p, allow, deny)


def drill_role_rights(r: Resolver, env: Environment) -> Finding:
    """The drill's role: list and read the environment's prefix, decrypt with the backup key; no more."""
    roles = iam_roles.roles(r.t, r)
    if DRILL_ROLE not in roles:
        return Finding(False, f"{DRILL_ROLE} may do only its job (least privilege)", "the role", "no such role",
                       (f"FAIL no role {DRILL_ROLE} in backup.yaml",), grade="static")
    a, p = _arns(r, env), roles[DRILL_ROLE]["policies"]
    allow = {"list its prefix": Request("s3:ListBucket", (a["bucket"],), {"s3:prefix": a["own_prefix"]}),
             "read a set": Request("s3:GetObject", (a["own"],)),
             "decrypt with the backup key": Request("kms:Decrypt", (a["key"],)),
             "resolve the backup key's alias": Request("kms:DescribeKey", (a["key"],))}
    deny = {"list the whole bucket": Request("s3:ListBucket", (a["bucket"],), {"s3:prefix": ""}),
            "read another environment's set": Request("s3:GetObject", (a["other_env"],)),
            "read outside the prefix": Request("s3:GetObject", (a["elsewhere"],)),
            "put a set": Request("s3:PutObject", (a["own"],)),
            "delete a set": Request("s3:DeleteObject", (a["own"],)),
            "delete a version": Request("s3:DeleteObjectVersion", (a["own"],)),
            "change the bucket policy": Request("s3:PutBucketPolicy", (a["bucket"],)),
            "encrypt with the backup key": Request("kms:Encrypt", (a["key"],)),
            "decrypt with another key": Request("kms:Decrypt", (a["other_key"],)),
            "describe the cluster": Request("eks:DescribeCluster", ("*",)),
            "read the app's parameters": Request("ssm:GetParameter", ("*",))}
    return _rights(DRILL_ROLE, p, allow, deny)


def job_role_trust(r: Resolver, namespace: str, service_account: str) -> Finding:
    """The CronJob's role trusts exactly its ServiceAccount through the cluster's OIDC provider."""
    roles = iam_roles.roles(r.t, r)
    subject = f"{JOB_ROLE} trusts only {namespace}/{service_account} (IRSA)"
    if JOB_ROLE not in roles:
        return Finding(False, subject, "the role", "no such role", (f"FAIL no role {JOB_ROLE}",), grade="static")
    host = r.ref("ClusterOidcIssuerUrl").split("//", 1)[-1]
    provider = f"arn:aws:iam::{r.refs['AWS::AccountId']}:oidc-provider/{host}"
    own = f"system:serviceaccount:{namespace}:{service_account}"
    others = {"another service account": f"system:serviceaccount:{namespace}:default",
              **{f"the app's {d}": f"system:serviceaccount:{namespace}:{d}"
                 for d in config.settings()["kubernetes"]["deployments"]},
              "another namespace": f"system:serviceaccount:kube-system:{service_account}"}
    return _trust(JOB_ROLE, roles[JOB_ROLE]["trust"], host, provider, own, others, "sts.amazonaws.com", subject)


def drill_role_trust(r: Resolver) -> Finding:
    """The drill role admits only the drill job's environment subject (never the deploy or verify job's)."""
    gh = config.settings()["github"]
    roles = iam_roles.roles(r.t, r)
    subject = f"{DRILL_ROLE} trusts only {gh['drill_subject']}"
    if DRILL_ROLE not in roles:
        return Finding(False, subject, "the role", "no such role", (f"FAIL no role {DRILL_ROLE}",), grade="static")
    host, repo = gh["oidc_issuer"], gh["repository"]
    provider = f"arn:aws:iam::{r.refs['AWS::AccountId']}:oidc-provider/{host}"
    others = {"the deploy job": gh["deploy_subject"], "the verification job": gh["verify_subject"],
              "a pull request": f"repo:{repo}:pull_request", "the main branch": f"repo:{repo}:ref:refs/heads/main",
              "a fork": gh["drill_subject"].replace(f"repo:{repo}:", "repo:someone/fork:")}
    return _trust(DRILL_ROLE, roles[DRILL_ROLE]["trust"], host, provider, gh["drill_subject"], others,
                  gh["oidc_audience"], subject)


def _trust(role, trust, host, provider, own, others, aud, subject) -> Finding:
    problems, evidence = [], []
    if not evaluate_trust(trust, {"sub": own, "aud": aud}, host, provider).ok:
        problems.append(f"refuses its own subject {own}")
    else:
        evidence.append(f"admits {own} (aud {aud})")
    probes = {**{k: {"sub": v, "aud": aud} for k, v in others.items()},
              "another audience": {"sub": own, "aud": "sts.example.com"}, "no audience": {"sub": own}}
    for what, claims in probes.items():
        if evaluate_trust(trust, claims, host, provider).ok:
            problems.append(f"admits {what} ({claims['sub']}, aud {claims.get('aud', '-')})")
    for st in as_list(trust.get("Statement", [])):
        if st.get("Effect") == "Allow" and set(st.get("Condition", {})) - {"StringEquals"}:
            problems.append(f"condition operators {sorted(st['Condition'])} (only StringEquals)")
    return Finding(not problems, subject, f"only {own}, audience {aud}", "; ".join(problems) or "only its subject",
                   tuple(f"FAIL {p}" for p in problems) + tuple(evidence), grade="model")


def template_check(env: Environment, target=None) -> Finding:
    """Every check of backup.yaml: the bucket's properties, both roles' rights and trust, no over-broad policy."""
    from ..aws import gaps as target_gaps

    r = rendered(env)
    s = config.settings()
    return combine("the backup stack (backup.yaml)", [
        versioning(r), encryption(r), public_access_blocked(r), bucket_policy(r), lifecycle(r),
        trust_checks.no_admin(r.t, r, "backup.yaml", target_gaps.named(target, "iam-simulation")),
        job_role_rights(r, env), drill_role_rights(r, env),
        job_role_trust(r, s["kubernetes"]["namespace"], s["backup"]["service_account"]),
        drill_role_trust(r),
    ])


def unverifiable_here(subject: str, expected: str, gaps) -> Finding:
    return unverifiable(subject, expected, f"the endpoint cannot show it: {gaps[0]}", gaps=tuple(gaps))


def _client_error(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


# -- read back from the bucket (live; unverifiable where the endpoint cannot show it) -----------------


def _read(call, missing_codes: tuple[str, ...]):
    """The answer of one Get*, or None when the bucket has no such configuration."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if _client_error(exc) in missing_codes:
            return None
        raise


def bucket_as_configured(target, env: Environment) -> Finding:
    """The backup bucket's versioning, encryption, public access block, policy and lifecycle, read from S3
    (and the key's rotation from KMS), judged by the same predicates as the template."""
    from ..aws import clients
    from ..aws.stack_api import outputs

    out = outputs(target, env, STACK)
    bucket, key = out.get("BackupBucketName"), out.get("BackupKeyArn")
    grade = target.grade("aws")
    if not bucket:
        return Finding(False, "backup bucket as configured", "the backup stack's bucket",
                       f"stack {env.stack_name(STACK)} has no bucket (not applied?)", grade=grade)
    s3, kms = clients.client(target, "s3"), clients.client(target, "kms")
    days = config.settings()["backup"]["retention_days"]
    parts = []
    ver = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    parts.append(("versioning", [] if ver == "Enabled" else [f"versioning is {ver or 'off'}"], GAP_BUCKET))
    enc = _read(lambda: s3.get_bucket_encryption(Bucket=bucket), ("ServerSideEncryptionConfigurationNotFoundError",))
    rule = ((enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}])[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    problems = [] if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID") == key else [
        f"default encryption {default.get('SSEAlgorithm') or 'none'} with {default.get('KMSMasterKeyID') or '-'}, "
        f"not aws:kms with {key}"]
    if key and not kms.get_key_rotation_status(KeyId=key).get("KeyRotationEnabled"):
        problems.append(f"key {key} rotation is off")
    parts.append(("encryption", problems, ""))
    pab = _read(lambda: s3.get_public_access_block(Bucket=bucket), ("NoSuchPublicAccessBlockConfiguration",))
    parts.append(("public access block", public_access_problems((pab or {}).get("PublicAccessBlockConfiguration")
                                                                or {}), GAP_BUCKET))
    pol = _read(lambda: s3.get_bucket_policy(Bucket=bucket), ("NoSuchBucketPolicy",))
    parts.append(("policy", ["no bucket policy"] if pol is None else
                  policy_problems(json.loads(pol["Policy"]), f"arn:aws:s3:::{bucket}", key)[0], GAP_POLICY))
    lc = _read(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), ("NoSuchLifecycleConfiguration",))
    parts.append(("lifecycle", lifecycle_problems((lc or {}).get("Rules") or [], _prefix(), days), GAP_BUCKET))
    found = []
    for what, problems, gap_key in parts:
        subject = f"backup bucket {bucket}: {what} (read back)"
        gap = target.gap(gap_key) if gap_key else None
        if problems and gap:  # the endpoint never applied it: it cannot show whether the template's would hold
            found.append(unverifiable_here(subject, "as the template says", (gap,)).graded(grade))
        else:
            found.append(Finding(not problems, subject, "as the template says", "; ".join(problems) or "as configured",
                                 tuple(f"FAIL {p}" for p in problems), grade=grade))
    return combine(f"backup bucket {bucket} as configured", found)
