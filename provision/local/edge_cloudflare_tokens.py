"""API tokens of the Cloudflare stand-in: permission groups, what each route needs, the refusal.

Cloudflare's zone permission groups (developers.cloudflare.com/fundamentals/api/reference/permissions/):
the dashboard names them "<group> Read" and "<group> Edit" (the API says "Write"); Edit is full
CRUDL, so it includes Read. A token is also limited to zone resources (the README has the
operator scope each token to the one zone). A call outside a token's permissions or zones is
refused as Cloudflare refuses it: HTTP 403, code 10000, "Authentication error".

Offline the edge issues one token with every permission on every zone (as before); the
rehearsal issues the tokens of settings `dns.cloudflare_tokens`, each for the shared zone only:
deploy, verify, and the operator's "SSL and Certificates Edit" (the Origin CA API, which takes an
API token with that zone permission today; it used to take only the account's Origin CA Key).
"""
from __future__ import annotations

from dataclasses import dataclass

from .edge_cloudflare_model import ApiError

ZONE_READ, ZONE_EDIT = "Zone Read", "Zone Edit"
DNS_READ, DNS_EDIT = "DNS Read", "DNS Edit"
SETTINGS_READ, SETTINGS_EDIT = "Zone Settings Read", "Zone Settings Edit"
SSL_READ, SSL_EDIT = "SSL and Certificates Read", "SSL and Certificates Edit"  # the Origin CA API's (zone)
PERMISSIONS = (ZONE_READ, ZONE_EDIT, DNS_READ, DNS_EDIT, SETTINGS_READ, SETTINGS_EDIT, SSL_READ, SSL_EDIT)
IMPLIES = {ZONE_EDIT: ZONE_READ, DNS_EDIT: DNS_READ, SETTINGS_EDIT: SETTINGS_READ, SSL_EDIT: SSL_READ}  # CRUDL
EVERY_ZONE = "*"
SHARED_ZONE = "shared"  # a token spec's zone: the zone the edge serves the domains from

BAD_HEADERS = "Invalid request headers"
AUTH_ERROR = "Authentication error"
UNKNOWN_PERMISSION = "unknown Cloudflare permission {name!r}: expected one of {known}"

# (method, route rule without the /client/v4 base) -> the permission it needs; None: any valid token.
ZONE = "/zones/<zone_id>"
NEEDS = {
    ("GET", "/zones"): ZONE_READ,
    ("POST", "/zones"): ZONE_EDIT,
    ("GET", ZONE): ZONE_READ,
    ("DELETE", ZONE): ZONE_EDIT,
    ("GET", f"{ZONE}/dns_records"): DNS_READ,
    ("POST", f"{ZONE}/dns_records"): DNS_EDIT,
    ("GET", f"{ZONE}/dns_records/<record_id>"): DNS_READ,
    ("PUT", f"{ZONE}/dns_records/<record_id>"): DNS_EDIT,
    ("PATCH", f"{ZONE}/dns_records/<record_id>"): DNS_EDIT,
    ("DELETE", f"{ZONE}/dns_records/<record_id>"): DNS_EDIT,
    ("GET", f"{ZONE}/settings/<sid>"): SETTINGS_READ,
    ("PATCH", f"{ZONE}/settings/<sid>"): SETTINGS_EDIT,
    # Origin CA certificates: no zone in the path; the zone (the query's zone_id, the hostnames' or the
    # certificate's) is authorized by the view (edge_cloudflare_origin_ca.authorize_zone)
    ("GET", "/certificates"): SSL_READ,
    ("POST", "/certificates"): SSL_EDIT,
    ("GET", "/certificates/<cert_id>"): SSL_READ,
    ("DELETE", "/certificates/<cert_id>"): SSL_EDIT,
}
WRITES = frozenset(k for k, v in NEEDS.items() if v in IMPLIES)


@dataclass(frozen=True)
class Token:
    name: str                          # what the request log shows (never the secret)
    permissions: frozenset[str]
    zones: frozenset[str] | None       # zone ids it may touch; None: every zone

    def grants(self, permission: str | None, zone_id: str | None = None) -> bool:
        if permission is None:
            return True
        held = self.permissions | {IMPLIES[p] for p in self.permissions if p in IMPLIES}
        if permission not in held:
            return False
        return zone_id is None or self.zones is None or zone_id in self.zones


def check_permissions(names) -> frozenset[str]:
    unknown = [n for n in names if n not in PERMISSIONS]
    if unknown:
        raise ValueError(UNKNOWN_PERMISSION.format(name=unknown[0], known=", ".join(PERMISSIONS)))
    return frozenset(names)


class Tokens:
    """secret -> Token."""

    def __init__(self, tokens: dict[str, Token]):
        self.by_secret = dict(tokens)

    @classmethod
    def everything(cls, secret: str) -> Tokens:
        """The offline token: every permission, every zone."""
        return cls({secret: Token("offline", frozenset(PERMISSIONS), None)})

    @classmethod
    def from_spec(cls, spec: dict, shared_zone_id: str) -> Tokens:
        """From {secret: {"name", "permissions": [...], "zones": "shared" | "*"}}."""
        out = {}
        for secret, t in spec.items():
            zones = None if t.get("zones", SHARED_ZONE) == EVERY_ZONE else frozenset({shared_zone_id})
            out[secret] = Token(t["name"], check_permissions(t["permissions"]), zones)
        return cls(out)

    def authenticate(self, header: str) -> Token:
        """The token of an Authorization header, or Cloudflare's refusal."""
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(400, 6003, BAD_HEADERS)
        token = self.by_secret.get(header[7:].strip())
        if token is None:
            raise ApiError(403, 10000, AUTH_ERROR)
        return token


def authorize(token: Token, method: str, rule: str | None, zone_id: str | None) -> None:
    """Refuse a call outside the token's permissions or zones (403, 10000), as Cloudflare does."""
    if rule is None:
        return  # no such route: the route's own 404 answers
    if not token.grants(NEEDS.get((method, rule)), zone_id):
        raise ApiError(403, 10000, AUTH_ERROR)
