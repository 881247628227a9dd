"""The Cloudflare client against the edge stand-in: protocol subset, errors, idempotent sync.

Each test works in a fresh zone of its own (parallel-safe); the shared zone is only read.
"""
import json

import dns.rcode
import dns.rdatatype
import pytest

from harness.faults import dns as faults
from provision import config, errors
from provision.dns import predicates, probes, sync
from provision.dns.cloudflare import Cloudflare, CloudflareError
from provision.local import edge, edge_dns_answers
from provision.local import edge_cloudflare_model as model
from provision.local import edge_cloudflare_routes as routes
from provision.local import edge_cloudflare_tokens as tokens

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
    ({"type": "A", "name": "a", "content": "127.0.0.1", "ttl": 59}, 9021, model.BAD_TTL),
    ({"type": "A", "name": "a", "content": "127.0.0.1", "ttl": 86401}, 9021, model.BAD_TTL),
    ({"type": "TXT", "name": "t", "content": "v=1", "proxied": True}, 9004, model.CANNOT_PROXY),
    ({"type": "MX", "name": "m", "content": "mx.example.org", "proxied": True}, 9004, model.CANNOT_PROXY),
    ({"type": "A", "name": "app", "content": "127.0.0.1"}, 81053, model.HOST_TAKEN),
    ({"type": "CNAME", "name": "app", "content": "other.example.org"}, 81053, model.HOST_TAKEN),
])
def test_model_refuses_records_with_cloudflare_codes_and_texts(store, record, code, message):
    s, z = store
    with pytest.raises(model.ApiError) as e:
        s.create_record(z.id, record)
    assert e.value.cause() == (code, message)
    if code in (9021, 9004):  # Cloudflare wraps these: 1004 "DNS Validation Error" with the cause in error_chain
        assert (e.value.status, e.value.code, e.value.message) == (400, 1004, model.DNS_VALIDATION)


def test_ttl_bounds_and_proxied_on_a_aaaa_cname_are_accepted(store):
    s, z = store
    for i, ttl in enumerate((1, 60, 86400)):
        assert s.create_record(z.id, {"type": "A", "name": f"t{i}", "content": "192.0.2.1", "ttl": ttl})["ttl"] == ttl
    assert s.create_record(z.id, {"type": "AAAA", "name": "v6", "content": "2001:db8::1", "proxied": True})["proxied"]
    assert s.create_record(z.id, {"type": "TXT", "name": "t", "content": "v=1", "proxied": False})["proxiable"] is False


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


def test_paging_within_the_documented_sizes_and_bad_values_refused():
    assert routes.paging({}, routes.ZONES_PAGING) == (1, 20)
    assert routes.paging({}, routes.RECORDS_PAGING) == (1, 100)
    assert routes.paging({"page": "3", "per_page": "5000"}, routes.RECORDS_PAGING) == (3, 5000)
    for args, sizes in [({"page": "x"}, routes.ZONES_PAGING), ({"page": "0"}, routes.RECORDS_PAGING),
                        ({"page": "-1"}, routes.RECORDS_PAGING), ({"per_page": "0"}, routes.RECORDS_PAGING),
                        ({"per_page": "4"}, routes.ZONES_PAGING), ({"per_page": "51"}, routes.ZONES_PAGING)]:
        with pytest.raises(model.ApiError) as e:
            routes.paging(args, sizes)
        assert (e.value.status, e.value.code, e.value.message) == (400, 1001, routes.BAD_PAGING), args


# ---------------------------------------------------------------- scoped tokens (the rehearsal's), no server

DENIED = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": [],
          "result": None}


@pytest.fixture
def scoped(store, tmp_path):
    """The v4 app over the model with the rehearsal's tokens, in-process (Flask's test client)."""
    s, z = store
    other = s.add_zone("example.net", "another-account")
    spec = {"deploy-secret": {"name": "deploy", "permissions": ["DNS Edit", "Zone Settings Edit"]},
            "verify-secret": {"name": "verify", "permissions": ["Zone Read", "DNS Read", "Zone Settings Read"]}}
    log = tmp_path / "requests.jsonl"
    app = routes.make_app(s, tokens.Tokens.from_spec(spec, z.id), request_log=log)
    client = app.test_client()

    def call(method, path, secret, **kw):
        r = client.open(f"{routes.BASE}{path}", method=method, headers={"Authorization": f"Bearer {secret}"}, **kw)
        return r.status_code, r.get_json()
    return call, z, other, log


def test_token_permissions_imply_read_and_stop_at_their_zone():
    t = tokens.Token("deploy", frozenset({tokens.DNS_EDIT}), frozenset({"z1"}))
    assert t.grants(tokens.DNS_READ, "z1") and t.grants(tokens.DNS_EDIT, "z1")
    assert not t.grants(tokens.DNS_EDIT, "z2") and not t.grants(tokens.SETTINGS_READ, "z1")
    assert t.grants(None, "z2")  # a route that needs no permission (the stand-in's own)
    with pytest.raises(ValueError):
        tokens.check_permissions(["DNS Write-ish"])


