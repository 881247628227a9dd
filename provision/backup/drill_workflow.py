"""The nightly restore drill's job in verify-live.yml (`drill`): its own GitHub environment and role, a
PostgreSQL service container to restore into, `provision backup drill`, and no access to the cluster."""
from __future__ import annotations

import shlex

from .. import config
from ..ci.workflow_checks import DRILL_ROLE_VAR, OIDC_PERMISSIONS, oidc_credentials
from ..ci.workflow_model import Workflow, run_lines
from ..findings import STATIC, Finding, failed, graded, passed
from ..kube.objects import image_is_pinned, image_repository

JOB = "drill"
SERVICE = "postgres"
# What would give the job the cluster: a kubeconfig, kubectl, or a runner inside the VPC.
CLUSTER_WORDS = ("update-kubeconfig", "KUBECONFIG", "kubectl")


def _drill_lines(wf: Workflow) -> list[tuple[dict, str]]:
    return [(s, ln) for j, _, s in wf.steps() if j == JOB for ln in run_lines(s)]


def _service_problems(job: dict) -> list[str]:
    svc = (job.get("services") or {}).get(SERVICE)
    if not isinstance(svc, dict):
        return [f"no `services: {SERVICE}:` container to restore into (the drill never touches the app's database)"]
    image = str(svc.get("image", ""))
    want = config.settings()["images"]["postgres"]
    out = []
    if image_repository(image) != want or not image_is_pinned(image):
        out.append(f"service {SERVICE} image {image!r} is not a pinned tag or digest of {want}")
    return out


def _command_problems(wf: Workflow, job: dict) -> list[str]:
    env = config.settings()["github"].get("nightly_environment", "dev")
    drills = [(s, ln) for s, ln in _drill_lines(wf) if "backup drill" in ln]
    if len(drills) != 1:
        return [f"{len(drills)} `provision backup drill` steps, expected 1"]
    step, line = drills[0]
    argv = shlex.split(line)
    out = []
    if ("--env", env) not in set(zip(argv, argv[1:], strict=False)):
        out.append(f"{line!r} does not drill --env {env} (settings github.nightly_environment)")
    var = argv[argv.index("--dsn-env") + 1] if "--dsn-env" in argv[:-1] else ""
    dsn = str({**(job.get("env") or {}), **(step.get("env") or {})}.get(var, ""))
    if "@127.0.0.1:" not in dsn and "@localhost:" not in dsn:
        out.append(f"the drill restores into {dsn or '(no DSN in ' + (var or '--dsn-env') + ')'}, not the job's "
                   "service container on 127.0.0.1")
    return out


@graded(STATIC)
def drill_job(wf: Workflow) -> Finding:
    """The drill job runs in github.drill_environment with exactly id-token: write + contents: read, assumes
    vars.AWS_DRILL_ROLE_ARN through OIDC, restores into its own pinned PostgreSQL service container, and has no
    access to the cluster (no kubeconfig or kubectl, not on a cluster runner)."""
    gh = config.settings()["github"]
    subject = f"{wf.name}: job {JOB} drills restores as its own role into a service container, without the cluster"
    expected = f"environment {gh['drill_environment']}, vars.{DRILL_ROLE_VAR}, services.{SERVICE}, no kubeconfig"
    job = wf.job(JOB)
    if not job:
        return failed(subject, expected, f"no job {JOB}", (f"FAIL {wf.name} has no job {JOB}",))
    problems = []
    env = job.get("environment")
    env = env.get("name") if isinstance(env, dict) else env
    if env != gh["drill_environment"]:
        problems.append(f"job {JOB} runs in environment {env!r}, not github.drill_environment "
                        f"{gh['drill_environment']!r}: its sub cannot satisfy the drill role's trust")
    if job.get("permissions") != OIDC_PERMISSIONS:
        problems.append(f"job {JOB} permissions {job.get('permissions')!r}, expected exactly {OIDC_PERMISSIONS}")
    oidc = oidc_credentials(wf, JOB, DRILL_ROLE_VAR)
    if not oidc.ok:
        problems += [e for e in oidc.evidence] or [oidc.actual]
    problems += _service_problems(job)
    problems += _command_problems(wf, job)
    cluster = [ln for _, ln in _drill_lines(wf) if any(w in ln for w in CLUSTER_WORDS)]
    cluster += [f"env {k}" for s in [job, *[s for j, _, s in wf.steps() if j == JOB]]
                for k in (s.get("env") or {}) if k == "KUBECONFIG"]
    if cluster:
        problems.append(f"job {JOB} reaches for the cluster: {cluster[0]}")
    labels = job.get("runs-on")
    runner_labels = {lbl for e in config.settings()["environments"].values()
                     for lbl in (e.get("api_access") or {}).get("runner_labels") or [] if lbl.startswith("eks-")}
    if runner_labels & set(labels if isinstance(labels, list) else [labels]):
        problems.append(f"job {JOB} runs on a cluster runner {labels}: the drill needs no access to the cluster")
    if problems:
        return failed(subject, expected, "; ".join(problems), tuple(f"FAIL {p}" for p in problems))
    return passed(subject, expected, expected)
