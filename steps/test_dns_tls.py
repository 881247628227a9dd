"""Steps of features/dns_tls.feature."""
import json

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import given as hgiven
from hypothesis import strategies as st
from pytest_bdd import given, parsers, scenarios, then

from harness import dns_zones, recursive
from harness.faults import dns as faults
from provision import config, errors
from provision.config import Secret
from provision.dns import probes, sync
from provision.dns.cloudflare import Cloudflare
from provision.findings import failed, passed
from provision.local import edge

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


# ---------------------------------------------------------------- the rehearsal's edge (strict), started here


@given("the Cloudflare edge as strict as Cloudflare, its zone as the Azure era left it", target_fixture="strict")
def strict_edge(target, tmp_path, request):
    _seeded_faults(target)  # it starts an edge of its own: an offline-target scenario
    info = edge.start(tmp_path / "edge", progress=lambda m: None, strict=True)
    request.addfinalizer(lambda: edge.stop(tmp_path / "edge"))
    jobs = info["cloudflare_tokens"]

    def as_job(job):
        # the load balancer hostname is what the rehearsal's controller sets on the Ingress (not run here)
        return target.with_(dns_server=tuple(info["dns_server"]), cloudflare_api=info["cloudflare_api"],
                            cloudflare_token=Secret(jobs[job]), cloudflare_zone=info["cloudflare_zone"],
                            ca_bundle=info["ca_bundle"], https_port=info["https_port"],
                            load_balancer_hostname=info["answers_load_balancer"], local={"edge": info})
    return {"deploy": as_job("deploy"), "verify": as_job("verify"), "info": info}


def _zone_checks(t) -> list:
    return [probes.check_resolution(t, queries=2), probes.check_no_azure(t), probes.check_cloudflare_settings(t)]


@then("the resolution, decommission and settings checks are red before dns sync")
def strict_red_before(strict, check, record):
    old_ip = config.settings()["edge"]["old_azure_ip"]
    for f, naming in zip(_zone_checks(strict["verify"]), (old_ip, "cloudapp.azure.com", "ssl"), strict=True):
        check(probes.caught(record(f), naming))


@then("dns sync with the deploy token migrates the zone, and every check passes with the read-only verify token")
def strict_sync(strict, check):
    lines = sync.sync(strict["deploy"], "dev")
    again = sync.sync(strict["deploy"], "dev")[-1]
    check(passed("dns sync with the deploy token, then again", "changes, then no changes", f"{lines[-1]}; {again}")
          if again.startswith("no changes") else failed("dns sync twice", "no changes", again, lines))
    for f in _zone_checks(strict["verify"]) + [probes.check_tls(strict["verify"])]:
        check(f)


@then("the verify token cannot write to the zone, and the request log shows no write of it")
def strict_verify_read_only(strict, check):
    info = strict["info"]
    subject = "the verify token is refused a write (403, 10000)"
    try:
        Cloudflare.of(strict["verify"]).set_setting(info["cloudflare_zone"], "ssl", "flexible")
        check(failed(subject, "403 Authentication error", "the write was accepted"))
    except errors.TargetUnavailable as exc:
        check(passed(subject, "403 Authentication error", str(exc)) if "Authentication error" in str(exc)
              else failed(subject, "403 Authentication error", str(exc)))
    log = [json.loads(x) for x in open(info["cloudflare_request_log"]).read().splitlines()]
    writes = [f"FAIL {x['method']} {x['path']} {x['status']}" for x in log
              if x["token"] == "verify" and x["write"] and x["status"] < 400]
    check(failed("writes of the verify token", "none", f"{len(writes)} accepted", writes) if writes
          else passed("writes of the verify token", "none", f"none accepted of {len(log)} logged calls"))
