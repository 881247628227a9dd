"""Pure judgments of DNS records, answers and certificates, on saved or built data."""
import argparse
import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from harness import dns_zones
from harness.dns_zones import Rec
from provision import config, errors, targets
from provision.dns import commands, predicates, sync
from provision.dns.probes import Answer, caught, judge_answer, settings_finding
from provision.findings import failed, passed
from provision.local import edge_ca

pytestmark = [pytest.mark.offline, pytest.mark.unit]

LB = "k8s-cloudtol-mainingr-0123456789.elb.us-east-1.amazonaws.com"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("rtype, content, expected", [
    ("CNAME", "cloudtolocalllm-aks.eastus.cloudapp.azure.com", "cloudapp.azure.com"),
    ("CNAME", "ctl.azurewebsites.net.", "azurewebsites.net"),
    ("CNAME", "ctl.trafficmanager.net", "trafficmanager.net"),
    ("CNAME", "ctl-x.z01.azurefd.net", "azurefd.net"),
    ("A", "20.51.7.42", "20.0.0.0/8"),
    ("A", "52.224.1.1", "52.224.0.0/11"),
    ("TXT", "verify=abc.cloudapp.azure.com", "cloudapp.azure.com"),
])
def test_azure_marker_names_the_azure_part(rtype, content, expected):
    assert expected in predicates.azure_marker(rtype, content)


@pytest.mark.parametrize("rtype, content", [
    ("CNAME", LB), ("A", "127.0.43.1"), ("A", "3.5.140.2"), ("CNAME", "notcloudapp.azure.com.example.org"),
    ("TXT", "v=spf1 -all"), ("CNAME", "fakeazurewebsites.net"),
])
def test_azure_marker_passes_non_azure(rtype, content):
    assert predicates.azure_marker(rtype, content) is None


def test_leads_to_load_balancer_by_chain_or_flattened_addresses():
    assert predicates.leads_to_load_balancer(["K8S-cloudtol-mainingr-0123456789.elb.us-east-1.amazonaws.com."],
                                             ["127.0.43.1"], LB, ["127.0.43.1"]) is None
    assert predicates.leads_to_load_balancer([], ["127.0.43.1"], LB, ["127.0.43.1"]) is None
    bad = predicates.leads_to_load_balancer([], ["20.51.7.42"], LB, ["127.0.43.1"])
    assert "not the load balancer" in bad and "20.51.7.42" in bad
    assert predicates.leads_to_load_balancer([], [], LB, []) is not None


def test_consistency_needs_one_answer():
    assert predicates.consistent([("NOERROR", (), ("1.2.3.4",))] * 3) is None
    assert "2 different answers" in predicates.consistent([("NOERROR", (), ("1.2.3.4",)), ("NXDOMAIN", (), ())])


def test_proxied_answer_accepted_only_with_api_record_to_lb():
    edge_answer = Answer("app.x", "NOERROR", (), ("104.16.1.1",))
    rec = {"name": "app.x", "type": "CNAME", "content": LB, "proxied": True}
    ok = judge_answer("app.x", edge_answer, LB, ["3.5.1.1"], [rec])
    assert ok.ok and ok.gaps
    assert not judge_answer("app.x", edge_answer, LB, ["3.5.1.1"], [{**rec, "content": "old.cloudapp.azure.com"}]).ok
    assert not judge_answer("app.x", Answer("app.x", "NXDOMAIN", (), ()), LB, ["3.5.1.1"], [rec]).ok


@pytest.mark.parametrize("nb, na, expected", [
    (NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=30), None),
    (NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=14), None),
    (NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=13, hours=23), "less than 14"),
    (NOW - dt.timedelta(days=10), NOW - dt.timedelta(seconds=1), "expired"),
    (NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=90), "not yet valid"),
])
def test_validity_window(nb, na, expected):
    got = predicates.validity_problem(nb, na, NOW, 14)
    assert (got is None) if expected is None else (expected in got)


@pytest.mark.parametrize("host, names, ok", [
    ("app.cloudtolocalllm.online", ["app.cloudtolocalllm.online"], True),
    ("APP.cloudtolocalllm.online.", ["app.cloudtolocalllm.online"], True),
    ("app.cloudtolocalllm.online", ["*.cloudtolocalllm.online"], True),
    ("cloudtolocalllm.online", ["*.cloudtolocalllm.online"], False),
    ("a.b.cloudtolocalllm.online", ["*.cloudtolocalllm.online"], False),
    ("app.cloudtolocalllm.online", ["www.example.invalid"], False),
    ("app.cloudtolocalllm.online", ["a*.cloudtolocalllm.online"], False),
    ("x.online", ["*.online"], False),
    ("app.cloudtolocalllm.online", [], False),
])
def test_hostname_match(host, names, ok):
    assert predicates.hostname_matches(host, names) is ok
    assert (predicates.hostname_problem(host, names) is None) is ok


