"""The live probes of provision.aws against stubbed clients: a part the endpoint could not show is
unverifiable (with the target's gap and the reason), never passed; passed only when read and right;
failed when read and wrong. And the seeded faults of the stacks' status, commit tags and audit trail."""
import json

import botocore.exceptions
import pytest

from harness.faults import aws as faults
from provision import findings
from provision.aws import audit, live_checks, stack_checks
from provision.config import Environment, Target
from provision.local.moto_server import GAPS

pytestmark = [pytest.mark.offline, pytest.mark.unit]

ENV = Environment.named("dev")
MOTO = Target("offline", "us-east-1", "123456789012", grades={"aws": "emulated"}, gaps=dict(GAPS))
LIVE = Target("live", "us-east-1", "123456789012")
KEY = "arn:aws:kms:us-east-1:123456789012:key/k1"


def _error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": f"{code} (stub)"}}, "Stub")


class Stub:
    """A boto3 client: each named call answers its value, or raises it when it is an exception;
    a call not named raises `default`."""

    def __init__(self, default: Exception | None = None, **answers):
        self.default, self.answers = default or _error("ResourceNotFoundException"), answers

    def __getattr__(self, name):
        def call(**kwargs):
            got = self.answers.get(name, self.default)
            if isinstance(got, Exception):
                raise got
            return got(**kwargs) if callable(got) else got
        return call


@pytest.fixture
def endpoint(monkeypatch):
    """Install stub clients (by service) and what the stacks list (by stack) for live_checks."""
    def install(clients: dict, listed: dict | None = None, outputs: dict | None = None):
        monkeypatch.setattr(live_checks, "client", lambda target, service, **kw: clients.get(service, Stub()))
        monkeypatch.setattr(live_checks, "_listed", lambda target, env, stack: (listed or {}).get(stack, {}))
        monkeypatch.setattr(live_checks, "_outputs", lambda target, env, stack: (outputs or {}).get(stack, {}))
    return install


def _probes():
    return {
        "node group": lambda t: live_checks.node_group_live(t, ENV, "t3.medium", 2),
        "node group scaling": lambda t: live_checks.node_group_scaling_live(t, ENV),
        "KMS": lambda t: live_checks.kms_live(t, ENV),
        "access entries": lambda t: live_checks.access_live(t, ENV),
        "Container Insights": lambda t: live_checks.container_insights_live(t, ENV),
        "alarms": lambda t: live_checks.alarms_live(t, ENV),
        "budget": lambda t: live_checks.budget_live(t, ENV),
    }


GAP_OF = {"node group": "AWS::EKS::Nodegroup", "node group scaling": "AWS::EKS::Nodegroup",
          "KMS": "AWS::EKS::Cluster", "access entries": "AWS::EKS::Cluster",
          "Container Insights": "AWS::EKS::Addon", "alarms": "AWS::CloudWatch::Alarm",
          "budget": "AWS::Budgets::Budget"}


@pytest.mark.parametrize("probe", sorted(GAP_OF))
def test_a_part_the_emulator_does_not_show_is_unverifiable_never_passed(endpoint, probe):
    # moto's CloudFormation created none of it: the EKS API says "not found", the stacks list nothing.
    endpoint({"kms": Stub(get_key_rotation_status={"KeyRotationEnabled": True})}, {"eks": {"SecretsKey": KEY}})
    f = _probes()[probe](MOTO)
    assert f.status == findings.UNVERIFIABLE, f
    assert GAPS[GAP_OF[probe]] in f.gaps and f.grade
    assert any(line.startswith("N/V ") for line in f.evidence), f.evidence


@pytest.mark.parametrize("probe", sorted(GAP_OF))
def test_without_a_named_gap_a_missing_part_fails(endpoint, probe):
    # The live target names no gap: a node group, cluster, add-on, alarm or budget that is not there fails.
    endpoint({"kms": Stub(get_key_rotation_status={"KeyRotationEnabled": True})}, {"eks": {"SecretsKey": KEY}})
    f = _probes()[probe](LIVE)
    assert f.status == findings.FAILED, f
    assert not f.gaps


