"""Pure rewrites of rendered objects: images, namespace, config checksums; and deploy decisions."""
import copy
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provision.kube import apply, deploy, history, lock, objects, render

pytestmark = [pytest.mark.offline, pytest.mark.unit]
WEB, API = "cloudtolocalllm/cloudtolocalllm-web", "cloudtolocalllm/cloudtolocalllm-api"


def workload(name, image, kind="Deployment", env_from=None, volume_cm=None):
    c = {"name": name, "image": image}
    if env_from:
        c["envFrom"] = [{"configMapRef": {"name": env_from}}]
    spec = {"containers": [c]}
    if volume_cm:
        spec["volumes"] = [{"name": "v", "configMap": {"name": volume_cm}}]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": "cloudtolocalllm"},
            "spec": {"template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def objs():
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "cloudtolocalllm", "labels": {"kubernetes.io/metadata.name": "cloudtolocalllm"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": "cloudtolocalllm"},
         "data": {"A": "1"}},
        workload("web-app", f"{WEB}:latest"),
        workload("api-backend", f"{API}:v1", env_from="app-config"),
        workload("postgres", "postgres:16", kind="StatefulSet"),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "rb", "namespace": "cloudtolocalllm"},
         "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "cloudtolocalllm"}]},
    ]


@pytest.mark.parametrize("image, expected", [
    ("a/b:c", ("a/b", "c")), ("a/b", ("a/b", "")), ("reg:5000/a/b", ("reg:5000/a/b", "")),
    ("reg:5000/a/b:t", ("reg:5000/a/b", "t")), ("a/b@sha256:00", ("a/b", "@sha256:00"))])
def test_split_image(image, expected):
    assert objects.split_image(image) == expected


@settings(max_examples=100, deadline=None)
@given(sha=st.text("0123456789abcdef", min_size=40, max_size=40))
def test_set_images_property_every_app_container_runs_the_sha(sha):
    """P3 (pure part): for any SHA, every app container becomes <repo>:<sha>, others untouched."""
    before = objs()
    out = render.set_images(before, sha, [WEB, API])
    imgs = render.images_of(out, [WEB, API])
    assert sorted(imgs.values()) == sorted([f"{WEB}:{sha}", f"{API}:{sha}"])
    assert out[4]["spec"]["template"]["spec"]["containers"][0]["image"] == "postgres:16"
    assert before == objs()  # pure: the input is not modified


def test_set_namespace_moves_everything_and_references():
    out = render.set_namespace(objs(), "t-1")
    assert out[0]["metadata"]["name"] == "t-1" and out[0]["metadata"]["labels"]["kubernetes.io/metadata.name"] == "t-1"
    assert {o["metadata"].get("namespace") for o in out[1:]} == {"t-1"}
    assert out[5]["subjects"][0]["namespace"] == "t-1"


def test_config_checksum_only_on_consumers_and_changes_with_data():
    a = render.annotate_config_checksums(objs(), ["app-config"])
    ann = lambda o: o["spec"]["template"]["metadata"].get("annotations", {}).get(render.CHECKSUM_ANNOTATION)
    assert ann(a[3]) and ann(a[2]) is None and ann(a[4]) is None
    changed = objs()
    changed[1]["data"]["A"] = "2"
    b = render.annotate_config_checksums(changed, ["app-config"])
    assert ann(b[3]) != ann(a[3])  # the consumer's template changes: it rolls
    assert b[2] == a[2]            # the others' templates are identical: they do not


@pytest.mark.parametrize("where", ["envFrom", "env", "volume", "projected"])
def test_uses_configmap(where):
    spec = {"containers": [{"name": "c"}]}
    if where == "envFrom":
        spec["containers"][0]["envFrom"] = [{"configMapRef": {"name": "app-config"}}]
    elif where == "env":
        spec["containers"][0]["env"] = [
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "k"}}}]
    elif where == "volume":
        spec["volumes"] = [{"name": "v", "configMap": {"name": "app-config"}}]
    else:
        spec["volumes"] = [{"name": "v", "projected": {"sources": [{"configMap": {"name": "app-config"}}]}}]
    assert render.uses_configmap(spec, "app-config")
    assert not render.uses_configmap(spec, "other")