def test_cert_facts_of_a_test_ca_certificate():
    ca = edge_ca.make_ca()
    der = edge_ca.expired(ca, ["app.cloudtolocalllm.online"]).cert.public_bytes(Encoding.DER)
    facts = predicates.cert_facts(der)
    assert facts.dns_names == ("app.cloudtolocalllm.online",)
    assert "expired" in predicates.validity_problem(facts.not_before, facts.not_after,
                                                    dt.datetime.now(dt.UTC), 14)


DOMAINS = ("z.online", "app.z.online", "api.z.online")
WANT = {"ssl": "strict", "always_use_https": "on"}


def _rec(name, type_, content, id_):
    return {"name": name, "type": type_, "content": content, "id": id_, "proxied": True, "ttl": 1}


def test_sync_plan_is_empty_when_all_lead_to_the_lb():
    recs = [_rec(d, "CNAME", LB, str(i)) for i, d in enumerate(DOMAINS)]
    assert sync.plan(recs, WANT, DOMAINS, LB, WANT) == []


def test_sync_plan_fixes_each_kind_of_drift():
    recs = [_rec("z.online", "A", "20.51.7.42", "a1"), _rec("z.online", "A", "20.51.7.43", "a2"),
            _rec("app.z.online", "CNAME", "old.cloudapp.azure.com", "c1")]
    got = [(c.action, c.name) for c in sync.plan(recs, {"ssl": "full", "always_use_https": "on"}, DOMAINS, LB, WANT)]
    assert got == [("delete", "z.online"), ("replace", "z.online"), ("update", "app.z.online"),
                   ("create", "api.z.online"), ("setting", "ssl")]


def test_sync_plan_makes_a_dns_only_cname_to_the_lb_proxied():
    recs = [_rec(d, "CNAME", LB, str(i)) for i, d in enumerate(DOMAINS)]
    recs[1] = {**recs[1], "proxied": False}
    got = sync.plan(recs, WANT, DOMAINS, LB, WANT)
    assert [(c.action, c.name) for c in got] == [("update", "app.z.online")] and "proxied" in got[0].detail


def test_caught_requires_red_and_the_named_evidence():
    red = failed("x", "lb", "NXDOMAIN for api.z.online")
    assert caught(red, "api.").ok
    assert not caught(red, "expired").ok
    assert not caught(passed("x"), "api.").ok


def test_sync_with_unknown_environment_is_one_bad_input_line():
    args = argparse.Namespace(env="staging", dry_run=False, target="offline", dir="/nonexistent")
    with pytest.raises(errors.BadInput) as e:
        commands._sync(args)
    assert str(e.value) == errors.UNKNOWN_ENV.format(env="staging", known="dev, prod")


def test_offline_target_not_running_is_target_unavailable(tmp_path):
    args = argparse.Namespace(target="offline", dir=str(tmp_path))
    with pytest.raises(errors.TargetUnavailable) as e:
        commands.target_of(args)
    assert str(e.value) == targets.OFFLINE_NOT_RUNNING.format(dir=tmp_path)


def test_the_offline_target_declares_its_load_balancer_and_the_gap():
    from provision.local import edge, stack

    t = stack.target({"components": {"edge": {"load_balancer_hostname": LB, "https_port": 8443}}})
    assert sync.load_balancer(t) == (LB, (edge.GAPS[sync.LB_GAP],))
    assert t.gap(sync.LB_GAP) == edge.GAPS[sync.LB_GAP]


def test_a_target_fixing_the_load_balancer_without_a_gap_names_none():
    t = config.Target(name="x", region="us-east-1", account_id="1", load_balancer_hostname=LB)
    assert sync.load_balancer(t) == (LB, ())


