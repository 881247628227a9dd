"""Which workflow job can assume which role: each job's OIDC claims (as GitHub builds them) against each
role's trust (as IAM evaluates it, provision.aws.iam_eval).

A job gets an ID token only with `id-token: write`. Its `sub` follows GitHub's
default template: `repo:<owner>/<repo>:environment:<name>` when the job names a
GitHub environment, else `repo:<owner>/<repo>:pull_request` for pull requests,
else `repo:<owner>/<repo>:ref:<ref>` of the ref the run is on (the default
branch for schedule; any branch for workflow_dispatch). A job "owns" a role when
its configure-aws-credentials step assumes the role's repository variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..ci import workflow_model
from ..ci.workflow_checks import CREDENTIALS_ACTION, DEPLOY_ROLE_VAR, DRILL_ROLE_VAR, VERIFY_ROLE_VAR
from ..config import Environment
from ..findings import Finding, graded
from . import iam_roles
from .cfn import load, parameters
from .iam_eval import evaluate_trust

ROLE_VARS = {"DeployRole": DEPLOY_ROLE_VAR, "VerifyRole": VERIFY_ROLE_VAR, "DrillRole": DRILL_ROLE_VAR}
# Roles of other stacks than iam.yaml: the restore drill's (provision/cloudformation/backup.yaml).
OTHER_STACK_ROLES = {"DrillRole": "backup"}
DEFAULT_BRANCH = "refs/heads/main"  # GitHub's default branch of the repository (schedule runs there)
OTHER_BRANCH = "refs/heads/feature-x"  # a dispatch or push may run on any branch


@dataclass(frozen=True)
class Job:
    workflow: str
    job_id: str
    id_token: bool
    subjects: tuple[str, ...]  # every sub GitHub may send this job
    owns: tuple[str, ...]  # logical ids of the roles its credentials step assumes

    @property
    def name(self) -> str:
        return f"{self.workflow}/{self.job_id}"


def _environment(job: dict) -> str:
    env = job.get("environment")
    return str(env.get("name", "")) if isinstance(env, dict) else str(env or "")


def _id_token(wf: workflow_model.Workflow, job: dict) -> bool:
    perms = job["permissions"] if "permissions" in job else wf.doc.get("permissions")
    if perms == "write-all":
        return True
    return isinstance(perms, dict) and perms.get("id-token") == "write"


def _refs(triggers: dict) -> list[str]:
    refs: list[str] = []
    for event, spec in triggers.items():
        spec = spec if isinstance(spec, dict) else {}
        if event in ("pull_request", "pull_request_target"):
            refs.append("pull_request")
        elif event == "push":
            branches = spec.get("branches") or ([] if spec.get("tags") else ["*"])
            refs += [f"refs/heads/{b}" if "*" not in b else OTHER_BRANCH for b in branches]
            refs += [f"refs/tags/{t.replace('*', 'x')}" for t in spec.get("tags") or []]
        elif event in ("workflow_dispatch", "workflow_call"):
            refs += [DEFAULT_BRANCH, OTHER_BRANCH]
        else:  # schedule and the other events run on the default branch
            refs.append(DEFAULT_BRANCH)
    return list(dict.fromkeys(refs))


def subjects(wf: workflow_model.Workflow, job: dict, repository: str) -> tuple[str, ...]:
    """Every `sub` GitHub may send this job (pure)."""
    env = _environment(job)
    if env:
        return (f"repo:{repository}:environment:{env}",)
    return tuple(f"repo:{repository}:pull_request" if r == "pull_request" else f"repo:{repository}:ref:{r}"
                 for r in _refs(wf.triggers()))


def jobs(workflows: list[workflow_model.Workflow], repository: str) -> list[Job]:
    out = []
    for wf in workflows:
        for job_id, job in wf.jobs().items():
            job = job or {}
            owns = tuple(
                role
                for _, _, step in workflow_model.steps_using(wf, CREDENTIALS_ACTION, job_id)
                for role, var in ROLE_VARS.items()
                if var in str((step.get("with") or {}).get("role-to-assume", "")).replace(f"{var}_", "")
            )
            out.append(Job(wf.name, job_id, _id_token(wf, job), subjects(wf, job, repository), owns))
    return out


def job_claims(workflow: str, job_id: str, directory: Path = workflow_model.WORKFLOWS_DIR) -> list[dict]:
    """The claims overrides (sub and environment) of every token the named job may get, for minting."""
    gh = config.settings()["github"]
    wf = workflow_model.workflow(workflow, directory)
    job = wf.job(job_id)
    env = _environment(job)
    return [{"sub": s, **({"environment": env} if env else {})} for s in subjects(wf, job, gh["repository"])]


def other_stack_trusts(env: Environment, backup_path: Path | None = None) -> dict[str, dict]:
    """The trust policies of the workflow roles outside iam.yaml (the drill role of backup.yaml), resolved
    for `env`; `backup_path` is a (seeded) copy of backup.yaml."""
    from ..backup import bucket_checks

    r = bucket_checks.rendered(env, backup_path)
    roles = iam_roles.roles(r.t, r)
    return {lid: roles[lid]["trust"] for lid in OTHER_STACK_ROLES if lid in roles}


@graded("model")
def jobs_assume_only_their_roles(
    workflows_dir: Path = workflow_model.WORKFLOWS_DIR,
    iam_path: Path = load.IAM_TEMPLATE,
    env: Environment | None = None,
    backup_path: Path | None = None,
) -> Finding:
    """No job but a role's own job can satisfy the role's trust, and each role's job can (IAM's evaluation
    of each job's claims against each role's trust policy)."""
    gh = config.settings()["github"]
    t, r = parameters.iam_resolver(env or Environment.named("dev"), iam_path)
    trusts = {lid: role["trust"] for lid, role in iam_roles.roles(t, r).items() if lid in ROLE_VARS}
    trusts.update(other_stack_trusts(env or Environment.named("dev"), backup_path))
    found = jobs(workflow_model.committed(workflows_dir), gh["repository"])
    problems, evidence = [], []
    for lid, trust in trusts.items():
        owners = [j for j in found if lid in j.owns]
        if not owners:
            problems.append(f"FAIL no workflow job assumes {lid} (role-to-assume: vars.{ROLE_VARS[lid]})")
        for j in found:
            if not j.id_token:
                continue
            admitted = [s for s in j.subjects
                        if evaluate_trust(trust, {"sub": s, "aud": gh["oidc_audience"]}, gh["oidc_issuer"]).ok]
            if admitted and lid not in j.owns:
                problems.append(f"FAIL {j.name} can assume {lid} (sub {admitted[0]})")
            elif lid in j.owns and not admitted:
                problems.append(f"FAIL {j.name} cannot assume its own role {lid} (sub {', '.join(j.subjects)})")
            elif admitted:
                evidence.append(f"{j.name} assumes {lid} (sub {admitted[0]})")
    evidence += [f"{j.name}: no id-token: write, no token" for j in found if not j.id_token]
    return Finding(not problems, "each role's trust admits only its own workflow job (workflow claims x trust)",
                   ", ".join(f"{lid} only by the job assuming vars.{v}" for lid, v in ROLE_VARS.items()),
                   "; ".join(p.removeprefix("FAIL ") for p in problems) or "each role by its own job only",
                   tuple(problems + evidence))