def test_diff_ignores_bookkeeping_but_not_content():
    live = {"ConfigMap/t/a": {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "t", "resourceVersion": "5",
                                                                "managedFields": [{"time": "x"}]}, "data": {"k": "v"}}}
    same = copy.deepcopy(live["ConfigMap/t/a"])
    same["metadata"]["managedFields"] = [{"time": "y"}]
    assert apply.diff(live, [same]) == []
    other = copy.deepcopy(same)
    other["data"]["k"] = "w"
    assert apply.diff(live, [other]) == ["ConfigMap/t/a"]
    new = {"kind": "Service", "metadata": {"name": "s", "namespace": "t"}}
    assert apply.diff(live, [new]) == ["Service/t/s"]


@pytest.mark.parametrize("state, prev, rollback, expected", [
    ("healthy", None, True, "done"), ("failed", "a" * 40, True, "rollback"),
    ("failed", None, True, "fail"), ("failed", "a" * 40, False, "fail")])
def test_decide(state, prev, rollback, expected):
    assert deploy.decide(state, prev, rollback) == expected


def test_ready_grace_from_probes():
    o = workload("web-app", "x")
    assert deploy.ready_grace([o], floor=5) == 5
    o["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"initialDelaySeconds": 10, "periodSeconds": 5}
    assert deploy.ready_grace([o], floor=5) == 10 + 5 * 3 + 10


def lease(holder, renewed_ago, duration=60):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    return {"spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "renewTime": lock.micro_time(now - timedelta(seconds=renewed_ago))}}, now


@pytest.mark.parametrize("holder, ago, expected", [("a", 10, "held"), ("a", 61, "expired"), (None, 0, "free")])
def test_lease_state(holder, ago, expected):
    held, now = lease(holder, ago)
    assert lock.state(held, now)[0] == expected
    assert lock.state(None, now)[0] == "free"


def test_default_holder():
    assert lock.default_holder({"GITHUB_RUN_ID": "41", "GITHUB_RUN_ATTEMPT": "2"}) == "github-run-41-2"
    assert "@" in lock.default_holder({})


def test_last_good():
    es = [{"sha": "a", "result": "succeeded"}, {"sha": "b", "result": "succeeded"},
          {"sha": "c", "result": "rolled back"}]
    assert history.last_good(es) == "b"
    assert history.last_good(es, exclude="b") == "a"
    assert history.last_good([]) is None


def test_a_broken_overlay_is_bad_input_with_one_message(tmp_path):
    """The one renderer: the manifest checks and the deploy fail the same way (exit 2, nothing changed)."""
    from provision import errors

    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(errors.BadInput) as exc:
        render.render_dir(tmp_path)
    assert str(exc.value).startswith(render.RENDER_FAILED.format(path=tmp_path, detail="")) and exc.value.exit_code == 2
    with pytest.raises(errors.BadInput) as again:
        deploy.plan(None, deploy.Options(env="dev", image_tag="a" * 40, overlay=tmp_path))
    assert str(again.value) == str(exc.value)


def test_rolebindings_to_roles_the_same_set_creates_are_left_out_of_the_dry_run(monkeypatch):
    from provision.kube import apply as apply_mod

    ns = "cloudtolocalllm"
    role = {"kind": "Role", "metadata": {"name": "reader", "namespace": ns}}
    old_role = {"kind": "Role", "metadata": {"name": "old", "namespace": ns}}

    def binding(name, kind, role):
        return {"kind": "RoleBinding", "metadata": {"name": name, "namespace": ns},
                "roleRef": {"kind": kind, "name": role}}

    rb_new, rb_old = binding("a", "Role", "reader"), binding("b", "Role", "old")
    rb_cluster = binding("c", "ClusterRole", "view")
    live = {("old", ns)}
    monkeypatch.setattr(apply_mod.client, "get",
                        lambda t, av, kind, name, namespace=None: {} if (name, namespace) in live else None)
    assert apply_mod.bound_to_new_roles(None, [role, old_role, rb_new, rb_old, rb_cluster]) == [rb_new]


def test_a_namespace_is_written_only_when_the_live_one_lacks_a_declared_label_or_annotation():
    from provision.kube.deploy import _declared_as_live

    declared = {"kind": "Namespace", "metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce":
                                                                          "restricted"}}}
    live = {"metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": "restricted",
                                                 "kubernetes.io/metadata.name": "n"}}}
    assert _declared_as_live(declared, live)
    assert not _declared_as_live(declared, None)  # absent: written
    drifted = {"metadata": {"name": "n", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    assert not _declared_as_live(declared, drifted)  # a weakened Pod Security label is put back
