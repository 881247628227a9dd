"""The deploy engine's early verdicts and its set apply, pure parts; the benchmark's table, JSON and compare.

No timing is asserted here: speed is measured by benchmarks/ (`make bench`)."""
import copy
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provision.kube import apply, rollout

pytestmark = [pytest.mark.offline, pytest.mark.unit]
DATA = Path(__file__).parent / "data" / "kube"
BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
T0 = datetime(2030, 1, 1, tzinfo=UTC)
T3_MEDIUM = {"status": {"allocatable": {"cpu": "1930m", "memory": "3388360Ki", "pods": "17"}}}


def _bench(name):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod        # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _deployment(cpu="100m", memory="64Mi", init_cpu=None, limits_only=False):
    res = {"limits": {"cpu": cpu, "memory": memory}} if limits_only else {"requests": {"cpu": cpu, "memory": memory}}
    spec = {"containers": [{"name": "a", "resources": res}, {"name": "b", "resources": copy.deepcopy(res)}]}
    if init_cpu:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": init_cpu}}}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-app"},
            "spec": {"template": {"spec": spec}}}


# ---- certain before apply: a pod no node can hold -----------------------------------------------

def test_pod_requests_sum_containers_take_the_larger_init_and_default_to_limits():
    r = rollout.pod_requests(_deployment("500m", "1Gi")["spec"]["template"]["spec"])
    assert (str(r["cpu"]), r["memory"]) == ("1.000", 2 * 2**30)
    assert rollout.pod_requests(_deployment("100m", init_cpu="2")["spec"]["template"]["spec"])["cpu"] == 2
    assert rollout.pod_requests(_deployment("1", limits_only=True)["spec"]["template"]["spec"])["cpu"] == 2


def test_a_pod_larger_than_every_node_is_refused_before_apply():
    fits = [_deployment("500m", "1Gi")]
    assert rollout.unfit(fits, [T3_MEDIUM, T3_MEDIUM]) == []
    too_big = [_deployment("1500m", "3Gi")]          # 3 CPU, 6 GiB per pod: the seeded fault
    got = rollout.unfit(too_big, [T3_MEDIUM])
    assert len(got) == 1 and "Deployment/web-app" in got[0] and "Insufficient cpu and memory" in got[0], got
    assert "nothing was applied" in got[0]


def test_unfit_needs_one_node_with_room_for_every_resource_and_knows_nothing_without_nodes():
    cpu_node = {"status": {"allocatable": {"cpu": "8", "memory": "1Gi"}}}
    mem_node = {"status": {"allocatable": {"cpu": "1", "memory": "64Gi"}}}
    assert rollout.unfit([_deployment("2", "4Gi")], [cpu_node, mem_node])   # no single node has both
    assert rollout.unfit([_deployment("2", "4Gi")], []) == []                # nodes unreadable: not judged here
    assert rollout.unfit([{"kind": "ConfigMap", "metadata": {"name": "c"}}], [T3_MEDIUM]) == []


# ---- certain after apply: a Service that selects no pod ---------------------------------------

def _healthy_snapshot(web_selector):
    snap = json.loads((DATA / "snapshot_healthy.json").read_text())
    snap["services"] = [{"metadata": {"name": "web-service"}, "spec": {"selector": web_selector}},
                        {"metadata": {"name": "postgres-service"}, "spec": {"selector": {"app": "postgres"}}}]
    for s in snap["endpointslices"]:
        if s["metadata"]["name"] == "web-service-x":
            s["endpoints"] = []
    return snap


def test_a_service_selecting_no_pod_fails_as_soon_as_the_workloads_are_healthy():
    args = (["web-app"], ["postgres"], ["web-service", "postgres-service"], T0, 30)
    bad = rollout.evaluate(_healthy_snapshot({"app": "nothing-has-this-label"}), *args)
    assert bad.state == "failed" and any("service/web-service" in p and "matches no pod" in p
                                         for p in bad.problems), bad.problems
    # a Service that selects the pods, whose endpoints are not ready yet, is still progressing
    assert rollout.evaluate(_healthy_snapshot({"app": "web-app"}), *args).state == "progressing"


def test_a_service_is_not_judged_before_the_workloads_are_healthy_or_without_a_selector():
    snap = _healthy_snapshot({"app": "nothing-has-this-label"})
    snap["deployments"][0]["status"]["readyReplicas"] = 0
    v = rollout.evaluate(snap, ["web-app"], ["postgres"], ["web-service", "postgres-service"], T0, 30)
    assert not any("matches no pod" in p for p in v.problems)
    assert rollout.evaluate(_healthy_snapshot({}), ["web-app"], ["postgres"], ["web-service"], T0, 30).state \
        == "progressing"