@pytest.mark.parametrize("probe", ["node group", "KMS", "access entries", "Container Insights"])
def test_a_refused_read_is_red_naming_the_refusal(endpoint, probe):
    # the job's role lacks what the probe calls: a defect of the role (docs/rehearsal.md), never "not verifiable"
    endpoint({"eks": Stub(_error("AccessDeniedException")),
              "kms": Stub(get_key_rotation_status={"KeyRotationEnabled": True})}, {"eks": {"SecretsKey": KEY}})
    f = _probes()[probe](LIVE)
    assert f.status == findings.FAILED, f
    assert findings.caught(f, "AccessDeniedException"), f.evidence


def _cluster(mode="API", cidrs=("203.0.113.0/24",), key=KEY):
    return {"cluster": {"accessConfig": {"authenticationMode": mode},
                        "resourcesVpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": list(cidrs)},
                        "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": key}}]}}


def test_passed_only_when_read_and_right_and_failed_when_read_and_wrong(endpoint):
    ng = {"nodegroup": {"instanceTypes": ["t3.medium"], "scalingConfig": {"minSize": 2, "desiredSize": 2,
                                                                          "maxSize": 4}}}
    kms = Stub(get_key_rotation_status={"KeyRotationEnabled": True})
    endpoint({"eks": Stub(describe_nodegroup=ng, describe_cluster=_cluster(),
                          describe_addon={"addon": {"status": "ACTIVE"}}), "kms": kms}, {"eks": {"SecretsKey": KEY}})
    for probe in ("node group", "node group scaling", "KMS", "access entries", "Container Insights"):
        assert _probes()[probe](LIVE).ok, probe
    stuck = {"minSize": 2, "desiredSize": 2, "maxSize": 2}
    endpoint({"eks": Stub(describe_nodegroup={"nodegroup": {**ng["nodegroup"], "instanceTypes": ["m5.xlarge"],
                                                            "scalingConfig": stuck}},
                          describe_cluster=_cluster("CONFIG_MAP", ("0.0.0.0/0",), "arn:other"),
                          describe_addon={"addon": {"status": "DEGRADED"}}),
              "kms": Stub(get_key_rotation_status={"KeyRotationEnabled": False})}, {"eks": {"SecretsKey": KEY}})
    for probe, naming in (("node group", "m5.xlarge"), ("node group scaling", "max 2"), ("KMS", "off"),
                          ("access entries", "CONFIG_MAP"),
                          ("Container Insights", "DEGRADED")):
        assert findings.caught(_probes()[probe](LIVE), naming).ok, probe


def test_the_offline_kms_twin_reads_the_key_not_the_cluster(endpoint):
    endpoint({"kms": Stub(get_key_rotation_status={"KeyRotationEnabled": True})}, {"eks": {"SecretsKey": KEY}})
    assert live_checks.kms_template_and_key(MOTO, ENV).ok
    endpoint({"kms": Stub(get_key_rotation_status={"KeyRotationEnabled": False})}, {"eks": {"SecretsKey": KEY}})
    assert findings.caught(live_checks.kms_template_and_key(MOTO, ENV), "off").ok


def test_log_groups_refused_and_without_retention_fail(endpoint):
    listed = {"monitoring": {"ControlPlaneLogGroup": "/aws/eks/c/cluster"}}
    endpoint({"logs": Stub(_error("AccessDeniedException"))}, listed)
    assert findings.caught(live_checks.log_groups_live(LIVE, ENV), "AccessDeniedException").ok
    endpoint({"logs": Stub(describe_log_groups={"logGroups": [{"logGroupName": "/aws/eks/c/cluster"}]})}, listed)
    assert findings.caught(live_checks.log_groups_live(LIVE, ENV), "/aws/eks/c/cluster: no retention").ok


