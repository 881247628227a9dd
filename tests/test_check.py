"""`provision check` (provision/check/): each rule turned red by its own seeded fault, malformed input as a
finding, the formats (SARIF validated against the vendored 2.1.0 schema), exit codes, and the CLI table."""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from provision import cli
from provision.check import commands, formats
from provision.check.issues import ERROR
from provision.kube import secret_scan

DATA = Path(__file__).parent / "data" / "check"
GOOD = DATA / "good"

pytestmark = pytest.mark.offline


def failing_rules(path: Path, kind: str | None = None, **kw) -> set[str]:
    return {i.rule for i in commands.check([path], kind, tools=False, **kw) if i.level == ERROR}


def seeded(tmp_path: Path, mutate) -> Path:
    """A copy of good/app.yaml with one fault: mutate(ServiceAccount, Deployment, Secret) changes it."""
    docs = list(yaml.safe_load_all((GOOD / "app.yaml").read_text()))
    sa, dep, secret = copy.deepcopy(docs)
    extra = mutate(sa, dep, secret)
    extra = extra if isinstance(extra, list) else []
    out = tmp_path / "seeded"
    out.mkdir(exist_ok=True)
    (out / "app.yaml").write_text(yaml.safe_dump_all([sa, dep, secret, *extra], sort_keys=False))
    return out


def pod(dep):
    return dep["spec"]["template"]["spec"]


def container(dep):
    return pod(dep)["containers"][0]


def test_the_good_inputs_are_clean():
    assert failing_rules(GOOD) == set()


def role(kind: str, rules: list[dict]) -> list[dict]:
    r = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "seeded"}, "rules": rules}
    b = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding", "metadata": {"name": "seeded"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "seeded"},
         "subjects": [{"kind": "ServiceAccount", "name": "ops", "namespace": "shop"}]}
    if kind == "Role":
        r["metadata"]["namespace"] = b["metadata"]["namespace"] = "shop"
    return [r, b]


FAULTS = {
    "read-only-root": (lambda sa, d, s: container(d)["securityContext"].update(readOnlyRootFilesystem=False),
                       {"k8s.read-only-root"}),
    "read-only-root-unset": (lambda sa, d, s: container(d)["securityContext"].pop("readOnlyRootFilesystem"),
                             {"k8s.read-only-root"}),
    "token-mounted-unneeded": (lambda sa, d, s: pod(d).update(automountServiceAccountToken=True), {"k8s.sa-token"}),
    "token-from-service-account": (lambda sa, d, s: (pod(d).pop("automountServiceAccountToken"),
                                                     sa.update(automountServiceAccountToken=True)), {"k8s.sa-token"}),
    "privileged": (lambda sa, d, s: container(d)["securityContext"].update(privileged=True), {"k8s.privileged"}),
    # allowPrivilegeEscalation is also part of Pod Security restricted: both name it
    "privilege-escalation": (lambda sa, d, s: container(d)["securityContext"].update(allowPrivilegeEscalation=True),
                             {"k8s.privileged", "k8s.restricted"}),
    "host-network": (lambda sa, d, s: pod(d).update(hostNetwork=True), {"k8s.host-access"}),
    "host-pid": (lambda sa, d, s: pod(d).update(hostPID=True), {"k8s.host-access"}),
    "host-ipc": (lambda sa, d, s: pod(d).update(hostIPC=True), {"k8s.host-access"}),
    "host-path": (lambda sa, d, s: pod(d).update(volumes=[{"name": "docker", "hostPath": {"path": "/var/run"}}]),
                  {"k8s.host-access"}),
    "role-reads-secrets": (lambda sa, d, s: role("Role", [{"apiGroups": [""], "resources": ["secrets"],
                                                           "verbs": ["get", "list"]}]), {"k8s.rbac"}),
    "clusterrole-wildcard-verbs": (lambda sa, d, s: role("ClusterRole", [{"apiGroups": ["apps"],
                                                                          "resources": ["deployments"],
                                                                          "verbs": ["*"]}]), {"k8s.rbac"}),
    "clusterrole-wildcard-resources": (lambda sa, d, s: role("ClusterRole", [{"apiGroups": [""], "resources": ["*"],
                                                                              "verbs": ["get"]}]), {"k8s.rbac"}),
    "role-bind": (lambda sa, d, s: role("ClusterRole", [{"apiGroups": ["rbac.authorization.k8s.io"],
                                                        "resources": ["clusterroles"], "verbs": ["bind"]}]),
                  {"k8s.rbac"}),
    "role-escalate": (lambda sa, d, s: role("ClusterRole", [{"apiGroups": ["rbac.authorization.k8s.io"],
                                                            "resources": ["roles"], "verbs": ["escalate"]}]),
                      {"k8s.rbac"}),
    "role-impersonate": (lambda sa, d, s: role("ClusterRole", [{"apiGroups": [""], "resources": ["users"],
                                                               "verbs": ["impersonate"]}]), {"k8s.rbac"}),
    "role-exec": (lambda sa, d, s: role("Role", [{"apiGroups": [""], "resources": ["pods/exec"],
                                                 "verbs": ["create"]}]), {"k8s.rbac"}),
    "secret-real-value": (lambda sa, d, s: s["stringData"].update(password="hunter2-prod"), {"secret.value"}),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_seeded_manifest_fault_turns_exactly_its_rule_red(fault, tmp_path):
    mutate, expected = FAULTS[fault]
    assert failing_rules(seeded(tmp_path, mutate)) == expected


def test_rbac_finding_names_the_holder_and_the_right(tmp_path):
    path = seeded(tmp_path, FAULTS["role-reads-secrets"][0])
    [issue] = [i for i in commands.check([path], tools=False) if i.rule == "k8s.rbac"]
    assert "ServiceAccount shop/ops" in issue.message and "read Secrets" in issue.message
    assert issue.file == "app.yaml" and issue.line > 1


def test_a_pod_whose_account_a_binding_grants_rights_may_mount_its_token(tmp_path):
    def bound(sa, d, s):
        pod(d)["automountServiceAccountToken"] = True
        pod(d)["serviceAccountName"] = "ops"
        return role("Role", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}])
    assert failing_rules(seeded(tmp_path, bound)) == set()


