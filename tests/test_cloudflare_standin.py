"""The Cloudflare client against the edge stand-in: protocol subset, errors, idempotent sync.

Each test works in a fresh zone of its own (parallel-safe); the shared zone is only read.
"""
import pytest

from provision import config, errors
from provision.dns import faults, sync
from provision.dns.cloudflare import Cloudflare, CloudflareError

pytestmark = [pytest.mark.offline]


@pytest.fixture
def fresh(target):
    if "edge" not in target.local:
        pytest.skip(f"not verifiable on the {target.name} target: needs the offline edge stand-in")
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
    assert 81053 in e.value.codes
    with pytest.raises(CloudflareError) as e:
        cf.create_record(zid, "A", "x", "not-an-ip")
    assert 9005 in e.value.codes
    with pytest.raises(CloudflareError) as e:
        cf.set_setting(zid, "ssl", "very-strict")
    assert 1007 in e.value.codes


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
    assert [line for line in lines if line.startswith(("ok", "FAIL"))] == [line for line in lines if line.startswith("ok")]
    assert len([line for line in lines if line.startswith("ok")]) == 4
