"""Steps of features/deploy.feature."""
import random
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_bdd import given as bdd_given
from pytest_bdd import parsers, scenarios, then, when

from harness import kube as testing
from harness.plugin import collectors_key
from provision import config, errors
from provision.constants import CRASHLOOP_TAG, NEVER_READY_TAG
from provision.findings import Finding, passed
from provision.kube import app_secret, client, deploy, history, identity, render, rollout
from provision.kube.objects import key, pod_spec

scenarios("deploy.feature")
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def versions():
    """Version word -> SHA, fixed for the scenario (so "good" twice is the same SHA)."""
    known = {}

    def get(word):
        if word not in known:
            known[word] = testing.sha_for(word)
        return known[word]
    return get


@pytest.fixture
def runs():
    return []


@bdd_given("a fresh namespace on the cluster", target_fixture="namespace")
def fresh_namespace(target, request):
    ns = testing.fresh_namespace(target)
    request.node.stash.setdefault(collectors_key, []).extend(testing.collectors(target, ns))
    request.addfinalizer(lambda: testing.drop_namespace(target, ns))
    return ns


@bdd_given("the live deployment of the dev environment", target_fixture="namespace")
def live_deployment(target):
    return config.settings()["kubernetes"]["namespace"]


def _deploy(target, namespace, versions, runs, word, tmp_path, again=False):
    sha = versions("good" if word == "too-big" else word)
    opts = testing.options("dev", sha, namespace, overlay=testing.overlay(tmp_path, word))
    before = testing.resource_versions(target, namespace, sha) if again else {}
    run = testing.run_deploy(target, opts)
    if again:
        run.rv_before, run.rv_after = before, testing.resource_versions(target, namespace, sha)
    runs.append(run)
    return run


@bdd_given(parsers.parse('version "{word}" is deployed'), target_fixture="run")
@when(parsers.parse('version "{word}" is deployed'), target_fixture="run")
def version_deployed(target, namespace, versions, runs, word, tmp_path):
    return _deploy(target, namespace, versions, runs, word, tmp_path)


@when(parsers.parse('version "{word}" is deployed again'), target_fixture="run")
def version_deployed_again(target, namespace, versions, runs, word, tmp_path):
    return _deploy(target, namespace, versions, runs, word, tmp_path, again=True)


@then("the deploy succeeds")
def deploy_succeeds(run, check):
    check(testing.succeeded(run))


@then("every owned resource exists")
def owned_exist(target, namespace, run, check):
    check(testing.owned_exist(target, namespace, run.sha))


@then("every pod is Running and Ready and every service has ready endpoints")
def all_healthy(target, namespace, check):
    check(testing.health(target, namespace))


@then("the second deploy reports no changes and no resourceVersion changed")
def no_changes(run, check):
    o = run.outcome
    changed = [k for k in run.rv_after if run.rv_before.get(k) != run.rv_after[k]]
    check(Finding(o is not None and o.result == "no changes" and o.writes == 0 and not changed
                  and bool(run.rv_before), "second deploy of the same SHA",
                  "'no changes', zero writes, no resourceVersion changed",
                  f"{o.result if o else run.error}, {o.writes if o else '?'} writes, {len(changed)} changed",
                  evidence=tuple(changed)))


@then("for at least 100 generated repeat counts and orders the applied state is identical")
def p2_property(target, namespace, versions, check):
    sha = versions("good")
    check(testing.succeeded(testing.run_deploy(target, testing.options("dev", sha, namespace))))
    objs = testing.dev_objects(namespace, sha, namespaces=False)
    baseline = testing.resource_versions(target, namespace, sha)
    seen = []

    @PROPERTY
    @given(order=st.permutations(range(len(objs))), repeats=st.integers(1, 3), dry=st.booleans())
    def prop(order, repeats, dry):
        # each apply answers with the object as stored: its resourceVersion must not move
        for _ in range(repeats):
            for i in order:
                got = client.apply(target, objs[i], dry_run=dry)
                k = key(got)
                rv = got["metadata"]["resourceVersion"]
                assert rv == baseline[k], (k, baseline[k], rv)
        seen.append(repeats)

    prop()
    assert testing.resource_versions(target, namespace, sha) == baseline
    counts = {k: len(v) for k, v in rollout.snapshot(target, namespace).items() if k in ("deployments", "statefulsets")}
    check(Finding(len(seen) >= 100 and counts == {"deployments": 2, "statefulsets": 1}, "repeated server-side applies",
                  "same resourceVersions, no duplicates, >=100 examples", f"{len(seen)} examples, {counts}"))