def test_verify_token_reads_and_cannot_write_with_cloudflares_refusal(scoped):
    call, z, other, log = scoped
    assert call("GET", f"/zones/{z.id}/dns_records", "verify-secret")[0] == 200
    assert call("GET", f"/zones/{z.id}/settings/ssl", "verify-secret")[0] == 200
    assert call("GET", f"/zones/{z.id}", "verify-secret")[0] == 200
    for method, path, body in [("POST", f"/zones/{z.id}/dns_records", {"type": "TXT", "name": "x", "content": "y"}),
                               ("PATCH", f"/zones/{z.id}/settings/ssl", {"value": "strict"}),
                               ("DELETE", f"/zones/{z.id}", None)]:
        assert call(method, path, "verify-secret", json=body) == (403, DENIED), (method, path)
    assert call("GET", f"/zones/{other.id}/dns_records", "verify-secret") == (403, DENIED)  # not its zone
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(x["token"], x["method"], x["status"], x["write"]) for x in lines[3:6]] == [
        ("verify", "POST", 403, True), ("verify", "PATCH", 403, True), ("verify", "DELETE", 403, True)]


def test_deploy_token_writes_its_zone_only_and_lists_no_zone(scoped):
    call, z, other, _ = scoped
    status, body = call("POST", f"/zones/{z.id}/dns_records", "deploy-secret",
                        json={"type": "TXT", "name": "x", "content": "y"})
    assert status == 200 and body["result"]["name"] == "x.example.org"
    assert call("PATCH", f"/zones/{z.id}/settings/always_use_https", "deploy-secret", json={"value": "on"})[0] == 200
    assert call("POST", f"/zones/{other.id}/dns_records", "deploy-secret",
                json={"type": "TXT", "name": "x", "content": "y"}) == (403, DENIED)
    assert call("GET", "/zones", "deploy-secret") == (403, DENIED)   # no Zone Read
    assert [x["name"] for x in call("GET", "/zones", "verify-secret")[1]["result"]] == ["example.org"]
    assert call("GET", "/zones", "no-such-token") == (403, DENIED)


def test_validation_errors_carry_cloudflares_error_chain(scoped):
    call, z, _, _ = scoped
    status, body = call("POST", f"/zones/{z.id}/dns_records", "deploy-secret",
                        json={"type": "TXT", "name": "t", "content": "v", "proxied": True})
    assert status == 400 and body["errors"] == [{"code": 1004, "message": model.DNS_VALIDATION,
                                                 "error_chain": [{"code": 9004, "message": model.CANNOT_PROXY}]}]
    status, body = call("GET", f"/zones/{z.id}/dns_records?per_page=0", "verify-secret")
    assert status == 400 and body["errors"] == [{"code": 1001, "message": routes.BAD_PAGING}]


def test_strict_dns_answers_a_proxied_name_with_cloudflare_edge_addresses():
    s = model.Store(LB_HOST, LB_ADDR, strict=True, edge_ranges=predicates.CLOUDFLARE_IPV4)
    z = s.add_zone("example.org", model.SHARED_ACCOUNT)
    assert z.settings == model.NEW_ZONE_SETTINGS
    s.create_record(z.id, {"type": "CNAME", "name": "app", "content": LB_HOST, "proxied": True})
    s.create_record(z.id, {"type": "CNAME", "name": "grey", "content": LB_HOST, "proxied": False})
    rcode, rrs, _ = edge_dns_answers.answer(s, z, "app.example.org", dns.rdatatype.A)
    addrs = [d.to_text() for r in rrs for d in r]
    assert rcode == dns.rcode.NOERROR and [r.rdtype for r in rrs] == [dns.rdatatype.A] and addrs
    assert all(predicates.is_cloudflare_edge(a) for a in addrs) and LB_ADDR not in addrs
    assert edge_dns_answers.answer(s, z, "app.example.org", dns.rdatatype.A)[1] == rrs   # stable
    _, rrs, _ = edge_dns_answers.answer(s, z, "grey.example.org", dns.rdatatype.A)   # DNS only: the origin chain
    assert [r.rdtype for r in rrs] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def test_cloudflare_ranges_come_from_the_data_file_with_its_source():
    text = predicates.CLOUDFLARE_IPS_FILE.read_text()
    assert "https://www.cloudflare.com/ips-v4" in text
    assert predicates.CLOUDFLARE_IPV4[0] == "173.245.48.0/20" and len(predicates.CLOUDFLARE_IPV4) == 15
    assert predicates.is_cloudflare_edge("104.16.0.1") and not predicates.is_cloudflare_edge("20.51.7.42")


# ---------------------------------------------------------------- the rehearsal's edge: the zone made by sync


