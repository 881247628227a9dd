"""Pure predicates of the manifest checks (provision.kube.objects, checks, schema, secret_scan),
on generated objects and on the rendered overlays."""
import copy
from decimal import Decimal

import pytest

from harness.faults import manifests as faults
from provision import errors
from provision.findings import caught
from provision.kube import checks, objects, render, schema, secret_scan

pytestmark = [pytest.mark.offline, pytest.mark.unit]

WEB = "cloudtolocalllm/cloudtolocalllm-web"


def container(**over):
    c = {"name": "web-app", "image": f"{WEB}:abc123", "ports": [{"containerPort": 8080}],
         "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
         "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
         "livenessProbe": {"httpGet": {"path": "/", "port": 8080}},
         "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                             "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}
    c.update(over)
    return c


def deployment(c=None, replicas=1, name="web-app"):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [c or container()]}}}}


@pytest.fixture(scope="module")
def dev():
    return render.render("dev")


@pytest.fixture(scope="module")
def prod():
    return render.render("prod")


def test_has_limits_names_what_is_missing():
    assert checks.has_limits(container())
    c = container(resources={"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}})
    assert checks.missing_resources(c) == ["limits.cpu"]
    assert checks.missing_resources({"name": "x"}) == ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]


@pytest.mark.parametrize("image,pinned", [
    (f"{WEB}:0123abc", True), (f"{WEB}:latest", False), (WEB, False), (f"{WEB}@sha256:" + "a" * 64, True),
    ("registry:5000/x", False), ("registry:5000/x:1.2", True), ("postgres:16.6-alpine", True), ("postgres", False),
])
def test_image_is_pinned(image, pinned):
    assert objects.image_is_pinned(image) is pinned


@pytest.mark.parametrize("image,repo", [
    (f"{WEB}:1", WEB), (f"docker.io/{WEB}:1", WEB), ("docker.io/library/postgres:16", "postgres"),
    ("postgres@sha256:" + "b" * 64, "postgres"), ("ghcr.io/x/y:1", "ghcr.io/x/y"), ("reg:5000/a:1", "reg:5000/a"),
])
def test_image_repository(image, repo):
    assert objects.image_repository(image) == repo


def test_runs_as_non_root_container_overrides_pod():
    assert checks.runs_as_non_root({"securityContext": {"runAsNonRoot": True}}, {"name": "c"})
    assert not checks.runs_as_non_root({"securityContext": {"runAsNonRoot": True}},
                                  {"securityContext": {"runAsNonRoot": False}})
    assert not checks.runs_as_non_root({"securityContext": {"runAsNonRoot": True, "runAsUser": 0}}, {})
    assert not checks.runs_as_non_root({}, {})


def test_restricted_violations_lists_each_missing_field():
    assert checks.restricted_violations({}, container()) == []
    assert checks.restricted_violations({}, {"name": "c"}) == [
        "runAsNonRoot", "allowPrivilegeEscalation", "capabilities.drop ALL", "seccompProfile"]


@pytest.mark.parametrize("sel,labels,ok", [
    ({}, {"a": "1"}, True), (None, {"a": "1"}, False), ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "2"}}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "3"]}]}, {"a": "1"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
])
def test_selector_matches(sel, labels, ok):
    assert objects.selector_matches(sel, labels) is ok


@pytest.mark.parametrize("q,value", [("100m", "0.1"), ("1", "1"), ("0.5", "0.5"), ("128Mi", str(128 * 2**20)),
                                     ("1Gi", str(2**30)), ("1k", "1000"), ("2M", "2000000")])
def test_quantity(q, value):
    assert objects.quantity(q) == Decimal(value)


def test_quantity_rejects_garbage():
    with pytest.raises(errors.BadInput):
        objects.quantity("lots")


def test_checks_fail_on_generated_faults():
    assert checks.check_resources([deployment()]).ok
    assert not checks.check_resources([deployment(container(resources={}))]).ok
    assert not checks.check_probes([deployment(container(readinessProbe=None))]).ok
    assert checks.check_probes([deployment(container(ports=None, readinessProbe=None))]).ok   # not serving
    assert not checks.check_images_pinned([deployment(container(image=f"{WEB}:latest"))]).ok
    assert not checks.check_pdbs([deployment(replicas=2)]).ok
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web-app"}}}}
    assert checks.check_pdbs([deployment(replicas=2), pdb]).ok
    eni = {"apiVersion": "crd.k8s.amazonaws.com/v1alpha1", "kind": "ENIConfig", "metadata": {"name": "x"}}
    f = checks.check_portable([eni])
    assert not f.ok and "AWS-only" in f.evidence[0]


