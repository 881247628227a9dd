"""The Cloudflare stand-in's plain model: zones, DNS records, zone settings, validation.

No HTTP here (edge_cloudflare_routes serves it) and no sockets (each zone's
DNS listener is made by the `serve_zone` callable the process wires in).
Refusals are `ApiError(status, code, message)` with Cloudflare's codes; the
messages are constants so that tests assert the exact text.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import threading
import uuid
from collections.abc import Callable

SHARED_ACCOUNT = "offline-account"
SETTINGS = {"ssl": ("off", "flexible", "full", "strict"), "always_use_https": ("on", "off")}
# The offline zone's settings (as the migration leaves them), and a zone new to Cloudflare's
# (the rehearsal's: SSL "flexible", Always Use HTTPS "off": what `provision dns sync` must change).
MIGRATED_SETTINGS = {"ssl": "strict", "always_use_https": "on"}
NEW_ZONE_SETTINGS = {"ssl": "flexible", "always_use_https": "off"}
MIN_TTL, MAX_TTL, AUTO = 60, 86400, 1   # 30 for Enterprise zones: not ours
RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS")
PROXIABLE = ("A", "AAAA", "CNAME")
NAME_SERVERS = ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]

# Cloudflare's own texts, with their error codes beside each use.
ZONE_NOT_FOUND = "Could not route to /zones/{zone_id}, perhaps your object identifier is invalid?"
INVALID_ZONE_NAME = "Invalid or missing zone name"
ZONE_EXISTS = "{name} already exists"
UNSUPPORTED_TYPE = "DNS Validation Error: unsupported record type {rtype}"
CONTENT_REQUIRED = "Content for record is required"
BAD_ADDRESS = "Content for {rtype} record must be a valid IPv{version} address."
DNS_VALIDATION = "DNS Validation Error"   # code 1004; the cause is in its error_chain
BAD_TTL = "TTL must be between 60 and 86400 seconds, or 1 for Automatic."   # 9021
CANNOT_PROXY = "This kind of record cannot be proxied"                        # 9004
HOST_TAKEN = "An A, AAAA, or CNAME record with that host already exists."
IDENTICAL_RECORD = "An identical record already exists."
RECORD_NOT_FOUND = "Record does not exist."
UNKNOWN_SETTING = "Unrecognized zone setting name"
BAD_SETTING_VALUE = "Invalid value for zone setting {setting}"


class ApiError(Exception):
    """A refusal as Cloudflare gives it: HTTP status, error code, message (and the error_chain
    of its cause, as in {"code": 1004, "message": "DNS Validation Error", "error_chain": [...]})."""

    def __init__(self, status: int, code: int, message: str, chain: tuple[tuple[int, str], ...] = ()):
        super().__init__(message)
        self.status, self.code, self.message, self.chain = status, code, message, tuple(chain)

    def cause(self) -> tuple[int, str]:
        """The innermost (code, message): what tests compare."""
        return self.chain[-1] if self.chain else (self.code, self.message)


def dns_validation(code: int, message: str) -> ApiError:
    return ApiError(400, 1004, DNS_VALIDATION, ((code, message),))


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def norm(name: str) -> str:
    return name.rstrip(".").lower()


class Zone:
    def __init__(self, name: str, account: str, settings: dict | None = None):
        self.id = uuid.uuid4().hex
        self.name = norm(name)
        self.account = account
        self.created = now()
        self.records: dict[str, dict] = {}
        self.settings = dict(settings or MIGRATED_SETTINGS)
        self.modified = {k: self.created for k in self.settings}
        self.dns = None  # its DNS listener (has .port and .close())

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "status": "active", "paused": False, "type": "full",
                "development_mode": 0, "name_servers": list(NAME_SERVERS),
                "original_name_servers": None, "account": {"id": self.account, "name": self.account},
                "created_on": self.created, "modified_on": self.created, "activated_on": self.created,
                "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "is_subscribed": True}}

    def setting_json(self, setting: str) -> dict:
        return {"id": setting, "value": self.settings[setting], "editable": True,
                "modified_on": self.modified[setting]}

    def full_name(self, name: str) -> str:
        """A record name as Cloudflare stores it: fully qualified, '@' or '' for the apex."""
        n = norm(name or "")
        if n in ("", "@"):
            return self.name
        return n if n == self.name or n.endswith("." + self.name) else f"{n}.{self.name}"


def _content(rtype: str, rec: dict) -> str:
    content = str(rec.get("content", "")).strip()
    if not content:
        raise ApiError(400, 9005, CONTENT_REQUIRED)
    if rtype in ("A", "AAAA"):
        version = 4 if rtype == "A" else 6
        try:
            ip = ipaddress.ip_address(content)
        except ValueError:
            ip = None
        if ip is None or ip.version != version:
            raise ApiError(400, 9005, BAD_ADDRESS.format(rtype=rtype, version=version))
    if rtype in ("CNAME", "MX", "NS"):
        content = norm(content)
    return content


def validate(z: Zone, rec: dict, own_id: str | None = None) -> dict:
    """The record as it would be stored, or ApiError saying why Cloudflare refuses it."""
    rtype = str(rec.get("type", "")).upper()
    if rtype not in RECORD_TYPES:
        raise ApiError(400, 9000 if not rtype else 1004, UNSUPPORTED_TYPE.format(rtype=rtype or "(none)"))
    name = z.full_name(rec.get("name", ""))
    content = _content(rtype, rec)
    try:
        ttl = int(rec.get("ttl", AUTO))
    except (TypeError, ValueError):
        raise dns_validation(9021, BAD_TTL) from None
    if ttl != AUTO and not MIN_TTL <= ttl <= MAX_TTL:
        raise dns_validation(9021, BAD_TTL)
    proxiable = rtype in PROXIABLE
    proxied = bool(rec.get("proxied", False))
    if proxied and not proxiable:
        raise dns_validation(9004, CANNOT_PROXY)
    others = [r for r in z.records.values() if r["name"] == name and r["id"] != own_id]
    if rtype == "CNAME" and any(r["type"] in PROXIABLE for r in others) or \
            rtype in ("A", "AAAA") and any(r["type"] == "CNAME" for r in others):
        raise ApiError(400, 81053, HOST_TAKEN)
    if any(r["type"] == rtype and r["content"] == content for r in others):
        raise ApiError(400, 81058, IDENTICAL_RECORD)
    out = {"name": name, "type": rtype, "content": content, "ttl": ttl, "proxiable": proxiable,
           "proxied": proxied, "comment": rec.get("comment"), "tags": list(rec.get("tags") or [])}
    if rtype == "MX":
        out["priority"] = int(rec.get("priority", 10))
    return out


class Store:
    """Zones and records; one lock, since API and DNS threads share it.

    `lb_host`/`lb_addr`: the offline load balancer, which the DNS answers for
    beside the zone. `serve_zone(store, zone)` starts a zone's DNS listener.
    `strict` (the rehearsal): a zone created here has a new zone's settings, and
    the DNS answers a proxied name with Cloudflare edge addresses (`edge_ranges`).
    """

    def __init__(self, lb_host: str, lb_addr: str, serve_zone: Callable | None = None, strict: bool = False,
                 edge_ranges: tuple[str, ...] = ()):
        self.lock = threading.RLock()
        self.zones: dict[str, Zone] = {}
        self.lb_host, self.lb_addr = norm(lb_host), lb_addr
        self.serve_zone = serve_zone
        self.strict = strict
        self.edge_ranges = tuple(ipaddress.ip_network(r) for r in edge_ranges)

    def is_lb(self, name: str) -> bool:
        """Whether `name` is the load balancer the DNS answers for. Strict (the rehearsal), any AWS load
        balancer name does, as public DNS answers for each: the name is whatever the cluster's load
        balancer controller wrote (provision/local/lb_controller.py), not a seeded one."""
        name = norm(name)
        if self.strict:
            # NLB: *.elb.<region>.amazonaws.com; ALB: *.<region>.elb.amazonaws.com
            return name == self.lb_host or (name.endswith(".amazonaws.com") and ".elb." in name)
        return name == self.lb_host

    def zone(self, zone_id: str) -> Zone:
        z = self.zones.get(zone_id)
        if z is None:
            raise ApiError(404, 7003, ZONE_NOT_FOUND.format(zone_id=zone_id))
        return z

    def list_zones(self, name: str | None = None) -> list[dict]:
        with self.lock:
            return [z.as_json() for z in self.zones.values() if name is None or z.name == norm(name)]

    def add_zone(self, name: str, account: str) -> Zone:
        with self.lock:
            if not name or "." not in name:
                raise ApiError(400, 1097, INVALID_ZONE_NAME)
            if any(z.name == norm(name) and z.account == account for z in self.zones.values()):
                raise ApiError(400, 1061, ZONE_EXISTS.format(name=norm(name)))
            z = Zone(name, account, NEW_ZONE_SETTINGS if self.strict else MIGRATED_SETTINGS)
            if self.serve_zone is not None:
                z.dns = self.serve_zone(self, z)
            self.zones[z.id] = z
            return z

    def delete_zone(self, zone_id: str) -> None:
        with self.lock:
            z = self.zone(zone_id)
            del self.zones[zone_id]
        if z.dns:
            z.dns.close()

    def edge_addresses(self, name: str) -> list[str]:
        """Where Cloudflare's DNS sends a proxied name (strict only): two addresses of its
        published ranges, the same for the same name (a real zone's answers are stable too)."""
        digest = hashlib.sha256(norm(name).encode()).digest()
        out = []
        for i in range(min(2, len(self.edge_ranges))):
            net = self.edge_ranges[(digest[i] + i) % len(self.edge_ranges)]
            offset = 1 + int.from_bytes(digest[4 + 4 * i: 8 + 4 * i], "big") % (net.num_addresses - 2)
            out.append(str(net.network_address + offset))
        return sorted(set(out))

    # records
    def create_record(self, zone_id: str, body: dict) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            rec = validate(z, body)
            stamp = now()
            rec.update(id=uuid.uuid4().hex, zone_id=z.id, zone_name=z.name, locked=False,
                       meta={"auto_added": False, "managed_by_apps": False, "managed_by_argo_tunnel": False},
                       created_on=stamp, modified_on=stamp)
            z.records[rec["id"]] = rec
            return dict(rec)

    @staticmethod
    def record(z: Zone, record_id: str) -> dict:
        rec = z.records.get(record_id)
        if rec is None:
            raise ApiError(404, 81044, RECORD_NOT_FOUND)
        return rec

    def get_record(self, zone_id: str, record_id: str) -> dict:
        with self.lock:
            return dict(self.record(self.zone(zone_id), record_id))

    def list_records(self, zone_id: str, name: str | None = None, rtype: str | None = None,
                     content: str | None = None, proxied: bool | None = None) -> list[dict]:
        """Records sorted as Cloudflare lists them, filtered like its query parameters."""
        with self.lock:
            z = self.zone(zone_id)
            recs = sorted(z.records.values(), key=lambda r: (r["name"], r["type"], r["created_on"]))
            if name:
                recs = [r for r in recs if r["name"] == z.full_name(name)]
            if rtype:
                recs = [r for r in recs if r["type"] == rtype.upper()]
            if content:
                recs = [r for r in recs if r["content"] == content]
            if proxied is not None:
                recs = [r for r in recs if r["proxied"] == proxied]
            return [dict(r) for r in recs]

    def update_record(self, zone_id: str, record_id: str, body: dict, partial: bool) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            old = self.record(z, record_id)
            merged = {**old, **body} if partial else body
            rec = validate(z, merged, own_id=record_id)
            old.update(rec, modified_on=now())
            return dict(old)

    def delete_record(self, zone_id: str, record_id: str) -> dict:
        with self.lock:
            z = self.zone(zone_id)
            self.record(z, record_id)
            del z.records[record_id]
            return {"id": record_id}

    # settings
    def get_setting(self, zone_id: str, setting: str) -> dict:
        if setting not in SETTINGS:
            raise ApiError(400, 1006, UNKNOWN_SETTING)
        with self.lock:
            return self.zone(zone_id).setting_json(setting)

    def set_setting(self, zone_id: str, setting: str, value) -> dict:
        self.get_setting(zone_id, setting)  # the name and the zone are checked first, as Cloudflare does
        if value not in SETTINGS[setting]:
            raise ApiError(400, 1007, BAD_SETTING_VALUE.format(setting=setting))
        with self.lock:
            z = self.zone(zone_id)
            z.settings[setting], z.modified[setting] = value, now()
            return z.setting_json(setting)
