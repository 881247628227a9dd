"""Pure predicates of the OIDC area: IAM trust evaluation (iam_eval), token validation (jwt_tokens),
the IAM template checks (trust_checks) and the exchange verdicts (sts, harness.oidc_runs)."""
from __future__ import annotations

import json
import stat
import time
from datetime import UTC

import jwt
import pytest

from harness import oidc_runs
from harness.faults import aws as faults
from provision import config, errors
from provision.aws import iam_eval, iam_roles, jwt_tokens, sts, trust_checks
from provision.aws.cfn import load, parameters
from provision.config import Environment
from provision.local import oidc as local_oidc

pytestmark = [pytest.mark.offline, pytest.mark.unit]

GH = config.settings()["github"]
HOST = GH["oidc_issuer"]
SUB, AUD = GH["deploy_subject"], GH["oidc_audience"]
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"


def policy(condition: dict, effect="Allow", action=iam_eval.WEB_IDENTITY, principal=PROVIDER, extra=()) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": {"Federated": principal}, "Action": action, "Condition": condition},
        *extra]}


MAIN = policy({"StringEquals": {f"{HOST}:aud": AUD, f"{HOST}:sub": SUB}})


def allowed(doc, sub=SUB, aud=AUD, **kw) -> bool:
    claims = {"sub": sub, "aud": aud} if aud is not None else {"sub": sub}
    return iam_eval.evaluate_trust(doc, claims, HOST, PROVIDER, **kw).ok


@pytest.mark.parametrize("sub,aud,want", [
    (SUB, AUD, True),
    (SUB.replace("cloudtolocalllm/cloudtolocalllm", "someone/fork"), AUD, False),
    (SUB + "-evil", AUD, False),
    (SUB.replace("refs/heads/main", "refs/heads/dev"), AUD, False),
    ("repo:cloudtolocalllm/cloudtolocalllm:pull_request", AUD, False),
    (SUB, "sts.example.com", False),
    (SUB, AUD.upper(), False),          # StringEquals is case-sensitive
    (SUB, None, False),                 # a missing key never satisfies StringEquals
])
def test_string_equals_admits_only_the_exact_subject_and_audience(sub, aud, want):
    assert allowed(MAIN, sub, aud) is want


@pytest.mark.parametrize("pattern,value,want", [
    ("repo:cloudtolocalllm/*", "repo:cloudtolocalllm/cloudtolocalllm:ref:refs/heads/main", True),
    ("repo:cloudtolocalllm/*", "repo:other/cloudtolocalllm:ref:refs/heads/main", False),
    ("repo:a/b:ref:refs/heads/?", "repo:a/b:ref:refs/heads/x", True),
    ("repo:a/b:ref:refs/heads/?", "repo:a/b:ref:refs/heads/xy", False),
    ("repo:a/b:*", "repo:a/b:", True),               # * matches the empty run too
    ("repo:a.b:*", "repo:aXb:x", False),             # regex characters are literal
    ("REPO:*", "repo:a/b", False),                   # StringLike is case-sensitive
])
def test_string_like_wildcards(pattern, value, want):
    doc = policy({"StringLike": {f"{HOST}:sub": pattern}, "StringEquals": {f"{HOST}:aud": AUD}})
    assert allowed(doc, value) is want


def test_several_values_are_ored_and_several_keys_anded():
    doc = policy({"StringEquals": {f"{HOST}:sub": [SUB, "repo:x/y:ref:refs/heads/main"], f"{HOST}:aud": AUD}})
    assert allowed(doc, SUB) and allowed(doc, "repo:x/y:ref:refs/heads/main")
    assert not allowed(doc, "repo:x/y:ref:refs/heads/dev")
    assert not allowed(doc, SUB, "other")


