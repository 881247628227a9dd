"""Static checks of the IAM template (provision/cloudformation/iam.yaml): least privilege and the roles' trust.

Least privilege is read (own rules and parliament: static); the trust is
judged by its shape and by the harness's IAM evaluator on probe tokens (model).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import config, errors, findings
from ..config import Environment
from ..findings import Finding, combine, graded
from . import iam_roles
from .cfn import load, parameters
from .iam_eval import as_list, evaluate_trust

UNKNOWN_ROLE = "unknown role {role!r}: expected one of {known}"


def _resolved(path: Path | None, env: Environment | None):
    return parameters.iam_resolver(env or Environment.named("dev"), path)


def check_no_admin(path: Path = load.IAM_TEMPLATE, env: Environment | None = None, gaps=()) -> Finding:
    """No Allow statement grants a wildcard action on a wildcard resource; parliament finds nothing."""
    t, r = _resolved(path, env)
    return no_admin(t, r, Path(path).name, gaps)


def no_admin(t: dict, r, name: str, gaps=(), lint: bool = True) -> Finding:
    """check_no_admin on a loaded template and its resolver (provision check: anyone's template; there
    `lint=False`, parliament's RESOURCE_STAR on published controller policies is not a finding)."""
    from parliament import analyze_policy_string

    bad, linted = [], []
    policies = iam_roles.permission_policies(t, r)
    for where, doc in policies.items():
        for st in as_list(doc.get("Statement", [])):
            if st.get("Effect") != "Allow":
                continue
            resources = as_list(st.get("Resource", []))
            if "NotAction" in st or "NotResource" in st:
                bad.append(f"{where}: Allow with NotAction/NotResource")
            elif any(a in ("*", "*:*") for a in as_list(st.get("Action", []))) and "*" in resources:
                bad.append(f"Action * on * in {where}")
        for f in analyze_policy_string(json.dumps(doc)).findings if lint else ():
            linted.append(f"{where}: parliament {f.issue} {f.detail or ''}".strip())
    problems = bad + linted
    return Finding(
        not problems,
        f"IAM policies of {name}",
        "no Action * on *, no parliament finding",
        "; ".join(problems) or f"{len(policies)} policies, none over-broad",
        evidence=tuple(problems) or tuple(policies),
        gaps=tuple(gaps),
        grade="static",
    )


def _probe_claims(subject: str, audience: str, **over) -> dict:
    return {"sub": subject, "aud": audience, **over}


def _conditions(trust: dict, host: str) -> tuple[list[str], list, list]:
    """Shape problems of the principals, and the (operator, value) pairs on <host>:sub and <host>:aud."""
    shape, subs, auds = [], [], []
    for st in as_list(trust.get("Statement", [])):
        if st.get("Effect") != "Allow":
            continue
        principal = st.get("Principal")
        fed = as_list((principal or {}).get("Federated", [])) if isinstance(principal, dict) else ["*"]
        if not all(f.endswith(f":oidc-provider/{host}") for f in fed):
            shape.append(f"principal {fed} is not the {host} provider")
        for op, block in st.get("Condition", {}).items():
            for key, vals in block.items():
                k = key.lower()
                if k == f"{host}:sub".lower():
                    subs += [(op, v) for v in as_list(vals)]
                elif k == f"{host}:aud".lower():
                    auds += [(op, v) for v in as_list(vals)]
    return shape, subs, auds


def check_trust(
    path: Path = load.IAM_TEMPLATE,
    env: Environment | None = None,
    role: str = "DeployRole",
    subject_key: str = "deploy_subject",
) -> Finding:
    """The role's trust admits only the main-branch subject, and only with the audience.

    Two views: the shape (StringEquals on <issuer>:aud and <issuer>:sub, no
    wildcard) and the behaviour (the IAM evaluator admits the subject and
    refuses forks, pull requests, other branches and other audiences).
    """
    gh = config.settings()["github"]
    host, aud, want_sub = gh["oidc_issuer"], gh["oidc_audience"], gh[subject_key]
    t, r = _resolved(path, env)
    rs = iam_roles.roles(t, r)
    if role not in rs:
        raise errors.BadInput(UNKNOWN_ROLE.format(role=role, known=", ".join(rs)))
    trust = rs[role]["trust"]
    shape, subs, auds = _conditions(trust, host)
    if not auds:
        shape.append(f"no condition on {host}:aud: any audience is accepted")
    for op, v in auds:
        if op != "StringEquals" or v != aud:
            shape.append(f"aud condition {op} {v!r} (expected StringEquals {aud!r})")
    if not subs:
        shape.append(f"no condition on {host}:sub: any repository and branch is accepted")
    for op, v in subs:
        if v != want_sub or op not in ("StringEquals", "StringLike") or any(c in v for c in "*?"):
            shape.append(f"sub condition {op} admits {v!r} (expected only {want_sub!r})")
    provider_arn = f"arn:aws:iam::{r.refs['AWS::AccountId']}:oidc-provider/{host}"
    repo = gh["repository"]
    behaviour = []
    refuse = {
        "a fork": _probe_claims(want_sub.replace(f"repo:{repo}:", "repo:someone/fork:"), aud),
        "a pull request": _probe_claims(f"repo:{repo}:pull_request", aud),
        "another branch": _probe_claims(f"repo:{repo}:ref:refs/heads/dev", aud),
        "a tag": _probe_claims(f"repo:{repo}:ref:refs/tags/v1.0.0", aud),
        "an environment": _probe_claims(f"repo:{repo}:environment:prod", aud),
        "another audience": _probe_claims(want_sub, "sts.example.com"),
        "no audience": {"sub": want_sub},
    }
    # The other role's job: the verification job must never get the deploy role, nor the reverse.
    for key, what in (("deploy_subject", "the deploy job"), ("verify_subject", "the verification job"),
                      ("drill_subject", "the restore drill job")):
        if key != subject_key and gh.get(key):
            refuse[what] = _probe_claims(gh[key], aud)
    if evaluate_trust(trust, _probe_claims(want_sub, aud), host, provider_arn).ok is False:
        behaviour.append(f"refuses {want_sub} with aud {aud}")
    for what, claims in refuse.items():
        if evaluate_trust(trust, claims, host, provider_arn).ok:
            behaviour.append(f"admits {what} ({claims.get('sub')}, aud {claims.get('aud', '-')})")
    problems = shape + behaviour
    return Finding(
        not problems,
        f"trust policy of {role} in {Path(path).name}",
        f"only {want_sub} with aud {aud}",
        "; ".join(problems) or "only its own subject, audience required",
        evidence=tuple(problems) or (json.dumps(trust),),
        gaps=(),
        grade="model",
    )


def caught(finding: Finding, naming: str) -> Finding:
    """A check that had to come out red did, and its evidence names `naming`."""
    return findings.caught(finding, naming, case_sensitive=True)


def check_template(path: Path = load.IAM_TEMPLATE, env: Environment | None = None, gaps=()) -> Finding:
    """The whole IAM check: least privilege, and both roles' trust."""
    from .workflow_trust import jobs_assume_only_their_roles

    return combine(
        f"IAM template {Path(path).name}",
        [
            check_no_admin(path, env, gaps),
            check_trust(path, env, "DeployRole", "deploy_subject"),
            check_trust(path, env, "VerifyRole", "verify_subject"),
            jobs_assume_only_their_roles(iam_path=path, env=env),
            subjects_match_repository(),
            oidc_provider_setting(path=path),
        ],
    )


REPOSITORY = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$")


@graded("static")
def subjects_match_repository(gh: dict | None = None) -> Finding:
    """Every subject starts with `repo:<github.repository>:` in exactly its case (IAM compares the sub
    case-sensitively; GitHub sends the repository's real owner/name case), the verification and drill
    subjects are the environment subjects of github.verify_environment and github.drill_environment, and
    the three subjects are distinct."""
    gh = gh or config.settings()["github"]
    repo = str(gh.get("repository", ""))
    problems = [] if REPOSITORY.match(repo) else [f"FAIL github.repository {repo!r} is not owner/name"]
    for key in ("deploy_subject", "verify_subject", "drill_subject"):
        if key == "drill_subject" and key not in gh:
            continue
        sub = str(gh.get(key, ""))
        prefix = f"repo:{repo}:"
        if sub.startswith(prefix):
            continue
        if sub.lower().startswith(prefix.lower()):
            problems.append(f"FAIL github.{key} {sub!r}: the repository's case differs from github.repository "
                            f"{repo!r} (IAM compares the sub case-sensitively)")
        else:
            problems.append(f"FAIL github.{key} {sub!r} does not start with {prefix!r}")
    for job in ("verify", "drill"):   # a job in a GitHub environment gets that environment's subject
        want = f"repo:{repo}:environment:{gh.get(f'{job}_environment', '')}"
        if gh.get(f"{job}_environment") and gh.get(f"{job}_subject") != want:
            problems.append(f"FAIL github.{job}_subject {gh.get(f'{job}_subject')!r} is not {want!r}, the sub "
                            f"GitHub sends a job of github.{job}_environment")
    subs = [gh.get(k) for k in ("deploy_subject", "verify_subject", "drill_subject") if gh.get(k)]
    if len(set(subs)) != len(subs):
        problems.append(f"FAIL the deploy, verify and drill subjects are not distinct ({subs}): one job could "
                        "assume another's role")
    return Finding(not problems, "the trust subjects name github.repository in its exact case (settings)",
                   f"repo:{repo}:... in exactly this case", "; ".join(p.removeprefix("FAIL ") for p in problems)
                   or "every subject matches", tuple(problems) or (f"repository {repo}",))


@graded("static")
def oidc_provider_setting(gh: dict | None = None, account_id: str | None = None,
                          path: Path = load.IAM_TEMPLATE) -> Finding:
    """github.oidc_provider is `create` (only the oidc_provider_env's iam stack creates the provider) or
    the ARN of the account's existing GitHub provider (no iam stack creates one; every trust names it)."""
    s = config.settings()
    gh = gh or s["github"]
    account_id = account_id or s["aws"]["account_id"]
    value = str(gh.get("oidc_provider", ""))
    arn = f"arn:aws:iam::{account_id}:oidc-provider/{gh['oidc_issuer']}"
    problems, evidence = [], []
    if value not in ("create", arn):
        problems.append(f"FAIL github.oidc_provider {value!r}: expected `create` or {arn!r}")
    else:
        for name in config.environments():
            t, r = parameters.iam_resolver(Environment.named(name), path, account_id, **(
                {} if value == "create" else {"ExistingOidcProviderArn": value}))
            creates = bool(r.conditions.get("CreateOidcProvider")) and "GitHubOidcProvider" in t["Resources"]
            owner = value == "create" and name == gh.get("oidc_provider_env")
            if creates != owner:
                problems.append(f"FAIL iam stack of {name} {'creates' if creates else 'does not create'} the "
                                f"provider with github.oidc_provider {value!r}")
            else:
                evidence.append(f"{name}: {'creates the provider' if creates else 'uses ' + arn}")
    return Finding(not problems, "the account's GitHub OIDC provider is created once or taken as it exists",
                   "`create` (by oidc_provider_env only) or the existing provider's ARN",
                   "; ".join(p.removeprefix("FAIL ") for p in problems) or value, tuple(problems + evidence))
