"""The rehearsal's world, made as it will be made live: before the nightly
scenarios run, the operator applies the stacks and bootstraps the cluster once
(docs/deployment-guide.md), then the deploy workflow's own CLI steps deploy a
commit, exactly as the workflow writes them (provision/ci/offline_run.py).

Each phase returns Findings, so a rehearsal that cannot even set up shows why
in its report instead of failing every scenario for one hidden reason.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

import boto3

from harness import oidc_runs
from provision import config
from provision.aws import clients, stacks, sts
from provision.ci import offline_run
from provision.ci import workflow_model as model
from provision.config import Environment, Target
from provision.dns import origin_ca
from provision.findings import Finding, combine, failed, passed
from provision.kube import bootstrap

DEPLOY_WORKFLOW = "deploy-aws-eks.yml"
DEPLOY_JOB = "deploy"
VERIFY_WORKFLOW = "verify-live.yml"
VERIFY_JOB = "verify"


@dataclass(frozen=True)
class Identity:
    """What one workflow job holds: AWS credentials, a kubeconfig, a Cloudflare token (environment variables)."""

    name: str
    environ: dict = field(repr=False)  # holds the session's credentials and token: never shown


def operator(target: Target) -> Identity:
    """The person who applies the stacks before the first deploy: the gate's operator key, cluster-admin."""
    op = (target.local.get("aws_gate") or {}).get("operator")
    env = {"AWS_ACCESS_KEY_ID": op["access_key_id"], "AWS_SECRET_ACCESS_KEY": op["secret_access_key"]} if op else {}
    return Identity("operator", {**env, "KUBECONFIG": target.kubeconfig or ""})


def job(target: Target, workflow: str, job_id: str, role: str, token_name: str) -> Identity:
    """A workflow job's rights: its role's session (OIDC exchange with the claims GitHub sends that job),
    the EKS-shaped kubeconfig (IAM-authenticated through the access entries) and its Cloudflare token."""
    token = oidc_runs.job_token(oidc_runs.issuer(target), workflow, job_id)
    role_arn = sts.role_arn(target, Environment.named("dev"), role)
    creds = sts.exchange(target, role_arn, token)
    eks = (target.local.get("controlplane") or {}).get("eks_kubeconfig") or target.kubeconfig or ""
    cf = ((target.local.get("edge") or {}).get("cloudflare_tokens") or {}).get(token_name, "")
    return Identity(f"{workflow}/{job_id}", {
        "AWS_ACCESS_KEY_ID": creds.access_key_id, "AWS_SECRET_ACCESS_KEY": str(creds.secret_access_key),
        "AWS_SESSION_TOKEN": str(creds.session_token), "KUBECONFIG": eks, "CLOUDFLARE_API_TOKEN": cf})


def become(identity: Identity) -> None:
    """Make this process call AWS, the cluster and Cloudflare as `identity` (boto3 keeps the first
    credentials it finds: its default session and the shared clients are made anew)."""
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(k, None)
    os.environ.update({k: v for k, v in identity.environ.items() if v})
    boto3.setup_default_session()
    clients._shared.cache_clear()


def operator_steps(target: Target, env: Environment, sha: str, progress) -> list[Finding]:
    """What a person does once before the first deploy: stacks, cluster identity, secret source."""
    out = []
    if target.gap("AWS::IAM::OIDCProvider"):
        # moto's CloudFormation ignores the iam stack's OIDC provider: the operator makes it first, and the
        # stacks refer to it by ARN, as in an account that already has GitHub's provider (github.oidc_provider)
        gh = config.settings()["github"]
        iam = clients.client(target, "iam")
        arn = next((p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
                    if p["Arn"].endswith(f":oidc-provider/{gh['oidc_issuer']}")), None)
        arn = arn or iam.create_open_id_connect_provider(
            Url=f"https://{gh['oidc_issuer']}", ClientIDList=[gh["oidc_audience"]])["OpenIDConnectProviderArn"]
        env = Environment.named(env.name, overrides={"oidc_provider": arn})
    results = stacks.up(target, env, progress)
    out.append(passed("the operator applied the stacks", f"{len(env.settings)} settings", "; ".join(
        r.line() for r in results), grade=target.grade("aws")))
    # Identity, the app's Namespace (its Pod Security labels), the cluster overlay and what the target declares it
    # cannot provide itself: `provision cluster bootstrap --env <env>` (the deploy role may not write them).
    out.append(combine("the operator bootstrapped the cluster", bootstrap.run(target, env, progress).findings))
    # The origin certificate Cloudflare's SSL mode strict verifies, with the operator's Cloudflare token
    # (SSL and Certificates Edit): `provision dns origin-cert --env <env>`.
    out.append(origin_ca.provisioned(target.with_(cloudflare_token=config.Secret(
        target.local["edge"]["cloudflare_tokens"]["operator"])), env.name, progress))
    return out