def _strict_target(info: dict, token: str) -> config.Target:
    s = config.settings()
    return config.Target(
        name="rehearsal", region=s["aws"]["region"], account_id=s["aws"]["account_id"],
        dns_server=tuple(info["dns_server"]), cloudflare_api=info["cloudflare_api"],
        cloudflare_token=config.Secret(token), cloudflare_zone=info["cloudflare_zone"],
        domains=tuple(s["domains"]["names"]), ca_bundle=info["ca_bundle"], https_port=info["https_port"],
        # what the load balancer controller would set on the Ingress (not run here)
        load_balancer_hostname=info["answers_load_balancer"], local={"edge": info})


@pytest.fixture(scope="module")
def strict_edge(tmp_path_factory):
    state = tmp_path_factory.mktemp("strict-edge")
    narrow = {**config.settings()["dns"]["cloudflare_tokens"],
              "deploy-without-settings": faults.tokens_without("Zone Settings Edit")["deploy"]}
    info = edge.start(state, progress=lambda m: None, strict=True, tokens=narrow)
    try:
        yield info
    finally:
        edge.stop(state)


def test_rehearsal_zone_starts_azure_era_and_dns_sync_migrates_it(strict_edge):
    info = strict_edge
    assert "load_balancer_hostname" not in info   # read from the Ingress in the rehearsal
    jobs = info["cloudflare_tokens"]
    assert info["cloudflare_token"] == jobs["verify"]
    verify, deploy = _strict_target(info, jobs["verify"]), _strict_target(info, jobs["deploy"])
    zone = config.settings()["domains"]["zone"]
    # before: the Azure era, red on every check that reads the zone
    assert probes.caught(probes.check_resolution(verify, queries=2), config.settings()["edge"]["old_azure_ip"]).ok
    assert probes.caught(probes.check_no_azure(verify), "cloudapp.azure.com").ok
    assert probes.caught(probes.check_cloudflare_settings(verify), "ssl").ok
    # a deploy token without Zone Settings Edit: the records move, the settings step is refused
    with pytest.raises(errors.TargetUnavailable) as e:
        sync.sync(_strict_target(info, jobs["deploy-without-settings"]), "dev")
    assert "403" in str(e.value) and routes.AUTH_ERROR in str(e.value) and "/settings/" in str(e.value)
    # the deploy token migrates it; a second run changes nothing
    lines = sync.sync(deploy, "dev")
    assert any(x.startswith("setting ssl: flexible -> strict") for x in lines), lines
    assert sync.sync(deploy, "dev")[-1].startswith("no changes")
    records = Cloudflare.of(verify).records(info["cloudflare_zone"])
    assert all(r["type"] == "CNAME" and r["proxied"] and r["content"] == info["answers_load_balancer"]
               for r in records if r["name"] in verify.domains)
    # after: green with the read-only token; proxied names answer Cloudflare's addresses, HTTPS via the map
    for f in (probes.check_resolution(verify, queries=2), probes.check_no_azure(verify), probes.check_tls(verify),
              probes.check_cloudflare_settings(verify)):
        assert f.ok, f
    a = probes.query(probes.resolver(verify), f"app.{zone}")
    assert a.chain == () and a.addresses and all(predicates.is_cloudflare_edge(x) for x in a.addresses)
    assert any("connect map" in ev for ev in probes.check_tls_domain(verify, f"app.{zone}").evidence)
    # the verify token cannot write
    with pytest.raises(errors.TargetUnavailable) as e:
        Cloudflare.of(verify).set_setting(info["cloudflare_zone"], "ssl", "flexible")
    assert routes.AUTH_ERROR in str(e.value)
    log = [json.loads(x) for x in open(info["cloudflare_request_log"]).read().splitlines()]
    assert [x for x in log if x["token"] == "verify" and x["write"] and x["status"] < 400] == []
    assert any(x["token"] == "deploy" and x["write"] and x["status"] == 200 for x in log)


def test_the_strict_edge_answers_any_aws_load_balancer_name_the_offline_one_only_its_own():
    lb = "k8s-offline-lb.elb.us-east-1.amazonaws.com"
    offline, strict = model.Store(lb, "127.0.43.1"), model.Store(lb, "127.0.43.1", strict=True)
    read_from_cluster = "k8s-ingressn-ingressn-0123456789-abcdef0123456789.elb.us-east-1.amazonaws.com"
    assert offline.is_lb(lb) and not offline.is_lb(read_from_cluster)
    assert strict.is_lb(read_from_cluster) and strict.is_lb("internal-k8s-a-b-1234567890.us-east-1.elb.amazonaws.com")
    assert not strict.is_lb("cloudtolocalllm-aks.eastus.cloudapp.azure.com")
    assert not strict.is_lb("s3.us-east-1.amazonaws.com")  # an AWS name, but not a load balancer