class Budgets(Stub):
    def __init__(self, amount="300.0", subscribers=None):
        topic_subs = subscribers if subscribers is not None else Exception("500 page: not implemented")
        super().__init__(
            describe_budget={"Budget": {"TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": amount, "Unit": "USD"}}},
            describe_notifications_for_budget={"Notifications": [{"NotificationType": "ACTUAL", "Threshold": 80}]},
            describe_subscribers_for_notification=topic_subs)


def test_budget_thresholds_whose_subscribers_are_not_shown_are_unverifiable():
    f = live_checks.budget_api(Budgets(), "1", "b", 300.0, "arn:topic", MOTO)
    assert f.status == findings.UNVERIFIABLE and GAPS["budgets-subscribers"] in f.gaps, f


def test_budget_is_passed_when_a_threshold_reaches_the_topic_and_failed_otherwise():
    to_topic = {"Subscribers": [{"SubscriptionType": "SNS", "Address": "arn:topic"}]}
    assert live_checks.budget_api(Budgets(subscribers=to_topic), "1", "b", 300.0, "arn:topic", LIVE).ok
    elsewhere = {"Subscribers": [{"SubscriptionType": "EMAIL", "Address": "a@example.com"}]}
    f = live_checks.budget_api(Budgets(subscribers=elsewhere), "1", "b", 300.0, "arn:topic", LIVE)
    assert findings.caught(f, "no threshold notifies the topic").ok
    # a wrong amount is red even where the subscribers cannot be read
    assert findings.caught(live_checks.budget_api(Budgets("3000.0"), "1", "b", 300.0, "arn:topic", MOTO),
                           "3000.0").ok


def test_drift_that_cannot_be_detected_is_unverifiable(monkeypatch):
    cf = Stub(detect_stack_drift=Exception("500 Internal Server Error: not yet implemented"))
    monkeypatch.setattr(stack_checks, "client", lambda target, service, **kw: cf)
    monkeypatch.setattr(stack_checks, "describe", lambda cf, name: {"StackName": name})
    f = stack_checks.drift(MOTO, ENV, lambda m: None)
    assert f.status == findings.UNVERIFIABLE and GAPS["cfn-drift"] in f.gaps, f
    # the live target names no gap: still unverifiable (it could not look), never passed
    assert stack_checks.drift(LIVE, ENV, lambda m: None).status == findings.UNVERIFIABLE


def _described(sha: str) -> dict:
    return {ENV.stack_name(s): {"StackStatus": "CREATE_COMPLETE", "Tags": [{"Key": "commit", "Value": sha}]}
            for s in ("network", "iam", "eks")}


@pytest.mark.parametrize("fault", ["rolled-back", "create-failed"])
def test_a_seeded_stack_status_turns_the_complete_check_red(fault):
    found = _described("a" * 40)
    assert stack_checks.complete_verdict(ENV, found).ok
    bad = faults.seeded_stacks(fault, found, ENV.stack_name("eks"))
    assert findings.caught(stack_checks.complete_verdict(ENV, bad), ENV.stack_name("eks")).ok


def test_an_absent_stack_is_red_unless_excused_by_a_gap():
    found = {**_described("a" * 40), ENV.stack_name("irsa"): None}
    assert findings.caught(stack_checks.complete_verdict(ENV, found), ENV.stack_name("irsa")).ok
    assert stack_checks.complete_verdict(ENV, found, excused=(ENV.stack_name("irsa"),)).ok


@pytest.mark.parametrize("fault", ["no-commit-tag", "other-commit-tag"])
def test_a_seeded_commit_tag_fault_turns_the_tag_check_red(monkeypatch, fault):
    sha = "b" * 40
    monkeypatch.setattr(stack_checks, "commit_tag_key", lambda: "commit")
    found = _described(sha)
    assert stack_checks.tags_verdict(ENV, found, sha).ok
    bad = faults.seeded_stacks(fault, found, ENV.stack_name("iam"), sha)
    assert findings.caught(stack_checks.tags_verdict(ENV, bad, sha), ENV.stack_name("iam")).ok


