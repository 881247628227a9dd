"""Cloudflare v4 API client (requests): zones, DNS records, zone settings.

The same code talks to api.cloudflare.com (live) and to the edge stand-in
(offline); base URL and token come from the Target. The token is sent only
in the Authorization header and never appears in errors.
"""
from __future__ import annotations

import requests

from .. import errors
from ..config import Target

TIMEOUT = 15.0
API_UNREACHABLE = "Cloudflare API not reachable at {base}: {reason}"
API_FAILED = "Cloudflare API {method} {path} failed (HTTP {status}): {errors}"
NO_TOKEN = "Cloudflare API token is not set (CLOUDFLARE_API_TOKEN)"
NO_ZONE = "no Cloudflare zone named {name}"


class CloudflareError(errors.ProvisionError):
    """The API answered success=false; carries its error codes."""

    def __init__(self, message: str, status: int, codes: tuple[int, ...]):
        super().__init__(message)
        self.status, self.codes = status, codes


def _error_text(e: dict) -> str:
    """One error, with its error_chain (e.g. "1004 DNS Validation Error (9021 TTL must be ...)")."""
    chain = "; ".join(f"{c.get('code')} {c.get('message')}" for c in e.get("error_chain") or ())
    return f"{e.get('code')} {e.get('message')}" + (f" ({chain})" if chain else "")


class Cloudflare:
    def __init__(self, base: str, token: str, timeout: float = TIMEOUT):
        if not token:
            raise errors.TargetUnavailable(NO_TOKEN)
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    @classmethod
    def of(cls, target: Target) -> Cloudflare:
        return cls(target.cloudflare_api, target.cloudflare_token)

    def call(self, method: str, path: str, params=None, json=None) -> dict:
        """One request; returns the whole envelope, raising on success=false."""
        try:
            r = self.session.request(method, self.base + path, params=params, json=json, timeout=self.timeout)
        except requests.RequestException as exc:
            raise errors.TargetUnavailable(API_UNREACHABLE.format(base=self.base, reason=type(exc).__name__)) from None
        try:
            body = r.json()
        except ValueError:
            body = {"success": False, "errors": [{"code": 0, "message": r.text[:200]}]}
        if not body.get("success"):
            errs = body.get("errors") or [{"code": 0, "message": r.reason}]
            text = "; ".join(_error_text(e) for e in errs)
            exc_cls = errors.TargetUnavailable if r.status_code in (401, 403) else CloudflareError
            msg = API_FAILED.format(method=method, path=path, status=r.status_code, errors=text)
            if exc_cls is CloudflareError:
                codes = [e.get("code", 0) for e in errs] + [c.get("code", 0) for e in errs
                                                              for c in e.get("error_chain") or ()]
                raise CloudflareError(msg, r.status_code, tuple(codes))
            raise exc_cls(msg)
        return body

    def _all(self, path: str, params: dict | None = None, per_page: int = 100) -> list[dict]:
        out, page = [], 1
        while True:
            body = self.call("GET", path, params={**(params or {}), "page": page, "per_page": per_page})
            out.extend(body["result"])
            info = body.get("result_info") or {}
            if page >= int(info.get("total_pages", 1)):
                return out
            page += 1

    # zones
    def zone(self, zone_id: str) -> dict:
        return self.call("GET", f"/zones/{zone_id}")["result"]

    def zone_id(self, name: str) -> str:
        zones = self._all("/zones", {"name": name}, per_page=50)
        if not zones:
            raise errors.TargetUnavailable(NO_ZONE.format(name=name))
        return zones[0]["id"]

    def create_zone(self, name: str, account_id: str) -> dict:
        return self.call("POST", "/zones", json={"name": name, "account": {"id": account_id}, "type": "full"})["result"]

    def delete_zone(self, zone_id: str) -> None:
        self.call("DELETE", f"/zones/{zone_id}")

    # records
    def records(self, zone_id: str, name: str | None = None, type: str | None = None) -> list[dict]:
        params = {k: v for k, v in (("name", name), ("type", type)) if v}
        return self._all(f"/zones/{zone_id}/dns_records", params)

    def create_record(self, zone_id: str, type: str, name: str, content: str, proxied: bool = True,
                      ttl: int = 1) -> dict:
        record = {"type": type, "name": name, "content": content, "proxied": proxied, "ttl": ttl}
        return self.call("POST", f"/zones/{zone_id}/dns_records", json=record)["result"]

    def update_record(self, zone_id: str, record_id: str, **fields) -> dict:
        return self.call("PATCH", f"/zones/{zone_id}/dns_records/{record_id}", json=fields)["result"]

    def replace_record(self, zone_id: str, record_id: str, record: dict) -> dict:
        return self.call("PUT", f"/zones/{zone_id}/dns_records/{record_id}", json=record)["result"]

    def delete_record(self, zone_id: str, record_id: str) -> None:
        self.call("DELETE", f"/zones/{zone_id}/dns_records/{record_id}")

    # settings
    def setting(self, zone_id: str, name: str) -> str:
        return self.call("GET", f"/zones/{zone_id}/settings/{name}")["result"]["value"]

    def set_setting(self, zone_id: str, name: str, value: str) -> str:
        return self.call("PATCH", f"/zones/{zone_id}/settings/{name}", json={"value": value})["result"]["value"]
