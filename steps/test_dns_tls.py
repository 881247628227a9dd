"""Steps of features/dns_tls.feature."""
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as hgiven
from hypothesis import strategies as st
from pytest_bdd import given, parsers, scenarios, then

from harness.faults import dns as faults
from provision.dns import probes
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


@then("for at least 100 generated query sequences every answer leads to the load balancer")
def resolution_property(zone, check):
    r = probes.resolver(zone)
    lb, lb_addrs, gaps = probes.load_balancer(zone, r)
    seen = []
    # a query: which domain, its letter case (DNS names are case-insensitive), UDP or TCP
    one = st.tuples(st.sampled_from(zone.domains), st.randoms(use_true_random=False), st.booleans())

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @hgiven(st.lists(one, min_size=1, max_size=6))
    def every_answer_leads_to_lb(sequence):
        seen.append(len(sequence))
        for domain, rnd, tcp in sequence:
            name = "".join(c.upper() if rnd.random() < 0.5 else c for c in domain)
            f = probes.judge_answer(domain, probes.query(r, name, tcp=tcp), lb, lb_addrs)
            assert f.ok, f"{name} ({'TCP' if tcp else 'UDP'}): {f.line()}"

    try:
        every_answer_leads_to_lb()
        result = passed("every answer of every generated query sequence leads to the load balancer",
                        ">= 100 sequences", f"{len(seen)} sequences, {sum(seen)} queries", gaps=gaps,
                        grade=zone.grade("dns"))
    except AssertionError as exc:
        result = failed("every answer of every generated query sequence leads to the load balancer",
                        lb, str(exc).splitlines()[0], gaps=gaps, grade=zone.grade("dns"))
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


@given(parsers.parse('the TLS endpoint of "{domain}" with the seeded fault "{fault}"'), target_fixture="endpoint")
def tls_fault_endpoint(target, domain, fault):
    _seeded_faults(target)
    return faults.tls_fault_target(target, domain, fault)


@then(parsers.parse('the certificate check fails naming "{evidence}"'))
def tls_red(endpoint, evidence, check, record):
    check(probes.caught(record(probes.check_tls(endpoint)), evidence))
