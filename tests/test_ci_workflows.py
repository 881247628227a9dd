"""Pure predicates of provision.ci on small inline workflows; each rule is shown red and green."""
import argparse
import sys
import textwrap

import pytest

from harness.faults import workflows as workflow_faults
from provision import config, errors
from provision.ci import deploy_checks, lint, live_checks, outputs
from provision.ci import workflow_checks as checks
from provision.ci import workflow_model as model

pytestmark = [pytest.mark.offline, pytest.mark.unit]

SHA = "0123456789abcdef0123456789abcdef01234567"


def wf(text: str, name: str = "x.yml") -> model.Workflow:
    return model.parse(textwrap.dedent(text), name)


def deploy() -> model.Workflow:
    return model.workflow(model.DEPLOY)


def edited(old: str, new: str, name: str = model.DEPLOY) -> model.Workflow:
    text = (model.WORKFLOWS_DIR / name).read_text()
    assert old in text, old
    return model.parse(text.replace(old, new, 1), name)


# ---- parsing -------------------------------------------------------------------

def test_on_key_is_restored_from_yaml_true():
    w = wf("on: [push]\njobs: {a: {runs-on: x, steps: []}}\n")
    assert w.triggers() == {"push": None} and True not in w.doc


@pytest.mark.parametrize("text, why", [
    ("jobs: [unclosed", "invalid YAML"),
    ("- a list\n", "not a workflow (no jobs mapping)"),
])
def test_bad_workflow_is_one_clear_line(text, why):
    with pytest.raises(errors.BadInput) as e:
        model.parse(text, "bad.yml")
    assert str(e.value).startswith(f"workflow bad.yml: {why}") and "\n" not in str(e.value)


def test_missing_workflow_file_is_bad_input(tmp_path):
    with pytest.raises(errors.BadInput, match=r"^workflow .*nope.yml: "):
        model.workflow("nope.yml", tmp_path)


# ---- permissions, credentials, keys -------------------------------------------

def test_committed_deploy_workflow_passes_every_own_check():
    bad = [f for f in lint.own_checks(deploy()) if not f.ok]
    assert bad == []


def test_extra_permission_on_the_deploy_job_is_red():
    w = edited("      id-token: write\n", "      id-token: write\n      packages: write\n")
    f = checks.permissions_exact(w, "deploy")
    assert not f.ok and "packages" in f.actual


@pytest.mark.parametrize("perms", ["write-all", "read-all"])
def test_workflow_wide_permission_strings_are_red(perms):
    w = edited("\npermissions: {}\n", f"\npermissions: {perms}\n")
    assert f"workflow permissions: {perms}" in checks.least_privilege(w).evidence


def test_missing_permissions_are_red():
    w = wf("on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: make}]\n")
    assert not checks.least_privilege(w).ok


@pytest.mark.parametrize("old, new, needle", [
    ("vars.AWS_DEPLOY_ROLE_ARN }}", "secrets.ROLE }}", "role-to-assume"),
    ("role-session-name: deploy-${{ github.run_id }}-", "role-session-name: deploy-", "github.run_id"),
    ("      id-token: write\n", "", "id-token"),
])
def test_oidc_credentials_rules(old, new, needle):
    f = checks.oidc_credentials(edited(old, new), "deploy", checks.DEPLOY_ROLE_VAR)
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


# AWS's documented example key id, assembled so no scanner takes this file for a leak.
EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"


@pytest.mark.parametrize("line", [
    "          key: " + EXAMPLE_KEY_ID,
    "          run: aws configure export-credentials",
    "        env: {AWS_SECRET_ACCESS_KEY: x}",
])
def test_static_key_patterns_are_red(line):
    w = model.parse("on: push\njobs: {}\n# " + line + "\n", "k.yml")
    f = checks.static_aws_keys([w])
    assert not f.ok
    # the key itself is never repeated in the evidence
    assert all(EXAMPLE_KEY_ID not in e for e in f.evidence)


# ---- hygiene ---------------------------------------------------------------------

def test_unpinned_and_local_actions():
    w = wf("""\
        on: push
        permissions: {}
        jobs:
          a:
            runs-on: x
            permissions: {contents: read}
            steps:
              - uses: ./local-action
              - uses: actions/checkout@v4
              - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
        """)
    f = checks.pinned_actions(w)
    assert not f.ok and len(f.evidence) == 1 and "actions/checkout@v4" in f.evidence[0]


def test_any_expression_in_run_is_red_even_a_harmless_one():
    w = wf("on: push\njobs:\n  a:\n    steps:\n      - run: echo ${{ github.sha }}\n")
    f = checks.no_expressions_in_run(w)
    assert not f.ok and "template-injection risk" in f.evidence[0]


def test_pull_request_target_is_red():
    w = wf("on: [pull_request_target]\njobs: {a: {steps: []}}\n")
    assert "dangerous trigger pull_request_target" in checks.no_dangerous_triggers(w).evidence