def test_an_exemption_is_a_note_with_its_reason(tmp_path):
    def nginx(sa, d, s):
        container(d)["image"] = "registry.k8s.io/ingress-nginx/controller:v1.12.1"
        container(d)["securityContext"]["readOnlyRootFilesystem"] = False
    issues = commands.check([seeded(tmp_path, nginx)], tools=False)
    notes = [i for i in issues if i.rule == "k8s.read-only-root"]
    assert [i.level for i in notes] == ["note"] and "exempt: nginx renders" in notes[0].message


@pytest.mark.parametrize("value, secret", [
    ("", False), ("${DB_PASSWORD}", False), ("$(DB_PASSWORD)", False), ("{{ .Values.password }}", False),
    ("changeme", False), ("<password>", False), ("REPLACE_ME", False), ("xxxx", False),
    ("hunter2-prod", True), ("s3cr3t", True)])
def test_secret_values_are_judged(value, secret):
    assert secret_scan.is_secret_value(value) is secret


TOKENS = {
    "AWS access key id": "AKIA" + "Q7" * 8,
    "GitHub token": "ghp_" + "a1B2" * 9,
    "GitHub fine-grained token": "github_pat_" + "11ABCDEFG0" * 6,
    "Slack token": "xoxb-" + "1234567890-abcdefghij",
    "private key": "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
    "Cloudflare API credential": "cfut_" + "aB3" * 13 + "x" + "0123abcd",
}


@pytest.mark.parametrize("what", sorted(TOKENS))
def test_known_token_formats_are_secrets_anywhere(what, tmp_path):
    (tmp_path / "notes.txt").write_text(f"token: {TOKENS[what]}\n")
    issues = [i for i in commands.check([tmp_path], tools=False) if i.rule == "secret.value"]
    assert [(i.file, i.line, i.message) for i in issues] == [("notes.txt", 1, f"looks like a {what}")]
    assert TOKENS[what] not in formats.render("text", issues, commands.rules())


def test_a_base64_placeholder_in_data_is_not_a_secret():
    doc = {"kind": "Secret", "data": {"a": "Y2hhbmdlbWU=", "b": "", "c": "cmVhbC12YWx1ZQ=="}}   # changeme, real-value
    assert secret_scan.secret_keys(doc) == ["c"]


# ---- the directory of seeded bad files: malformed input is a finding, never a crash