@then("every app container runs the image tagged with that commit SHA")
def runs_sha(target, namespace, run, check):
    check(testing.runs_images(target, namespace, run.sha))


@then("for at least 100 generated tags valid SHAs deploy as themselves and malformed ones are rejected unchanged")
def p3_property(target, namespace, check):
    rendered = render.render("dev")
    stats = {"valid": 0, "malformed": 0, "real": 0}
    hexs = st.text("0123456789abcdef", min_size=40, max_size=40).filter(
        lambda s: not s.startswith((NEVER_READY_TAG, CRASHLOOP_TAG)))
    malformed = st.one_of(st.text(max_size=45), st.sampled_from(["latest", "v1.2.3", "A" * 40, "abc"]),
                          hexs.map(lambda s: s[:39]), hexs.map(lambda s: s + "0"), hexs.map(str.upper))

    @PROPERTY
    @given(tag=st.one_of(hexs, malformed))
    def prop(tag):
        if config.SHA_RE.match(tag):
            stats["valid"] += 1
            objs = render.prepare(rendered, tag, namespace)
            want = {f"{r}:{tag}" for r in render.app_repos()}
            assert set(render.images_of(objs, render.app_repos()).values()) == want
            if stats["real"] < 2:  # a handful of real deploys through the health gate
                stats["real"] += 1
                run = testing.run_deploy(target, testing.options("dev", tag, namespace))
                assert run.error is None, run.error
                assert testing.runs_images(target, namespace, tag).ok
                last["sha"] = tag
        else:
            stats["malformed"] += 1
            with pytest.raises(errors.BadInput) as exc:
                deploy.deploy(target, testing.options("dev", tag, namespace))
            assert str(exc.value) == errors.INVALID_IMAGE_TAG.format(tag=tag)
            # rejected before any cluster call; the state is compared once after the run
            assert stats["real"] == 0 or testing.runs_images(target, namespace, last["sha"]).ok

    last = {"sha": None}
    prop()
    check(Finding(sum(stats.values()) - stats["real"] >= 100 and stats["real"] >= 1 and stats["malformed"] > 0,
                  "generated image tags", ">=100 examples, valid and malformed, real deploys", str(stats)))


@then(parsers.parse('the deploy fails naming "{reason}"'))
def fails_naming(run, reason, check):
    check(testing.failed_naming(run, reason))


@then(parsers.parse('the deploy fails and rolls back to version "{word}"'))
def rolled_back(target, namespace, run, versions, word, check):
    sha = versions(word)
    o = run.outcome
    check(Finding(isinstance(run.error, deploy.DeployFailed) and o.result == history.ROLLED_BACK
                  and o.rolled_back_to == sha,
                  f"failed deploy of {run.sha}", f"exit 1, rolled back to {sha}",
                  f"{type(run.error).__name__}: {o.result if o else '-'} to {o.rolled_back_to if o else '-'}",
                  evidence=tuple(getattr(run.error, "evidence", ()))))
    check(testing.runs_images(target, namespace, sha))
    check(testing.health(target, namespace))


@then("the ready replicas never dropped below the desired count")
def never_below(run, check):
    low = run.outcome.min_ready
    bad = {w: v for w, v in low.items() if v[0] < v[1]}
    check(Finding(bool(low) and not bad, "ready replicas during rollout and rollback",
                  "never below desired (maxUnavailable 0)", ", ".join(f"{w} {a}/{b}" for w, (a, b) in low.items()),
                  evidence=tuple(f"{w} dropped to {a}/{b}" for w, (a, b) in bad.items())))


