"""NetworkPolicy semantics of provision.kube.netpol, on generated policies and the rendered overlay."""
import pytest

from provision.kube import netpol as n
from provision.kube import render

pytestmark = [pytest.mark.offline, pytest.mark.unit]

A = n.pod("a", "ns", {"app": "a"}, (("http", 8080, "TCP"),))
B = n.pod("b", "ns", {"app": "b"}, (("http", 8080, "TCP"), ("db", 5432, "TCP")))
OTHER = n.pod("o", "other", {"app": "a"}, (("http", 8080, "TCP"),), {"team": "x"})
NET = n.external("net", "203.0.113.10")


def np(name, selector, types=None, ingress=None, egress=None, ns="ns"):
    spec = {"podSelector": selector}
    if types is not None:
        spec["policyTypes"] = types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}


DENY = np("deny", {}, ["Ingress", "Egress"])


def test_no_policy_means_open():
    assert n.allowed([], A, B, 8080)


def test_default_deny_closes_both_directions():
    assert not n.allowed([DENY], A, B, 8080)
    assert not n.allowed([DENY], OTHER, A, 8080)
    assert n.allowed([DENY], OTHER, NET, 443)    # other namespace: not governed by ns's policies


def test_both_sides_must_allow():
    ing = np("b-in", {"matchLabels": {"app": "b"}}, ["Ingress"],
             [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}])
    egr = np("a-out", {"matchLabels": {"app": "a"}}, ["Egress"],
             egress=[{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}]}])
    assert not n.allowed([DENY, ing], A, B, 8080)
    assert n.allowed([DENY, ing, egr], A, B, 8080)


def test_bare_pod_selector_is_own_namespace_only():
    ing = np("a-in", {"matchLabels": {"app": "a"}}, ["Ingress"],
             [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}])
    look_alike = n.pod("x", "other", {"app": "a"})
    assert not n.allowed([ing], look_alike, A, 8080)
    assert n.allowed([ing], n.pod("y", "ns", {"app": "a"}), A, 8080)


def test_namespace_and_pod_selector_in_one_peer_are_anded():
    peer = {"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": {"matchLabels": {"app": "z"}}}
    ing = np("a-in", {"matchLabels": {"app": "a"}}, ["Ingress"], [{"from": [peer]}])
    assert not n.allowed([ing], OTHER, A, 8080)
    assert n.allowed([ing], n.pod("z", "other", {"app": "z"}, namespace_labels={"team": "x"}), A, 8080)
    only_ns = np("a-in2", {"matchLabels": {"app": "a"}}, ["Ingress"], [{"from": [{"namespaceSelector": {}}]}])
    assert n.allowed([only_ns], OTHER, A, 8080)


def test_ports_protocols_named_ports_and_ranges():
    def ing(ports):
        return np("b-in", {"matchLabels": {"app": "b"}}, ["Ingress"], [{"ports": ports}])
    assert n.allowed([ing([{"port": 5432}])], A, B, 5432)
    assert not n.allowed([ing([{"port": 5432}])], A, B, 8080)
    assert not n.allowed([ing([{"port": 5432, "protocol": "UDP"}])], A, B, 5432)
    assert n.allowed([ing([{"port": "db"}])], A, B, 5432)
    assert not n.allowed([ing([{"port": "db"}])], A, B, 8080)
    assert n.allowed([ing([{"port": 5000, "endPort": 6000}])], A, B, 5432)
    assert n.allowed([ing([{"protocol": "TCP"}])], A, B, 8080)


def test_empty_rule_allows_all_and_empty_list_allows_none():
    assert n.allowed([np("all", {}, ["Ingress"], [{}])], OTHER, A, 8080)
    assert not n.allowed([np("none", {}, ["Ingress"], [])], OTHER, A, 8080)


def test_policy_types_default():
    assert n.policy_types(np("x", {})) == ["Ingress"]
    assert n.policy_types(np("x", {}, egress=[])) == ["Ingress", "Egress"]


def test_ip_block_with_except_matches_ips_not_pods():
    eg = np("a-out", {"matchLabels": {"app": "a"}}, ["Egress"],
            egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}])
    assert n.allowed([eg], A, NET, 443)
    assert not n.allowed([eg], A, NET, 80)
    assert not n.allowed([eg], A, n.external("vpc", "10.1.2.3"), 443)
    assert not n.allowed([eg], A, B, 443)


