"""Steps of features/oidc.feature: GitHub OIDC -> STS for the deploy role."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_bdd import given as step_given
from pytest_bdd import parsers, scenarios, then, when

from harness import oidc_runs
from harness.faults import aws as faults
from provision import config, errors
from provision.aws import account_checks, sts, trust_checks
from provision.aws import gaps as target_gaps
from provision.aws.cfn import load
from provision.config import Environment
from provision.local import oidc as local_oidc

scenarios("oidc.feature")


@step_given("the OIDC issuer of the target", target_fixture="issuer")
def _issuer(target):
    try:
        return oidc_runs.issuer(target)
    except errors.TargetUnavailable as exc:
        pytest.skip(f"not verifiable on the {target.name} target: {exc}")


ROLES = {"deploy": "DeployRole", "verify": "VerifyRole"}


@step_given(parsers.parse("the {kind} role of the {env} environment"), target_fixture="role")
def _role(target, kind, env):
    return sts.role_arn(target, Environment.named(env), ROLES[kind])


@pytest.fixture
def job_tokens() -> dict:
    """The token a job step obtained, for the steps after it."""
    return {}


def _job_token(target, issuer, workflow, job):
    try:
        return oidc_runs.job_token(issuer, workflow, job)
    except errors.TargetUnavailable as exc:
        pytest.skip(f"not verifiable on the {target.name} target: {exc}")


@when(parsers.parse('the job "{job}" of "{workflow}" asks for credentials'), target_fixture="exchange")
def _job_asks(target, issuer, role, job_tokens, job, workflow):
    job_tokens["token"] = _job_token(target, issuer, workflow, job)
    return sts.request_credentials(target, role, job_tokens["token"])


@when(parsers.parse('two runs of the job "{job}" of "{workflow}" ask for credentials'), target_fixture="exchanges")
def _job_twice(target, issuer, role, job, workflow):
    return [sts.request_credentials(target, role, _job_token(target, issuer, workflow, job)) for _ in range(2)]


@then(parsers.parse("the job's token is refused by the {kind} role of the {env} environment"))
def _job_refused(target, job_tokens, check, kind, env):
    other = sts.role_arn(target, Environment.named(env), ROLES[kind])
    check(sts.refused(sts.request_credentials(target, other, job_tokens["token"])))


@when(parsers.parse('a workflow run on "{ref}" of the repository asks for credentials'), target_fixture="exchange")
def _run_on(target, issuer, role, ref):
    return sts.request_credentials(target, role, oidc_runs.workflow_token(issuer, ref))


@when(parsers.parse('a workflow run with {claim} set to "{value}" asks for credentials'), target_fixture="exchange")
def _run_with(target, issuer, role, claim, value):
    if issuer.local is None:
        pytest.skip(f"not verifiable on the {target.name} target: a real issuer signs only the run's own claims")
    token = local_oidc.mint_variant(issuer.local, local_oidc.run_claims(issuer.url), claim, value)
    return sts.request_credentials(target, role, token)


@when(parsers.parse('two workflow runs on "{ref}" of the repository ask for credentials'), target_fixture="exchanges")
def _two_runs(target, issuer, role, ref):
    return [sts.request_credentials(target, role, oidc_runs.workflow_token(issuer, ref)) for _ in range(2)]


@then("STS returns temporary credentials")
def _returns(exchange, check):
    check(exchange.finding)


@then(parsers.parse("the credentials expire within {seconds:d} seconds"))
def _expire(exchange, check, seconds):
    check(sts.check_expiry(exchange.credentials, seconds))


@then("the token exchange is refused")
def _is_refused(exchange, check):
    check(sts.refused(exchange))


@then("the two runs hold different access key ids")
def _distinct(exchanges, check):
    for ex in exchanges:
        check(ex.finding)
    check(sts.check_distinct(exchanges[0].credentials, exchanges[1].credentials))


@step_given("the IAM templates as committed", target_fixture="iam_yaml")
def _committed():
    return load.IAM_TEMPLATE


@step_given(parsers.parse('the IAM templates with the seeded fault "{fault}"'), target_fixture="iam_yaml")
def _seeded(tmp_path, fault):
    return faults.seeded_iam_copy(fault, tmp_path)


@then("no policy grants a wildcard action on a wildcard resource")
def _no_admin(target, iam_yaml, check):
    check(trust_checks.check_no_admin(iam_yaml, gaps=target_gaps.named(target, "iam-simulation")))


@then("the deploy role's trust policy admits only the main branch subject")
def _trust_main_only(iam_yaml, check):
    check(trust_checks.check_trust(iam_yaml, role="DeployRole", subject_key="deploy_subject"))
    check(trust_checks.check_trust(iam_yaml, role="VerifyRole", subject_key="verify_subject"))


@then(parsers.parse('the IAM check fails naming "{evidence}"'))
def _caught(target, iam_yaml, record, check, evidence):
    gaps = target_gaps.named(target, "iam-simulation")
    check(trust_checks.caught(record(trust_checks.check_template(iam_yaml, gaps=gaps)), evidence))


@then("the trust subjects name the repository of settings in its exact case")
def _case(check):
    check(trust_checks.subjects_match_repository())


@then("the account's GitHub OIDC provider is created once or taken as it exists")
def _provider(check):
    check(trust_checks.oidc_provider_setting())


@step_given(parsers.parse('the github settings with the seeded fault "{fault}"'), target_fixture="github_settings")
def _seeded_github(fault):
    return faults.seeded_github(fault)


@then(parsers.parse('the github settings check fails naming "{evidence}"'))
def _github_caught(github_settings, record, check, evidence):
    from provision.findings import combine

    f = combine("settings.yaml github", [trust_checks.subjects_match_repository(github_settings),
                                         trust_checks.oidc_provider_setting(github_settings)])
    check(trust_checks.caught(record(f), evidence))


@then("the account's GitHub OIDC provider is as github.oidc_provider says")
def _provider_live(target, env, check):
    check(account_checks.oidc_provider_live(target, env))


# ---- property P1: generated runs; the oracle is "an unmodified run on main".

REPO = config.settings()["github"]["repository"]
_branch = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_/", min_size=1, max_size=20)


@st.composite
def workflow_runs(draw):
    """(claim overrides, token fault, allowed?) of one generated workflow run."""
    kind = draw(st.sampled_from(["main"] * 4 + ["other-repo", "fork", "lookalike-repo", "pull_request",
                                                "tag", "branch", "environment", "audience", "expired",
                                                "not-yet-valid", "signature", "issuer"]))
    event = draw(st.sampled_from(["push", "schedule", "workflow_dispatch"]))
    over, fault = {"event_name": event}, None
    if kind == "other-repo":
        over["repository"] = draw(st.sampled_from(["acme/app", "someone/other"])) + draw(_branch).replace("/", "")
    elif kind == "fork":
        over["repository"] = f"{draw(st.sampled_from(['someone', 'attacker', 'cloudtolocal']))}/{REPO.split('/')[1]}"
    elif kind == "lookalike-repo":
        over["repository"] = REPO + draw(st.sampled_from(["-evil", "2", "/x", "_"]))
    elif kind == "pull_request":
        over["event_name"] = draw(st.sampled_from(["pull_request", "pull_request_target"]))
        over["ref"] = f"refs/pull/{draw(st.integers(1, 9999))}/merge"
    elif kind == "tag":
        over["ref"] = "refs/tags/" + draw(_branch)
    elif kind == "branch":
        over["ref"] = "refs/heads/" + draw(_branch.filter(lambda b: b != "main"))
    elif kind == "environment":
        over["environment"] = draw(st.sampled_from(["dev", "prod", "production", "main"]))
    elif kind == "audience":
        over["audience"] = draw(st.sampled_from(["sts.example.com", "https://github.com/cloudtolocalllm",
                                                 "STS.AMAZONAWS.COM", ""]))
    elif kind == "issuer":
        fault = ("iss", draw(st.sampled_from(["https://evil.example.com", f"https://{config.settings()['github']['oidc_issuer']}"])))
    else:
        fault = {"expired": ("exp", "expired"), "not-yet-valid": ("nbf", "future"),
                 "signature": ("sig", "forged")}.get(kind)
    return over, fault, kind == "main"


@then(parsers.parse("for at least {n:d} generated workflow runs only the allowed ones obtain credentials "
                    "lasting at most {seconds:d} seconds"))
def _property(target, issuer, role, check, n, seconds):
    seen, failures = [], []

    @settings(max_examples=n, deadline=None, database=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(workflow_runs())
    def prop(run):
        over, fault, allowed = run
        ref = over.pop("ref", "refs/heads/main")
        claims = local_oidc.run_claims(issuer.url, ref, **over)
        token = (local_oidc.mint_variant(issuer.local, claims, *fault) if fault
                 else local_oidc.mint(issuer.local, claims))
        ex = sts.request_credentials(target, role, token)
        verdict = oidc_runs.judge_run(ex, allowed, seconds)
        seen.append((allowed, verdict))
        assert verdict.ok, verdict.line()

    try:
        prop()
    except AssertionError as exc:
        failures.append(str(exc).splitlines()[0])
    check(oidc_runs.property_result(target, seen, failures, n))