def test_operators_are_anded():
    doc = policy({"StringLike": {f"{HOST}:sub": "repo:cloudtolocalllm/*"},
                  "StringNotLike": {f"{HOST}:sub": "*:pull_request"}, "StringEquals": {f"{HOST}:aud": AUD}})
    assert allowed(doc, SUB)
    assert not allowed(doc, "repo:cloudtolocalllm/cloudtolocalllm:pull_request")


def test_negated_operator_and_ifexists_on_a_missing_key():
    assert iam_eval.condition_holds("StringNotEquals", "k", "v", {})
    assert iam_eval.condition_holds("StringEqualsIfExists", "k", "v", {})
    assert not iam_eval.condition_holds("StringEquals", "k", "v", {})
    assert iam_eval.condition_holds("Null", "k", "true", {})
    assert not iam_eval.condition_holds("Null", "k", "false", {})


def test_set_operators_on_multivalued_keys():
    ctx = {"k": ["a", "b"]}
    assert iam_eval.condition_holds("ForAnyValue:StringEquals", "k", ["b", "z"], ctx)
    assert not iam_eval.condition_holds("ForAllValues:StringEquals", "k", ["b", "z"], ctx)
    assert iam_eval.condition_holds("ForAllValues:StringEquals", "k", ["a", "b"], ctx)
    assert iam_eval.condition_holds("ForAllValues:StringEquals", "k", ["a"], {})   # vacuously true, as in IAM
    assert not iam_eval.condition_holds("ForAnyValue:StringEquals", "k", ["a"], {})
    assert not iam_eval.condition_holds("StringEquals", "k", ["a", "b"], ctx)       # undefined in IAM: refused


def test_condition_key_names_are_case_insensitive_and_unknown_operators_fail_closed():
    assert allowed(policy({"StringEquals": {f"{HOST.upper()}:SUB": SUB, f"{HOST}:aud": AUD}}))
    assert not allowed(policy({"DateGreaterThan": {f"{HOST}:sub": SUB}}))


def test_other_github_claims_are_no_condition_keys():
    # IAM exposes aud and sub only; a policy naming another claim never matches.
    doc = policy({"StringEquals": {f"{HOST}:repository": "cloudtolocalllm/cloudtolocalllm", f"{HOST}:aud": AUD}})
    assert not iam_eval.evaluate_trust(doc, {"sub": SUB, "aud": AUD, "repository": "cloudtolocalllm/cloudtolocalllm"},
                                   HOST, PROVIDER).ok


def test_deny_wins_and_action_and_principal_must_match():
    deny = {"Effect": "Deny", "Principal": {"Federated": PROVIDER}, "Action": "sts:*",
            "Condition": {"StringLike": {f"{HOST}:sub": "*:ref:refs/heads/main"}}}
    assert not allowed(policy({"StringEquals": {f"{HOST}:aud": AUD}}, extra=[deny]))
    assert not allowed(policy({"StringEquals": {f"{HOST}:aud": AUD}}, action="sts:AssumeRole"))
    assert allowed(policy({"StringEquals": {f"{HOST}:aud": AUD}}, action="sts:AssumeRoleWith*"))
    assert not allowed(policy({"StringEquals": {f"{HOST}:aud": AUD}}, principal="arn:aws:iam::1:oidc-provider/x"))
    assert not allowed({"Version": "2012-10-17", "Statement": []})


def test_azp_maps_to_aud_as_in_iam():
    ctx = iam_eval.context_keys({"sub": "s", "aud": "a", "azp": "z"}, HOST)
    assert ctx[f"{HOST}:aud"] == ["z"] and ctx[f"{HOST}:oaud"] == ["a"]


# ---- token validation, on tokens minted in-process with throwaway keys

ISS = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def key():
    return local_oidc.new_key()


def token(key, signing=None, **over):
    claims = {**local_oidc.run_claims(ISS), **over}
    return jwt.encode(claims, signing or key, algorithm="RS256", headers={"kid": local_oidc.key_id(key)})


def test_a_valid_token_passes(key):
    assert jwt_tokens.validate_token(token(key), local_oidc.public_jwks(key), ISS, AUD).ok