def test_secret_refs_reject_literal_secret_values_and_secret_objects():
    settings = {"kubernetes": {"secret": "app-secrets"}}
    reader = container(env=[{"name": "JWT_SECRET",
                             "valueFrom": {"secretKeyRef": {"name": "app-secrets", "key": "jwt-secret"}}}])
    assert checks.check_secret_refs([deployment(reader)], settings).ok
    literal = container(env=[{"name": "DB_PASSWORD", "value": "x"}])
    assert not checks.check_secret_refs([deployment(reader), deployment(literal, name="b")], settings).ok
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secrets"}, "stringData": {"a": "b"}}
    assert not checks.check_secret_refs([deployment(reader), secret], settings).ok
    assert not checks.check_secret_refs([deployment()], settings).ok   # nobody reads it


def test_scan_text_finds_patterns_but_not_placeholders():
    key_id = "AKIA" + "Q7" * 8
    assert secret_scan.scan_text("a.py", f"x = '{key_id}'", "app-secrets") == ["a.py:1: looks like a AWS access key id"]
    assert secret_scan.scan_text("a.md", "AKIA" + "IOSFODNN7EXAMPLE", "app-secrets") == []
    pem = "-----BEGIN " + "RSA PRIVATE KEY-----"
    assert secret_scan.scan_text("k.txt", f"\n{pem}\n", "app-secrets") == ["k.txt:2: looks like a private key"]
    doc = "apiVersion: v1\nkind: Secret\nmetadata: {name: app-secrets}\ndata: {k: dg==}\n"
    assert secret_scan.scan_text("s.yaml", doc, "app-secrets") == [
        "s.yaml: Secret app-secrets (app-secrets) holds data/stringData values"]
    assert secret_scan.scan_text("s.yaml", doc.replace("data: {k: dg==}", "type: Opaque"), "app-secrets") == []


def test_secret_scan_evidence_never_shows_the_value(tmp_path):
    value = "ghp_" + "s3cr3tV4lu3" * 4
    (tmp_path / "leak.env").write_text(f"TOKEN={value}\n")
    f = secret_scan.check_no_secrets_in_files(tmp_path, ["leak.env"], "app-secrets")
    assert not f.ok and value not in "\n".join([f.line(), *f.evidence])


def test_committed_overlays_pass_every_static_check(dev, prod):
    for objs in (dev, prod):
        f = checks.check_static(objs)
        assert f.ok, f.evidence
        assert checks.check_workloads_defined(objs).ok


def test_schema_error_names_the_field(dev):
    bad = copy.deepcopy(dev)
    next(o for o in bad if o["kind"] == "Service")["spec"]["prots"] = []
    f = schema.check_schema(bad)
    assert not f.ok and "'prots' was unexpected" in f.evidence[0]


def test_dev_smaller_than_prod_and_not_the_other_way(dev, prod):
    assert checks.check_dev_smaller(dev, prod).ok
    swapped = checks.check_dev_smaller(prod, dev)
    assert not swapped.ok and any("replicas" in e for e in swapped.evidence)
    assert not checks.check_dev_smaller(dev, dev).ok


def test_prod_is_highly_available_and_dev_is_not(dev, prod):
    assert checks.check_prod_ha(prod).ok
    assert not checks.check_prod_ha(dev).ok


def test_namespace_matches_settings_and_enforces_restricted(dev):
    from provision import config

    ns = next(o for o in dev if o["kind"] == "Namespace")
    assert ns["metadata"]["name"] == config.settings()["kubernetes"]["namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_irsa_role_is_in_the_settings_account(dev):
    from provision import config

    sa = next(o for o in dev if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "api-backend")
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn.startswith(f"arn:aws:iam::{config.settings()['aws']['account_id']}:role/")


def test_cluster_overlays_name_their_cluster_and_scale_down():
    from provision import config

    for env in config.environments():
        objs = render.render_cluster(env)
        ca = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "cluster-autoscaler")
        cmd = ca["spec"]["template"]["spec"]["containers"][0]["command"]
        assert "--scale-down-enabled=true" in cmd and "--balance-similar-node-groups" in cmd
        assert any(a.endswith(f"k8s.io/cluster-autoscaler/{config.environment(env)['cluster_name']}") for a in cmd)
        sc = next(o for o in objs if o["kind"] == "StorageClass")
        assert sc["provisioner"] == "ebs.csi.aws.com" and sc["parameters"]["type"] == "gp3"
        assert schema.check_schema(objs).ok and checks.check_portable(objs).ok


