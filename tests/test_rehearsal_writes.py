"""The read-only proof of the nightly run, judged on request logs (harness/rehearsal.judge_writes)."""
import pytest

from harness.rehearsal import judge_writes
from provision.findings import caught

pytestmark = [pytest.mark.offline, pytest.mark.unit]

ROLE = "cloudtolocalllm-dev-github-verify"
SESSION = f"arn:aws:sts::1:assumed-role/{ROLE}/github-1"
GATE = [{"identity": SESSION, "action": "cloudformation:DescribeStacks", "write": False},
        {"identity": "arn:aws:sts::1:assumed-role/deploy/github-2", "action": "cloudformation:CreateChangeSet",
         "write": True}]
CF = [{"token": "verify", "method": "GET", "path": "/zones/z/dns_records", "write": False},
      {"token": "deploy", "method": "PATCH", "path": "/zones/z/settings/ssl", "write": True}]


def test_reads_by_the_nightly_identities_and_writes_by_others_pass():
    assert judge_writes(GATE, [], CF, ROLE)


@pytest.mark.parametrize("gate, audit, cf, naming", [
    (GATE + [{"identity": SESSION, "action": "cloudformation:CreateChangeSet", "write": True,
              "decision": "implicitDeny"}], [], CF, "CreateChangeSet"),
    (GATE, [{"verb": "create", "requestURI": "/api/v1/namespaces"}], CF, "/api/v1/namespaces"),
    (GATE, [], CF + [{"token": "verify", "method": "POST", "path": "/zones/z/dns_records", "write": True}],
     "POST /zones/z/dns_records"),
])
def test_a_verification_step_that_writes_turns_the_proof_red(gate, audit, cf, naming):
    assert caught(judge_writes(gate, audit, cf, ROLE), naming)


def test_a_jobs_identity_never_shows_its_credentials():
    from harness.rehearsal import Identity

    assert "s3cr3t" not in repr(Identity("deploy", {"AWS_SECRET_ACCESS_KEY": "s3cr3t"}))