def test_the_seeded_bad_directory_names_each_fault():
    issues = commands.check([DATA / "bad"], tools=False)
    named = {(i.rule, i.file) for i in issues if i.level == ERROR}
    assert {("input.malformed", "malformed.yaml"), ("input.render", "broken-kustomization"),
            ("cfn.eks-logging", "eks-logging-list.yaml"), ("cfn.eks-endpoint", "eks-logging-list.yaml"),
            ("cfn.github-oidc-trust", "github-trust-wildcard.yaml"),
            ("gha.risky-trigger", ".github/workflows/comment.yml"),
            ("gha.least-privilege", ".github/workflows/scan.yml")} <= named
    risky = [i for i in issues if i.rule == "gha.risky-trigger"]
    assert "issue_comment" in risky[0].message and "pull-requests: write" in risky[0].message


def test_a_template_parameter_without_a_default_is_no_refusal():
    assert "cfn.github-oidc-trust" not in failing_rules(GOOD, "templates")
    assert not [i for i in commands.check([GOOD / "network.yaml"], "templates", tools=False) if i.level == ERROR]


def test_a_risky_trigger_with_read_only_token_and_no_secrets_passes(tmp_path):
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "label.yml").write_text((DATA / "bad" / ".github" / "workflows" / "comment.yml").read_text()
                                  .replace("      pull-requests: write\n", "").replace("${{ secrets.BOT_TOKEN }}", "x"))
    assert failing_rules(tmp_path, "workflows") == set()


def test_security_events_write_only_where_sarif_is_uploaded():
    assert failing_rules(GOOD, "workflows") == set()
    assert "gha.least-privilege" in failing_rules(DATA / "bad", "workflows")


# ---- formats and exit codes

def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path):
    issues = commands.check([DATA / "bad"], tools=False) + commands.check([seeded(tmp_path, FAULTS["privileged"][0])],
                                                                          tools=False)
    doc = json.loads(formats.render("sarif", issues, commands.rules()))
    schema = json.loads(formats.SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert len(results) == len(issues) and {r["ruleId"] for r in results} >= {"k8s.privileged", "input.malformed"}


def test_an_invalid_sarif_document_is_refused_by_the_schema():
    schema = json.loads(formats.SARIF_SCHEMA.read_text())
    bad = json.loads(formats.render("sarif", [], commands.rules()))
    bad["version"] = "2.0.0"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(bad)


def test_rule_ids_are_unique_and_documented():
    ids = [r.id for r in commands.rules()]
    assert len(ids) == len(set(ids))
    doc = (Path(__file__).parent.parent / "docs" / "check.md").read_text()
    assert [i for i in ids if f"`{i}`" not in doc] == []


def test_cli_exit_codes_and_formats(tmp_path, capsys):
    assert cli.main(["check", str(GOOD), "--no-linters"]) == 0
    assert capsys.readouterr().out.strip() == "0 findings"
    assert cli.main(["check", "manifests", str(seeded(tmp_path, FAULTS["host-pid"][0])), "--format", "json",
                     "--no-linters"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in out["findings"]] == ["k8s.host-access"]
    assert cli.main(["check", str(tmp_path / "nowhere"), "--no-linters"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_text_lines_carry_rule_file_line_and_message(tmp_path):
    issues = commands.check([seeded(tmp_path, FAULTS["host-network"][0])], tools=False)
    [line] = formats.render("text", issues, commands.rules()).splitlines()[:-1]
    assert line.startswith("k8s.host-access app.yaml:") and "hostNetwork: true" in line


def test_policy_rules_apply_only_with_settings(tmp_path):
    shutil.copytree(GOOD, tmp_path / "repo")
    assert failing_rules(tmp_path / "repo") == set()
    settings = tmp_path / "repo" / "settings.yaml"
    settings.write_text(yaml.safe_dump({"kubernetes": {"secret": "app-secrets"}, "environments": {}}))
    # k8s.portable (R4.1) is this project's policy: a CRD kind is fine for anyone else
    crd = {"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding", "metadata": {"name": "tgb"}}
    (tmp_path / "repo" / "tgb.yaml").write_text(yaml.safe_dump(crd))
    settings.unlink()
    assert "k8s.portable" not in failing_rules(tmp_path / "repo", "manifests")
    assert "k8s.portable" in failing_rules(tmp_path / "repo", "manifests", settings_file=_settings(tmp_path))


def _settings(tmp_path: Path) -> Path:
    p = tmp_path / "own-settings.yaml"
    p.write_text(yaml.safe_dump({"kubernetes": {"secret": "app-secrets"}, "environments": {}}))
    return p