@pytest.mark.parametrize("over,why", [
    ({"iss": "https://evil.example.com"}, "iss"),
    ({"aud": "sts.example.com"}, "aud"),
    ({"exp": int(time.time()) - 10}, "exp"),
    ({"nbf": int(time.time()) + 600}, "nbf"),
])
def test_a_bad_claim_fails(key, over, why):
    f = jwt_tokens.validate_token(token(key, **over), local_oidc.public_jwks(key), ISS, AUD)
    assert not f.ok and f.actual.startswith(why)


def test_a_forged_signature_and_an_unknown_kid_fail(key):
    other = local_oidc.new_key()
    forged = token(key, signing=other)
    assert "signature" in jwt_tokens.validate_token(forged, local_oidc.public_jwks(key), ISS, AUD).actual
    assert "kid" in jwt_tokens.validate_token(token(other), local_oidc.public_jwks(key), ISS, AUD).actual
    assert not jwt_tokens.validate_token("not-a-jwt", local_oidc.public_jwks(key), ISS, AUD).ok


def test_validation_at_a_given_time(key):
    t = token(key)
    exp = jwt_tokens.token_claims(t)["exp"]
    assert jwt_tokens.validate_token(t, local_oidc.public_jwks(key), ISS, AUD, now=exp - 1).ok
    assert not jwt_tokens.validate_token(t, local_oidc.public_jwks(key), ISS, AUD, now=exp).ok


def test_hs256_with_the_public_key_is_refused(key):
    forged = jwt.encode(local_oidc.run_claims(ISS), "s" * 32, algorithm="HS256",
                        headers={"kid": local_oidc.key_id(key)})
    assert "alg" in jwt_tokens.validate_token(forged, local_oidc.public_jwks(key), ISS, AUD).actual


def test_github_subject_template():
    assert local_oidc.run_claims(ISS)["sub"] == SUB
    assert local_oidc.run_claims(ISS, event_name="pull_request")["sub"].endswith(":pull_request")
    assert local_oidc.run_claims(ISS, environment="prod")["sub"].endswith(":environment:prod")
    assert set(local_oidc.CLAIMS) - {"environment"} <= set(local_oidc.run_claims(ISS))


def test_an_unknown_token_variant_is_bad_input():
    with pytest.raises(errors.BadInput) as e:
        local_oidc.mint_variant({"key_file": "/nonexistent", "kid": "k"}, {}, "exp", "soon")
    assert str(e.value) == local_oidc.UNKNOWN_VARIANT.format(claim="exp", value="soon")


# ---- the template and its seeded faults (copies in tmp_path)

def test_the_committed_template_passes():
    f = trust_checks.check_template()
    assert f.ok, f.evidence


@pytest.mark.parametrize("fault,naming", [
    ("wildcard-admin-policy", "Action * on *"),
    ("open-trust-subject", "repo:*"),
    ("missing-audience", "aud"),
])
def test_each_seeded_fault_turns_the_check_red(tmp_path, fault, naming):
    before = load.IAM_TEMPLATE.read_text()
    f = trust_checks.check_template(faults.seeded_iam_copy(fault, tmp_path))
    assert trust_checks.caught(f, naming).ok, f
    assert load.IAM_TEMPLATE.read_text() == before


def test_an_unknown_fault_is_bad_input(tmp_path):
    with pytest.raises(errors.BadInput) as e:
        faults.seeded_iam_copy("nope", tmp_path)
    assert str(e.value) == faults.FAULT_UNKNOWN.format(fault="nope", known=", ".join(faults.IAM_FAULTS))
    assert not list(tmp_path.iterdir())


