"""The Cloudflare client against the edge stand-in: protocol subset, errors, idempotent sync.

Each test works in a fresh zone of its own (parallel-safe); the shared zone is only read.
"""
import dns.rcode
import dns.rdatatype
import pytest

from harness.faults import dns as faults
from provision import config, errors
from provision.dns import sync
from provision.dns.cloudflare import Cloudflare, CloudflareError
from provision.local import edge_cloudflare_model as model
from provision.local import edge_cloudflare_routes as routes
from provision.local import edge_dns_answers

pytestmark = [pytest.mark.offline]


@pytest.fixture
def fresh(target):
    reason = target.cannot.get("seeded_faults")
    if reason:
        pytest.skip(f"not verifiable on the {target.name} target: {reason}")
    with faults.fresh_zone(target) as t:
        yield t


def test_zone_lookup_and_envelope(target):
    cf = Cloudflare.of(target)
    body = cf.call("GET", "/zones", params={"name": config.settings()["domains"]["zone"]})
    assert set(body) >= {"success", "errors", "messages", "result", "result_info"}
    assert target.cloudflare_zone in [z["id"] for z in body["result"]]


def test_bad_token_is_target_unavailable_without_showing_the_token(target):
    cf = Cloudflare(target.cloudflare_api, "not-the-token")
    with pytest.raises(errors.TargetUnavailable) as e:
        cf.records(target.cloudflare_zone)
    assert "Authentication error" in str(e.value) and "not-the-token" not in str(e.value)
    assert "***" in repr(target.cloudflare_token) and target.cloudflare_token not in repr(target)


def test_api_rejects_invalid_records_with_cloudflare_codes(fresh):
    cf, zid = Cloudflare.of(fresh), fresh.cloudflare_zone
    app = f"app.{config.settings()['domains']['zone']}"
    with pytest.raises(CloudflareError) as e:
        cf.create_record(zid, "A", app, "127.0.0.9")  # a CNAME is there already
    assert 81053 in e.value.codes and model.HOST_TAKEN in str(e.value)
    with pytest.raises(CloudflareError) as e:
        cf.create_record(zid, "A", "x", "not-an-ip")
    assert 9005 in e.value.codes and model.BAD_ADDRESS.format(rtype="A", version=4) in str(e.value)
    with pytest.raises(CloudflareError) as e:
        cf.set_setting(zid, "ssl", "very-strict")
    assert 1007 in e.value.codes and model.BAD_SETTING_VALUE.format(setting="ssl") in str(e.value)


def test_pagination_reads_every_page(fresh):
    cf, zid = Cloudflare.of(fresh), fresh.cloudflare_zone
    for i in range(7):
        cf.create_record(zid, "TXT", f"p{i}", f"page test {i}", proxied=False)
    assert len(cf._all(f"/zones/{zid}/dns_records", per_page=2)) == 7 + len(fresh.domains)


def test_sync_repairs_drift_then_says_no_changes(fresh):
    cf, zid = Cloudflare.of(fresh), fresh.cloudflare_zone
    faults.apply_dns_fault(fresh, "record-to-old-ip")
    faults.apply_dns_fault(fresh, "missing-api-record")
    cf.set_setting(zid, "always_use_https", "off")
    first = sync.sync(fresh, "dev")
    assert any(line.startswith("replace app.") for line in first)
    assert any(line.startswith("create api.") for line in first)
    assert any(line.startswith("setting always_use_https") for line in first)
    second = sync.sync(fresh, "dev")
    assert second[-1].startswith("no changes")


def test_verify_demo_step_gives_finding_lines(target):
    from provision import verify
    lines = verify.demo_step(target, progress=lambda m: None)
    verdicts = [line for line in lines if line.startswith(("ok", "FAIL"))]
    assert verdicts == [line for line in lines if line.startswith("ok")]
    assert len([line for line in lines if line.startswith("ok")]) == 4


# ---------------------------------------------------------------- the stand-in's model, no server

LB_HOST, LB_ADDR = "lb.example-elb.amazonaws.com", "127.0.43.9"


@pytest.fixture
def store():
    s = model.Store(LB_HOST, LB_ADDR)  # no serve_zone: no DNS listener
    z = s.add_zone("example.org", model.SHARED_ACCOUNT)
    s.create_record(z.id, {"type": "CNAME", "name": "@", "content": LB_HOST, "proxied": True})
    s.create_record(z.id, {"type": "CNAME", "name": "app", "content": LB_HOST + ".", "proxied": True})
    return s, z