@pytest.mark.parametrize("fault", sorted(faults.AUDIT_FAULTS))
def test_a_seeded_audit_fault_turns_the_audit_check_red(tmp_path, fault):
    records = tmp_path / "audit.jsonl"
    for cs, stack in (("ctl-1", "network"), ("ctl-2", "eks")):
        audit.audit(None, ENV, "up", ENV.stack_name(stack), cs, "executed", "c" * 40, records, ("dev", "arn:me"))
    assert audit.audit_trail(ENV, ["ctl-1", "ctl-2"], records).ok
    seeded = faults.seeded_audit(fault, records, "ctl-2", tmp_path / "seeded")
    assert findings.caught(audit.audit_trail(ENV, ["ctl-1", "ctl-2"], seeded), "ctl-2").ok
    assert json.loads(records.read_text().splitlines()[1])["change_set"] == "ctl-2"  # the original is untouched


def test_the_autoscaler_in_the_cluster_must_be_available_and_not_disable_scale_down():
    from provision.aws import template_checks

    dep = {"spec": {"template": {"spec": {"containers": [{"command": [
        "./cluster-autoscaler", "--node-group-auto-discovery=asg:tag=x"]}]}}}, "status": {"availableReplicas": 1}}
    assert template_checks.autoscaler_verdict(dep, "ca", running=True).ok
    assert findings.caught(template_checks.autoscaler_verdict({**dep, "status": {}}, "ca", running=True),
                           "no available replica").ok
    assert findings.caught(template_checks.autoscaler_verdict(None, "ca", running=True), "cluster-autoscaler").ok


# ---- the alert topic's subscriber and the account's OIDC provider (provision/aws/account_checks.py)

from provision import config  # noqa: E402
from provision.aws import account_checks  # noqa: E402

TOPIC = "arn:aws:sns:us-east-1:123456789012:cloudtolocalllm-eks-alerts"
EMAIL = config.settings()["alerts"]["email"]


@pytest.fixture
def account(monkeypatch):
    def install(clients: dict, listed: dict | None = None, outputs: dict | None = None):
        monkeypatch.setattr(account_checks, "client", lambda target, service, **kw: clients.get(service, Stub()))
        monkeypatch.setattr(account_checks, "_listed", lambda target, env, stack: (listed or {}).get(stack, {}))
        monkeypatch.setattr(account_checks, "_outputs", lambda target, env, stack: (outputs or {}).get(stack, {}))
    return install


def _subs(arn: str, endpoint: str = EMAIL) -> Stub:
    return Stub(list_subscriptions_by_topic={"Subscriptions": [
        {"SubscriptionArn": arn, "Protocol": "email", "Endpoint": endpoint, "TopicArn": TOPIC}]})


def test_only_a_confirmed_subscription_passes(account):
    account({"sns": _subs(TOPIC + ":0b1c")}, outputs={"monitoring": {"AlertTopicArn": TOPIC}})
    assert account_checks.subscription_live(LIVE, ENV).ok


@pytest.mark.parametrize("sns, naming", [
    (_subs("PendingConfirmation"), "PendingConfirmation"),
    (_subs(TOPIC + ":0b1c", "someone@else.org"), f"no subscription of {EMAIL}"),
    (Stub(list_subscriptions_by_topic={"Subscriptions": []}), "subscribers: none"),
])
def test_a_pending_or_missing_subscription_is_red(account, sns, naming):
    account({"sns": sns}, outputs={"monitoring": {"AlertTopicArn": TOPIC}})
    assert findings.caught(account_checks.subscription_live(LIVE, ENV), naming, case_sensitive=True).ok


def test_subscribers_the_role_may_not_read_fail_naming_the_refusal(account):
    # the job's role lacks what the probe calls: a defect of the role, never "could not see"
    account({"sns": Stub(_error("AuthorizationError"))}, outputs={"monitoring": {"AlertTopicArn": TOPIC}})
    f = account_checks.subscription_live(LIVE, ENV)
    assert f.status == findings.FAILED and findings.caught(f, "AuthorizationError").ok