def test_template_parameters_come_from_settings():
    p = parameters.iam_values(Environment.named("dev"))
    assert p["DeploySubject"] == SUB and p["OidcAudience"] == AUD and p["OidcIssuer"] == HOST
    assert int(p["SessionSeconds"]) == GH["session_seconds"] <= 3600
    template, r = parameters.iam_resolver(Environment.named("dev"), account_id="123456789012", region="us-east-1")
    roles = iam_roles.roles(template, r)
    assert roles["DeployRole"]["max_session"] == GH["session_seconds"]
    trust = json.dumps(roles["DeployRole"]["trust"])
    assert f"{HOST}:sub" in trust and PROVIDER in trust


def test_the_issuer_key_file_is_private_and_removed_at_stop(tmp_path):
    info = local_oidc.start(tmp_path, progress=lambda m: None)
    try:
        mode = stat.S_IMODE((tmp_path / local_oidc.KEY_FILE).stat().st_mode)
        assert mode == 0o600
        jwks = jwt_tokens.jwks(info["oidc_issuer_url"])
        assert all("d" not in k and "p" not in k for k in jwks["keys"])   # public material only
        t = local_oidc.mint(info, local_oidc.run_claims(info["oidc_issuer_url"]))
        assert jwt_tokens.validate_token(t, jwks, info["oidc_issuer_url"], AUD).ok
    finally:
        local_oidc.stop(tmp_path)
    assert not (tmp_path / local_oidc.KEY_FILE).exists()


# ---- the verdicts of the exchange scenarios can come out red

def _creds(seconds: int) -> sts.Credentials:
    from datetime import datetime, timedelta
    return sts.Credentials("ASIAEXAMPLE000000001", config.Secret("x"), config.Secret("y"),
                            datetime.now(UTC) + timedelta(seconds=seconds), "arn:aws:sts::1:assumed-role/r/s")


def test_a_refused_run_that_got_credentials_or_reached_sts_fails():
    from provision.findings import failed, passed
    got = sts.Exchange(passed("credentials"), _creds(600), True)
    asked = sts.Exchange(failed("credentials", gaps=("gap",)), None, True)
    clean = sts.Exchange(failed("credentials", gaps=("gap",)), None, False)
    assert not sts.refused(got).ok and not sts.refused(asked).ok and sts.refused(clean).ok
    assert not oidc_runs.judge_run(got, False, 3600).ok and oidc_runs.judge_run(clean, False, 3600).ok
    assert not oidc_runs.judge_run(clean, True, 3600).ok


def test_credentials_lasting_too_long_fail():
    assert sts.check_expiry(_creds(3000), 3600).ok
    assert not sts.check_expiry(_creds(7200), 3600).ok
    assert not sts.check_expiry(_creds(-5), 3600).ok
    a = _creds(60)
    assert not sts.check_distinct(a, a).ok


def test_the_property_fails_on_a_counterexample_or_too_few_runs():
    from provision.findings import passed
    runs = [(True, passed("allowed run")), (False, passed("refused run", actual="x: no"))] * 50
    assert oidc_runs.property_result(None, runs, [], 100).ok
    assert not oidc_runs.property_result(None, runs[:10], [], 100).ok
    assert not oidc_runs.property_result(None, runs, ["FAIL refused run"], 100).ok
    assert not oidc_runs.property_result(None, [r for r in runs if r[0]], [], 50).ok


# ---- which workflow job can assume which role; the github settings (repository case, the provider)

from provision.aws import workflow_trust  # noqa: E402
from provision.ci import workflow_model  # noqa: E402


def test_each_role_is_assumable_by_its_own_job_only():
    f = workflow_trust.jobs_assume_only_their_roles()
    assert f.ok, f.evidence
    assert any("verify-live.yml/verify assumes VerifyRole" in e for e in f.evidence)


def test_the_roles_sharing_a_subject_let_the_nightly_job_assume_the_deploy_role(tmp_path):
    f = workflow_trust.jobs_assume_only_their_roles(iam_path=faults.seeded_iam_copy("roles-share-subject", tmp_path))
    assert trust_checks.caught(f, "verify-live.yml/verify can assume DeployRole").ok