def test_allowed_policies_union():
    p1 = np("p1", {"matchLabels": {"app": "b"}}, ["Ingress"], [{"ports": [{"port": 5432}]}])
    p2 = np("p2", {"matchLabels": {"app": "b"}}, ["Ingress"], [{"ports": [{"port": 8080}]}])
    assert n.allowed([p1, p2], A, B, 8080) and n.allowed([p1, p2], A, B, 5432)


@pytest.fixture(scope="module")
def dev():
    return render.render("dev")


ALLOWED = {("ingress", "web-app", 8080), ("ingress", "api-backend", 8080),
           ("web-app", "api-backend", 8080), ("api-backend", "postgres", 5432), ("postgres-backup", "postgres", 5432)}


def test_committed_dev_overlay_allows_exactly_the_intended_paths(dev):
    actual = n.workload_reachability(dev, render.render_cluster("dev"))
    assert n.check_reachability(actual, ALLOWED).ok


def test_allow_all_ingress_is_caught(dev):
    extra = np("allow-all", {}, ["Ingress"], [{}], ns="cloudtolocalllm")
    actual = n.workload_reachability(dev + [extra], render.render_cluster("dev"))
    f = n.check_reachability(actual, ALLOWED)
    assert not f.ok
    assert "FAIL unexpected path ingress -> postgres:5432 (allowed by the NetworkPolicies)" in f.evidence


def test_missing_path_is_reported(dev):
    without = [o for o in dev if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "postgres")]
    f = n.check_reachability(n.workload_reachability(without, render.render_cluster("dev")), ALLOWED)
    assert not f.ok and "FAIL missing path api-backend -> postgres:5432 (blocked by the NetworkPolicies)" in f.evidence


def test_only_api_backend_reaches_the_internet(dev):
    got = n.egress_reachability(n.policies_of(dev), n.workload_endpoints(dev), n.beyond_endpoints(dev))
    internet = {(s, d, p) for s, d, p, _ in got if d != "dns"}
    assert internet == {("api-backend", "internet", 443)}
    assert {s for s, d, _, _ in got if d == "dns"} == {"web-app", "api-backend", "postgres", "postgres-backup"}


