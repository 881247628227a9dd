"""The origin certificate Cloudflare's SSL mode strict verifies: `provision dns origin-cert`, the Origin CA
routes of the Cloudflare stand-in, and the strict edge's 526 (docs/dns-tls.md, "The origin certificate")."""
from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import threading
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from provision import config, errors
from provision.config import Secret
from provision.dns import origin_ca, probes
from provision.findings import caught
from provision.kube import client, render
from provision.local import edge_ca, procs
from provision.local import edge_cloudflare_tokens as tokens
from provision.local.controller_rbac import kubeconfig_of
from provision.local.edge_cloudflare_model import SHARED_ACCOUNT, Store
from provision.local.edge_cloudflare_origin_ca import OriginCA
from provision.local.edge_cloudflare_routes import WRITES, make_app
from provision.local.edge_https import (
    NGINX_CONTROLLER,
    ClusterRouter,
    TlsServer,
    origin_problem,
    serve,
    tls_secret_ref,
)

pytestmark = [pytest.mark.offline]

S = config.settings()
ZONE, DOMAINS = S["domains"]["zone"], list(S["domains"]["names"])
NOW = dt.datetime.now(dt.UTC)
SCOPES = {"operator": ["SSL and Certificates Edit"], "deploy": ["DNS Edit", "Zone Settings Edit"],
          "verify": ["Zone Read", "DNS Read", "Zone Settings Read"]}


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _csr(key, names):
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())


def _self_signed(key, names, days=90, start=None):
    start = start or NOW - dt.timedelta(hours=1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))


def _issued(ca: OriginCA, names, days=365):
    key = _key()
    rec = ca.issue(x509.load_pem_x509_csr(_csr(key, names).encode()), names, "origin-ecc", days, {"z"})
    return x509.load_pem_x509_certificate(rec["certificate"].encode()), key


def _secret(cert, key, name="t", ns="n") -> dict:
    return origin_ca.secret_object(ns, name, cert.public_bytes(serialization.Encoding.PEM).decode(), key, "1")


