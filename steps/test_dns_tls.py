"""Steps of features/dns_tls.feature."""
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import given as hgiven
from hypothesis import strategies as st
from pytest_bdd import given, parsers, scenarios, then

from harness import dns_zones, recursive
from harness.faults import dns as faults
from provision import config
from provision.dns import probes, sync
from provision.dns.cloudflare import Cloudflare
from provision.findings import failed, passed

scenarios("dns_tls.feature")


def _seeded_faults(target):
    reason = target.cannot.get("seeded_faults")
    if reason:
        pytest.skip(f"not verifiable on the {target.name} target: {reason}")


@given("the Cloudflare zone of the target", target_fixture="zone")
def zone(target):
    return target


@given(parsers.parse('the Cloudflare zone of the target with the seeded fault "{fault}"'), target_fixture="zone")
def zone_with_fault(target, fault, request):
    _seeded_faults(target)
    zone_cm = faults.fresh_zone(target)  # a zone of its own: the shared one stays intact
    fresh = zone_cm.__enter__()
    request.addfinalizer(lambda: zone_cm.__exit__(None, None, None))
    faults.apply_dns_fault(fresh, fault)
    return fresh


@then("every managed domain resolves, consistently, to the load balancer of the cluster")
def resolves_to_lb(zone, check):
    check(probes.check_resolution(zone))


@then("for at least 100 generated zones every answer on every resolution path agrees with the oracle, "
      "and after dns sync every managed domain leads to the load balancer")
def resolution_property(zone, check, tmp_path):
    _seeded_faults(zone)  # it writes zones on the Cloudflare stand-in
    if recursive.binary() is None:
        pytest.fail(recursive.MISSING, pytrace=False)
    s = config.settings()
    zone_name, edge = s["domains"]["zone"], s["edge"]
    lb_host, lb_addr = edge["load_balancer_hostname"].lower(), edge["load_balancer_address"]
    names = [*zone.domains, f"www.{zone_name}"]   # the managed domains, and a leftover name
    seen, counts = [], {"queries": 0, "led_before": 0}
    with faults.fresh_zone(zone) as t, recursive.running(
            tmp_path / "unbound", {zone_name: t.dns_server, lb_host: t.dns_server}, zone.dns_server) as ub:
        cf, zid = Cloudflare.of(t), t.cloudflare_zone
        direct, via_unbound = probes.resolver(t), probes.resolver(t.with_(dns_server=ub.address))
        paths = [dns_zones.Path("edge UDP", direct, False, False), dns_zones.Path("edge TCP", direct, True, False),
                 dns_zones.Path("unbound UDP", via_unbound, False, True),
                 dns_zones.Path("unbound TCP", via_unbound, True, True)]
        lb, lb_addrs, gaps = probes.load_balancer(t, direct)

        def ask(recs, rnd, label, names, paths) -> list[str]:
            problems = []
            pairs = [(n, p) for n in names for p in paths]
            rnd.shuffle(pairs)
            for name, path in pairs:
                cased = "".join(c.upper() if rnd.random() < 0.5 else c for c in name)
                answer = probes.query(path.resolver, cased, tcp=path.tcp)
                counts["queries"] += 1
                expected = dns_zones.expect(recs, name, zone_name, lb_host, lb_addr)
                verdict = probes.judge_answer(name, answer, lb, lb_addrs).ok
                problems += [f"{label}, {path.name}, {cased} ({answer.text()}): {p}"
                             for p in dns_zones.compare(expected, answer, path, verdict)]
            return problems

        # no shrinking: a counterexample is shown as drawn, and a red run stays bounded in time
        @settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                  phases=(Phase.explicit, Phase.generate))
        @hgiven(recs=dns_zones.zones(zone_name, zone.domains, lb_host, lb_addr, edge["old_azure_ip"]),
                rnd=st.randoms(use_true_random=False))
        def every_path_agrees_with_the_oracle(recs, rnd):
            seen.append(len(recs))
            dns_zones.write(cf, zid, recs)
            ub.flush()
            problems = ask(recs, rnd, "drawn zone", names, paths[:3])
            led = all(dns_zones.expect(recs, d, zone_name, lb_host, lb_addr).leads_to_lb for d in zone.domains)
            counts["led_before"] += led
            f = probes.check_resolution(t, queries=2)
            if f.ok != led:
                problems.append(f"drawn zone: check_resolution {'passed' if f.ok else 'failed'}, the oracle says "
                                f"the managed domains {'all' if led else 'do not all'} lead to the load balancer")
            sync.sync(t, "dev")
            ub.flush()
            after = dns_zones.from_api(cf.records(zid))
            problems += [f"after dns sync: the oracle says {d} does not lead to the load balancer"
                         for d in zone.domains
                         if not dns_zones.expect(after, d, zone_name, lb_host, lb_addr).leads_to_lb]
            problems += ask(after, rnd, "after dns sync", zone.domains, paths)
            assert not problems, "\n".join(problems[:12])

        try:
            every_path_agrees_with_the_oracle()
            result = passed("every answer of every generated zone, on every path, agrees with the oracle; "
                            "after dns sync every managed domain leads to the load balancer", ">= 100 zones",
                            f"{len(seen)} zones ({counts['led_before']} already led to it), {sum(seen)} records, "
                            f"{counts['queries']} queries over {', '.join(p.name for p in paths)}",
                            gaps=gaps, grade=zone.grade("dns"))
        except AssertionError as exc:
            lines = str(exc).splitlines()
            result = failed("every answer of every generated zone, on every path, agrees with the oracle",
                            "the oracle's answer", lines[0], evidence=[f"FAIL {ln}" for ln in lines[1:]]
                            + list(getattr(exc, "__notes__", [])), gaps=gaps, grade=zone.grade("dns"))
    check(result)
    check(passed("hypothesis ran enough examples", ">= 100", str(len(seen))) if len(seen) >= 100
          else failed("hypothesis ran enough examples", ">= 100", str(len(seen))))


@then(parsers.parse('the resolution check fails naming "{evidence}"'))
def resolution_red(zone, evidence, check, record):
    check(probes.caught(record(probes.check_resolution(zone)), evidence))


@then("no DNS record points at an Azure address or hostname")
def no_azure(zone, check):
    check(probes.check_no_azure(zone))


@then(parsers.parse('the decommission check fails naming "{evidence}"'))
def azure_red(zone, evidence, check, record):
    check(probes.caught(record(probes.check_no_azure(zone)), evidence))


@then(parsers.parse("each domain answers HTTPS with a certificate valid for at least {days:d} days"))
def tls_ok(zone, days, check):
    check(probes.check_tls(zone, min_days=days))


@then(parsers.parse('Cloudflare has SSL mode "{mode}" and Always Use HTTPS on'))
def cloudflare_settings(zone, mode, check):
    check(probes.check_cloudflare_settings(zone, ssl_mode=mode, always_https="on"))


@then(parsers.parse('the Cloudflare settings check fails naming "{evidence}"'))
def cloudflare_settings_red(zone, evidence, check, record):
    check(probes.caught(record(probes.check_cloudflare_settings(zone)), evidence))


@given(parsers.parse('the TLS endpoint of "{domain}" with the seeded fault "{fault}"'), target_fixture="endpoint")
def tls_fault_endpoint(target, domain, fault):
    _seeded_faults(target)
    return faults.tls_fault_target(target, domain, fault)


@then(parsers.parse('the certificate check fails naming "{evidence}"'))
def tls_red(endpoint, evidence, check, record):
    check(probes.caught(record(probes.check_tls(endpoint)), evidence))
