"""The Cloudflare v4 API subset of the edge stand-in: routes (Flask), request parsing, the envelope.

Bearer auth with scoped tokens (edge_cloudflare_tokens: each route needs a
permission on its zone); the Origin CA's certificates (edge_cloudflare_origin_ca);
every answer is Cloudflare's {success, errors, messages, result, result_info} envelope;
the model (edge_cloudflare_model) decides and refuses. With a request log (the
rehearsal's), each call is one JSON line: the token's name, method, path, status, and whether it was a write.
"""
from __future__ import annotations

import json
import threading
import time

from flask import Flask, current_app, g, jsonify, request

from . import edge_cloudflare_token_copies
from .edge_cloudflare_model import SHARED_ACCOUNT, ApiError, Store
from .edge_cloudflare_origin_ca import OriginCA, zone_of
from .edge_cloudflare_tokens import (  # noqa: F401
    AUTH_ERROR,
    BAD_HEADERS,
    SSL_EDIT,
    SSL_READ,
    WRITES,
    ZONE_READ,
    Tokens,
    authorize,
)

BASE = "/client/v4"
STORE = "cloudflare_store"
ORIGIN_CA = "cloudflare_origin_ca"
TOKENS = "cloudflare_tokens"
REQUEST_LOG = "cloudflare_request_log"
BAD_PAGING = "Invalid page or per_page"
NO_ROUTE = "No route for that URI"
NOT_ALLOWED = "Method not allowed for this route"
MALFORMED_JSON = "Malformed JSON in request body"
# Documented page sizes: (default, minimum, maximum) per list.
ZONES_PAGING = (20, 5, 50)
RECORDS_PAGING = (100, 1, 5_000_000)   # the current schema (older docs: 5..5000)

# ---------------------------------------------------------------- request parsing (pure)


def paging(args, sizes: tuple[int, int, int]) -> tuple[int, int]:
    """(page, per_page) from the query: page >= 1, per_page within the list's documented sizes."""
    default, low, high = sizes
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", default))
    except ValueError:
        raise ApiError(400, 1001, BAD_PAGING) from None
    if page < 1 or not low <= per_page <= high:
        raise ApiError(400, 1001, BAD_PAGING)
    return page, per_page


def bearer(header: str, token: str) -> None:
    """The Authorization header must carry exactly `token` (the offline token: every permission)."""
    Tokens.everything(token).authenticate(header)


def json_body(data) -> dict:
    if not isinstance(data, dict):
        raise ApiError(400, 6007, MALFORMED_JSON)
    return data


def record_filters(args) -> dict:
    """The dns_records list filters (name, type, content, proxied) of the query."""
    proxied = args.get("proxied")
    return {"name": args.get("name") or None, "rtype": args.get("type") or None,
            "content": args.get("content") or None,
            "proxied": (proxied == "true") if proxied in ("true", "false") else None}


# ---------------------------------------------------------------- the envelope


def envelope(result, status: int = 200, info: dict | None = None):
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return jsonify(body), status


