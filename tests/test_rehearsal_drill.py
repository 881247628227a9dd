"""The drill job's refusals (harness/rehearsal_drill.py): a role that may write the backups or read the
stacks turns the check red; only an AccessDenied counts as a refusal."""
import pytest
from botocore.exceptions import ClientError

from harness import rehearsal_drill
from provision.backup.store import Location
from provision.config import Environment, Target

pytestmark = [pytest.mark.offline, pytest.mark.unit]

TARGET = Target(name="rehearsal", region="us-east-1", account_id="1", grades={"aws": "emulated"})
LOC = Location("b", "arn:aws:kms:us-east-1:1:key/k", "postgres/dev/")


class _Client:
    def __init__(self, answer):
        self.answer = answer

    def __getattr__(self, op):
        def call(**_):
            if self.answer == "allowed":
                return {}
            raise ClientError({"Error": {"Code": self.answer, "Message": "m"}}, op)
        return call


@pytest.mark.parametrize(("s3", "cfn", "red"), [
    ("AccessDenied", "AccessDenied", None),
    ("allowed", "AccessDenied", "s3:PutObject under the backup prefix: allowed"),        # seeded: may write
    ("AccessDenied", "allowed", "DescribeStacks of the backup stack: allowed"),          # seeded: reads stacks
    ("NoSuchBucket", "AccessDenied", "NoSuchBucket, not a refusal"),                     # another error
])
def test_the_drill_role_must_be_refused_a_write_and_the_stacks(monkeypatch, s3, cfn, red):
    monkeypatch.setattr(rehearsal_drill.clients, "client",
                        lambda target, service, **kw: _Client(s3 if service == "s3" else cfn))
    f = rehearsal_drill.refusals(TARGET, Environment.named("dev"), LOC)
    if red is None:
        assert f.ok and f.actual == "2 refused"
    else:
        assert not f.ok and any(line.startswith("FAIL") and red in line for line in f.evidence), f.evidence
