"""The nightly restore drill's job (verify-live.yml `drill`) and what the trust checks know of it: its own
environment and role, a service container to restore into, no cluster; each rule with a seeded fault."""
from __future__ import annotations

from pathlib import Path

import pytest

from provision import config
from provision.aws import trust_checks, workflow_trust
from provision.backup import drill_workflow
from provision.ci import workflow_model

pytestmark = [pytest.mark.offline, pytest.mark.unit]
GH = config.settings()["github"]
ENV_LINE = f"    environment: {GH['drill_environment']}\n"


def _copy(tmp_path: Path, old: str = "", new: str = "") -> Path:
    """The committed workflows in tmp_path, verify-live.yml's drill job with `old` (once, anchored) -> `new`."""
    for p in workflow_model.WORKFLOWS_DIR.glob("*.yml"):
        text = p.read_text()
        if p.name == workflow_model.LIVE and old:
            drill = text.index("\n  drill:\n")
            assert text[drill:].count(old) == 1, old
            text = text[:drill] + text[drill:].replace(old, new)
        (tmp_path / p.name).write_text(text)
    return tmp_path


def _drill(tmp_path, old, new):
    return drill_workflow.drill_job(workflow_model.workflow(workflow_model.LIVE, _copy(tmp_path, old, new)))


def test_the_committed_drill_job_passes():
    f = drill_workflow.drill_job(workflow_model.workflow(workflow_model.LIVE))
    assert f.ok, f.evidence
    trust = workflow_trust.jobs_assume_only_their_roles()
    assert trust.ok and "verify-live.yml/drill assumes DrillRole (sub " \
        f"{GH['drill_subject']})" in trust.evidence


def test_a_drill_job_without_its_environment_cannot_satisfy_the_drill_role(tmp_path):
    d = _copy(tmp_path, ENV_LINE, "")
    f = workflow_trust.jobs_assume_only_their_roles(workflows_dir=d)
    assert trust_checks.caught(f, "verify-live.yml/drill cannot assume its own role DrillRole").ok
    assert trust_checks.caught(drill_workflow.drill_job(workflow_model.workflow(workflow_model.LIVE, d)),
                               "not github.drill_environment").ok


def test_a_drill_job_in_the_verify_environment_is_red_on_both_checks(tmp_path):
    d = _copy(tmp_path, ENV_LINE, f"    environment: {GH['verify_environment']}\n")
    f = workflow_trust.jobs_assume_only_their_roles(workflows_dir=d)
    assert trust_checks.caught(f, "verify-live.yml/drill can assume VerifyRole").ok


def test_a_drill_role_trusting_the_verify_subject_lets_the_verify_job_in(tmp_path):
    src = Path(__file__).resolve().parents[1] / "provision" / "cloudformation" / "backup.yaml"
    text = src.read_text()
    anchor = '"${OidcIssuer}:sub": "${DrillSubject}"'
    assert text.count(anchor) == 1
    copy = tmp_path / "backup.yaml"
    copy.write_text(text.replace(anchor, f'"${{OidcIssuer}}:sub": "{GH["verify_subject"]}"'))
    f = workflow_trust.jobs_assume_only_their_roles(backup_path=copy)
    assert trust_checks.caught(f, "verify-live.yml/verify can assume DrillRole").ok
    assert trust_checks.caught(f, "verify-live.yml/drill cannot assume its own role DrillRole").ok


FAULTS = {
    "another role": ("vars.AWS_DRILL_ROLE_ARN", "vars.AWS_VERIFY_ROLE_ARN", "AWS_DRILL_ROLE_ARN"),
    "no id token": ("      id-token: write\n      contents: read\n    concurrency:\n      group: verify-live-drill",
                    "      contents: read\n    concurrency:\n      group: verify-live-drill", "permissions"),
    "a kubeconfig": ("      - name: Restore drill into the service container\n",
                     "      - name: Kubeconfig\n        run: aws eks update-kubeconfig --name c\n"
                     "      - name: Restore drill into the service container\n", "reaches for the cluster"),
    "a cluster runner": ("runs-on: ubuntu-24.04", "runs-on: [self-hosted, linux, x64, eks-dev]", "cluster runner"),
    "an unpinned service image": ("image: postgres:16.6-alpine", "image: postgres:latest", "not a pinned tag"),
    "the app's database": ("postgresql://postgres@127.0.0.1:5432/postgres",
                           "postgresql://postgres@postgres-service:5432/cloudtolocalllm", "not the job's service"),
    "no service container": ("    services:\n", "    x-services:\n", "no `services: postgres:`"),
    "another environment's backups": ("backup drill --env dev", "backup drill --env prod", "does not drill --env dev"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_seeded_fault_turns_the_drill_job_check_red(tmp_path, fault):
    old, new, naming = FAULTS[fault]
    f = _drill(tmp_path, old, new)
    assert trust_checks.caught(f, naming).ok, f.evidence


def test_subjects_know_the_drill_environment():
    assert trust_checks.subjects_match_repository().ok
    wrong = {**GH, "drill_subject": GH["drill_subject"].replace(GH["drill_environment"], "live-other")}
    assert trust_checks.caught(trust_checks.subjects_match_repository(wrong),
                               "github.drill_subject").ok
    shared = {**GH, "drill_environment": GH["verify_environment"], "drill_subject": GH["verify_subject"]}
    assert trust_checks.caught(trust_checks.subjects_match_repository(shared), "not distinct").ok
    fork = {**GH, "drill_subject": GH["drill_subject"].replace(GH["repository"], "someone/fork")}
    assert trust_checks.caught(trust_checks.subjects_match_repository(fork), "does not start with").ok


def test_the_deploy_and_verify_roles_refuse_the_drill_job():
    for role, key in (("DeployRole", "deploy_subject"), ("VerifyRole", "verify_subject")):
        assert trust_checks.check_trust(role=role, subject_key=key).ok