def test_a_verify_job_without_its_environment_can_assume_the_deploy_role(tmp_path):
    src = workflow_model.WORKFLOWS_DIR
    for p in list(src.glob("*.yml")):
        text = p.read_text()
        if p.name == workflow_model.LIVE:
            assert text.count(f"    environment: {GH['verify_environment']}\n") == 1
            text = text.replace(f"    environment: {GH['verify_environment']}\n", "")
        (tmp_path / p.name).write_text(text)
    f = workflow_trust.jobs_assume_only_their_roles(workflows_dir=tmp_path)
    assert trust_checks.caught(f, "verify-live.yml/verify can assume DeployRole").ok
    assert trust_checks.caught(f, "verify-live.yml/verify cannot assume its own role VerifyRole").ok


def test_job_subjects_follow_githubs_default_template():
    repo = GH["repository"]
    wf = workflow_model.parse("on:\n  pull_request:\n  push:\n    branches: [main]\n    tags: ['v*']\n"
                              "jobs:\n  a: {runs-on: x}\n")
    assert workflow_trust.subjects(wf, {}, repo) == (f"repo:{repo}:pull_request", f"repo:{repo}:ref:refs/heads/main",
                                                     f"repo:{repo}:ref:refs/tags/vx")
    assert workflow_trust.subjects(wf, {"environment": {"name": "prod"}}, repo) == (f"repo:{repo}:environment:prod",)
    claims = workflow_trust.job_claims(workflow_model.LIVE, "verify")
    assert claims == [{"sub": GH["verify_subject"], "environment": GH["verify_environment"]}]


def test_a_job_token_offline_carries_the_jobs_environment_and_live_exists_only_in_that_job():
    iss = oidc_runs.Issuer("https://issuer.local", {"key_file": "/nonexistent", "kid": "k"})
    claims = {}
    orig = local_oidc.mint
    try:
        local_oidc.mint = lambda info, c: claims.update(c) or "token"
        oidc_runs.job_token(iss, workflow_model.LIVE, "verify")
    finally:
        local_oidc.mint = orig
    assert claims["sub"] == GH["verify_subject"] and claims["environment"] == GH["verify_environment"]
    with pytest.raises(errors.TargetUnavailable):
        oidc_runs.job_token(oidc_runs.Issuer("https://x"), workflow_model.DEPLOY, "deploy",
                            environ={"GITHUB_JOB": "verify", "GITHUB_WORKFLOW_REF": f"o/r/.github/workflows/"
                                                                                     f"{workflow_model.LIVE}@main"})


def test_the_committed_github_settings_pass():
    assert trust_checks.subjects_match_repository().ok
    assert trust_checks.oidc_provider_setting().ok


@pytest.mark.parametrize("fault, naming", [
    ("subject-case-differs", "case differs"),
    ("verify-subject-is-main", "environment:live-verify"),
    ("provider-other-account", "expected `create` or"),
])
def test_each_seeded_github_setting_is_caught(fault, naming):
    from provision.findings import combine
    gh = faults.seeded_github(fault)
    f = combine("github", [trust_checks.subjects_match_repository(gh), trust_checks.oidc_provider_setting(gh)])
    assert trust_checks.caught(f, naming).ok, f


def test_an_existing_provider_arn_means_no_stack_creates_one():
    arn = f"arn:aws:iam::{config.settings()['aws']['account_id']}:oidc-provider/{HOST}"
    gh = {**GH, "oidc_provider": arn}
    assert trust_checks.oidc_provider_setting(gh).ok
    orig = config.settings()["github"].get("oidc_provider")
    config.settings()["github"]["oidc_provider"] = arn
    try:
        for env in ("dev", "prod"):
            assert parameters.iam_values(Environment.named(env))["ExistingOidcProviderArn"] == arn
    finally:
        config.settings()["github"]["oidc_provider"] = orig
    assert parameters.iam_values(Environment.named(GH["oidc_provider_env"]))["ExistingOidcProviderArn"] == ""