def test_unknown_fault_is_bad_input(tmp_path):
    with pytest.raises(errors.BadInput, match="^unknown seeded fault 'nope': expected one of "):
        faults.seed_fault("nope", "dev", tmp_path)


def test_seeding_leaves_committed_files_alone(tmp_path):
    from provision import config

    before = (config.ROOT / "manifests/overlays/dev/kustomization.yaml").read_text()
    overlay = faults.seed_fault("latest-image-tag", "dev", tmp_path)
    assert str(overlay).startswith(str(tmp_path))
    assert (config.ROOT / "manifests/overlays/dev/kustomization.yaml").read_text() == before


def test_expect_failure():
    from provision.findings import failed, passed

    assert caught(failed("x", evidence=["FAIL has latest"]), "latest").ok
    assert not caught(failed("x", evidence=["has latest"]), "latest").ok
    assert not caught(failed("x", evidence=["other"]), "latest").ok
    assert not caught(passed("x"), "latest").ok


def test_empty_selector_matches_all_and_absent_matches_none():
    """Kubernetes: a LabelSelector {} matches every object, a nil one matches nothing."""
    for labels in ({}, {"app": "web"}):
        assert objects.selector_matches({}, labels) is True
        assert objects.selector_matches(None, labels) is False


def test_pdb_without_selector_covers_nothing_and_empty_selector_covers_all():
    from provision.kube import checks as c

    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "p", "namespace": "ns"}, "spec": {}}
    assert not c.check_pdbs([deployment(replicas=2), pdb]).ok
    pdb["spec"]["selector"] = {}
    assert c.check_pdbs([deployment(replicas=2), pdb]).ok


def test_pod_spec_of_each_kind():
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {
        "metadata": {"labels": {"app": "c"}}, "spec": {"containers": [{"name": "c"}]}}}}}}
    assert objects.pod_spec(cron) == {"containers": [{"name": "c"}]} and objects.pod_labels(cron) == {"app": "c"}
    assert objects.pod_spec({"kind": "Pod", "spec": {"containers": []}}) == {"containers": []}
    assert objects.pod_spec({"kind": "Deployment"}) == {}
    assert objects.pod_spec({"kind": "ConfigMap"}) is None
    assert [c["name"] for c in objects.containers({"kind": "Pod", "spec": {
        "containers": [{"name": "a"}], "initContainers": [{"name": "i"}]}})] == ["a", "i"]


def test_manifest_checks_are_static_evidence(dev):
    assert checks.check_static(dev).grade == "static"
    assert schema.check_schema(dev).grade == "static"


# ---- issue 10: the cluster overlay installs the ingress controller the Ingress names, pinned

def test_the_ingress_class_of_main_ingress_is_installed_with_its_controller(dev):
    for env in ("dev", "prod"):
        cluster = render.render_cluster(env)
        f = checks.check_ingress_class_installed(render.render(env), cluster)
        assert f.ok and f.grade == "static", f.evidence
        assert checks.check_pinned_versions(cluster).ok


@pytest.mark.parametrize("fault, naming", [
    ("no-ingress-controller", "has no controller Deployment"),
    ("no-ingress-class", "names IngressClass nginx, which the cluster overlay does not install"),
])
def test_a_seeded_cluster_fault_turns_the_ingress_class_check_red(tmp_path, dev, fault, naming):
    cluster = render.render_dir(faults.seed_cluster_fault(fault, "dev", tmp_path))
    assert caught(checks.check_ingress_class_installed(dev, cluster), naming).ok


def test_an_add_on_image_off_its_settings_version_is_caught():
    cluster = copy.deepcopy(render.render_cluster("dev"))
    dep = next(o for o in cluster if o["kind"] == "Deployment" and o["metadata"]["name"] == "ingress-nginx-controller")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.k8s.io/ingress-nginx/controller:v1.9.0"
    assert caught(checks.check_pinned_versions(cluster), "controller:v1.9.0 is not v1.14.1").ok