def test_seeded_dns_faults_are_refused_where_the_target_declares_it_cannot():
    from harness.faults import dns as faults

    live = config.live_target({"KUBECONFIG": "/k", "CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ZONE_ID": "z"})
    with pytest.raises(errors.Refused) as e:
        with faults.fresh_zone(live):
            pass
    assert str(e.value) == live.cannot["seeded_faults"]
    with pytest.raises(errors.Refused) as e:
        faults.tls_fault_target(config.Target(name="x", region="r", account_id="1", domains=("a.b",)), "a.b",
                                "expired")
    assert str(e.value) == faults.OFFLINE_ONLY


# ---- P6's oracle (harness/dns_zones.py): expected answers from record sets alone

ZONE, LB_ADDR, OLD = "example.org", "127.0.43.1", "20.51.7.42"
RECORDS = [
    Rec("CNAME", "example.org", "hop0.example.org", 120), Rec("CNAME", "hop0.example.org", LB, 1),
    Rec("CNAME", "app.example.org", LB, 1), Rec("A", "api.example.org", OLD, 3600),
    Rec("A", "api.example.org", LB_ADDR, 3600), Rec("CNAME", "www.example.org", "x.cloudapp.azure.com", 60),
    Rec("CNAME", "old.example.org", "gone.example.org", 60), Rec("TXT", "txt.example.org", "v=spf1 -all", 60),
    Rec("A", "a.b.example.org", LB_ADDR, 60),
]


def _expect(name):
    return dns_zones.expect(RECORDS, name, ZONE, LB.lower(), LB_ADDR)


def test_oracle_follows_cnames_flattens_the_apex_and_reads_automatic_ttl_as_300():
    apex = _expect("EXAMPLE.org.")
    assert (apex.chain, apex.addresses, apex.ttl, apex.leads_to_lb, apex.flattened) == \
        ((), {LB_ADDR}, 120, True, True)
    app = _expect("app.example.org")
    assert (app.chain, app.addresses, app.ttl, app.leads_to_lb) == ((LB.lower(),), {LB_ADDR}, 300, True)
    api = _expect("api.example.org")
    assert (api.addresses, api.ttl, api.leads_to_lb, api.rcode(False)) == ({OLD, LB_ADDR}, 3600, False, "NOERROR")


@pytest.mark.parametrize("name, end, direct, recursive", [
    ("www.example.org", "external", "NOERROR", "SERVFAIL"),     # an Azure leftover: nothing answers offline
    ("old.example.org", "nxdomain", "NXDOMAIN", "NXDOMAIN"),    # RFC 6604: the last name's rcode
    ("txt.example.org", "nodata", "NOERROR", "NOERROR"),
    ("b.example.org", "nodata", "NOERROR", "NOERROR"),          # an empty non-terminal exists
    ("nope.example.org", "nxdomain", "NXDOMAIN", "NXDOMAIN"),
])
def test_oracle_says_where_a_name_ends_and_with_which_rcode(name, end, direct, recursive):
    e = _expect(name)
    assert (e.end, e.rcode(False), e.rcode(True), e.addresses, e.leads_to_lb) == \
        (end, direct, recursive, frozenset(), False)


def test_compare_catches_an_answer_that_differs_from_the_oracle():
    path = dns_zones.Path("edge UDP", None, False, False)
    app = _expect("app.example.org")
    assert dns_zones.compare(app, Answer("app", "NOERROR", (LB.lower(),), (LB_ADDR,), 300), path, True) == []
    wrong = dns_zones.compare(app, Answer("app", "NOERROR", (), (OLD,), 300), path, False)
    assert any("addresses" in p for p in wrong) and any("chain" in p for p in wrong)
    assert any("the oracle says it does" in p for p in wrong)
    assert any("ttl 60" in p for p in dns_zones.compare(app, Answer("app", "NOERROR", (LB.lower(),), (LB_ADDR,),
                                                                             60), path, True))
    old = _expect("old.example.org")
    assert any("rcode NOERROR, oracle NXDOMAIN" in p
               for p in dns_zones.compare(old, Answer("old", "NOERROR", ("gone.example.org",), (), 60), path, False))


# ---- Cloudflare zone settings: the actual value names only what differs


def test_settings_finding_names_only_the_wrong_setting():
    wanted = {"ssl": "strict", "always_use_https": "on"}
    assert settings_finding(wanted, dict(wanted)).ok
    ssl = settings_finding(wanted, {"ssl": "flexible", "always_use_https": "on"})
    assert caught(ssl, "ssl").ok and not caught(ssl, "always_use_https").ok
    https = settings_finding(wanted, {"ssl": "strict", "always_use_https": "off"})
    assert caught(https, "always_use_https").ok and not caught(https, "ssl").ok