def paged(items: list, sizes: tuple[int, int, int]):
    page, per_page = paging(request.args, sizes)
    chunk = items[(page - 1) * per_page: page * per_page]
    total_pages = max(1, -(-len(items) // per_page))
    return envelope(chunk, info={"page": page, "per_page": per_page, "count": len(chunk),
                                 "total_count": len(items), "total_pages": total_pages})


def error_body(e: ApiError) -> dict:
    err = {"code": e.code, "message": e.message}
    if e.chain:
        err["error_chain"] = [{"code": c, "message": m} for c, m in e.chain]
    return {"success": False, "errors": [err], "messages": [], "result": None}


def api_error(e: ApiError):
    return jsonify(error_body(e)), e.status


def _store() -> Store:
    return current_app.config[STORE]


def _body() -> dict:
    return json_body(request.get_json(silent=True))


# ---------------------------------------------------------------- routes


def list_zones():
    token = g.token  # only the zones the token may read are listed
    zones = [z for z in _store().list_zones(request.args.get("name")) if token.grants(ZONE_READ, z["id"])]
    return paged(zones, ZONES_PAGING)


def create_zone():
    b = _body()
    account = (b.get("account") or {}).get("id") or SHARED_ACCOUNT
    return envelope(_store().add_zone(str(b.get("name", "")), account).as_json())


def get_zone(zone_id):
    return envelope(_store().zone(zone_id).as_json())


def delete_zone(zone_id):
    _store().delete_zone(zone_id)
    return envelope({"id": zone_id})


def list_records(zone_id):
    return paged(_store().list_records(zone_id, **record_filters(request.args)), RECORDS_PAGING)


def create_record(zone_id):
    return envelope(_store().create_record(zone_id, _body()))


def get_record(zone_id, record_id):
    return envelope(_store().get_record(zone_id, record_id))


def put_record(zone_id, record_id):
    return envelope(_store().update_record(zone_id, record_id, _body(), partial=False))


def patch_record(zone_id, record_id):
    return envelope(_store().update_record(zone_id, record_id, _body(), partial=True))


def delete_record(zone_id, record_id):
    return envelope(_store().delete_record(zone_id, record_id))


def get_setting(zone_id, sid):
    return envelope(_store().get_setting(zone_id, sid))


def patch_setting(zone_id, sid):
    store = _store()
    store.get_setting(zone_id, sid)  # an unknown setting or zone is refused before the body is read
    return envelope(store.set_setting(zone_id, sid, _body().get("value")))


def _origin_ca() -> OriginCA:
    return current_app.config[ORIGIN_CA]


def _zones_granted(permission: str, zones) -> None:
    """The Origin CA routes carry no zone in the path: the token must hold `permission` on each zone touched."""
    if not all(g.token.grants(permission, z) for z in zones):
        raise ApiError(403, 10000, AUTH_ERROR)


def list_certificates():
    zone_id = request.args.get("zone_id")
    items = _origin_ca().listed(zone_id)
    _zones_granted(SSL_READ, [zone_id])
    return paged(items, ZONES_PAGING)


def create_certificate():
    store = _store()
    with store.lock:
        zones = list(store.zones.values())
    csr, names, rtype, days, zone_ids = OriginCA.validate(_body(), lambda n: zone_of(zones, n))
    _zones_granted(SSL_EDIT, zone_ids)
    return envelope(_origin_ca().issue(csr, names, rtype, days, zone_ids))


def get_certificate(cert_id):
    _zones_granted(SSL_READ, _origin_ca().entry(cert_id)["zones"])
    return envelope(_origin_ca().get(cert_id))


def revoke_certificate(cert_id):
    _zones_granted(SSL_EDIT, _origin_ca().entry(cert_id)["zones"])
    return envelope(_origin_ca().revoke(cert_id))


def standin_dns_server(zone_id):
    """Not Cloudflare: where this stand-in serves a zone's DNS (one port per zone)."""
    return envelope({"dns_server": list(_store().zone(zone_id).dns.address)})


ZONE = f"{BASE}/zones/<zone_id>"
RECORD = f"{ZONE}/dns_records/<record_id>"
# rule -> {method: view}
ROUTES = {
    f"{BASE}/zones": {"GET": list_zones, "POST": create_zone},
    ZONE: {"GET": get_zone, "DELETE": delete_zone},
    f"{ZONE}/dns_records": {"GET": list_records, "POST": create_record},
    RECORD: {"GET": get_record, "PUT": put_record, "PATCH": patch_record, "DELETE": delete_record},
    f"{ZONE}/settings/<sid>": {"GET": get_setting, "PATCH": patch_setting},
    f"{BASE}/certificates": {"GET": list_certificates, "POST": create_certificate},
    f"{BASE}/certificates/<cert_id>": {"GET": get_certificate, "DELETE": revoke_certificate},
    "/__standin/zones/<zone_id>/dns_server": {"GET": standin_dns_server},
}


def _rule() -> str | None:
    rule = request.url_rule.rule if request.url_rule is not None else None
    return rule.removeprefix(BASE) if rule else None


def _authenticate():
    g.token = None
    g.token = current_app.config[TOKENS].authenticate(request.headers.get("Authorization", ""))
    authorize(g.token, request.method, _rule(), (request.view_args or {}).get("zone_id"))


class RequestLog:
    """One JSON line per API call (the rehearsal's evidence of who wrote what)."""

    def __init__(self, path):
        self.path, self.lock = path, threading.Lock()

    def write(self, entry: dict) -> None:
        with self.lock, open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def _log(response):
    log = current_app.config.get(REQUEST_LOG)
    if log is not None:
        token = g.get("token")
        log.write({"time": time.time(), "token": token.name if token else None, "method": request.method,
                   "path": request.path, "status": response.status_code,
                   "write": (request.method, _rule()) in WRITES})
    return response


def make_app(store: Store, tokens: Tokens | str, request_log=None, origin_ca: OriginCA | None = None) -> Flask:
    """The v4 API over `store` (and `origin_ca`, a fresh one by default); `tokens` a Tokens, or one secret
    holding every permission."""
    app = Flask("cloudflare-standin")
    app.config[STORE] = store
    app.config[ORIGIN_CA] = origin_ca or OriginCA()
    app.config[TOKENS] = tokens if isinstance(tokens, Tokens) else Tokens.everything(tokens)
    app.config[REQUEST_LOG] = RequestLog(request_log) if request_log else None
    for rule, views in ROUTES.items():
        for method, view in views.items():
            app.add_url_rule(rule, endpoint=f"{method} {rule}", view_func=view, methods=[method])
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(404, lambda e: api_error(ApiError(400, 7000, NO_ROUTE)))
    app.register_error_handler(405, lambda e: api_error(ApiError(405, 10405, NOT_ALLOWED)))
    edge_cloudflare_token_copies.register(app)   # not Cloudflare: narrower token copies (rehearsal faults)
    app.before_request(_authenticate)
    app.after_request(_log)
    return app