def _expired(ca: OriginCA, names):
    """An Origin CA certificate whose validity ended yesterday (signed by the stand-in's root)."""
    key = _key()
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
            .issuer_name(ca.root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW - dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return cert, key


# ---------------------------------------------------------------- the pure judgments


def test_the_strict_edge_judges_the_origin_certificate_as_cloudflare_strict_does():
    """Seeded faults, each a 526: no secret, a self-signed certificate, one not covering the host, an expired
    one, a key of another certificate; an Origin CA certificate for the host passes."""
    ca, host = OriginCA(), DOMAINS[1]
    good, key = _issued(ca, DOMAINS)
    assert origin_problem(_secret(good, key), host, [ca.root], NOW) is None
    assert "fake default certificate" in origin_problem(None, host, [ca.root], NOW, ref="n/t")
    other = _key()
    faults = {
        "self-signed": (_secret(_self_signed(other, DOMAINS), other), "not issued by the Origin CA"),
        "not covering": (_secret(*_issued(ca, [DOMAINS[0]])), f"does not cover {host}"),
        "expired": (_secret(*_expired(ca, DOMAINS)), "expired on"),
        "another key": (_secret(good, other), origin_ca.KEY_MISMATCH),
    }
    for fault, (secret, naming) in faults.items():
        why = origin_problem(secret, host, [ca.root], NOW)
        assert why and naming in why, (fault, why)


def test_a_wildcard_origin_certificate_covers_one_label():
    ca = OriginCA()
    cert, key = _issued(ca, [ZONE, f"*.{ZONE}"])
    assert origin_problem(_secret(cert, key), f"app.{ZONE}", [ca.root], NOW) is None
    assert "does not cover" in origin_problem(_secret(cert, key), f"a.b.{ZONE}", [ca.root], NOW)


def test_the_provisioning_renews_below_its_days_and_trusts_only_what_the_api_lists():
    ca = OriginCA()
    cert, key = _issued(ca, DOMAINS, days=30)
    listed = {origin_ca.fingerprint(cert)}
    assert origin_ca.certificate_problems(cert, key, DOMAINS, NOW, 14, issued=listed) == []
    assert "less than 31" in origin_ca.certificate_problems(cert, key, DOMAINS, NOW, 31, issued=listed)[0]
    assert "not one of the zone's Origin CA certificates" in origin_ca.certificate_problems(
        cert, key, DOMAINS, NOW, 0, issued=set())[0]
    assert origin_ca.certificate_problems(None, None, DOMAINS, NOW) == ["no certificate"]


def test_the_ingress_serves_the_secret_the_provisioning_writes_on_every_domain():
    objs = render.render("dev")
    f = origin_ca.check_ingress_tls(objs, DOMAINS, origin_ca.secret_name())
    assert f.ok, f
    ing_name = S["kubernetes"]["ingress"]

    def seeded(change):
        broken = copy.deepcopy(objs)
        change(next(o for o in broken if o["kind"] == "Ingress" and o["metadata"]["name"] == ing_name))
        return origin_ca.check_ingress_tls(broken, DOMAINS, origin_ca.secret_name())

    dropped = seeded(lambda i: i["spec"]["tls"][0]["hosts"].remove(DOMAINS[2]))
    assert caught(dropped, DOMAINS[2]).ok and not dropped.ok
    renamed = seeded(lambda i: i["spec"]["tls"][0].update(secretName="other-tls"))
    assert caught(renamed, "other-tls").ok and not renamed.ok
    gone = seeded(lambda i: i["spec"].pop("tls"))
    assert caught(gone, "0 TLS entries").ok


def test_origin_cert_refuses_manifests_that_would_not_serve_its_secret_before_touching_anything():
    broken = copy.deepcopy(render.render("dev"))
    next(o for o in broken if o["kind"] == "Ingress")["spec"]["tls"][0]["secretName"] = "other-tls"
    t = config.Target(name="t", region="r", account_id="1", domains=tuple(DOMAINS), namespace="n")
    with pytest.raises(errors.BadInput) as e:   # no Cloudflare or cluster configured: nothing was reached
        origin_ca.ensure(t, "dev", objects=broken)
    assert "other-tls" in str(e.value) and "\n" not in str(e.value) and e.value.exit_code == 2


def test_the_cli_refuses_an_unknown_environment_in_one_line(capsys):
    from provision import cli
    assert cli.main(["dns", "origin-cert", "--env", "nope"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_tls_secret_ref_reads_the_served_ingress_naming_the_host():
    ing = {"metadata": {"name": "i", "namespace": "n"},
           "spec": {"ingressClassName": "nginx", "tls": [{"hosts": [ZONE], "secretName": "s"}]}}
    assert tls_secret_ref([ing], {"nginx"}, ZONE) == ("n", "s")
    assert tls_secret_ref([ing], {"nginx"}, f"app.{ZONE}") is None
    assert tls_secret_ref([ing], set(), ZONE) is None


# ---------------------------------------------------------------- the stand-in's Origin CA API


@pytest.fixture
def api():
    store = Store("lb.test", "127.0.43.1", strict=True)
    zone = store.add_zone(ZONE, SHARED_ACCOUNT)
    store.add_zone("elsewhere.test", "another-account")
    by_job = {job: f"secret-{job}" for job in SCOPES}
    spec = {by_job[j]: {"name": j, "permissions": p, "zones": "shared"} for j, p in SCOPES.items()}
    ca = OriginCA()
    app = make_app(store, tokens.Tokens.from_spec(spec, zone.id), origin_ca=ca)
    c = app.test_client()

    def call(job, method, path, body=None, **query):
        r = c.open(f"/client/v4{path}", method=method, json=body, query_string=query,
                   headers={"Authorization": f"Bearer {by_job[job]}"})
        return r.status_code, r.get_json()
    return call, zone.id, ca


def test_the_origin_ca_api_signs_lists_gets_and_revokes_as_documented(api):
    call, zid, ca = api
    key = _key()
    body = {"hostnames": DOMAINS, "requested_validity": 90, "request_type": "origin-ecc", "csr": _csr(key, DOMAINS)}
    status, env = call("operator", "POST", "/certificates", body)
    assert status == 200 and env["success"] and env["errors"] == []
    rec = env["result"]
    assert set(rec) >= {"id", "certificate", "csr", "hostnames", "expires_on", "request_type", "requested_validity"}
    cert = x509.load_pem_x509_certificate(rec["certificate"].encode())
    cert.verify_directly_issued_by(ca.root)
    assert str(cert.serial_number) == rec["id"]
    assert origin_ca.certificate_problems(cert, key, DOMAINS, NOW, 80, anchors=[ca.root]) == []
    status, env = call("operator", "GET", "/certificates", zone_id=zid)
    assert status == 200 and [r["id"] for r in env["result"]] == [rec["id"]] and env["result_info"]["page"] == 1
    assert call("operator", "GET", "/certificates")[0] == 400          # zone_id is required
    assert call("operator", "GET", f"/certificates/{rec['id']}")[1]["result"]["id"] == rec["id"]
    status, env = call("operator", "DELETE", f"/certificates/{rec['id']}")
    assert status == 200 and env["result"]["id"] == rec["id"] and env["result"]["revoked_at"]
    assert call("operator", "GET", "/certificates", zone_id=zid)[1]["result"] == []
    assert ("POST", "/certificates") in WRITES and ("DELETE", "/certificates/<cert_id>") in WRITES


def test_the_origin_ca_api_refuses_bad_requests_and_tokens_without_the_scope(api):
    call, zid, _ = api
    good = {"hostnames": DOMAINS, "requested_validity": 90, "request_type": "origin-ecc", "csr": _csr(_key(), DOMAINS)}
    for job in ("deploy", "verify"):   # neither holds SSL and Certificates: Cloudflare's 403, code 10000
        status, env = call(job, "POST", "/certificates", good)
        assert (status, env["errors"][0]["code"], env["success"]) == (403, 10000, False), job
        assert call(job, "GET", "/certificates", zone_id=zid)[0] == 403
    for change in ({"csr": "not a csr"}, {"request_type": "origin-dsa"}, {"requested_validity": 42},
                   {"hostnames": []}, {"hostnames": ["*.*.example.com"]}):
        status, env = call("operator", "POST", "/certificates", {**good, **change})
        assert status == 400 and not env["success"], change
    # a hostname of a zone the token does not hold
    status, env = call("operator", "POST", "/certificates", {**good, "hostnames": ["www.elsewhere.test"]})
    assert status == 403 and env["errors"][0]["code"] == 10000
    status, env = call("operator", "POST", "/certificates", {**good, "hostnames": ["nobody.invalid"]})
    assert status == 400 and "Failed to validate requested hostname" in env["errors"][0]["message"]


# ---------------------------------------------------------------- integration: provisioning, then the strict edge


@pytest.fixture
def served_api(tmp_path):
    """The stand-in API on loopback (scoped tokens, a request log), as the CLI's Cloudflare client sees it."""
    store = Store("lb.test", "127.0.43.1", strict=True)
    zone = store.add_zone(ZONE, SHARED_ACCOUNT)
    by_job = {job: uuid.uuid4().hex for job in SCOPES}
    spec = {by_job[j]: {"name": j, "permissions": p, "zones": "shared"} for j, p in SCOPES.items()}
    ca, log = OriginCA(), tmp_path / "cf.jsonl"
    server = make_server("127.0.0.1", 0, make_app(store, tokens.Tokens.from_spec(spec, zone.id), log, ca),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/client/v4", zone.id, by_job, ca, log
    finally:
        server.shutdown()


@pytest.fixture
def namespace(target):
    ns = f"origin-{uuid.uuid4().hex[:8]}"
    client.create(target, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    yield ns
    client.delete(target, "v1", "Namespace", ns)


def _probe_sees(target, router, host: str, tmp_path, monkeypatch):
    """The nightly HTTPS probe (check_tls_domain) against an edge answering through `router`."""
    ca = edge_ca.make_ca()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    server = TlsServer(("127.0.0.1", procs.free_port()), {}, edge_ca.server_context(edge_ca.issue(ca, [host]), ca),
                       router)
    port = serve(server)
    monkeypatch.setattr(probes, "query", lambda r, name, tcp=False: probes.Answer(name, "NOERROR", (), ("127.0.0.1",)))
    try:
        return probes.check_tls_domain(target.with_(dns_server=("127.0.0.1", 53), https_port=port,
                                                    ca_bundle=str(tmp_path / "ca.pem")), host, r=object())
    finally:
        server.shutdown()


def test_origin_cert_writes_the_secret_once_and_the_strict_edge_then_stops_answering_526(target, served_api,
                                                                                          namespace, tmp_path,
                                                                                          monkeypatch):
    base, zid, by_job, ca, log = served_api
    as_job = {job: target.with_(cloudflare_api=base, cloudflare_token=Secret(tok), cloudflare_zone=zid,
                                namespace=namespace) for job, tok in by_job.items()}
    name, host = origin_ca.secret_name(), DOMAINS[0]
    klass = f"nginx-{namespace}"
    client.create(target, {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                           "metadata": {"name": klass}, "spec": {"controller": NGINX_CONTROLLER}})
    try:
        client.create(target, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                               "metadata": {"name": "main", "namespace": namespace},
                               "spec": {"ingressClassName": klass, "tls": [{"hosts": DOMAINS, "secretName": name}],
                                        "rules": [{"host": h} for h in DOMAINS]}})
        # its own class only: an app deployed on the same target (the demo's) has an Ingress for these hosts too
        router = ClusterRouter(kubeconfig_of(target.local["controlplane"], "edge"), {}, [ca.root], ingress_class=klass)
        status, body = router.answer(host, "/healthz")
        assert status == 526 and "fake default certificate" in body["error"]
        seen = _probe_sees(target, router, host, tmp_path, monkeypatch)   # the nightly probe: red, naming 526
        assert not seen.ok and caught(seen, "526 Invalid SSL certificate").ok, seen
        # a token without SSL and Certificates: refused, one line, nothing written
        with pytest.raises(errors.TargetUnavailable) as refused:
            origin_ca.ensure(as_job["deploy"], "dev")
        assert "403" in str(refused.value) and tokens.AUTH_ERROR in str(refused.value)
        assert "\n" not in str(refused.value) and client.get(target, "v1", "Secret", name, namespace) is None
        # a self-signed certificate in the secret: 526 on the edge, replaced by the provisioning
        other = _key()
        client.create(target, _secret(_self_signed(other, DOMAINS), other, name, namespace))
        status, body = router.answer(host, "/healthz")
        assert status == 526 and "not issued by the Origin CA" in body["error"]
        lines = origin_ca.ensure(as_job["operator"], "dev")
        assert lines[-1].startswith("replaced secret"), lines
        first = client.get(target, "v1", "Secret", name, namespace)
        assert first["type"] == origin_ca.TLS_TYPE
        # the edge now routes (the rules have no paths here: 404, not 526)
        status, body = router.answer(host, "/healthz")
        assert status == 404, body
        # idempotent: the second run writes nothing (the resourceVersion and the API's request log)
        posts = [json.loads(x) for x in log.read_text().splitlines() if '"POST"' in x]
        again = origin_ca.ensure(as_job["operator"], "dev")
        assert again[0].startswith("no changes"), again
        assert client.get(target, "v1", "Secret", name, namespace)["metadata"]["resourceVersion"] == \
            first["metadata"]["resourceVersion"]
        after = [json.loads(x) for x in log.read_text().splitlines()]
        assert [x for x in after if x["write"]] == [x for x in posts if x["write"]]
        assert len([x for x in after if x["write"] and x["status"] == 200]) == 1
        cert_pem = base64.b64decode(first["data"][origin_ca.TLS_CRT])
        assert x509.load_pem_x509_certificate(cert_pem).issuer == ca.root.subject
    finally:
        client.delete(target, "networking.k8s.io/v1", "IngressClass", klass)
