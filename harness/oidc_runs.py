"""Workflow runs for the OIDC scenarios: where a run's ID token comes from, and the verdicts of property P1.

Offline the local issuer mints the tokens GitHub would send; live only a
GitHub Actions run can get one. Test-side only: the user's CLI never mints tokens.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import requests

from provision import config, errors
from provision.aws import gaps as target_gaps
from provision.aws.sts import STS_GAP, Exchange, check_expiry
from provision.findings import Finding, combine, failed, passed, weakest

NO_ACTIONS_TOKEN = "needs a GitHub Actions run's OIDC token"


@dataclass(frozen=True)
class Issuer:
    url: str
    local: dict | None = field(default=None, repr=False)  # offline: key file and kid for minting


def issuer(target, environ: dict | None = None) -> Issuer:
    """The target's OIDC issuer; live, only a GitHub Actions run can get a token from it."""
    if target.oidc_issuer_url and "oidc" in target.local:
        return Issuer(target.oidc_issuer_url, target.local["oidc"])
    env = os.environ if environ is None else environ
    if not (env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")):
        raise errors.TargetUnavailable(NO_ACTIONS_TOKEN)
    return Issuer(f"https://{config.settings()['github']['oidc_issuer']}")


def workflow_token(iss: Issuer, ref: str = "refs/heads/main", **claims) -> str:
    """A run's ID token: offline minted by the local issuer; live requested from GitHub."""
    if iss.local is not None:
        from provision.local import oidc as local_oidc
        return local_oidc.mint(iss.local, {**local_oidc.run_claims(iss.url, ref), **claims})
    aud = config.settings()["github"]["oidc_audience"]
    r = requests.get(os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"], params={"audience": aud},
                     headers={"Authorization": f"Bearer {os.environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"}, timeout=30)
    r.raise_for_status()
    return r.json()["value"]


NOT_THIS_JOB = "the token of {workflow}/{job} exists only in that job's own run (this run is {running})"


def job_token(iss: Issuer, workflow: str, job_id: str, ref: str = "refs/heads/main",
              environ: dict | None = None) -> str:
    """The token GitHub gives job `job_id` of `workflow` on `ref`: offline minted with the claims GitHub
    would send that job (its GitHub environment's subject when it names one); live only in that very job."""
    from provision.aws.workflow_trust import job_claims

    if iss.local is None:
        env = os.environ if environ is None else environ
        running = f"{env.get('GITHUB_WORKFLOW_REF', '?')}/{env.get('GITHUB_JOB', '?')}"
        if env.get("GITHUB_JOB") != job_id or f"/{workflow}@" not in env.get("GITHUB_WORKFLOW_REF", ""):
            raise errors.TargetUnavailable(NOT_THIS_JOB.format(workflow=workflow, job=job_id, running=running))
        return workflow_token(iss, ref)
    # A job of a GitHub environment: GitHub's sub is the environment's whatever the ref.
    in_environment = next((c for c in job_claims(workflow, job_id) if c.get("environment")), {})
    return workflow_token(iss, ref, **in_environment)


def judge_run(ex: Exchange, allowed: bool, max_seconds: int) -> Finding:
    """One generated run of property P1: allowed runs get short-lived credentials, others nothing."""
    if allowed:
        if ex.credentials is None:
            return failed("allowed run", "credentials", ex.finding.actual, evidence=ex.finding.evidence,
                          grade=ex.finding.grade)
        return combine("allowed run", [ex.finding, check_expiry(ex.credentials, max_seconds)])
    if ex.credentials is not None or ex.sts_called:
        return failed("refused run", "no credentials, STS never asked",
                      f"credentials: {ex.credentials is not None}, STS asked: {ex.sts_called}", grade=ex.finding.grade)
    return passed("refused run", "no credentials", ex.finding.actual, grade=ex.finding.grade)


def property_result(target, seen: list[tuple[bool, Finding]], failures: list[str], n: int) -> Finding:
    """Property P1 over the generated runs: enough examples, both kinds, no counterexample."""
    allowed = sum(1 for a, _ in seen if a)
    refused_ = len(seen) - allowed
    reasons = sorted({f.actual.split(": ", 1)[-1][:70] for a, f in seen if not a})
    problems = list(failures)
    if len(seen) < n:
        problems.append(f"only {len(seen)} examples ran")
    if not allowed or not refused_:
        problems.append("the generated runs did not cover both allowed and refused runs")
    gaps = tuple(dict.fromkeys(g for _, f in seen for g in f.gaps)) or target_gaps.named(target, STS_GAP)
    return Finding(not problems, "P1: only runs the trust policy allows obtain credentials",
                   f">= {n} runs, allowed ones get <= session_seconds credentials, others none",
                   f"{len(seen)} runs: {allowed} allowed got credentials, {refused_} refused"
                   + (f"; counterexample: {'; '.join(problems)}" if problems else ""),
                   evidence=tuple(problems) + tuple(f"refused: {r}" for r in reasons), gaps=gaps,
                   grade=weakest(f.grade for _, f in seen))