def test_empty_pod_selector_selects_every_pod_of_its_namespace():
    deny_all = {"kind": "NetworkPolicy", "metadata": {"name": "d", "namespace": A.namespace},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert n.selects(deny_all, A) and n.selects(deny_all, B)
    assert not n.allowed([deny_all], A, B, 8080)


def test_every_reachability_finding_says_it_is_computed_not_enforced():
    paths = {("a", "b", 8080)}
    egress = {("a", "dns", 53, "UDP")}
    for f in (n.check_reachability(paths, paths), n.check_reachability(paths, set()),
              n.check_egress(egress, egress), n.check_egress(egress, set())):
        assert n.NOT_ENFORCED in f.gaps and f.grade == "model", f


def test_unexpected_egress_is_what_goes_red():
    from provision.findings import caught

    f = n.check_egress({("a", "dns", 53, "UDP"), ("a", "internet", 22, "TCP")}, {("a", "dns", 53, "UDP")})
    assert caught(f, "a -> internet:22/TCP").ok and not caught(f, "a -> dns").ok


# ------------------------------------------------ the backup CronJob's pod (issue 13)

S3_US_EAST_1 = n.external("s3.us-east-1", "52.217.4.10")        # in 52.216.0.0/15 (ip-ranges.json service S3)
STS_US_EAST_1 = n.external("sts.us-east-1", "209.54.177.20")    # in 209.54.176.0/21 (service AMAZON, us-east-1)
ELSEWHERE = n.external("internet", "203.0.113.10")              # TEST-NET-3: no AWS range


def _eps(objects):
    return {e.name: e for e in n.workload_endpoints(objects)}


def _backup_paths(objects):
    """(what, allowed?) of the backup pod's connections the design decides."""
    eps, pols = _eps(objects), n.policies_of(objects)
    b = eps["postgres-backup"]
    return {"postgres": n.allowed(pols, b, eps["postgres"], 5432),
            "s3": n.allowed(pols, b, S3_US_EAST_1, 443), "sts": n.allowed(pols, b, STS_US_EAST_1, 443),
            "s3 on 80": n.allowed(pols, b, S3_US_EAST_1, 80),
            "api": n.allowed(pols, b, eps["api-backend"], 8080), "web": n.allowed(pols, b, eps["web-app"], 8080),
            "internet": n.allowed(pols, b, ELSEWHERE, 443),
            "metadata": n.allowed(pols, b, n.external("imds", "169.254.169.254"), 80),
            "into the backup pod": n.allowed(pols, eps["api-backend"], b, 8080)}


def test_backup_pod_reaches_postgres_s3_and_sts_and_nothing_else(dev):
    from provision.backup import cronjob_checks
    f = cronjob_checks.check_reachability(dev)
    assert f.ok and f.grade == "model" and n.NOT_ENFORCED in f.gaps, f.evidence
    assert _backup_paths(dev) == {"postgres": True, "s3": True, "sts": True, "s3 on 80": False, "api": False,
                                  "web": False, "internet": False, "metadata": False, "into the backup pod": False}


def _edited(objects, name, edit):
    import copy
    out = copy.deepcopy(objects)
    for o in out:
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name:
            edit(o["spec"])
    return out


def test_seeded_widened_egress_reaches_the_internet_and_the_range_check_is_red(dev):
    from provision.backup import cronjob_checks
    wide = _edited(dev, "postgres-backup", lambda s: s["egress"][1]["to"].append({"ipBlock": {"cidr": "0.0.0.0/0"}}))
    assert _backup_paths(wide)["internet"] is True                       # the model sees the hole
    assert findings_caught(cronjob_checks.check_reachability(wide), "the internet 203.0.113.10:443: allowed")
    f = cronjob_checks.check_egress(wide)
    assert findings_caught(f, "0.0.0.0/0 is not a published range of us-east-1")
    assert cronjob_checks.check_egress(dev).ok


def test_backup_pod_to_the_api_is_closed_on_both_sides_and_a_seeded_opening_of_both_is_red(dev):
    def egress_all(s):
        s["egress"].append({"to": [{"podSelector": {}}]})

    def ingress_all(s):
        s["ingress"].append({})

    one = _edited(dev, "postgres-backup", egress_all)
    other = _edited(dev, "api-backend", ingress_all)
    assert _backup_paths(one)["api"] is False      # the API's ingress still refuses it
    assert _backup_paths(other)["api"] is False    # the backup pod's egress still refuses it
    both = _edited(one, "api-backend", ingress_all)
    assert _backup_paths(both)["api"] is True
    from provision.backup import cronjob_checks
    assert findings_caught(cronjob_checks.check_reachability(both), "postgres-backup -> api-backend:8080: allowed")
    f = n.check_reachability(n.workload_reachability(both, render.render_cluster("dev")), ALLOWED)
    assert findings_caught(f, "unexpected path postgres-backup -> api-backend:8080")


def test_seeded_postgres_without_the_backup_peer_blocks_the_dump(dev):
    closed = _edited(dev, "postgres", lambda s: s["ingress"][0]["from"].pop())
    assert _backup_paths(closed)["postgres"] is False
    from provision.backup import cronjob_checks
    assert findings_caught(cronjob_checks.check_reachability(closed), "postgres-backup -> postgres:5432: denied")
    f = n.check_reachability(n.workload_reachability(closed, render.render_cluster("dev")), ALLOWED)
    assert findings_caught(f, "missing path postgres-backup -> postgres:5432")


def test_seeded_missing_range_and_other_port_turn_the_range_check_red(dev):
    from provision.backup import cronjob_checks
    dropped = _edited(dev, "postgres-backup", lambda s: s["egress"][1]["to"].pop(0))
    assert findings_caught(cronjob_checks.check_egress(dropped), "published range 1.178.4.0/23 of us-east-1 is missing")
    port80 = _edited(dev, "postgres-backup", lambda s: s["egress"][1]["ports"].append({"protocol": "TCP", "port": 80}))
    assert findings_caught(cronjob_checks.check_egress(port80), "not only TCP 443")


def findings_caught(f, naming):
    from provision.findings import caught
    return caught(f, naming).ok