# ---- the deploy workflow ---------------------------------------------------------

@pytest.mark.parametrize("fault, needle", [
    ("deploy-on-pull-request", "runs on pull_request"),
    ("push-not-main", "expected branches [main]"),
])
def test_a_seeded_deploy_trigger_fault_turns_the_trigger_check_red(tmp_path, fault, needle):
    assert deploy_checks.deploy_triggers(deploy()).ok
    f = deploy_checks.deploy_triggers(model.load(workflow_faults.seed(fault, tmp_path)))
    assert lint.caught(f, needle).ok, f


@pytest.mark.parametrize("trigger", ["pull_request", "pull_request_target", "schedule", "release"])
def test_a_deploy_on_any_other_trigger_is_red(trigger):
    f = deploy_checks.deploy_triggers(edited("  workflow_dispatch:\n", f"  {trigger}:\n  workflow_dispatch:\n"))
    assert lint.caught(f, f"runs on {trigger}").ok, f


@pytest.mark.parametrize("old, new, needle", [
    ("      cancel-in-progress: false", "      cancel-in-progress: true", "cancel-in-progress: true"),
    ("      cancel-in-progress: false\n", "", "cancel-in-progress: none"),
    ("group: deploy-${{ inputs.environment || 'dev' }}", "group: deploy-${{ github.sha }}", "github.sha"),
    ("group: deploy-${{ inputs.environment || 'dev' }}", "group: deploy", "not keyed"),
])
def test_concurrency_rules(old, new, needle):
    f = deploy_checks.concurrency_per_cluster(edited(old, new))
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


def test_concurrency_names_the_github_queue_gap():
    f = deploy_checks.concurrency_per_cluster(deploy())
    assert f.ok and any("one pending run" in g for g in f.gaps)


@pytest.mark.parametrize("old, new, needle", [
    ("web_image }}:${{ github.sha }}", "web_image }}:latest", "cloudtolocalllm-web"),
    ("          push: true\n", "          push: false\n", "never pushed"),
    ("    needs: build\n", "", "does not need build"),
])
def test_image_tag_rules(old, new, needle):
    f = deploy_checks.image_tags(edited(old, new))
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


def test_image_tags_resolve_settings_outputs():
    known = model.settings_outputs(deploy(), "build")
    web = config.settings()["images"]["web"]
    assert model.resolve("${{ steps.settings.outputs.web_image }}:x", known) == f"{web}:x"


@pytest.mark.parametrize("old, new, needle", [
    ("IMAGE_TAG: ${{ github.sha }}\n        run: provision", "IMAGE_TAG: latest\n        run: provision",
     "not ${{ github.sha }}"),
    ('--image-tag "$IMAGE_TAG"', '--image-tag "$IMAGE_TAG" --no-rollback', "not of the form"),
])
def test_deploy_command_rules(old, new, needle):
    f = deploy_checks.deploy_command(edited(old, new))
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


def test_deploy_command_old_spelling_is_red():
    f = deploy_checks.deploy_command(edited("run: provision app deploy --env", "run: provision deploy --env"))
    assert not f.ok and f.actual == "0 lines" and deploy_checks.DEPLOY_FORM in f.expected


def _parser_with(add):
    """A `provision` parser whose `app` noun has the verbs `add(verbs)` declares."""
    def make():
        p = argparse.ArgumentParser(prog="provision")
        app = p.add_subparsers(dest="command", required=True).add_parser("app")
        add(app.add_subparsers(dest="verb", required=True))
        return p
    return make


def test_deploy_command_is_red_when_the_cli_has_no_app_deploy():
    f = deploy_checks.deploy_command(deploy(), make_parser=_parser_with(lambda sub: sub.add_parser("status")))
    assert not f.ok and "the CLI rejects it" in f.evidence[0] and "invalid choice" in f.evidence[0]


def test_deploy_command_is_red_when_the_cli_loses_a_value():
    def add(sub):
        d = sub.add_parser("deploy")
        d.add_argument("--env", required=True)
        d.add_argument("--image-tag", required=True, type=lambda v: "latest")
    f = deploy_checks.deploy_command(deploy(), make_parser=_parser_with(add))
    assert not f.ok and "parsed, but" in f.evidence[0] and "0" * 40 in f.evidence[0]


def test_deploy_command_is_red_when_the_cli_rejects_it():
    def add(sub):
        d = sub.add_parser("deploy")
        d.add_argument("--environment", required=True)
    f = deploy_checks.deploy_command(deploy(), make_parser=_parser_with(add))
    assert not f.ok and "the CLI rejects it" in f.evidence[0]


def test_deploy_command_parses_with_the_real_cli():
    f = deploy_checks.deploy_command(deploy())
    assert f.ok and f.grade == "static" and f.gaps == (), f.evidence


