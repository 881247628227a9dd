"""The provisioner against the offline target (moto server): bad input changes
nothing, a failed change set says what to do, plan changes nothing, and the
budget predicate judges what moto's Budgets API returns."""
import os
import shutil
import subprocess
import sys
import uuid

import boto3
import botocore.config
import pytest

from provision import config, errors
from provision.aws import audit, live_checks, stack_api, stacks
from provision.aws.cfn import load, parameters
from provision.config import Environment

pytestmark = [pytest.mark.offline]


def _fresh(target, template_dir=None):
    return Environment.named("dev", suffix=uuid.uuid4().hex[:8], template_dir=template_dir)


def _existing(target, env):
    return {n for n, s in stack_api.status(target, env).items() if s is not None}


def _copy(tmp_path):
    d = tmp_path / "cloudformation"
    shutil.copytree(load.TEMPLATE_DIR, d)
    return d


def test_malformed_template_changes_nothing(target, tmp_path):
    d = _copy(tmp_path)
    (d / "budget.yaml").write_text("Resources: [unclosed\n")
    env = _fresh(target, d)
    with pytest.raises(errors.BadInput) as exc:
        stacks.up(target, env, lambda m: None)
    assert str(exc.value).startswith("template budget.yaml:")
    assert _existing(target, env) == set()


def test_missing_parameter_changes_nothing(target, tmp_path):
    d = _copy(tmp_path)
    text = (d / "monitoring.yaml").read_text()
    (d / "monitoring.yaml").write_text(text.replace("Parameters:\n", "Parameters:\n  PagerKey:\n    Type: String\n", 1))
    env = _fresh(target, d)
    with pytest.raises(errors.BadInput) as exc:
        stacks.up(target, env, lambda m: None)
    assert str(exc.value) == parameters.MISSING_PARAMETER.format(stack="monitoring", name="PagerKey", env="dev")
    assert _existing(target, env) == set()


def test_failed_change_set_says_what_failed_and_what_to_do(target, tmp_path):
    d = _copy(tmp_path)
    for name in ("iam", "eks", "irsa", "monitoring", "budget"):
        (d / f"{name}.yaml").unlink(missing_ok=True)
    text = (d / "network.yaml").read_text()
    # An attribute of a resource that does not exist: the change set fails (moto: when executed).
    (d / "network.yaml").write_text(text.replace("          Value: !Sub ${ClusterName}-vpc\n",
                                                 "          Value: !GetAtt Ghost.Arn\n", 1))
    env = _fresh(target, d)
    with pytest.raises(errors.ProvisionError) as exc:
        stacks.up(target, env, lambda m: None)
    msg = str(exc.value)
    assert msg.startswith(f"stack {env.stack_name('network')}: change set ctl-")
    assert "Ghost" in msg and "provision stacks up --env dev" in msg and exc.value.exit_code == errors.EXIT_FAILED
    results = [r["result"] for r in audit.audit_records() if r["stack"] == env.stack_name("network")]
    assert results[-1].startswith("failed")


def test_plan_changes_nothing_and_is_readable(target):
    env = _fresh(target)
    planned = stacks.plan(target, env, lambda m: None)
    assert planned[0].action == "would create" and "Add Vpc (AWS::EC2::VPC)" in planned[0].changes
    assert {r.action for r in planned[1:]} <= {"would create", "not planned"}
    assert _existing(target, env) == set()


def test_cli_unknown_env_is_one_line_exit_2(target):
    proc = subprocess.run([sys.executable, "-m", "provision.cli", "stacks", "up", "--env", "staging"], cwd=config.ROOT,
                          capture_output=True, text=True, env={**os.environ, **target.env()}, timeout=120)
    assert proc.returncode == errors.EXIT_USAGE
    assert proc.stderr.strip() == "provision stacks up: " + errors.UNKNOWN_ENV.format(env="staging", known="dev, prod")


@pytest.mark.parametrize("amount, ok", [(300.0, True), (3000.0, False)])
def test_budget_predicate_on_motos_budgets_api(target, amount, ok):
    kw = dict(region_name=target.region, endpoint_url=target.aws_endpoint_url)
    budgets = boto3.client("budgets", config=botocore.config.Config(retries={"max_attempts": 1}), **kw)
    sts = boto3.client("sts", **kw)
    account = sts.get_caller_identity()["Account"]
    name = f"seeded-{uuid.uuid4().hex[:8]}"
    topic = f"arn:aws:sns:{target.region}:{account}:alerts"
    budgets.create_budget(
        AccountId=account,
        Budget={"BudgetName": name, "BudgetLimit": {"Amount": str(amount), "Unit": "USD"},
                "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        NotificationsWithSubscribers=[{
            "Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                             "Threshold": 80, "ThresholdType": "PERCENTAGE"},
            "Subscribers": [{"SubscriptionType": "SNS", "Address": topic}]}])
    f = live_checks.budget_api(budgets, account, name, 300.0, topic, target)
    assert f.ok is ok, f