def test_subscribers_an_endpoint_cannot_serve_are_unverifiable(account):
    account({"sns": Stub(_error("NotImplemented"))}, outputs={"monitoring": {"AlertTopicArn": TOPIC}})
    f = account_checks.subscription_live(LIVE, ENV)
    assert f.status == findings.UNVERIFIABLE and "NotImplemented" in str(f.as_dict())


def _iam(arns: list[str], audiences=("sts.amazonaws.com",)) -> Stub:
    return Stub(list_open_id_connect_providers={"OpenIDConnectProviderList": [{"Arn": a} for a in arns]},
                get_open_id_connect_provider={"ClientIDList": list(audiences)})


PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{config.settings()['github']['oidc_issuer']}"


def test_create_fails_when_the_account_already_has_a_provider_outside_the_stack(account):
    account({"iam": _iam([PROVIDER])})
    assert findings.caught(account_checks.oidc_provider_live(LIVE, ENV), "exists outside the iam stack").ok
    account({"iam": _iam([PROVIDER])}, listed={"iam": {"GitHubOidcProvider": PROVIDER}})
    assert account_checks.oidc_provider_live(LIVE, ENV).ok
    account({"iam": _iam([])})
    assert account_checks.oidc_provider_live(LIVE, ENV).ok


def test_a_provider_list_the_role_may_not_read_fails_and_one_the_endpoint_cannot_serve_is_unverifiable(account):
    account({"iam": Stub(_error("AccessDenied"))})
    f = account_checks.oidc_provider_live(LIVE, ENV)
    assert f.status == findings.FAILED and findings.caught(f, "AccessDenied").ok
    account({"iam": Stub(_error("NotImplemented"))})
    assert account_checks.oidc_provider_live(LIVE, ENV).status == findings.UNVERIFIABLE


def test_a_budget_counting_the_whole_account_is_red():
    b = {"BudgetName": "b", "TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": "300", "Unit": "USD"}}
    tag = (f"{config.settings()['project']}:environment", "dev")
    notes = {"Notifications": [{"NotificationType": "ACTUAL", "Threshold": 80}]}
    subs = {"Subscribers": [{"SubscriptionType": "SNS", "Address": TOPIC}]}
    whole = Stub(describe_budget={"Budget": b}, describe_notifications_for_budget=notes,
                 describe_subscribers_for_notification=subs)
    f = live_checks.budget_api(whole, "1", "b", 300.0, TOPIC, None, tag)
    assert findings.caught(f, "the whole account").ok
    tagged = Stub(describe_budget={"Budget": {**b, "CostFilters": {"TagKeyValue": [f"user:{tag[0]}$dev"]}}},
                  describe_notifications_for_budget=notes, describe_subscribers_for_notification=subs)
    assert live_checks.budget_api(tagged, "1", "b", 300.0, TOPIC, None, tag).ok


def test_where_the_endpoint_never_creates_the_provider_no_stack_can_own_it_unverifiable(account):
    account({"iam": _iam([PROVIDER])})
    gapped = LIVE.with_(gaps={"AWS::IAM::OIDCProvider": "moto's CloudFormation ignores AWS::IAM::OIDCProvider"})
    f = account_checks.oidc_provider_live(gapped, ENV)
    assert f.status == findings.UNVERIFIABLE and "ignores AWS::IAM::OIDCProvider" in " ".join(f.evidence)


def test_no_subscription_where_the_endpoint_makes_none_is_unverifiable_naming_its_gap(account):
    account({"sns": Stub(list_subscriptions_by_topic={"Subscriptions": []})},
            outputs={"monitoring": {"AlertTopicArn": TOPIC}})
    assert not account_checks.subscription_live(LIVE, ENV).ok and \
        account_checks.subscription_live(LIVE, ENV).status == findings.FAILED  # live: nobody subscribed is red
    gapped = LIVE.with_(gaps={"AWS::SNS::Subscription": "moto's CloudFormation records no AWS::SNS::Subscription"})
    f = account_checks.subscription_live(gapped, ENV)
    assert f.status == findings.UNVERIFIABLE and "records no AWS::SNS::Subscription" in " ".join(f.evidence)