def test_workflow_checks_are_static_evidence():
    assert {f.grade for f in lint.own_checks(deploy())} == {"static"}
    assert {f.grade for f in lint.own_checks(model.workflow(model.LIVE))} == {"static"}


def test_summary_and_alert_rules():
    assert not deploy_checks.summary_and_alert(edited("    if: failure()\n", "")).ok
    assert not deploy_checks.summary_and_alert(edited("::error title=", "error title=")).ok
    assert not deploy_checks.summary_and_alert(edited("          OUTCOME: ${{ steps.deploy.outcome }}\n", "")).ok


# ---- the live and CI workflows ---------------------------------------------------

@pytest.mark.parametrize("old, new, needle", [
    ("--target live -m live", "--target live", "-m live"),
    ("--target live -m live", "-m live", "--target live"),
    ("          CLOUDFLARE_ZONE_ID: ${{ vars.CLOUDFLARE_ZONE_ID }}\n", "", "CLOUDFLARE_ZONE_ID"),
    ("  schedule:\n", "  push:\n", "schedule"),
])
def test_live_run_rules(old, new, needle):
    f = live_checks.live_run(edited(old, new, model.LIVE))
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


@pytest.mark.parametrize("old, new, needle", [
    ("          path: reports/", "          path: build/", "uploads reports/"),
    ("cat reports/latest/signoff.md >>", "cat reports/latest/other.md >>", "signoff.md"),
])
def test_live_publish_rules(old, new, needle):
    f = live_checks.live_publish(edited(old, new, model.LIVE))
    assert not f.ok and any(needle in e for e in f.evidence), f.evidence


def test_ci_rules():
    assert checks.ci_offline(model.workflow(model.CI)).ok
    f = checks.ci_offline(edited("        run: make test", "        run: pytest", model.CI))
    assert not f.ok and "make test" in f.evidence[0]


# ---- outputs, seeds, tool errors --------------------------------------------------

def test_outputs_come_from_settings(capsys):
    assert outputs.main(["--env", "dev"]) == 0
    lines = dict(ln.split("=", 1) for ln in capsys.readouterr().out.splitlines())
    s = config.settings()
    assert lines["cluster"] == s["environments"]["dev"]["cluster_name"]
    assert lines["region"] == s["aws"]["region"]
    assert lines["deploy_role_arn"].startswith(f"arn:aws:iam::{s['aws']['account_id']}:role/")


def test_outputs_unknown_env_is_one_line(capsys):
    assert outputs.main(["--env", "nope"]) == errors.EXIT_USAGE
    assert capsys.readouterr().err.strip() == "provision.ci.outputs: " + errors.UNKNOWN_ENV.format(
        env="nope", known=", ".join(config.environments()))


def test_every_fault_applies_and_leaves_the_committed_file_alone(tmp_path):
    before = (model.WORKFLOWS_DIR / model.DEPLOY).read_text()
    for fault in workflow_faults.FAULTS:
        out = workflow_faults.seed(fault, tmp_path / fault)
        assert out.read_text() != before
    assert (model.WORKFLOWS_DIR / model.DEPLOY).read_text() == before


def test_unknown_fault_and_missing_anchor_are_bad_input(tmp_path):
    with pytest.raises(errors.BadInput, match="unknown workflow fault 'nope'"):
        workflow_faults.seed("nope", tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / model.DEPLOY).write_text("on: push\njobs: {}\n")
    with pytest.raises(errors.BadInput, match="did not apply"):
        workflow_faults.seed("write-all", tmp_path / "out", source_dir=tmp_path / "src")


def test_tool_failure_carries_command_exit_code_and_stderr():
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(7)"]
    with pytest.raises(errors.ProvisionError) as e:
        lint._run("tool", argv, (0,))
    assert "exit 7" in str(e.value) and sys.executable in str(e.value) and e.value.evidence == ("boom",)


def test_caught_is_red_when_the_fault_goes_unnoticed():
    from provision.findings import failed, passed
    assert not lint.caught(passed("x"), "y").ok
    assert not lint.caught(failed("x", evidence=["other"]), "y").ok
    assert lint.caught(failed("x", evidence=["FAIL a y b"]), "y").ok
    assert not lint.caught(failed("x", evidence=["a y b"]), "y").ok  # an unmarked line is not what went red


def test_the_offline_run_gives_a_job_the_secrets_and_variables_it_is_given_and_nothing_else():
    from provision.ci import offline_run

    ctx = {"secrets.CLOUDFLARE_DNS_TOKEN": "tok"}
    assert offline_run._resolve("${{ secrets.CLOUDFLARE_DNS_TOKEN }}", ctx, "s") == "tok"
    assert offline_run._resolve("${{ vars.CLOUDFLARE_ZONE_ID }}", ctx, "s") == ""  # unset, as on GitHub
    with pytest.raises(ValueError, match="cannot resolve"):
        offline_run._resolve("${{ github.event.pull_request.title }}", ctx, "s")