def deploy_job(target: Target, sha: str, identity: Identity | None = None) -> Finding:
    """The deploy workflow's provision steps, as written, for a push of `sha`, with the job's rights."""
    wf = model.workflow(DEPLOY_WORKFLOW)
    env = {**target.env(), "GITHUB_RUN_ID": "4242", **(identity.environ if identity else {})}
    # The repository's secrets and variables as the operator set them for this job (docs/workflows.md).
    ctx = {**offline_run.context(sha), "secrets.CLOUDFLARE_DNS_TOKEN": env.get("CLOUDFLARE_API_TOKEN", ""),
           "vars.CLOUDFLARE_ZONE_ID": target.cloudflare_zone}
    runs, others = offline_run.run_job(wf, DEPLOY_JOB, env, ctx, cluster=Environment.named("dev").cluster_name)
    return offline_run.judge(runs, others).graded(target.grade("kube"))


def prepare(target: Target, progress=lambda m: None) -> list[Finding]:
    """Make the rehearsal's world as the operator, then run the deploy job with the deploy role's rights;
    the process is left acting as the nightly job (the verify role). The last Finding is the deploy job's."""
    env = Environment.named("dev")
    sha = secrets.token_hex(20)
    become(operator(target))
    try:
        found = operator_steps(target, env, sha, progress)
    except Exception as exc:  # noqa: BLE001 - reported as what it is, with its type
        return [failed("the operator's steps before the first deploy", "stacks applied, cluster bootstrapped",
                       f"{type(exc).__name__}: {exc}")]
    try:
        deployer = job(target, DEPLOY_WORKFLOW, DEPLOY_JOB, "DeployRole", "deploy")
        nightly = job(target, VERIFY_WORKFLOW, VERIFY_JOB, "VerifyRole", "verify")
    except Exception as exc:  # noqa: BLE001
        return [*found, failed("the workflow jobs' identities", "deploy and verify sessions through OIDC",
                               f"{type(exc).__name__}: {exc}")]
    result = deploy_job(target, sha, deployer)
    become(nightly)
    return [*found, result]


def judge_writes(gate_log: list[dict], audit_writes: list[dict], cloudflare_log: list[dict], role_name: str,
                 token_name: str = "verify") -> Finding:
    """The nightly job's identity made no write: not to AWS (the gate's log), the cluster (kube-apiserver's
    audit log, refused requests included) nor Cloudflare (the stand-in's log). Pure: judged on the logs."""
    aws = [r for r in gate_log if r.get("write") and f"assumed-role/{role_name}/" in str(r.get("identity"))]
    cf = [r for r in cloudflare_log if r.get("write") and r.get("token") == token_name]
    bad = ([f"FAIL AWS: {r.get('action')} {r.get('resources')} ({r.get('decision')})" for r in aws]
           + [f"FAIL cluster: {e.get('verb')} {e.get('requestURI')}" for e in audit_writes]
           + [f"FAIL Cloudflare: {r.get('method')} {r.get('path')}" for r in cf])
    seen = (f"{len(gate_log)} AWS requests, {len(cloudflare_log)} Cloudflare requests read; "
            f"{len(aws) + len(audit_writes) + len(cf)} writes by the nightly identities")
    subject = "the nightly run wrote nothing to AWS, the cluster or Cloudflare"
    if bad:
        return failed(subject, "no write by the verify role, its access entry or the verify token", seen, bad,
                      grade="emulated")
    return passed(subject, "no write by the verify role, its access entry or the verify token", seen,
                  grade="emulated")


def nightly_writes(target: Target) -> Finding:
    """`judge_writes` on this rehearsal's three request logs, for the nightly job's identities."""
    return writes_by(target, sts.role_arn(target, Environment.named("dev"), "VerifyRole").rsplit("/", 1)[-1])


def writes_by(target: Target, role: str, token_name: str = "verify") -> Finding:
    """`judge_writes` on this rehearsal's three request logs, for the sessions of `role` (its access entry's
    username in the audit log) and the Cloudflare token named `token_name`."""
    import json as _json
    from pathlib import Path

    from provision.local import aws_gate, controlplane_strict

    gate = aws_gate.read_log(target.local["aws_gate"]["request_log"])
    prefix = f"arn:aws:sts::{target.account_id}:assumed-role/{role}/"
    audit = controlplane_strict.writes(Path(target.local["controlplane"]["audit_log"]), prefix=prefix)
    cf_path = Path(target.local["edge"]["cloudflare_request_log"])
    cf = [_json.loads(x) for x in cf_path.read_text().splitlines() if x.strip()] if cf_path.exists() else []
    return judge_writes(gate, audit, cf, role, token_name)
