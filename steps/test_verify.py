"""Steps of features/verify.feature: `provision verify`'s own function (provision/verify.py) on a deployment."""
from __future__ import annotations

from pytest_bdd import given, scenarios, then, when

from harness import kube as testing
from harness import rehearsal
from harness.plugin import collectors_key
from provision import config, verify
from provision.findings import Finding, unverifiable

scenarios("verify.feature")

NO_LOGS = ("this target's request logs (CloudTrail, the EKS audit log, Cloudflare's audit log) are not read by the "
           "suite; the rehearsal's are")


@given("the app deployed by the deploy engine to a fresh namespace", target_fixture="namespace")
def deployed_fresh(target, request, check):
    ns = testing.fresh_namespace(target, "ver")
    request.node.stash.setdefault(collectors_key, []).extend(testing.collectors(target, ns))
    request.addfinalizer(lambda: testing.drop_namespace(target, ns))
    check(testing.succeeded(target, testing.run_deploy(target, testing.options("dev", testing.sha_for("good"), ns))))
    return ns


@given("the deployment of the nightly environment", target_fixture="namespace")
def nightly_deployment(target):
    return target.namespace


@when("provision verify runs on it with the in-pod checks", target_fixture="verified")
def verify_in_pods(target, namespace):
    return verify.run(target, config.settings()["github"]["nightly_environment"], in_pods=True, namespace=namespace)


@when("provision verify runs on it", target_fixture="verified")
def verify_read_only(target, namespace):
    return verify.run(target, config.settings()["github"]["nightly_environment"], namespace=namespace)


@then("no check is red and at least one passed")
def none_red(verified, check):
    bad = [f for f in verified if f.status == "failed"]
    check(Finding(verify.exit_code(verified) == 0, "provision verify", "no check red, at least one passed",
                  verify.summary(verified), [*(f"FAIL {f.line()}" for f in bad), *verify.lines(verified)]))


@then("every check not verifiable on this target names its reason")
def reasons_named(verified, check):
    silent = [f for f in verified if f.unverifiable and not (f.evidence or f.gaps)]
    check(Finding(not silent, "checks not verifiable here", "each names its reason (evidence or a named gap)",
                  f"{sum(f.unverifiable for f in verified)} not verifiable, {len(silent)} without a reason",
                  [f"FAIL {f.line()}" for f in silent]))


@then("the nightly identity wrote nothing while it ran")
def wrote_nothing(target, verified, check):
    if not (target.local.get("aws_gate") and (target.local.get("controlplane") or {}).get("audit_log")):
        check(unverifiable("the nightly identity's writes", "no write", "logs not read here", (NO_LOGS,)))
    check(rehearsal.nightly_writes(target))