def test_polls_start_short_and_grow_to_the_interval():
    delays, d = [], 0.0
    for _ in range(12):
        d = rollout.next_poll(d, 1.0)
        delays.append(d)
    assert delays[0] == 0.05 and delays == sorted(delays) and delays[-1] == 1.0


# ---- the set apply: waves -----------------------------------------------------------------

def test_apply_waves_put_what_pods_read_before_the_pods_and_bindings_after_roles():
    kinds = ["Deployment", "RoleBinding", "ConfigMap", "Role", "Namespace", "Secret", "StatefulSet", "CronJob"]
    w = {k: apply.wave({"kind": k}) for k in kinds}
    assert w["Namespace"] < w["ConfigMap"] == w["Secret"] == w["Role"] < w["RoleBinding"] < w["Deployment"]
    assert w["StatefulSet"] == w["CronJob"] == w["Deployment"]


# ---- benchmark figures: table, JSON, compare -----------------------------------------------------

def test_figures_table_json_and_compare(tmp_path, monkeypatch, capsys):
    figures = _bench("figures")
    sink = tmp_path / "f.jsonl"
    monkeypatch.setenv(figures.FIGURES_ENV, str(sink))
    a = [figures.emit("deploy.healthy", 1.2, "s", 1.0, "naive"), figures.emit("dns.udp", 3000, "q/s", better="higher"),
         figures.emit("deploy.no-op.writes", 0, "writes"), figures.emit("cold.go.total", None, "s", note="skipped")]
    assert "deploy.healthy: 1.20 s (baseline 1.00 s naive, ratio 1.20)" in capsys.readouterr().out
    assert [f.name for f in figures.read_lines(sink)] == [f.name for f in a]
    table = figures.table(a)
    assert table.splitlines()[0].split()[:6] == ["figure", "value", "unit", "baseline", "vs", "ratio"]
    assert "1.20" in next(r for r in table.splitlines() if r.startswith("deploy.healthy"))
    out = figures.write(a, {"started": "X"}, tmp_path / "reports", "X")
    doc = json.loads(out.read_text())
    assert doc["schema"] == figures.SCHEMA
    assert (tmp_path / "reports" / "bench-latest.json").read_text() == out.read_text()
    assert next(f for f in doc["figures"] if f["name"] == "deploy.healthy")["ratio"] == pytest.approx(1.2)
    _, back = figures.load(out)
    assert back == a
    b = [figures.Figure("deploy.healthy", 2.4, "s", 1.0, "naive"), figures.Figure("dns.udp", 3600, "q/s",
                                                                                  better="higher"),
         figures.Figure("deploy.no-op.writes", 0, "writes"), figures.Figure("tls.handshakes", 900, "handshakes/s")]
    lines = dict(x.split(": ", 1) for x in figures.compare(a, b))
    assert lines["deploy.healthy"].endswith("(+100%)  WORSE")
    assert lines["dns.udp"].endswith("(+20%)  better")
    assert lines["deploy.no-op.writes"] == "0 -> 0 writes (+0%)"
    assert lines["cold.go.total"] == "only in A" and lines["tls.handshakes"] == "only in B"
    with pytest.raises(ValueError):
        figures.load(sink)   # not a bench file


def test_runner_budgets_previous_baseline_and_suite_wall(tmp_path):
    run = _bench("run")
    figures = _bench("figures")
    F = figures.Figure
    figs = [F("deploy.healthy", 1.5, "s", 1.0, "naive"), F("deploy.no-op.writes", 1, "writes"),
            F("controlplane.warm_start", 3.0, "s")]
    lines = run.budgets(figs)
    assert "budget deploy.healthy ratio <= 1.3: 1.50 NOT MET" in lines
    assert "budget deploy.no-op.writes value <= 0: 1.00 NOT MET" in lines
    assert any(x.startswith("budget suite.offline.wall") and x.endswith("not measured") for x in lines)
    prev = run.with_previous(figs, [F("controlplane.warm_start", 2.0, "s"), F("deploy.healthy", 9.0, "s")])
    assert prev[2].baseline == 2.0 and prev[2].baseline_name == "previous" and prev[0].baseline == 1.0
    d = tmp_path / "run-20300101T000000Z-offline-abc"
    d.mkdir()
    (d / "results.json").write_text(json.dumps({
        "run": {"id": d.name, "started": "2030-01-01T00:00:00+00:00", "finished": "2030-01-01T00:01:30+00:00"},
        "tests": [{}] * run.FULL_SUITE}))
    s = run.suite_figure(tmp_path)
    assert (s.value, s.baseline, s.ratio) == (90.0, 90, 1.0) and d.name in s.note
    (d / "results.json").write_text(json.dumps({"run": {"id": d.name}, "tests": [{}]}))   # a partial run
    assert run.suite_figure(tmp_path).value is None