@pytest.mark.parametrize("record, code, message", [
    ({"type": "SRV", "content": "x"}, 1004, model.UNSUPPORTED_TYPE.format(rtype="SRV")),
    ({"content": "x"}, 9000, model.UNSUPPORTED_TYPE.format(rtype="(none)")),
    ({"type": "A", "name": "a"}, 9005, model.CONTENT_REQUIRED),
    ({"type": "AAAA", "name": "a", "content": "127.0.0.1"}, 9005, model.BAD_ADDRESS.format(rtype="AAAA", version=6)),
    ({"type": "A", "name": "a", "content": "127.0.0.1", "ttl": 5}, 9021, model.BAD_TTL),
    ({"type": "A", "name": "app", "content": "127.0.0.1"}, 81053, model.HOST_TAKEN),
    ({"type": "CNAME", "name": "app", "content": "other.example.org"}, 81053, model.HOST_TAKEN),
])
def test_model_refuses_records_with_cloudflare_codes_and_texts(store, record, code, message):
    s, z = store
    with pytest.raises(model.ApiError) as e:
        s.create_record(z.id, record)
    assert (e.value.code, e.value.message) == (code, message)


def test_model_refuses_an_identical_record_and_unknown_ids(store):
    s, z = store
    s.create_record(z.id, {"type": "TXT", "name": "t", "content": "v=1"})
    with pytest.raises(model.ApiError) as e:
        s.create_record(z.id, {"type": "TXT", "name": "t.example.org.", "content": "v=1"})
    assert (e.value.code, e.value.message) == (81058, model.IDENTICAL_RECORD)
    with pytest.raises(model.ApiError) as e:
        s.get_record(z.id, "nope")
    assert (e.value.status, e.value.message) == (404, model.RECORD_NOT_FOUND)
    with pytest.raises(model.ApiError) as e:
        s.zone("nope")
    assert e.value.message == model.ZONE_NOT_FOUND.format(zone_id="nope")
    with pytest.raises(model.ApiError) as e:
        s.add_zone("example.org", model.SHARED_ACCOUNT)
    assert e.value.message == model.ZONE_EXISTS.format(name="example.org")
    with pytest.raises(model.ApiError) as e:
        s.set_setting(z.id, "ssl", "very-strict")
    assert e.value.message == model.BAD_SETTING_VALUE.format(setting="ssl")


def test_model_names_records_and_filters_like_cloudflare(store):
    s, z = store
    assert [r["name"] for r in s.list_records(z.id)] == ["app.example.org", "example.org"]
    assert [r["name"] for r in s.list_records(z.id, name="app")] == ["app.example.org"]
    assert s.list_records(z.id, proxied=False) == []
    assert s.list_records(z.id, content=LB_HOST)[0]["content"] == LB_HOST  # the trailing dot dropped


def test_dns_answers_flatten_the_apex_and_chase_subdomain_cnames(store):
    s, z = store
    rcode, rrs, auth = edge_dns_answers.answer(s, z, "EXAMPLE.org.", dns.rdatatype.A)
    assert (rcode, auth) == (dns.rcode.NOERROR, True)
    assert [(r.rdtype, [d.to_text() for d in r]) for r in rrs] == [(dns.rdatatype.A, [LB_ADDR])]
    _, rrs, _ = edge_dns_answers.answer(s, z, "app.example.org", dns.rdatatype.A)
    assert [r.rdtype for r in rrs] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert edge_dns_answers.answer(s, z, "nope.example.org", dns.rdatatype.A)[0] == dns.rcode.NXDOMAIN
    assert edge_dns_answers.answer(s, z, "example.net", dns.rdatatype.A)[:3:2] == (dns.rcode.REFUSED, False)


def test_dns_answers_nxdomain_for_a_cname_chain_ending_at_a_missing_name(store):
    """RFC 6604: the rcode is the last name's; the CNAME is still in the answer (P6's oracle found this)."""
    s, z = store
    s.create_record(z.id, {"type": "CNAME", "name": "old", "content": "gone.example.org", "proxied": False})
    s.create_record(z.id, {"type": "CNAME", "name": "hop", "content": "old.example.org", "proxied": False})
    rcode, rrs, auth = edge_dns_answers.answer(s, z, "hop.example.org", dns.rdatatype.A)
    assert (rcode, auth) == (dns.rcode.NXDOMAIN, True)
    assert [[d.to_text() for d in r] for r in rrs] == [["old.example.org."], ["gone.example.org."]]
    # a chain that ends at an address still answers NOERROR
    assert edge_dns_answers.answer(s, z, "app.example.org", dns.rdatatype.A)[0] == dns.rcode.NOERROR


@pytest.mark.parametrize("header, status, message", [
    ("", 400, routes.BAD_HEADERS), ("Bearer ", 400, routes.BAD_HEADERS), ("Bearer other", 403, routes.AUTH_ERROR),
])
def test_requests_without_the_token_are_refused(header, status, message):
    with pytest.raises(model.ApiError) as e:
        routes.bearer(header, "the-token")
    assert (e.value.status, e.value.message) == (status, message)
    routes.bearer("Bearer the-token", "the-token")


def test_paging_is_clamped_and_bad_numbers_refused():
    assert routes.paging({"page": "0", "per_page": "99999"}, 100, 5000) == (1, 5000)
    assert routes.paging({}, 20, 50) == (1, 20)
    with pytest.raises(model.ApiError) as e:
        routes.paging({"page": "x"}, 20, 50)
    assert e.value.message == routes.BAD_PAGING