@then("for at least 100 generated failure kinds the previous stable version is restored")
def p5_property(target, namespace, tmp_path, check):
    from datetime import datetime, timedelta
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    kinds = {"never-ready": "not Ready", "crashloop": "CrashLoopBackOff", "too-big": "Insufficient",
             "restarts": "CrashLoopBackOff", "deadline": "ProgressDeadlineExceeded"}
    n = {"examples": 0}

    def snap(kind, replicas, age):
        dep = {"metadata": {"name": "web-app", "generation": 2}, "spec": {"replicas": replicas,
               "selector": {"matchLabels": {"app": "web"}}},
               "status": {"observedGeneration": 2, "replicas": replicas + 1, "updatedReplicas": 1,
                          "readyReplicas": replicas, "availableReplicas": replicas, "conditions": []}}
        pod = {"metadata": {"name": "web-new", "labels": {"app": "web"}, "creationTimestamp": "2030-01-01T00:00:00Z"},
               "status": {"phase": "Running", "startTime": "2030-01-01T00:00:00Z", "conditions": [
                   {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
                   "containerStatuses": [{"name": "web", "ready": False, "restartCount": 0, "state": {"running": {}}}]}}
        cs = pod["status"]["containerStatuses"][0]
        if kind == "crashloop":
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        elif kind == "restarts":
            cs["restartCount"] = 3 + age
        elif kind == "too-big":
            pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                             "reason": "Unschedulable", "lastTransitionTime": "2030-01-01T00:00:00Z",
                             "message": "0/2 nodes are available: 2 Insufficient cpu."}]}
        elif kind == "deadline":
            dep["status"]["conditions"] = [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
        return {"deployments": [dep], "pods": [pod], "statefulsets": [], "endpointslices": []}

    @PROPERTY
    @given(kind=st.sampled_from(sorted(kinds)), replicas=st.integers(1, 5), age=st.integers(0, 600),
           grace=st.integers(1, 300), prev=st.one_of(st.none(), st.text("0123456789abcdef", min_size=40, max_size=40)))
    def prop(kind, replicas, age, grace, prev):
        n["examples"] += 1
        v = rollout.evaluate(snap(kind, replicas, age), ["web-app"], [], [], t0 + timedelta(seconds=age), grace)
        assert v.state != "healthy"  # never a success (P4)
        clear = kind in ("crashloop", "restarts", "deadline") or age >= grace
        assert (v.state == "failed") == clear, (kind, v.state, v.problems)
        if clear:
            assert any(kinds[kind] in p for p in v.problems), v.problems
            assert deploy.decide(v.state, prev, True) == ("rollback" if prev else "fail")
            assert deploy.decide(v.state, prev, False) == "fail"

    prop()
    # and real rollbacks: two failure kinds through the whole engine
    sha = testing.sha_for("good")
    check(testing.succeeded(testing.run_deploy(target, testing.options("dev", sha, namespace))))
    for word in random.sample(["never-ready", "crashloop"], 2):
        run = testing.run_deploy(target, testing.options("dev", testing.sha_for(word), namespace))
        o = run.outcome
        check(Finding(o is not None and o.rolled_back_to == sha and o.result == history.ROLLED_BACK,
                      f"real {word} deploy", f"rolled back to {sha}", o.result if o else str(run.error)))
        check(testing.runs_images(target, namespace, sha))
    check(passed("failure kinds", ">=100 examples", str(n["examples"])) if n["examples"] >= 100
          else Finding(False, "failure kinds", ">=100 examples", str(n["examples"])))


@then("the deploy history lists both with their SHA, time, actor and result")
def history_lists(target, namespace, runs, check):
    entries = history.read(target, namespace)
    want = [(r.sha, r.outcome.result if r.outcome else "?") for r in runs]
    got = [(e.get("sha"), e.get("result")) for e in entries]
    complete = all(e.get("started") and e.get("finished") and e.get("actor") for e in entries)
    status = "\n".join(deploy.status_lines(target, "dev", namespace))
    shown = all(sha[:12] in status for sha, _ in want)
    check(Finding(got == want and complete and shown and want[-1][1] == history.ROLLED_BACK,
                  f"deploy history of {namespace}",
                  str(want), str(got), evidence=tuple(status.splitlines())))


@when("the app-config ConfigMap changes", target_fixture="config_change")
def config_changes(target, namespace, versions, tmp_path):
    gens = lambda: {f"{k[:-1]}/{o['metadata']['name']}": o["metadata"]["generation"]
                    for k, objs in rollout.snapshot(target, namespace).items() if k in ("deployments", "statefulsets")
                    for o in objs}
    before = gens()
    run = testing.run_deploy(target, testing.options("dev", versions("good"), namespace,
                                                     overlay=testing.overlay(tmp_path, "config-changed")))
    return {"before": before, "after": gens(), "run": run}


@then("only the workloads that use app-config are restarted")
def only_consumers(target, namespace, config_change, check):
    check(testing.succeeded(config_change["run"]))
    objs = render.render("dev")
    cm = config.settings()["kubernetes"]["configmap"]
    users = {f"{o['kind'].lower()}/{o['metadata']['name']}" for o in objs
             if pod_spec(o) and render.uses_configmap(pod_spec(o), cm)}
    b, a = config_change["before"], config_change["after"]
    rolled = {w for w in a if a[w] != b.get(w)}
    check(Finding(rolled == users and bool(users) and bool(set(a) - users), "workloads rolled by the ConfigMap change",
                  f"exactly {sorted(users)}", f"{sorted(rolled)}"))


@when(parsers.parse("a deploy is attempted with {what}"), target_fixture="run")
def attempt(target, namespace, versions, what):
    env, tag, ident = "dev", versions("good"), identity.NAMESPACE
    quoted = what.split('"')[1]
    if what.startswith("the environment"):
        env = quoted
    elif what.startswith("the image tag"):
        tag = quoted
    else:  # the cluster identifies as another environment's: seeded in the test namespace only
        client.create(target, {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": identity.NAME, "namespace": namespace},
                               "data": {"cluster_name": config.Environment.named(quoted).cluster_name}})
        ident = namespace
    return testing.run_deploy(target, testing.options(env, tag, namespace, identity_namespace=ident))


@then("it is refused with one clear line and nothing is applied")
def refused(target, namespace, run, check):
    e = run.error
    line = f"provision app deploy: {e}"
    check(Finding(isinstance(e, (errors.BadInput, errors.Refused)) and "\n" not in line and len(line) < 300,
                  "the deploy", "refused (exit 2 or 3) with one line",
                  f"{type(e).__name__} exit {getattr(e, 'exit_code', '-')}: {line}"))
    check(testing.nothing_applied(target, namespace))


@then("every owned object is managed by the provisioner's field manager from the repository's overlay")
def managed(target, namespace, run, check):
    check(testing.managed_by_provisioner(target, namespace, run.sha))


@bdd_given("the deploy history of the target", target_fixture="entries")
def deploy_history(target, request):
    ns = config.settings()["kubernetes"]["namespace"]
    entries = history.read(target, ns)
    if not history.last_good(entries) and not testing.refuses_test_deploys(target):
        # no deploy ran in the app namespace yet (a fresh offline cluster): time one in a fresh namespace
        ns = testing.fresh_namespace(target)
        request.addfinalizer(lambda: testing.drop_namespace(target, ns))
        testing.run_deploy(target, testing.options("dev", testing.sha_for("good"), ns))
        entries = history.read(target, ns)
    return entries


@then(parsers.parse("the last successful deploy took at most {limit:d} seconds from start to healthy"))
def within(entries, limit, check):
    good = [e for e in entries if e.get("result") == history.SUCCEEDED]
    took = good[-1].get("duration_s") if good else None
    check(Finding(took is not None and took <= limit, "last successful deploy", f"<= {limit}s",
                  f"{took}s" if took is not None else "no successful deploy in the history"))


@then("Secret app-secrets holds exactly the keys the workloads read, with the source's values")
def secret_from_source(target, namespace, check):
    values = app_secret.source_values(target, app_secret.source_name("dev"))
    objs = testing.dev_objects(namespace)
    check(app_secret.check_in_cluster(target, namespace, {k: values[k] for k in app_secret.required_keys(objs)}))


@then("no secret value appears in the deploy's output, its history or the saved last-good set")
def no_leak(target, namespace, run, check):
    import base64
    import gzip
    import json

    values = app_secret.source_values(target, app_secret.source_name("dev"))
    cms = client.list_objects(target, "v1", "ConfigMap", namespace)
    texts = ["\n".join(run.outcome.lines()), str(run.error or "")]
    for cm in cms:
        texts.append(json.dumps(cm.get("data") or {}))
        for blob in (cm.get("binaryData") or {}).values():
            texts.append(gzip.decompress(base64.b64decode(blob)).decode())
    check(app_secret.leaks(values, texts))


@bdd_given(parsers.parse('a secret source without the key "{key}"'), target_fixture="secret_source")
def source_without(target, namespace, key):
    objs = testing.dev_objects(namespace)
    keys = [k for k in app_secret.required_keys(objs) if k != key]
    return app_secret.seed_offline_source(target, "dev", keys, name=f"cloudtolocalllm/test-{namespace}/app-secrets")


@when("a deploy is attempted from that secret source", target_fixture="run")
def attempt_from_source(target, namespace, versions, secret_source):
    return testing.run_deploy(target, testing.options("dev", versions("good"), namespace, secret_source=secret_source))


@then(parsers.parse('it is refused naming "{key}" and nothing is applied'))
def refused_naming(target, namespace, run, key, check):
    e = run.error
    check(Finding(isinstance(e, errors.BadInput) and key in str(e) and "\n" not in str(e), "the deploy",
                  f"refused (exit 2) naming {key}", f"{type(e).__name__}: {e}"))
    check(testing.nothing_applied(target, namespace))
